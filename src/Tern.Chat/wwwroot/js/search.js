// Search: the query goes to the server (`search`), the results list shows each message's conversation, author,
// time and a snippet; choosing one opens its conversation at that message.

import { $, el, bdi, button, toast } from './dom.js';
import { shortDateTime } from './time.js';
import { plainText } from './format.js';
import { state, titleOf, displayNameOf } from './state.js';
import { request, actions } from './net.js';
import { closeDrawers } from './sidebar.js';

const ui = {
  form: $('search-form'), input: $('search-input'), panel: $('search-panel'), title: $('search-title'),
  status: $('search-status'), results: $('search-results'), more: $('search-more'), close: $('search-close'),
};

const SNIPPET_LENGTH = 160;
let current = { query: '', oldest: null, ref: null };

function run(query, before) {
  const message = { type: 'search', query };
  if (before) message.before = before;
  const ref = request(message, { query });
  if (!ref) { toast('Not connected: try again in a moment.'); return; }
  current = { ...current, query, ref };
  ui.panel.hidden = false;
  ui.title.textContent = 'Search';
  ui.status.textContent = 'Searching…';
  if (!before) ui.results.replaceChildren();
}

/** The answer to a search of ours. */
export function showResults(message) {
  if (message.ref && message.ref !== current.ref) return;
  const messages = message.messages ?? [];
  for (const result of messages) ui.results.append(resultItem(result));
  if (messages.length > 0) current.oldest = messages[messages.length - 1].id;
  const count = ui.results.children.length;
  ui.status.replaceChildren();
  ui.status.append(count === 0 ? 'Nothing found for ' : `${count}${message.more ? '+' : ''} result${count === 1 ? '' : 's'} for `, bdi(`“${message.query ?? current.query}”`));
  ui.more.hidden = !message.more;
}

/** A search refused by the server (bad_query): the reason goes where the results would be. */
export function showSearchError(error) {
  if (!error.ref || error.ref !== current.ref) return false;
  ui.panel.hidden = false;
  ui.status.textContent = error.message;
  ui.more.hidden = true;
  return true;
}

function resultItem(result) {
  const conversation = state.conversations.get(result.conversation);
  const li = el('li', 'search-result');
  const open = button('', 'search-result-button', () => {
    hide();
    closeDrawers();
    actions.jumpTo(result.conversation, result.id);
  });
  open.dataset.conversationId = String(result.conversation);
  open.dataset.messageId = String(result.id);
  const head = el('span', 'search-result-head');
  head.append(bdi(conversation ? titleOf(conversation) : 'A conversation', 'search-conversation'));
  head.append(bdi(displayNameOf(result.author, result.authorName), 'search-author'));
  const time = el('time', 'time', shortDateTime(new Date(result.time)));
  time.dateTime = result.time;
  head.append(time);
  const text = plainText(result.text ?? '');
  const snippet = el('span', 'search-snippet', text.length > SNIPPET_LENGTH ? `${text.slice(0, SNIPPET_LENGTH)}…` : text);
  snippet.dir = 'auto';
  open.append(head, snippet);
  li.append(open);
  return li;
}

function hide() {
  ui.panel.hidden = true;
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const query = ui.input.value.trim();
  if (!query) { hide(); return; }
  current.oldest = null;
  run(query);
});
ui.more.addEventListener('click', () => { if (current.oldest) run(current.query, current.oldest); });
ui.close.addEventListener('click', hide);
ui.input.addEventListener('keydown', (event) => { if (event.key === 'Escape') { ui.input.value = ''; hide(); } });
