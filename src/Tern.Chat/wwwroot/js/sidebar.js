// The sidebar: every room and direct conversation of the account with unread and mention badges, presence dots for
// direct conversations, joining a room (typed or from the directory), and opening a direct conversation by username.
// Switching conversations is local: memberships belong to the account, so nothing is sent.

import { $, el, bdi, button, avatar } from './dom.js';
import { state, titleOf, presenceOf, displayNameOf } from './state.js';
import { request, actions } from './net.js';

const ui = {
  app: $('app'), rooms: $('room-list'), directs: $('direct-list'), directory: $('directory'),
  joinForm: $('join-form'), joinRoom: $('join-room'), joinError: $('join-error'),
  dmForm: $('dm-form'), dmUsername: $('dm-username'), dmError: $('dm-error'),
  toggle: $('sidebar-toggle'), toggleBadge: $('sidebar-toggle-badge'), scrim: $('scrim'),
  membersToggle: $('members-toggle'),
};

const ROOM_NAME = /^[\p{L}\p{Nd}][\p{L}\p{Nd}_-]{0,31}$/u;

export function renderSidebar() {
  const conversations = [...state.conversations.values()];
  const rooms = conversations.filter((c) => c.kind === 'room').sort((a, b) => a.name.localeCompare(b.name));
  const directs = conversations.filter((c) => c.kind === 'direct')
    .sort((a, b) => titleOf(a).localeCompare(titleOf(b), undefined, { sensitivity: 'base' }));
  ui.rooms.replaceChildren(...rooms.map(item));
  ui.directs.replaceChildren(...directs.map(item));
  if (rooms.length === 0) ui.rooms.append(el('li', 'list-empty subtle small', 'No rooms yet: join one below.'));
  if (directs.length === 0) ui.directs.append(el('li', 'list-empty subtle small', 'No direct messages yet.'));

  const mine = new Set(rooms.map((c) => c.id));
  const others = state.rooms.filter((room) => !mine.has(room.id));
  ui.directory.replaceChildren(...others.map((room) => {
    const li = el('li');
    const join = button('', 'directory-room', () => joinRoom(room.name));
    join.append(bdi(`#${room.name}`, 'room-name'), el('span', 'count', String(room.members)));
    join.title = `Join #${room.name}`;
    li.append(join);
    return li;
  }));
  if (others.length === 0) ui.directory.append(el('li', 'list-empty subtle small', 'You are in every listed room.'));

  // On a phone the sidebar is hidden: its toggle shows that something is waiting elsewhere.
  const waiting = conversations.filter((c) => c.id !== state.openId && c.unread > 0).length;
  ui.toggleBadge.hidden = waiting === 0;
  ui.toggleBadge.textContent = String(waiting);
}

function item(conversation) {
  const li = el('li', 'conversation-item');
  const open = button('', 'conversation-button', () => actions.open(conversation.id, { fromSidebar: true }));
  open.dataset.conversationId = String(conversation.id);
  open.dataset.kind = conversation.kind;
  if (conversation.kind === 'room') {
    open.dataset.name = conversation.name;
    open.append(el('span', 'conversation-icon', '#'), bdi(conversation.name, 'conversation-name'));
  } else {
    const username = conversation.with?.username ?? '';
    open.dataset.name = username;
    const face = el('span', 'face');
    face.append(avatar(username, displayNameOf(username, conversation.with?.displayName), 'avatar small-avatar'));
    const status = presenceOf(username);
    const dot = el('span', 'presence-dot');
    dot.dataset.status = status;
    dot.title = status;
    face.append(dot);
    open.append(face, bdi(titleOf(conversation), 'conversation-name'));
    open.setAttribute('aria-label', `${titleOf(conversation)} (@${username}), ${status}`);
  }
  if (conversation.id === state.openId) {
    open.classList.add('current');
    open.setAttribute('aria-current', 'true');
  }
  if (conversation.unread > 0) {
    open.classList.add('has-unread');
    const unread = el('span', 'unread-badge', conversation.unread > 99 ? '99+' : String(conversation.unread));
    unread.title = `${conversation.unread} unread`;
    open.append(unread);
  }
  if (conversation.mentions > 0) {
    const mentions = el('span', 'mention-badge', `@${conversation.mentions}`);
    mentions.title = `${conversation.mentions} mention${conversation.mentions === 1 ? '' : 's'} of you`;
    open.append(mentions);
  }
  li.append(open);
  return li;
}

function joinRoom(name) {
  ui.joinError.textContent = '';
  if (!request({ type: 'join', room: name }, { open: true })) ui.joinError.textContent = 'Not connected: try again in a moment.';
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.joinRoom.value.trim().replace(/^#/, '').toLowerCase();
  if (!name) return;
  if (!ROOM_NAME.test(name)) {
    ui.joinError.textContent = "A room name is 1 to 32 letters, digits, '-' or '_', starting with a letter or digit.";
    return;
  }
  const existing = [...state.conversations.values()].find((c) => c.kind === 'room' && c.name === name);
  ui.joinRoom.value = '';
  if (existing) {
    ui.joinError.textContent = '';
    actions.open(existing.id, { fromSidebar: true });
    return;
  }
  joinRoom(name);
});

ui.dmForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const username = ui.dmUsername.value.trim().replace(/^@/, '');
  if (!username) return;
  ui.dmError.textContent = '';
  const existing = [...state.conversations.values()].find((c) => c.kind === 'direct' && c.with?.username.toLowerCase() === username.toLowerCase());
  if (existing) {
    ui.dmUsername.value = '';
    actions.open(existing.id, { fromSidebar: true });
    return;
  }
  if (!request({ type: 'dm', username }, { open: true })) ui.dmError.textContent = 'Not connected: try again in a moment.';
});

/** Shows an error the server gave to a join or dm typed in the sidebar. */
export function showSidebarError(type, message) {
  (type === 'dm' ? ui.dmError : ui.joinError).textContent = message;
}

export function clearSidebarInputs(type) {
  if (type === 'dm') { ui.dmUsername.value = ''; ui.dmError.textContent = ''; }
  else { ui.joinRoom.value = ''; ui.joinError.textContent = ''; }
}

$('directory-panel').addEventListener('toggle', () => {
  if ($('directory-panel').open) request({ type: 'rooms' });
});

// Drawers on narrow screens.
export function toggleDrawer(name) {
  const open = ui.app.dataset.drawer === name ? '' : name;
  ui.app.dataset.drawer = open;
  ui.scrim.hidden = !open;
  ui.toggle.setAttribute('aria-expanded', String(open === 'sidebar'));
  ui.membersToggle.setAttribute('aria-expanded', String(open === 'members'));
}

export function closeDrawers() {
  ui.app.dataset.drawer = '';
  ui.scrim.hidden = true;
  ui.toggle.setAttribute('aria-expanded', 'false');
  ui.membersToggle.setAttribute('aria-expanded', 'false');
}

ui.toggle.addEventListener('click', () => toggleDrawer('sidebar'));
ui.scrim.addEventListener('click', closeDrawers);
