// Tern.Chat page: the entry module. It decides between the sign-in screen and the chat, and turns what the server
// sends into state and renders; the protocol is docs/chat-protocol.md. The other modules, in js/:
//   api.js (HTTP API), socket.js (connection and reconnect), net.js (requests and their refs), state.js (what is
//   held), format.js (message formatting as DOM), timeline.js, sidebar.js, members.js, composer.js (outbox, typing,
//   @ completion), search.js, notify.js (title and notifications), presence.js, auth.js, menu.js.

import { $, bdi, toast } from './js/dom.js';
import { getSession, signOut as apiSignOut } from './js/api.js';
import { ChatSocket } from './js/socket.js';
import { net, request, takeRequest, forgetRequests, actions } from './js/net.js';
import {
  state, newConversation, updateConversation, rememberName, openConversation, upsertMessage, newestHeldId,
  dropHeldMessages, titleOf, presenceOf, isMe,
} from './js/state.js';
import {
  renderTimeline, resetView, forgetRows, markReadIfSeen, jumpToMessage, loadNewer, isNearBottom,
} from './js/timeline.js';
import { renderSidebar, showSidebarError, clearSidebarInputs, closeDrawers } from './js/sidebar.js';
import { renderMembers, requestMembers } from './js/members.js';
import {
  pumpAll, confirm, refuse, onDisconnect as outboxDisconnected, renderPending, someoneTyping, stoppedTyping,
  renderTyping, loadDraft, setComposerReady,
} from './js/composer.js';
import { showResults, showSearchError } from './js/search.js';
import { updateTitle, notifyIfNeeded } from './js/notify.js';
import { syncPresence } from './js/presence.js';
import { initAuth, showAuth, setMode } from './js/auth.js';
import { initMenu, renderMe, profileChanged, profileRefused } from './js/menu.js';

const OPEN_KEY = 'tern-chat.open'; // this tab's open conversation: survives a reload

const ui = {
  app: $('app'), auth: $('auth'), chat: $('chat'),
  connection: $('connection'), connectionText: $('connection-text'), retryNow: $('retry-now'),
  title: $('conversation-title'), subtitle: $('conversation-subtitle'), leave: $('leave-button'), text: $('text'),
  emptyState: $('empty-state'),
};

// ---- Screens -----------------------------------------------------------------------------------------------------

function showView(view) {
  ui.app.dataset.view = view;
  ui.auth.hidden = view !== 'auth';
  ui.chat.hidden = view !== 'chat';
  closeDrawers();
}

function enterChat(account) {
  state.me = account;
  rememberName(account.username, account.displayName);
  renderMe();
  showView('chat');
  renderAll();
  net.socket.start();
}

/** Back to the sign-in screen, forgetting everything held for the account. */
function leaveChat(note) {
  net.socket.stop();
  forgetRequests();
  state.me = null;
  state.historyId = null;
  state.conversations.clear();
  state.openId = null;
  state.rooms = [];
  state.presence.clear();
  resetView();
  renderAll();
  setConnection('offline', 'Signed out', false);
  showView('auth');
  showAuth(note);
}

async function signOut(everywhere) {
  const answer = await apiSignOut(everywhere);
  if (!answer.ok) {
    toast(answer.message);
    return;
  }
  try { sessionStorage.removeItem(OPEN_KEY); } catch { /* storage disabled */ }
  leaveChat(everywhere ? 'You signed out on every device.' : 'You signed out.');
}

function setConnection(name, text, canRetry) {
  ui.connection.dataset.state = name;
  ui.connectionText.textContent = text;
  ui.connection.title = text; // on a phone the pill is only its dot
  ui.retryNow.hidden = !canRetry;
}

// ---- Conversations -----------------------------------------------------------------------------------------------

function upsertConversation(info) {
  let conversation = state.conversations.get(info.id);
  if (conversation) updateConversation(conversation, info);
  else state.conversations.set(info.id, conversation = newConversation(info));
  return conversation;
}

/** Opens a conversation here (only here: nothing is sent, memberships belong to the account). */
function open(id, options = {}) {
  const conversation = state.conversations.get(id);
  if (!conversation) return;
  closeDrawers();
  const previous = openConversation();
  if (previous !== conversation) {
    state.openId = id;
    // The "new messages" line goes after what had been read when the conversation was opened.
    conversation.dividerAfter = conversation.unread > 0 ? conversation.lastRead : null;
    conversation.lastReadSent = 0;
    resetView();
    loadDraft(previous);
    try { sessionStorage.setItem(OPEN_KEY, String(id)); } catch { /* storage disabled */ }
  }
  if (options.jump !== undefined) {
    jumpToMessage(conversation, options.jump);
  } else if (!conversation.loaded && !conversation.loading) {
    loadNewest(conversation);
  }
  if (!conversation.members) requestMembers(conversation);
  renderAll();
  markReadIfSeen();
  if (options.fromSidebar && matchMedia('(pointer: fine)').matches) ui.text.focus();
}

function loadNewest(conversation) {
  if (request({ type: 'history', conversation: conversation.id }, { kind: 'newest', conversation: conversation.id })) conversation.loading = true;
}

function jumpTo(conversationId, messageId) {
  if (!state.conversations.has(conversationId)) {
    toast('You are no longer in that conversation.');
    return;
  }
  open(conversationId, { jump: messageId });
}

function openSomething() {
  let remembered = null;
  try { remembered = Number(sessionStorage.getItem(OPEN_KEY)); } catch { /* storage disabled */ }
  if (remembered && state.conversations.has(remembered)) { open(remembered); return; }
  const all = [...state.conversations.values()];
  const first = all.filter((c) => c.kind === 'room').sort((a, b) => a.name.localeCompare(b.name))[0] ?? all[0];
  if (first) open(first.id);
  else renderAll();
}

function renderHeader() {
  const conversation = openConversation();
  ui.title.replaceChildren();
  ui.subtitle.replaceChildren();
  ui.leave.hidden = !conversation || conversation.kind !== 'room';
  $('composer').hidden = !conversation;
  if (!conversation) {
    ui.title.textContent = 'Welcome';
    ui.emptyState.hidden = false;
    ui.emptyState.textContent = 'Join a room or message someone by username to start.';
    return;
  }
  ui.title.append(bdi(titleOf(conversation)));
  if (conversation.kind === 'room') {
    const count = conversation.members?.length ?? conversation.memberCount;
    ui.subtitle.textContent = `${count} member${count === 1 ? '' : 's'}`;
  } else {
    const username = conversation.with?.username ?? '';
    ui.subtitle.append('@', bdi(username), ` · ${presenceOf(username)}`);
  }
}

function renderAll() {
  renderHeader();
  renderSidebar();
  renderTimeline();
  renderPending();
  renderMembers();
  renderTyping();
  updateTitle();
}

function setPresence(username, status) {
  if (!username || !status) return;
  if (status === 'offline') state.presence.delete(username.toLowerCase());
  else state.presence.set(username.toLowerCase(), status);
}

function rememberMembers(members) {
  for (const member of members ?? []) {
    rememberName(member.username, member.displayName);
    if (!isMe(member.username)) setPresence(member.username, member.status);
  }
}

// ---- What the server sends ---------------------------------------------------------------------------------------

const handlers = {
  hello(message) {
    forgetRequests();
    if (state.historyId !== null && message.historyId !== state.historyId) {
      // The server's history was replaced: the ids held mean nothing there any more.
      dropHeldMessages();
      for (const conversation of state.conversations.values()) forgetRows(conversation);
      resetView();
    }
    const resuming = state.historyId !== null;
    state.historyId = message.historyId;
    if (message.you) {
      state.me = { ...state.me, ...message.you };
      rememberName(message.you.username, message.you.displayName);
      renderMe();
    }
    state.limits = { ...state.limits, ...(message.limits ?? {}) };
    state.rooms = message.rooms ?? [];
    state.presence.clear();
    for (const entry of message.presence ?? []) setPresence(entry.username, entry.status);

    const ids = new Set();
    for (const info of message.conversations ?? []) {
      ids.add(info.id);
      const conversation = upsertConversation(info);
      conversation.loading = conversation.loadingOlder = conversation.loadingNewer = false;
    }
    for (const [id, conversation] of state.conversations) {
      if (ids.has(id)) continue;
      // Left on another device while this one was away.
      if (conversation.outbox.length > 0) toast(`You are no longer in ${titleOf(conversation)}; its unsent messages were dropped.`);
      state.conversations.delete(id);
      if (state.openId === id) state.openId = null;
    }

    // Resume: what was missed after the last message held, and the open conversation's newest page again (edits
    // and deletions). Merging by id shows each message once.
    for (const conversation of state.conversations.values()) {
      if (!resuming || !conversation.loaded || conversation.messages.size === 0 || conversation.hasNewer) continue;
      request({ type: 'history', conversation: conversation.id, after: newestHeldId(conversation) }, { kind: 'resume', conversation: conversation.id });
    }
    const current = openConversation();
    if (current) {
      if (current.hasNewer) loadNewer(current);
      else loadNewest(current);
      requestMembers(current);
      renderAll();
    } else {
      openSomething();
    }
    setComposerReady(true);
    syncPresence(true);
    pumpAll();
  },

  history(message) {
    const context = takeRequest(message.ref);
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    const messages = message.messages ?? [];
    const kind = context?.kind ?? (message.direction === 'before' ? 'older' : message.direction === 'after' ? 'resume' : 'newest');
    if (kind === 'newest' && conversation.hasNewer) return; // a window around a jump is open: this page would leave a gap
    for (const item of messages) upsertMessage(conversation, { ...item, conversation: conversation.id });
    if (kind === 'newest') {
      if (!conversation.loaded) conversation.hasOlder = Boolean(message.more);
      conversation.loaded = true;
      conversation.loading = false;
    } else if (kind === 'older') {
      conversation.loadingOlder = false;
      conversation.hasOlder = Boolean(message.more) && messages.length > 0;
    } else if (kind === 'newer') {
      conversation.loadingNewer = false;
      conversation.hasNewer = Boolean(message.more) && messages.length > 0;
      // Messages that came live while the window was open were not held; fetch them too.
      if (!conversation.hasNewer && conversation.lastId > newestHeldId(conversation)) {
        conversation.hasNewer = true;
        loadNewer(conversation);
      }
    } else if (kind === 'resume' && message.more && messages.length > 0) {
      request({ type: 'history', conversation: conversation.id, after: newestHeldId(conversation) }, { kind: 'resume', conversation: conversation.id });
    }
    if (conversation.id === state.openId) {
      renderTimeline();
      markReadIfSeen();
    }
  },

  message(message) {
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    confirm(message);
    stoppedTyping(conversation, message.author);
    const isNew = message.id > conversation.lastId;
    if (!conversation.hasNewer) upsertMessage(conversation, message);
    else conversation.lastId = Math.max(conversation.lastId, message.id);
    // Seen at once (open, visible, at the bottom): it is marked read below instead of counted.
    const seenNow = conversation.id === state.openId && !document.hidden && isNearBottom() && !conversation.hasNewer;
    if (isNew && !seenNow && !isMe(message.author) && message.id > conversation.lastRead) {
      // The server sends counts in hello and whenever the read position moves; between those, the page counts
      // each new message from someone else itself (history pages are never counted: hello's figure has them).
      conversation.unread++;
      if ((message.mentions ?? []).some((name) => isMe(name))) conversation.mentions++;
      renderSidebar();
      updateTitle();
    }
    if (isNew) notifyIfNeeded(conversation, message);
    if (conversation.id === state.openId) {
      renderTimeline();
      markReadIfSeen();
    }
  },

  edited(message) {
    const edited = message.message;
    if (!edited) return;
    const conversation = state.conversations.get(edited.conversation);
    if (!conversation || !conversation.messages.has(edited.id)) return;
    upsertMessage(conversation, edited);
    if (conversation.id === state.openId) renderTimeline();
  },

  deleted(message) {
    const conversation = state.conversations.get(message.conversation);
    const held = conversation?.messages.get(message.id);
    if (!held) return;
    conversation.messages.set(message.id, { ...held, deleted: true, text: undefined, mentions: [] });
    if (conversation.id === state.openId) renderTimeline();
  },

  read(message) {
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    conversation.lastRead = Math.max(conversation.lastRead, message.lastRead ?? 0);
    conversation.lastReadSent = Math.max(conversation.lastReadSent, conversation.lastRead);
    conversation.unread = message.unread ?? 0;
    conversation.mentions = message.mentions ?? 0;
    renderSidebar();
    updateTitle();
    if (conversation.id === state.openId) markReadIfSeen();
  },

  joined(message) {
    const context = takeRequest(message.ref);
    const conversation = upsertConversation(message.conversation);
    if (message.members) {
      conversation.members = message.members;
      rememberMembers(message.members);
    }
    if (context?.open) {
      clearSidebarInputs('join');
      open(conversation.id);
    } else {
      renderAll();
    }
  },

  left(message) {
    takeRequest(message.ref);
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    state.conversations.delete(conversation.id);
    if (state.openId === conversation.id) {
      state.openId = null;
      resetView();
      openSomething();
    } else {
      renderAll();
    }
  },

  conversation(message) {
    const context = takeRequest(message.ref);
    const conversation = upsertConversation(message.conversation);
    if (context?.open) {
      clearSidebarInputs('dm');
      open(conversation.id);
    } else {
      renderAll();
    }
  },

  member_joined(message) {
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    conversation.memberCount = message.members ?? conversation.memberCount;
    if (message.member) {
      rememberMembers([message.member]);
      if (conversation.members && !conversation.members.some((m) => m.username === message.member.username)) {
        conversation.members = [...conversation.members, message.member];
      }
    }
    if (conversation.id === state.openId) { renderHeader(); renderMembers(); }
  },

  member_left(message) {
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    conversation.memberCount = message.members ?? conversation.memberCount;
    if (conversation.members) conversation.members = conversation.members.filter((m) => m.username !== message.username);
    if (conversation.id === state.openId) { renderHeader(); renderMembers(); }
  },

  typing(message) {
    someoneTyping(message);
  },

  presence(message) {
    if (isMe(message.username)) return;
    setPresence(message.username, message.status);
    renderSidebar();
    renderMembers();
    renderHeader();
  },

  members(message) {
    takeRequest(message.ref);
    const conversation = state.conversations.get(message.conversation);
    if (!conversation) return;
    conversation.members = message.members ?? [];
    rememberMembers(conversation.members);
    if (conversation.id === state.openId) { renderHeader(); renderMembers(); renderSidebar(); }
  },

  rooms(message) {
    takeRequest(message.ref);
    state.rooms = message.rooms ?? [];
    renderSidebar();
  },

  profile(message) {
    rememberName(message.username, message.displayName);
    if (isMe(message.username)) {
      state.me = { ...state.me, displayName: message.displayName };
      renderMe();
      profileChanged();
    }
    for (const conversation of state.conversations.values()) {
      if (conversation.with?.username === message.username) conversation.with = { ...conversation.with, displayName: message.displayName };
      forgetRows(conversation);
    }
    renderAll(); // rows were forgotten: rebuilt with the new name, the view stays where it was
  },

  results(message) {
    takeRequest(message.ref);
    showResults(message);
  },

  error(message) {
    const context = takeRequest(message.ref);
    if (refuse(message) || profileRefused(message) || showSearchError(message)) return;
    if (context?.type === 'join' || context?.type === 'dm') {
      showSidebarError(context.type, message.message);
      return;
    }
    if (context?.type === 'history') {
      const conversation = state.conversations.get(context.conversation);
      if (conversation) {
        conversation.loading = conversation.loadingOlder = conversation.loadingNewer = false;
        // A history pull over the budget: ask again once it allows.
        if (message.code === 'rate_limited' && context.kind === 'newest') {
          setTimeout(() => { if (!conversation.loaded && state.openId === conversation.id) loadNewest(conversation); }, (message.retryAfterSeconds ?? 1) * 1000);
        }
      }
    }
    toast(message.message ?? 'The server refused that.');
  },
};

net.socket = new ChatSocket({
  onMessage(message) {
    const handler = handlers[message.type];
    if (handler) handler(message);
  },
  onDisconnect() {
    forgetRequests();
    for (const conversation of state.conversations.values()) {
      conversation.loading = conversation.loadingOlder = conversation.loadingNewer = false;
    }
    setComposerReady(false);
    outboxDisconnected();
  },
  onState: setConnection,
  onSignedOut: (note) => leaveChat(note),
});

actions.open = open;
actions.jumpTo = jumpTo;
actions.refresh = renderAll;

ui.retryNow.addEventListener('click', () => net.socket.reconnectNow());
ui.leave.addEventListener('click', () => {
  const conversation = openConversation();
  if (!conversation || conversation.kind !== 'room') return;
  if (!request({ type: 'leave', conversation: conversation.id })) toast('Not connected: try again in a moment.');
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) markReadIfSeen();
  updateTitle();
});
window.addEventListener('focus', () => markReadIfSeen());
document.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeDrawers(); });

// ---- Start -------------------------------------------------------------------------------------------------------

initAuth(enterChat);
initMenu(signOut);

(async function start() {
  setConnection('connecting', 'Connecting…', false);
  for (let attempt = 0; ; attempt++) {
    const session = await getSession();
    if (session.ok) { enterChat(session.data); return; }
    if (session.status === 401) {
      setConnection('offline', 'Signed out', false);
      setMode('signin');
      showView('auth');
      showAuth();
      return;
    }
    // The server is not answering (restarting?): keep trying, a little slower each time.
    setConnection('reconnecting', 'Waiting for the server…', false);
    await new Promise((resolve) => setTimeout(resolve, Math.min(15000, 500 * 2 ** attempt)));
  }
})();
