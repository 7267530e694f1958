// The members panel of the open conversation, with each person's presence (online, away, offline).

import { $, el, bdi, button, avatar } from './dom.js';
import { state, openConversation, presenceOf, displayNameOf, isMe } from './state.js';
import { request, actions } from './net.js';
import { toggleDrawer, closeDrawers } from './sidebar.js';

const ui = {
  list: $('members'), count: $('members-count'), headingCount: $('members-heading-count'), toggle: $('members-toggle'),
};

const ORDER = { online: 0, away: 1, offline: 2 };

/** Asks for the member list of a conversation (answered by `members`). */
export function requestMembers(conversation) {
  request({ type: 'members', conversation: conversation.id }, { conversation: conversation.id });
}

// This tab is connected, so its person is online here whatever the presence map says (it lists only others).
function statusOf(member) {
  return isMe(member.username) ? 'online' : presenceOf(member.username);
}

export function renderMembers() {
  const conversation = openConversation();
  const members = conversation?.members ?? [];
  const sorted = [...members].sort((a, b) => ORDER[statusOf(a)] - ORDER[statusOf(b)]
    || a.username.localeCompare(b.username, undefined, { sensitivity: 'base' }));
  ui.list.replaceChildren(...sorted.map((member) => {
    const status = statusOf(member);
    const li = el('li', 'member');
    li.dataset.username = member.username;
    li.dataset.status = status;
    const face = el('span', 'face');
    face.append(avatar(member.username, displayNameOf(member.username, member.displayName), 'avatar small-avatar'));
    const dot = el('span', 'presence-dot');
    dot.dataset.status = status;
    face.append(dot);
    const names = el('span', 'member-names');
    names.append(bdi(displayNameOf(member.username, member.displayName), 'member-name'));
    const handle = el('span', 'member-username subtle small');
    handle.append('@', bdi(member.username));
    names.append(handle);
    const label = el('span', 'member-status subtle small', isMe(member.username) ? 'you' : status);
    li.append(face, names, label);
    if (!isMe(member.username) && conversation?.kind === 'room') {
      const dm = button('Message', 'link-button small member-dm', () => {
        closeDrawers();
        const existing = [...state.conversations.values()].find((c) => c.kind === 'direct' && c.with?.username.toLowerCase() === member.username.toLowerCase());
        if (existing) actions.open(existing.id);
        else request({ type: 'dm', username: member.username }, { open: true });
      });
      dm.setAttribute('aria-label', `Message ${member.username}`);
      li.append(dm);
    }
    return li;
  }));
  const count = conversation ? (conversation.members?.length ?? conversation.memberCount) : 0;
  ui.count.textContent = String(count);
  ui.headingCount.textContent = conversation ? `· ${count}` : '';
}

ui.toggle.addEventListener('click', () => toggleDrawer('members'));
