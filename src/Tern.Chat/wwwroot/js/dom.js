// DOM helpers. The one rule of this page: text from users (names, room names, messages, error details) only ever
// reaches the page through textContent or DOM properties, never as HTML, and always inside an isolating element
// (<bdi> or dir="auto") so a right-to-left name cannot reorder the text around it.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new element with an optional class and text. */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

/** A user-written string, isolated from the text around it. */
export function bdi(text, className) {
  return el('bdi', className, text);
}

/** A button with a type (a form's default would be submit). */
export function button(text, className, onClick) {
  const element = el('button', className, text);
  element.type = 'button';
  if (onClick) element.addEventListener('click', onClick);
  return element;
}

/** Replaces a list's children with the given nodes, moving only those that are out of place (keeps focus and selection). */
export function reconcile(parent, nodes) {
  let cursor = parent.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
      continue;
    }
    parent.insertBefore(node, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
}

function hueOf(name) {
  let hash = 0;
  for (const char of name.toLowerCase()) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** A round initial in a colour derived from the username (set through CSSOM, which the CSP allows). */
export function avatar(username, displayName, className = 'avatar') {
  const element = el('span', className, Array.from(displayName || username || '?')[0]?.toUpperCase() ?? '?');
  element.style.setProperty('--hue', String(hueOf(username || '?')));
  element.setAttribute('aria-hidden', 'true');
  return element;
}

let toastTimer = 0;

/** A short message at the bottom of the screen (errors from the server, mostly). */
export function toast(text) {
  const box = $('toast');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
}
