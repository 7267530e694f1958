// What the page knows: the account, its conversations with the messages held for each (merged by id, so a message
// that arrives twice — live and in a history page — is held once), presence, and the room directory.

export const state = {
  me: null,               // { username, displayName }
  historyId: null,
  limits: { maxTextLength: 4000, maxTextLines: 200 },
  conversations: new Map(), // id -> conversation (see newConversation)
  openId: null,
  rooms: [],              // the directory: [{ id, name, members }]
  presence: new Map(),    // username (lower case) -> 'online' | 'away'; absent means offline
  names: new Map(),       // username (lower case) -> display name, kept current by 'profile' pushes
};

/** A conversation as the page holds it; `info` is the server's conversation object. */
export function newConversation(info) {
  return {
    id: info.id,
    kind: info.kind,
    name: info.name ?? null,
    with: info.with ?? null,
    memberCount: info.members ?? 0,
    lastId: info.lastId ?? 0,
    lastRead: info.lastRead ?? 0,
    unread: info.unread ?? 0,
    mentions: info.mentions ?? 0,
    messages: new Map(),  // id -> message
    loaded: false,        // the newest page has been asked for and has arrived
    loading: false,
    hasOlder: false,      // history 'before' the oldest held may have more
    hasNewer: false,      // the held messages are a window that does not reach the newest (after a jump)
    loadingOlder: false,
    loadingNewer: false,
    members: null,        // [{ username, displayName, status }] once asked
    typing: new Map(),    // username -> time the indicator expires
    outbox: [],           // messages typed here and not yet confirmed (composer.js)
    dividerAfter: null,   // the read position when the conversation was opened: the "new messages" line
    lastReadSent: 0,
    draft: '',
  };
}

/** Updates a conversation from a server conversation object (hello, joined, conversation). */
export function updateConversation(conversation, info) {
  conversation.kind = info.kind;
  conversation.name = info.name ?? conversation.name;
  conversation.with = info.with ?? conversation.with;
  conversation.memberCount = info.members ?? conversation.memberCount;
  conversation.lastId = Math.max(conversation.lastId, info.lastId ?? 0);
  conversation.lastRead = Math.max(conversation.lastRead, info.lastRead ?? 0);
  conversation.unread = info.unread ?? conversation.unread;
  conversation.mentions = info.mentions ?? conversation.mentions;
  if (info.with) rememberName(info.with.username, info.with.displayName);
}

export function rememberName(username, displayName) {
  if (username && displayName) state.names.set(username.toLowerCase(), displayName);
}

/** The display name known for a username now (profile changes included), else the fallback. */
export function displayNameOf(username, fallback) {
  return state.names.get(username?.toLowerCase()) ?? fallback ?? username;
}

export function presenceOf(username) {
  return state.presence.get(username?.toLowerCase()) ?? 'offline';
}

export const isMe = (username) => Boolean(state.me && username && username.toLowerCase() === state.me.username.toLowerCase());

/** How a conversation is called in lists and titles: "#general" or the other person's display name. */
export function titleOf(conversation) {
  if (conversation.kind === 'room') return `#${conversation.name}`;
  return displayNameOf(conversation.with?.username, conversation.with?.displayName) ?? 'Direct message';
}

export function openConversation() {
  return state.openId === null ? null : state.conversations.get(state.openId) ?? null;
}

/** Stores or replaces a message by id. Returns true when something changed. */
export function upsertMessage(conversation, message) {
  const held = conversation.messages.get(message.id);
  if (held && held.text === message.text && Boolean(held.deleted) === Boolean(message.deleted) && held.edited === message.edited
    && held.authorName === message.authorName) {
    return false;
  }
  conversation.messages.set(message.id, message);
  if (message.id > conversation.lastId) conversation.lastId = message.id;
  if (message.authorName) rememberName(message.author, message.authorName);
  return true;
}

/** The held messages, oldest first. */
export function sortedMessages(conversation) {
  return [...conversation.messages.values()].sort((a, b) => a.id - b.id);
}

export function oldestHeldId(conversation) {
  let oldest = Infinity;
  for (const id of conversation.messages.keys()) if (id < oldest) oldest = id;
  return oldest === Infinity ? null : oldest;
}

export function newestHeldId(conversation) {
  let newest = 0;
  for (const id of conversation.messages.keys()) if (id > newest) newest = id;
  return newest;
}

/** Forgets every message held (the server's history was replaced), keeping the conversations and their outboxes. */
export function dropHeldMessages() {
  for (const conversation of state.conversations.values()) {
    conversation.messages.clear();
    conversation.loaded = false;
    conversation.hasOlder = false;
    conversation.hasNewer = false;
    conversation.lastReadSent = 0;
  }
}

let refCounter = 0;

/** A reference for a request: unique per page load, at most 64 characters. */
export function newRef(prefix) {
  refCounter++;
  const random = crypto.randomUUID ? crypto.randomUUID().slice(0, 13) : Math.random().toString(36).slice(2, 12);
  return `${prefix}-${random}-${refCounter}`;
}
