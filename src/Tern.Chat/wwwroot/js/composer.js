// Writing messages. Each conversation has an outbox: one `say` in flight at a time, the next only after the
// previous one's echo (a `message` with its ref) or error, so a person's messages are stored in the order typed. A
// rate-limited message waits retryAfterSeconds and goes again with the same ref; while offline the outbox waits and
// is sent after the reconnect (the server stores a re-sent ref once). Nothing typed is dropped without a word: a
// refused message stays in the list with the server's reason and a way to retry or discard it.
// Also here: the typing indicator (sent at most every 2 s, shown ~5 s) and @ autocompletion of member usernames.

import { $, el, bdi, button, avatar, toast } from './dom.js';
import { formatMessage } from './format.js';
import { state, openConversation, newRef, displayNameOf, isMe } from './state.js';
import { send, net } from './net.js';
import { scrollToBottom, isNearBottom } from './timeline.js';

const ui = {
  composer: $('composer'), text: $('text'), send: $('send'), charCount: $('char-count'),
  pending: $('pending'), typing: $('typing'), suggestions: $('mention-suggestions'), emptyState: $('empty-state'),
};

const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 5000;
let lastTypingSent = { conversation: null, at: 0 };
let typingTimer = 0;

// ---- Outbox ------------------------------------------------------------------------------------------------------

/** Queues the composer's text for the open conversation. */
function submit() {
  const conversation = openConversation();
  if (!conversation) return;
  const text = ui.text.value.replace(/\s+$/, '');
  if (!text.trim()) return;
  const max = state.limits.maxTextLength ?? 4000;
  if (text.length > max) {
    toast(`The message is ${text.length} characters long; the limit is ${max}.`);
    return;
  }
  conversation.outbox.push({ ref: newRef('c'), text, status: 'queued', inFlight: false, error: null, retryTimer: 0 });
  ui.text.value = '';
  conversation.draft = '';
  autoGrow();
  updateCharCount();
  hideSuggestions();
  renderPending();
  scrollToBottom();
  pump(conversation);
}

/** Sends the next message of a conversation's outbox, if none is in flight and the connection is ready. */
export function pump(conversation) {
  const next = conversation.outbox.find((item) => item.status !== 'failed');
  if (!next || next.inFlight || next.status === 'waiting') return;
  if (!send({ type: 'say', conversation: conversation.id, text: next.text, ref: next.ref })) {
    next.status = 'queued';
    renderPendingIfOpen(conversation);
    return;
  }
  next.inFlight = true;
  next.status = 'sending';
  renderPendingIfOpen(conversation);
}

export function pumpAll() {
  for (const conversation of state.conversations.values()) pump(conversation);
}

/** The echo of a message: if it is one of ours, it leaves the outbox and the next goes. */
export function confirm(message) {
  if (!message.ref) return;
  const conversation = state.conversations.get(message.conversation);
  if (!conversation) return;
  const index = conversation.outbox.findIndex((item) => item.ref === message.ref);
  if (index < 0) return;
  clearTimeout(conversation.outbox[index].retryTimer);
  conversation.outbox.splice(index, 1);
  renderPendingIfOpen(conversation);
  pump(conversation);
}

/** An error answering a say of ours; true when it was one. */
export function refuse(error) {
  if (!error.ref) return false;
  for (const conversation of state.conversations.values()) {
    const item = conversation.outbox.find((candidate) => candidate.ref === error.ref);
    if (!item) continue;
    item.inFlight = false;
    if (error.code === 'rate_limited') {
      // Same text, same ref, after the wait the server named; the messages behind it keep their order.
      const seconds = Math.max(0.2, Number(error.retryAfterSeconds) || 1);
      item.status = 'waiting';
      item.error = `Slowed down: sending again in ${Math.ceil(seconds)} s`;
      item.retryTimer = setTimeout(() => {
        item.status = 'queued';
        item.error = null;
        pump(conversation);
      }, seconds * 1000 + 50);
    } else {
      item.status = 'failed';
      item.error = error.message;
      pump(conversation);
    }
    renderPendingIfOpen(conversation);
    return true;
  }
  return false;
}

/** The connection dropped: what was in flight is sent again after the next hello. */
export function onDisconnect() {
  for (const conversation of state.conversations.values()) {
    for (const item of conversation.outbox) {
      item.inFlight = false;
      if (item.status === 'sending') item.status = 'queued';
    }
  }
  renderPending();
}

function renderPendingIfOpen(conversation) {
  if (conversation.id === state.openId) renderPending();
}

/** The open conversation's outbox, below its messages. */
export function renderPending() {
  const conversation = openConversation();
  const stick = isNearBottom();
  if (!conversation) {
    ui.pending.replaceChildren();
    return;
  }
  ui.pending.replaceChildren(...conversation.outbox.map((item) => pendingRow(conversation, item)));
  if (conversation.outbox.length > 0) ui.emptyState.hidden = true;
  if (stick) scrollToBottom();
}

function pendingRow(conversation, item) {
  const li = el('li', `msg own pending ${item.status}`);
  li.dataset.ref = item.ref;
  const me = state.me ?? { username: '?', displayName: '?' };
  li.append(avatar(me.username, me.displayName));
  const bubble = el('div', 'bubble');
  const meta = el('div', 'meta');
  meta.append(bdi(me.displayName ?? me.username, 'author'));
  const status = item.error ?? (item.status === 'sending' ? 'Sending…' : net.socket?.ready ? 'Queued' : 'Waiting for the connection…');
  meta.append(el('span', 'status', status));
  bubble.append(meta);
  const text = el('div', 'text');
  text.dir = 'auto';
  text.append(formatMessage(item.text, { me: me.username }));
  bubble.append(text);
  if (item.status === 'failed') {
    const row = el('div', 'pending-actions');
    row.append(
      button('Try again', 'link-button', () => {
        // The same text under the same ref: if the refused attempt was stored after all (an error while its commit was
        // under way), the server answers with the stored message instead of storing it twice.
        item.status = 'queued';
        item.error = null;
        renderPending();
        pump(conversation);
      }),
      button('Edit', 'link-button', () => {
        remove(conversation, item);
        if (!ui.text.value) ui.text.value = item.text;
        autoGrow();
        ui.text.focus();
      }),
      button('Discard', 'link-button', () => remove(conversation, item)),
    );
    bubble.append(row);
  }
  li.append(bubble);
  return li;
}

function remove(conversation, item) {
  const index = conversation.outbox.indexOf(item);
  if (index >= 0) conversation.outbox.splice(index, 1);
  renderPending();
}

// ---- Typing ------------------------------------------------------------------------------------------------------

function sendTyping() {
  const conversation = openConversation();
  if (!conversation || !ui.text.value.trim()) return;
  const now = Date.now();
  if (lastTypingSent.conversation === conversation.id && now - lastTypingSent.at < TYPING_EVERY_MS) return;
  if (send({ type: 'typing', conversation: conversation.id })) lastTypingSent = { conversation: conversation.id, at: now };
}

/** Someone is typing in a conversation. */
export function someoneTyping(message) {
  const conversation = state.conversations.get(message.conversation);
  if (!conversation || isMe(message.username)) return;
  conversation.typing.set(message.username, Date.now() + TYPING_SHOWN_MS);
  renderTyping();
}

/** A message from someone ends their typing indicator. */
export function stoppedTyping(conversation, username) {
  if (conversation.typing.delete(username)) renderTyping();
}

export function renderTyping() {
  clearTimeout(typingTimer);
  const conversation = openConversation();
  const now = Date.now();
  const names = [];
  let nextExpiry = Infinity;
  if (conversation) {
    for (const [username, until] of conversation.typing) {
      if (until <= now) { conversation.typing.delete(username); continue; }
      names.push(displayNameOf(username));
      nextExpiry = Math.min(nextExpiry, until);
    }
  }
  ui.typing.replaceChildren();
  if (names.length > 0) {
    if (names.length > 3) {
      ui.typing.append('Several people are typing…');
    } else {
      names.forEach((name, index) => {
        if (index > 0) ui.typing.append(index === names.length - 1 ? ' and ' : ', ');
        ui.typing.append(bdi(name));
      });
      ui.typing.append(names.length === 1 ? ' is typing…' : ' are typing…');
    }
  }
  if (nextExpiry !== Infinity) typingTimer = setTimeout(renderTyping, nextExpiry - now + 20);
}

// ---- @ autocompletion --------------------------------------------------------------------------------------------

let suggestions = [];
let selected = 0;

function mentionQuery() {
  const caret = ui.text.selectionStart;
  if (caret !== ui.text.selectionEnd) return null;
  const before = ui.text.value.slice(0, caret);
  const match = /(^|[^\p{L}\p{N}_.@])@([\p{L}\p{N}._-]{0,24})$/u.exec(before);
  return match ? { start: caret - match[2].length - 1, prefix: match[2], caret } : null;
}

function updateSuggestions() {
  const conversation = openConversation();
  const query = mentionQuery();
  if (!conversation || !query || !conversation.members) { hideSuggestions(); return; }
  const prefix = query.prefix.toLowerCase();
  suggestions = conversation.members
    .filter((member) => !isMe(member.username))
    .filter((member) => member.username.toLowerCase().startsWith(prefix)
      || displayNameOf(member.username, member.displayName).toLowerCase().startsWith(prefix))
    .slice(0, 8);
  // Nothing to offer, or the name is typed out already (then Enter sends instead of completing).
  if (suggestions.length === 0 || (suggestions.length === 1 && suggestions[0].username.toLowerCase() === prefix)) {
    hideSuggestions();
    return;
  }
  selected = Math.min(selected, suggestions.length - 1);
  ui.suggestions.replaceChildren(...suggestions.map((member, index) => {
    const li = el('li', index === selected ? 'suggestion selected' : 'suggestion');
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', String(index === selected));
    li.dataset.username = member.username;
    li.append(avatar(member.username, displayNameOf(member.username, member.displayName), 'avatar small-avatar'));
    li.append(bdi(member.username, 'suggestion-username'), bdi(displayNameOf(member.username, member.displayName), 'subtle small'));
    li.addEventListener('mousedown', (event) => { event.preventDefault(); complete(member.username); });
    return li;
  }));
  ui.suggestions.hidden = false;
}

function hideSuggestions() {
  suggestions = [];
  selected = 0;
  ui.suggestions.hidden = true;
  ui.suggestions.replaceChildren();
}

function complete(username) {
  const query = mentionQuery();
  if (!query) return;
  const value = ui.text.value;
  const insert = `@${username} `;
  ui.text.value = value.slice(0, query.start) + insert + value.slice(query.caret);
  const caret = query.start + insert.length;
  ui.text.setSelectionRange(caret, caret);
  hideSuggestions();
  ui.text.focus();
}

// ---- The text box ------------------------------------------------------------------------------------------------

export function autoGrow() {
  ui.text.style.height = 'auto';
  ui.text.style.height = `${Math.min(ui.text.scrollHeight, window.innerHeight * 0.4)}px`;
}

function updateCharCount() {
  const length = ui.text.value.length;
  const max = state.limits.maxTextLength ?? 4000;
  ui.charCount.textContent = length > max * 0.8 ? `${length} / ${max}` : '';
}

/** Puts the open conversation's draft into the box (each conversation keeps its own). */
export function loadDraft(previous) {
  if (previous) previous.draft = ui.text.value;
  const conversation = openConversation();
  ui.text.value = conversation?.draft ?? '';
  ui.text.placeholder = conversation ? `Message ${conversation.kind === 'room' ? `#${conversation.name}` : displayNameOf(conversation.with?.username, conversation.with?.displayName)}` : 'Message';
  ui.text.maxLength = state.limits.maxTextLength ?? 4000;
  hideSuggestions();
  autoGrow();
  updateCharCount();
  renderPending();
  renderTyping();
}

export function setComposerReady(ready) {
  ui.composer.classList.toggle('offline', !ready);
  ui.send.title = ready ? 'Send' : 'Will be sent when connected';
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
  ui.text.focus();
});

ui.text.addEventListener('keydown', (event) => {
  if (!ui.suggestions.hidden && suggestions.length > 0) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      selected = (selected + (event.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
      updateSuggestions();
      return;
    }
    if ((event.key === 'Enter' || event.key === 'Tab') && !event.shiftKey) {
      event.preventDefault();
      complete(suggestions[selected].username);
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      hideSuggestions();
      return;
    }
  }
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});

ui.text.addEventListener('input', (event) => {
  autoGrow();
  updateCharCount();
  updateSuggestions();
  // Only a person typing says "typing": an input event a script made up (isTrusted false) does not.
  if (event.isTrusted) sendTyping();
});
ui.text.addEventListener('click', updateSuggestions);
ui.text.addEventListener('blur', () => setTimeout(hideSuggestions, 150));
