// Attention: the page title counts mentions and direct messages waiting ("(3) Tern.Chat"), and while the tab is
// hidden a mention or a direct message raises a browser notification — if the person allowed them by clicking the
// "Enable notifications" menu item (permission is never asked for on its own).

import { $ } from './dom.js';
import { plainText } from './format.js';
import { state, titleOf, displayNameOf, isMe } from './state.js';
import { actions } from './net.js';

const BASE_TITLE = 'Tern.Chat';
const menuItem = $('menu-notifications');

/** Mentions in rooms plus unread messages in direct conversations: what is addressed to this person. */
export function attentionCount() {
  let count = 0;
  for (const conversation of state.conversations.values()) {
    count += conversation.kind === 'direct' ? conversation.unread : conversation.mentions;
  }
  return count;
}

export function updateTitle() {
  const count = attentionCount();
  document.title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
}

/** A new live message: notify when the tab is hidden and it is for this person. */
export function notifyIfNeeded(conversation, message) {
  if (!document.hidden || isMe(message.author)) return;
  const mentionsMe = (message.mentions ?? []).some((name) => isMe(name));
  if (conversation.kind !== 'direct' && !mentionsMe) return;
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const who = displayNameOf(message.author, message.authorName);
  const title = conversation.kind === 'direct' ? who : `${who} in ${titleOf(conversation)}`;
  try {
    const notification = new Notification(title, {
      body: plainText(message.text ?? '').slice(0, 200),
      tag: `tern-chat-${conversation.id}`,
      icon: 'icon.svg',
    });
    notification.addEventListener('click', () => {
      window.focus();
      actions.jumpTo(conversation.id, message.id);
      notification.close();
    });
  } catch {
    // Some browsers only allow notifications from a service worker; the title count still shows.
  }
}

export function updateNotificationItem() {
  menuItem.hidden = !('Notification' in window) || Notification.permission !== 'default';
}

menuItem.addEventListener('click', async () => {
  if (!('Notification' in window)) return;
  try { await Notification.requestPermission(); } catch { /* refused or unsupported */ }
  updateNotificationItem();
});
