// The open conversation's messages: one list merged by id, day separators, the "new messages" line, scrolling
// (older pages when scrolled to the top, the place kept), marking as read what has been seen, jumping to a message,
// and editing or deleting one's own messages in place.

import { $, el, bdi, button, avatar, reconcile, toast } from './dom.js';
import { timeElement, dayLabel, dayKey } from './time.js';
import { formatMessage } from './format.js';
import {
  state, openConversation, sortedMessages, oldestHeldId, newestHeldId, isMe, displayNameOf,
} from './state.js';
import { send, request } from './net.js';

const ui = {
  scroller: $('scroller'), messages: $('messages'), jumpLatest: $('jump-latest'),
  historyStatus: $('history-status'), emptyState: $('empty-state'),
};

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const rowCache = new WeakMap();      // conversation -> Map(id -> { message, li })
const dayCache = new WeakMap();      // conversation -> Map(dayKey -> li)
const divider = el('li', 'unread-divider');
divider.id = 'unread-divider';
divider.append(el('span', null, 'New messages'));
let editing = null;                  // { conversationId, id } of the message being edited here
let firstRender = true;              // the next render is the first of the open conversation
let highlightTimer = 0;
let atBottom = true;                 // the reader was at the bottom at the last scroll or render

function cacheOf(map, conversation) {
  let cache = map.get(conversation);
  if (!cache) map.set(conversation, cache = new Map());
  return cache;
}

export function isNearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

export function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  ui.jumpLatest.hidden = true;
  atBottom = true;
}

/** Called when another conversation is opened: the next render places the view (divider, bottom or target). */
export function resetView() {
  firstRender = true;
  editing = null;
  ui.messages.replaceChildren();
  ui.jumpLatest.hidden = true;
}

/** Forgets the rows built for a conversation (a display name changed, or the messages were dropped). */
export function forgetRows(conversation) {
  rowCache.delete(conversation);
  dayCache.delete(conversation);
}

/** Brings the list in line with the messages held for the open conversation. */
export function renderTimeline() {
  const conversation = openConversation();
  if (!conversation) {
    ui.messages.replaceChildren();
    ui.historyStatus.hidden = true;
    ui.emptyState.hidden = true;
    return;
  }

  // A window around a jumped-to message does not reach the newest: its pages keep the reader's place, never the bottom.
  const stick = !firstRender && isNearBottom() && !conversation.hasNewer;
  const anchor = stick || firstRender ? null : findAnchor();

  const rows = cacheOf(rowCache, conversation);
  const days = cacheOf(dayCache, conversation);
  const nodes = [];
  let previous = null;
  let dividerPlaced = false;
  const seen = new Set();
  for (const message of sortedMessages(conversation)) {
    seen.add(message.id);
    const date = new Date(message.time);
    const key = dayKey(date);
    let breakGroup = false;
    if (!previous || dayKey(new Date(previous.time)) !== key) {
      let separator = days.get(key);
      if (!separator) {
        separator = el('li', 'day-separator');
        separator.append(el('span', null, dayLabel(date)));
        days.set(key, separator);
      }
      nodes.push(separator);
      breakGroup = true;
    }
    if (!dividerPlaced && conversation.dividerAfter !== null && message.id > conversation.dividerAfter && !isMe(message.author)) {
      nodes.push(divider);
      dividerPlaced = true;
      breakGroup = true;
    }
    const row = rowFor(conversation, message, rows);
    const grouped = !breakGroup && previous && previous.author === message.author && !previous.deleted && !message.deleted
      && date - new Date(previous.time) < GROUP_WINDOW_MS;
    row.classList.toggle('grouped', Boolean(grouped));
    nodes.push(row);
    previous = message;
  }
  for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
  reconcile(ui.messages, nodes);

  ui.historyStatus.hidden = false;
  ui.historyStatus.textContent = historyStatusText(conversation);
  ui.emptyState.hidden = !(conversation.loaded && conversation.messages.size === 0 && conversation.outbox.length === 0);
  ui.emptyState.textContent = conversation.kind === 'room' ? 'No messages yet. Say hello!' : 'No messages yet. Start the conversation!';

  if (conversation.jumpTarget && conversation.messages.has(conversation.jumpTarget)) {
    const target = rows.get(conversation.jumpTarget)?.li;
    conversation.jumpTarget = null;
    firstRender = false;
    if (target) highlight(target);
  } else if (firstRender) {
    if (conversation.loaded) {
      firstRender = false;
      if (dividerPlaced) divider.scrollIntoView({ block: 'center' });
      else scrollToBottom();
    } else {
      scrollToBottom();
    }
  } else if (stick) {
    scrollToBottom();
  } else if (anchor) {
    restoreAnchor(anchor);
  }
  if (!stick && !isNearBottom() && !conversation.hasNewer && anchor) ui.jumpLatest.hidden = false;
  fillOrLoad(conversation);
}

// The line above the messages keeps its height whatever it says, so that showing it never moves the messages.
function historyStatusText(conversation) {
  if (conversation.loadingOlder) return 'Loading older messages…';
  if (conversation.loaded && !conversation.hasOlder && conversation.messages.size > 0) return 'This is the beginning of the conversation.';
  return '';
}

// The first message row whose bottom is below the top of the view, and where it is: kept in place across renders
// so that a page of older messages added above does not move what the reader is looking at.
function findAnchor() {
  const top = ui.scroller.getBoundingClientRect().top;
  for (const row of ui.messages.children) {
    if (!row.dataset.id) continue;
    const box = row.getBoundingClientRect();
    if (box.bottom > top) return { id: row.dataset.id, offset: box.top - top };
  }
  return null;
}

function restoreAnchor(anchor) {
  const row = ui.messages.querySelector(`li[data-id="${CSS.escape(anchor.id)}"]`);
  if (!row) return;
  const top = ui.scroller.getBoundingClientRect().top;
  ui.scroller.scrollTop += row.getBoundingClientRect().top - top - anchor.offset;
}

function highlight(row) {
  row.scrollIntoView({ block: 'center' });
  for (const old of ui.messages.querySelectorAll('.highlighted')) old.classList.remove('highlighted');
  row.classList.add('highlighted');
  clearTimeout(highlightTimer);
  highlightTimer = setTimeout(() => row.classList.remove('highlighted'), 4000);
}

// When the page is not full the reader cannot scroll up to ask for more: ask now.
function fillOrLoad(conversation) {
  if (!conversation.loaded) return;
  if (ui.scroller.scrollHeight <= ui.scroller.clientHeight + 10 && conversation.hasOlder) loadOlder(conversation);
}

function rowFor(conversation, message, rows) {
  const cached = rows.get(message.id);
  const isEditing = editing && editing.conversationId === conversation.id && editing.id === message.id;
  if (cached && cached.message === message && cached.editing === isEditing) return cached.li;
  const li = buildRow(conversation, message, isEditing);
  rows.set(message.id, { message, li, editing: isEditing });
  return li;
}

function buildRow(conversation, message, isEditing) {
  const li = el('li', 'msg');
  li.dataset.id = String(message.id);
  li.dataset.author = message.author;
  const own = isMe(message.author);
  if (own) li.classList.add('own');
  const mentionsMe = !own && (message.mentions ?? []).some((name) => isMe(name));
  if (mentionsMe) li.classList.add('mention-me');
  if (message.deleted) li.classList.add('deleted');

  li.append(avatar(message.author, displayNameOf(message.author, message.authorName)));
  const bubble = el('div', 'bubble');
  const meta = el('div', 'meta');
  meta.append(bdi(displayNameOf(message.author, message.authorName), 'author'));
  meta.append(el('span', 'username subtle', '@'), bdi(message.author, 'username subtle'));
  meta.append(timeElement(new Date(message.time)));
  if (message.edited && !message.deleted) {
    const mark = el('span', 'edited-mark', 'edited');
    if (typeof message.edited === 'string') mark.title = `Edited ${new Date(message.edited).toLocaleString()}`;
    meta.append(mark);
  }
  bubble.append(meta);

  if (message.deleted) {
    bubble.append(el('div', 'text tombstone', 'message deleted'));
  } else if (isEditing) {
    bubble.append(editForm(conversation, message));
  } else {
    const text = el('div', 'text');
    text.dir = 'auto';
    text.append(formatMessage(message.text ?? '', { me: state.me?.username }));
    bubble.append(text);
  }
  li.append(bubble);
  if (own && !message.deleted && !isEditing) li.append(messageActions(conversation, message, li));
  addLongPress(li);
  return li;
}

function messageActions(conversation, message, li) {
  const actions = el('div', 'msg-actions');
  const edit = button('Edit', 'msg-action edit-action', () => startEditing(conversation, message));
  edit.setAttribute('aria-label', 'Edit message');
  const remove = button('Delete', 'msg-action delete-action', () => {
    // Two steps, without a dialog: the first click asks, the second deletes.
    if (!remove.classList.contains('confirm')) {
      remove.classList.add('confirm');
      remove.textContent = 'Delete?';
      setTimeout(() => { remove.classList.remove('confirm'); remove.textContent = 'Delete'; }, 4000);
      return;
    }
    li.classList.remove('selected');
    if (!request({ type: 'delete', id: message.id }, { conversation: conversation.id })) toast('Not connected: try again in a moment.');
  });
  remove.setAttribute('aria-label', 'Delete message');
  actions.append(edit, remove);
  return actions;
}

// Phones have no hover: holding a message shows its actions.
function addLongPress(li) {
  let timer = 0;
  li.addEventListener('pointerdown', (event) => {
    if (event.pointerType !== 'touch') return;
    timer = setTimeout(() => {
      for (const other of ui.messages.querySelectorAll('.msg.selected')) other.classList.remove('selected');
      li.classList.add('selected');
    }, 450);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointermove']) li.addEventListener(type, () => clearTimeout(timer));
}

function startEditing(conversation, message) {
  editing = { conversationId: conversation.id, id: message.id };
  renderTimeline();
  const area = ui.messages.querySelector(`li[data-id="${message.id}"] textarea`);
  if (area) {
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
}

function stopEditing() {
  editing = null;
  renderTimeline();
}

function editForm(conversation, message) {
  const form = el('form', 'edit-form');
  form.noValidate = true;
  const area = el('textarea', 'edit-text');
  area.value = message.text ?? '';
  area.dir = 'auto';
  area.rows = Math.min(8, (message.text ?? '').split('\n').length);
  area.setAttribute('aria-label', 'Edit message');
  area.maxLength = state.limits.maxTextLength ?? 4000;
  const save = el('button', 'primary small-button', 'Save');
  save.type = 'submit';
  const cancel = button('Cancel', 'secondary small-button', stopEditing);
  const row = el('div', 'edit-buttons');
  row.append(cancel, save, el('span', 'subtle small', 'Enter to save · Esc to cancel'));
  form.append(area, row);
  const submit = () => {
    const text = area.value.replace(/\s+$/, '');
    if (text === (message.text ?? '')) { stopEditing(); return; }
    if (!text.trim()) { toast('The message is empty. Use Delete to remove it.'); return; }
    if (!request({ type: 'edit', id: message.id, text }, { conversation: conversation.id, id: message.id })) {
      toast('Not connected: try again in a moment.');
      return;
    }
    stopEditing();
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
    else if (event.key === 'Escape') { event.preventDefault(); event.stopPropagation(); stopEditing(); }
  });
  return form;
}

/** Asks for the page before the oldest message held. */
export function loadOlder(conversation) {
  if (conversation.loadingOlder || !conversation.hasOlder) return;
  const oldest = oldestHeldId(conversation);
  if (oldest === null) return;
  if (request({ type: 'history', conversation: conversation.id, before: oldest }, { kind: 'older', conversation: conversation.id })) {
    conversation.loadingOlder = true;
    ui.historyStatus.textContent = historyStatusText(conversation);
  }
}

/** Asks for the page after the newest message held (a window opened by a jump, read downwards). */
export function loadNewer(conversation) {
  if (conversation.loadingNewer || !conversation.hasNewer) return;
  if (request({ type: 'history', conversation: conversation.id, after: newestHeldId(conversation) }, { kind: 'newer', conversation: conversation.id })) {
    conversation.loadingNewer = true;
  }
}

/**
 * Tells the server what has been seen: the newest message held, when the conversation is open, the tab visible and
 * the view at the bottom. Read positions only move forward, so sending it twice does no harm; once is enough.
 */
export function markReadIfSeen() {
  const conversation = openConversation();
  if (!conversation || document.hidden || $('app').dataset.view !== 'chat') return;
  if (!isNearBottom() || conversation.hasNewer) return;
  const newest = newestHeldId(conversation);
  if (newest <= 0 || newest <= conversation.lastReadSent) return;
  if (newest <= conversation.lastRead && conversation.unread === 0 && conversation.mentions === 0) return;
  if (send({ type: 'read', conversation: conversation.id, id: newest })) conversation.lastReadSent = newest;
}

/** Shows a message of the open conversation in context and highlights it; loads the page around it if needed. */
export function jumpToMessage(conversation, id) {
  conversation.jumpTarget = id;
  if (conversation.messages.has(id)) {
    renderTimeline();
    return;
  }
  // Not held: hold the window around it instead (its page and the one after), the rest loads while scrolling.
  conversation.messages.clear();
  forgetRows(conversation);
  conversation.loaded = true;
  conversation.hasOlder = true;
  conversation.hasNewer = true;
  conversation.loadingOlder = true;
  conversation.loadingNewer = true;
  request({ type: 'history', conversation: conversation.id, before: id + 1 }, { kind: 'older', conversation: conversation.id });
  request({ type: 'history', conversation: conversation.id, after: id }, { kind: 'newer', conversation: conversation.id });
  renderTimeline();
}

ui.scroller.addEventListener('scroll', () => {
  const conversation = openConversation();
  if (!conversation) return;
  if (ui.scroller.scrollTop < 200) loadOlder(conversation);
  if (isNearBottom()) {
    ui.jumpLatest.hidden = true;
    loadNewer(conversation);
    markReadIfSeen();
  }
}, { passive: true });

// When the view gets shorter (the composer grows, a banner or the keyboard appears) a reader at the bottom stays
// at the bottom instead of losing the last messages behind the composer.
ui.scroller.addEventListener('scroll', () => { atBottom = isNearBottom(); }, { passive: true });
new ResizeObserver(() => { if (atBottom) scrollToBottom(); }).observe(ui.scroller);

ui.jumpLatest.addEventListener('click', () => {
  scrollToBottom();
  markReadIfSeen();
});
