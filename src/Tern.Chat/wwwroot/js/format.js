// Message formatting, built as DOM nodes. Recognised: ``` code blocks ```, `inline code`, **bold**, *italic* and
// _italic_, http(s) links and @mentions. Anything else, HTML included, stays literal text: every piece of the message
// goes into the page as a text node or as a property of an element made here, never through an HTML parser.

import { el } from './dom.js';

// A fence, an optional language word on its line, the code, and the closing fence.
const CODE_BLOCK = /```(?:[\w+#.-]*\n)?([\s\S]*?)```/g;

// Alternatives, leftmost match wins: inline code, bold, *italic*, _italic_ (not inside words such as snake_case),
// a web address (without trailing punctuation), an @mention.
const INLINE = new RegExp([
  '`([^`\\n]+)`',
  '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*(?!\\*)',
  '\\*(?=[^\\s*])([^*\\n]*?[^\\s*])\\*',
  '(?<![\\p{L}\\p{N}_])_(?=[^\\s_])([^_\\n]*?[^\\s_])_(?![\\p{L}\\p{N}_])',
  '(https?:\\/\\/[^\\s<>"\'`]*[^\\s<>"\'`.,;:!?)\\]}*_])',
  '(?<![\\p{L}\\p{N}_.@])@([\\p{L}\\p{N}](?:[\\p{L}\\p{M}\\p{N}._-]*[\\p{L}\\p{M}\\p{N}_-])?)',
].join('|'), 'gu');

const MAX_DEPTH = 4; // bold inside italic inside bold…: deep enough for people, bounded for hostile input

/**
 * The message text as a fragment of DOM nodes.
 * @param {string} text the message as typed
 * @param {{ me?: string }} options whose mentions to mark as "me"
 */
export function formatMessage(text, options = {}) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(CODE_BLOCK)) {
    appendInline(fragment, text.slice(last, match.index), options, 0);
    const pre = el('pre', 'code-block');
    const code = el('code', null, match[1].replace(/\n$/, ''));
    pre.append(code);
    fragment.append(pre);
    last = match.index + match[0].length;
  }
  appendInline(fragment, text.slice(last), options, 0);
  return fragment;
}

function appendInline(parent, text, options, depth) {
  if (!text) return;
  if (depth >= MAX_DEPTH) {
    parent.append(document.createTextNode(text));
    return;
  }
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const [whole, code, bold, star, underscore, url, mention] = match;
    let node = null;
    let consumed = whole;
    if (code !== undefined) {
      node = el('code', 'inline-code', code);
    } else if (bold !== undefined) {
      node = el('strong');
      appendInline(node, bold, options, depth + 1);
    } else if (star !== undefined || underscore !== undefined) {
      node = el('em');
      appendInline(node, star ?? underscore, options, depth + 1);
    } else if (url !== undefined) {
      node = link(url);
    } else if (mention !== undefined) {
      node = el('span', 'mention', `@${mention}`);
      if (options.me && mention.toLowerCase() === options.me.toLowerCase()) node.classList.add('mention-of-me');
    }
    if (!node) continue; // e.g. an address the URL parser refuses: it stays text
    parent.append(document.createTextNode(text.slice(last, match.index)));
    parent.append(node);
    last = match.index + consumed.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

// Only http and https become links (the pattern allows nothing else, and the URL parser has the last word), so
// "javascript:" or "data:" addresses stay text. The link's text is exactly what was written.
function link(text) {
  let url;
  try { url = new URL(text); } catch { return null; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const a = el('a', null, text);
  a.href = url.href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/** Plain text for notifications and search snippets: the message without its markup characters. */
export function plainText(text) {
  return text.replace(/```(?:[\w+#.-]*\n)?/g, '').replace(/\*\*|`/g, '').replace(/\s+/g, ' ').trim();
}
