// Tern Chat page. Plain JavaScript, no build step. The protocol is described in docs/chat-protocol.md.
//
// Safety rule for this file: text that comes from users (messages, nicknames, room names, error details) is only
// ever put into the page with textContent or as attribute values set through the DOM, never as HTML.

const $ = (id) => document.getElementById(id);

const ui = {
  app: $('app'),
  lobby: $('lobby'), chat: $('chat'),
  joinForm: $('join-form'), nick: $('nick'), room: $('room'), joinButton: $('join-button'), joinError: $('join-error'), lobbyRooms: $('lobby-rooms'),
  roomTitle: $('room-title'),
  connection: $('connection'), connectionText: $('connection-text'), retryNow: $('retry-now'),
  roomsToggle: $('rooms-toggle'), peopleToggle: $('people-toggle'), peopleCount: $('people-count'), scrim: $('scrim'),
  roomList: $('room-list'), switchForm: $('switch-form'), newRoom: $('new-room'), switchError: $('switch-error'), leaveButton: $('leave-button'),
  banner: $('banner'), bannerText: $('banner-text'), bannerAction: $('banner-action'),
  scroller: $('scroller'), messages: $('messages'), pending: $('pending'), jumpLatest: $('jump-latest'),
  composer: $('composer'), text: $('text'), send: $('send'), charCount: $('char-count'),
  pmTarget: $('pm-target'), pmName: $('pm-name'), pmCancel: $('pm-cancel'),
  people: $('people'), peopleHeadingCount: $('people-heading-count'),
  toast: $('toast'),
};

const SESSION_KEY = 'tern-chat.session'; // this tab's membership: survives a reload, not shared with new tabs
const PREFS_KEY = 'tern-chat.prefs';     // the last nickname and room, for the join form

const state = {
  socket: null,
  connected: false,         // the socket is open and hello arrived
  everConnected: false,
  reconnectAttempt: 0,
  reconnectTimer: 0,
  reconnectAt: 0,
  countdownTimer: 0,
  limits: { maxTextLength: 4000, rateLimitCount: 20, rateLimitWindowSeconds: 10, maxNickLength: 24, maxRoomLength: 32 },
  historyId: null,
  // The membership this tab wants; kept across reconnects.
  room: null, nick: null, token: null,
  joined: false,            // the server confirmed the membership on the current connection
  syncing: false,           // history after a reconnect is still arriving
  replaced: false,          // another connection took our place; do not rejoin on our own
  lastId: 0,                // the highest message id shown for the room
  renderedIds: new Set(),
  members: [],
  rooms: [],
  outbox: new Map(),        // ref -> { kind, room, to, text, element, sent } for messages not yet confirmed
  // A room change the server has not confirmed yet: the room to go to (null: the lobby). The page stays in the
  // current room until its outbox is sent and the server answers the leave with 'left', so that what the page
  // shows never disagrees with the server, and nothing typed is dropped.
  moveTo: undefined,
  leaving: false,           // the leave for moveTo was sent on this connection
  requests: new Map(),      // ref -> join/leave/history request not yet answered, to send again after rate_limited
  requestSeq: 0,
  outboxPausedUntil: 0,     // after rate_limited, nothing is sent before this time
  // Who was in the room when the connection dropped (lower-cased), until returningUntil. A restarted server has
  // forgotten everyone, so each rejoin (ours too) comes back as a join; for these people it is no news.
  returning: new Set(),
  returningUntil: 0,
  privateTo: null,
  unread: 0,
  lastRendered: null,       // { nick, time, kind } of the last item, for grouping
};

// ---------------------------------------------------------------------------------------------------------------
// Connection

function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/chat`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = 0;
  if (state.socket && state.socket.readyState <= WebSocket.OPEN) return;
  setConnection(state.everConnected ? 'reconnecting' : 'connecting', state.everConnected ? 'Reconnecting…' : 'Connecting…');
  let socket;
  try {
    socket = new WebSocket(socketUrl());
  } catch (error) {
    scheduleReconnect();
    return;
  }
  state.socket = socket;
  socket.addEventListener('message', (event) => {
    if (socket !== state.socket) return;
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    handle(message);
  });
  socket.addEventListener('close', (event) => {
    if (socket !== state.socket) return;
    state.socket = null;
    state.connected = false;
    if (state.joined) {
      state.returning = new Set(state.members.map((nick) => nick.toLowerCase()));
      state.returningUntil = Date.now() + 60000; // longer than the longest reconnect backoff (15 s), with room
    }
    state.joined = false;
    state.syncing = false;
    state.leaving = false;
    state.requests.clear(); // hello sends the join again, and the move goes on after it
    updateComposer();
    // Messages not yet confirmed go back to waiting; after the rejoin, those the history lacks are sent again.
    resetOutboxForReconnect();
    if (event.code === 1009) toast('A message was too large for the server.');
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  if (!navigator.onLine) {
    setConnection('offline', 'Offline — waiting for the network');
    return; // the 'online' event reconnects
  }
  // Exponential backoff with jitter, so a restarted server is not hit by every page at the same instant.
  const base = Math.min(15000, 500 * 2 ** state.reconnectAttempt);
  const delay = Math.round(base * (0.75 + Math.random() * 0.5));
  state.reconnectAttempt++;
  state.reconnectAt = Date.now() + delay;
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    setConnection('reconnecting', seconds > 0 ? `Disconnected — retrying in ${seconds} s` : 'Reconnecting…', true);
  };
  tick();
  state.countdownTimer = setInterval(tick, 500);
  state.reconnectTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (state.socket) return;
  state.reconnectAttempt = 0;
  connect();
}

function setConnection(name, text, canRetry = false) {
  ui.connection.dataset.state = name;
  ui.connectionText.textContent = text;
  ui.retryNow.hidden = !canRetry;
}

function send(message) {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify(message));
  return true;
}

window.addEventListener('online', reconnectNow);
window.addEventListener('offline', () => { if (!state.socket) setConnection('offline', 'Offline — waiting for the network'); });
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    state.unread = 0;
    updateTitle();
    reconnectNow();
  }
});
ui.retryNow.addEventListener('click', reconnectNow);

// ---------------------------------------------------------------------------------------------------------------
// Protocol

const handlers = {
  hello(message) {
    state.connected = true;
    state.everConnected = true;
    state.reconnectAttempt = 0;
    clearInterval(state.countdownTimer);
    setConnection('online', 'Connected');
    state.limits = message.limits;
    ui.text.maxLength = message.limits.maxTextLength;
    if (state.historyId && state.historyId !== message.historyId) {
      // The server's history was replaced: the ids on screen mean nothing there.
      clearConversation();
    }
    state.historyId = message.historyId;
    setRooms(message.rooms);
    if (state.room && !state.replaced) sendJoin();
  },

  joined(message) {
    state.requests.delete(message.ref);
    if (message.room !== state.room) {
      // The page moved on while this join was on its way: leave, so the server does not keep us there.
      send({ type: 'leave', room: message.room });
      return;
    }
    state.joined = true;
    state.nick = message.nick;
    state.token = message.token;
    state.historyId = message.historyId;
    saveSession();
    savePrefs(message.nick, message.room);
    showChat();
    setMembers(message.members);
    for (const item of message.history) renderMessage(item);
    if (message.more) {
      state.syncing = true;
      request({ type: 'history', room: state.room, after: state.lastId, historyId: state.historyId });
    } else {
      finishSync();
    }
    ui.joinButton.disabled = false;
    ui.joinButton.textContent = 'Join';
  },

  history(message) {
    state.requests.delete(message.ref);
    if (message.room !== state.room) return;
    for (const item of message.messages) renderMessage(item);
    if (message.more && message.messages.length > 0) {
      request({ type: 'history', room: state.room, after: state.lastId, historyId: state.historyId });
    } else {
      finishSync();
    }
  },

  message(message) {
    if (message.room !== state.room) return;
    renderMessage(message);
    if (document.visibilityState === 'hidden') {
      state.unread++;
      updateTitle();
    }
  },

  private(message) {
    if (message.room !== state.room) return;
    renderPrivate(message);
    if (document.visibilityState === 'hidden' && message.from !== state.nick) {
      state.unread++;
      updateTitle();
    }
  },

  join(message) {
    if (message.room !== state.room) return;
    if (!state.members.includes(message.nick)) setMembers([...state.members, message.nick]);
    if (state.returning.delete(message.nick.toLowerCase()) && Date.now() < state.returningUntil) return;
    renderNotice(message.nick === state.nick ? `You joined #${message.room}` : `${message.nick} joined`, message.time, 'join');
  },

  leave(message) {
    if (message.room !== state.room) return;
    setMembers(state.members.filter((nick) => nick !== message.nick));
    state.returning.delete(message.nick.toLowerCase()); // so a later join of theirs is news again
    renderNotice(message.reason === 'disconnected' ? `${message.nick} left (connection lost)` : `${message.nick} left`, message.time, 'leave');
    if (state.privateTo === message.nick) setPrivateTarget(null);
  },

  left(message) {
    state.requests.delete(message.ref);
    if (message.room !== state.room) return;
    if (message.reason === 'left' && state.moveTo !== undefined) {
      // The server confirmed the leave: now the page may show the next room (or the lobby).
      const to = state.moveTo;
      state.moveTo = undefined;
      state.leaving = false;
      state.joined = false;
      if (to) enterRoom(to);
      else enterLobby();
      return;
    }
    if (message.reason === 'replaced') {
      // The same membership was taken over from another tab or device; rejoining here on our own would take it back.
      state.joined = false;
      state.replaced = true;
      updateComposer();
      showBanner('This room is open in another tab or window.', 'Use it here', () => {
        state.replaced = false;
        hideBanner();
        sendJoin();
      });
    }
  },

  rooms(message) {
    setRooms(message.rooms);
  },

  error(message) {
    const request = message.ref ? state.requests.get(message.ref) : null;
    if (request && message.code === 'rate_limited') {
      // Joins, leaves and history pages must not be lost to the rate limit: the page's rooms would disagree with
      // the server's. Send it again when allowed, unless a reconnect or a room change made it moot.
      setTimeout(() => {
        if (state.requests.get(message.ref) !== request) return;
        if (request.type === 'join' && request.room !== state.room) { state.requests.delete(message.ref); return; }
        send(request);
      }, Math.ceil((message.retryAfterSeconds ?? 1) * 1000) + 50);
      return;
    }
    if (request) state.requests.delete(message.ref);
    if (request?.type === 'leave' && message.code === 'not_in_room') {
      // The server does not have us there: what the leave was for is done.
      handlers.left({ type: 'left', room: request.room, reason: 'left' });
      return;
    }
    const pending = message.ref ? state.outbox.get(message.ref) : null;
    if (pending) {
      if (message.code === 'rate_limited') {
        // Keep it and send it again once the window allows.
        pending.sent = false;
        markPending(pending, `Waiting ${message.retryAfterSeconds ?? 1} s (rate limit)…`);
        const wait = Math.ceil((message.retryAfterSeconds ?? 1) * 1000);
        state.outboxPausedUntil = Date.now() + wait;
        setTimeout(flushOutbox, wait + 50);
        return;
      }
      state.outbox.delete(message.ref);
      pending.element.remove();
      if (!ui.text.value) ui.text.value = pending.kind === 'private' ? `/msg ${pending.to} ${pending.text}` : pending.text;
      autoGrow();
      toast(message.message);
      flushOutbox(); // the next one's turn
      return;
    }

    if (!state.joined && ['nick_taken', 'bad_nick', 'bad_room', 'already_in_room', 'too_many_rooms'].includes(message.code)) {
      // The join was refused (also after a reconnect, if someone took the nickname meanwhile).
      const wasInChat = ui.app.dataset.view === 'chat';
      state.room = null;
      state.token = null;
      clearSession();
      showLobby();
      ui.joinError.textContent = message.message;
      ui.joinButton.disabled = false;
      ui.joinButton.textContent = 'Join';
      (message.code === 'bad_room' ? ui.room : ui.nick).focus();
      if (wasInChat) toast(message.message);
      return;
    }

    toast(message.message);
  },
};

function handle(message) {
  const handler = handlers[message.type];
  if (handler) handler(message);
}

// Sends a join, leave or history request with a ref of its own, kept until answered (see the rate_limited case).
function request(message) {
  message.ref = `r-${++state.requestSeq}`;
  state.requests.set(message.ref, message);
  send(message);
}

function sendJoin() {
  state.joined = false;
  const join = { type: 'join', room: state.room, nick: state.nick };
  if (state.token) join.token = state.token;
  if (state.lastId > 0) {
    join.after = state.lastId;
    join.historyId = state.historyId;
    state.syncing = true;
  }
  request(join);
}

function finishSync() {
  state.syncing = false;
  updateComposer();
  flushOutbox();
}

// ---------------------------------------------------------------------------------------------------------------
// Sending, with an outbox: a message stays "sending" until the server's copy of it comes back, and is sent again
// after a reconnect unless the history shows it arrived. Nothing typed is lost to a dropped connection.

function newRef() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

function submitText() {
  const raw = ui.text.value;
  if (!raw.trim()) return;
  if (!state.room) return;
  if (state.leaving) {
    // It would reach the room after we left it; the text stays in the box for the next room.
    toast(`Leaving #${state.room}…`);
    return;
  }

  let kind = state.privateTo ? 'private' : 'say';
  let to = state.privateTo;
  let text = raw;
  const command = /^\/msg\s+(\S+)\s+([\s\S]+)$/.exec(raw);
  if (command) {
    kind = 'private';
    to = command[1];
    text = command[2];
  } else if (/^\/msg\b/.test(raw)) {
    toast('Usage: /msg nickname message');
    return;
  }
  text = text.replace(/\s+$/, '');
  if (text.length > state.limits.maxTextLength) {
    toast(`The message is ${text.length} characters long; the limit is ${state.limits.maxTextLength}.`);
    return;
  }

  const ref = newRef();
  const item = { ref, kind, room: state.room, to, text, sent: false, element: null };
  item.element = renderPending(item);
  if (state.joined) markPending(item, 'Queued…');
  state.outbox.set(ref, item);
  ui.text.value = '';
  autoGrow();
  updateCharCount();
  scrollToBottom();
  flushOutbox();
}

function flushOutbox() {
  if (!state.joined || state.syncing) return;
  if (state.outbox.size === 0 && state.moveTo !== undefined && !state.leaving) {
    // Everything typed here has been sent: now leave for the room change.
    state.leaving = true;
    request({ type: 'leave', room: state.room });
    return;
  }
  // One message at a time, the next once the previous is confirmed or refused: sent together, the sliding window
  // could refuse one and let a later one through, and they would be stored out of the order typed. The outbox
  // only ever holds the current room's messages (startJoin empties it), in the order typed.
  if (Date.now() < state.outboxPausedUntil) return;
  const item = state.outbox.values().next().value;
  if (item && !item.sent) {
    const message = item.kind === 'private'
      ? { type: 'private', room: item.room, to: item.to, text: item.text, ref: item.ref }
      : { type: 'say', room: item.room, text: item.text, ref: item.ref };
    if (!send(message)) return;
    item.sent = true;
    markPending(item, 'Sending…');
  }
}

function confirmSent(ref) {
  const item = ref ? state.outbox.get(ref) : null;
  if (!item) return;
  state.outbox.delete(ref);
  item.element.remove();
  flushOutbox();
}

function resetOutboxForReconnect() {
  for (const item of state.outbox.values()) {
    item.sent = false;
    markPending(item, 'Waiting for the connection…');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering (textContent only)

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function hueOf(nick) {
  let hash = 0;
  for (const char of nick.toLowerCase()) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

function avatar(nick) {
  const element = el('span', 'avatar', Array.from(nick)[0]?.toUpperCase() ?? '?');
  element.style.setProperty('--hue', String(hueOf(nick)));
  element.setAttribute('aria-hidden', 'true');
  return element;
}

function timeElement(date) {
  const element = el('time', 'time', timeFormat.format(date));
  element.dateTime = date.toISOString();
  element.title = fullFormat.format(date);
  return element;
}

const urlPattern = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;

// Text with its web addresses as links. Each piece is a text node or an <a> whose text and href are set as
// properties; only http(s) addresses become links, so a "javascript:" address stays plain text.
function richText(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(urlPattern)) {
    let url;
    try { url = new URL(match[0]); } catch { continue; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    fragment.append(document.createTextNode(text.slice(last, match.index)));
    const link = el('a', null, match[0]);
    link.href = url.href;
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
    fragment.append(link);
    last = match.index + match[0].length;
  }
  fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

function isNearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  ui.jumpLatest.hidden = true;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (sameDay(date, today)) return 'Today';
  if (sameDay(date, yesterday)) return 'Yesterday';
  return dayFormat.format(date);
}

// Appends an item, with a day separator when the day changes, keeping the view at the bottom if it was there.
function appendItem(element, date, groupKey) {
  const stick = isNearBottom();
  const previous = state.lastRendered;
  if (!previous || !sameDay(previous.time, date)) {
    const separator = el('li', 'day-separator');
    separator.append(el('span', null, dayLabel(date)));
    ui.messages.append(separator);
  } else if (groupKey && previous.groupKey === groupKey && date - previous.time < 5 * 60 * 1000) {
    element.classList.add('grouped');
  }
  ui.messages.append(element);
  state.lastRendered = { time: date, groupKey };
  if (stick) scrollToBottom();
  else ui.jumpLatest.hidden = false;
}

function messageElement(message, className) {
  const time = new Date(message.time);
  const item = el('li', className);
  item.append(avatar(message.nick ?? message.from));
  const body = el('div', 'bubble');
  const meta = el('div', 'meta');
  meta.append(el('span', 'nick', message.nick ?? message.from));
  meta.append(timeElement(time));
  body.append(meta);
  const text = el('div', 'text');
  text.append(richText(message.text));
  body.append(text);
  item.append(body);
  return { item, time };
}

function renderMessage(message) {
  confirmSent(message.ref);
  if (state.renderedIds.has(message.id)) return;
  state.renderedIds.add(message.id);
  const { item, time } = messageElement(message, 'msg');
  item.dataset.id = String(message.id);
  if (message.nick === state.nick) item.classList.add('own');

  if (message.id > state.lastId) {
    state.lastId = message.id;
    appendItem(item, time, `m:${message.nick}`);
    return;
  }
  // An older message (only when pages of history overlap live ones): put it in id order.
  const later = [...ui.messages.querySelectorAll('li[data-id]')].find((li) => Number(li.dataset.id) > message.id);
  ui.messages.insertBefore(item, later ?? null);
}

function renderPrivate(message) {
  confirmSent(message.ref);
  const outgoing = message.from === state.nick;
  const { item, time } = messageElement(message, 'msg private');
  if (outgoing) item.classList.add('own');
  const label = el('span', 'private-label', outgoing ? `private to ${message.to}` : 'private to you');
  item.querySelector('.meta').insertBefore(label, item.querySelector('.meta time'));
  appendItem(item, time, null);
}

function renderNotice(text, time, kind) {
  const date = time ? new Date(time) : new Date();
  const item = el('li', `notice ${kind ?? ''}`);
  item.append(el('span', null, text));
  item.append(timeElement(date));
  appendItem(item, date, null);
}

function renderPending(item) {
  const element = el('li', 'msg own pending');
  element.append(avatar(state.nick ?? '?'));
  const body = el('div', 'bubble');
  const meta = el('div', 'meta');
  meta.append(el('span', 'nick', state.nick ?? ''));
  if (item.kind === 'private') meta.append(el('span', 'private-label', `private to ${item.to}`));
  meta.append(el('span', 'status', 'Waiting for the connection…'));
  body.append(meta);
  const text = el('div', 'text');
  text.append(richText(item.text));
  body.append(text);
  element.append(body);
  ui.pending.append(element);
  return element;
}

function markPending(item, status) {
  const label = item.element.querySelector('.status');
  if (label) label.textContent = status;
}

function clearConversation() {
  ui.messages.replaceChildren();
  state.renderedIds.clear();
  state.lastId = 0;
  state.lastRendered = null;
}

function setMembers(members) {
  state.members = [...members].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  ui.people.replaceChildren();
  for (const nick of state.members) {
    const li = el('li', nick === state.nick ? 'person me' : 'person');
    const button = el('button', 'person-button');
    button.type = 'button';
    button.append(avatar(nick));
    button.append(el('span', 'person-name', nick));
    if (nick === state.nick) {
      button.append(el('span', 'subtle small', '(you)'));
      button.disabled = true;
    } else {
      button.title = `Send ${nick} a private message`;
      button.addEventListener('click', () => {
        setPrivateTarget(nick);
        closeDrawers();
        ui.text.focus();
      });
    }
    li.append(button);
    ui.people.append(li);
  }
  ui.peopleCount.textContent = String(state.members.length);
  ui.peopleHeadingCount.textContent = `· ${state.members.length}`;
  setRooms(state.rooms); // the current room's count follows the people list
}

function setRooms(rooms) {
  state.rooms = rooms;
  ui.roomList.replaceChildren();
  ui.lobbyRooms.replaceChildren();
  // The server pushes the list a moment after changes (RoomListDelay); the current room's count comes from the
  // people list instead, which join and leave keep up to date at once.
  const list = rooms.map((r) => (r.room === state.room && state.joined ? { room: r.room, members: state.members.length } : r));
  if (state.room && !list.some((r) => r.room === state.room)) list.unshift({ room: state.room, members: state.members.length });
  for (const room of list) {
    const li = el('li');
    const button = el('button', room.room === state.room ? 'room-button current' : 'room-button');
    button.type = 'button';
    button.append(el('span', 'room-name', `#${room.room}`));
    button.append(el('span', 'count', String(room.members)));
    if (room.room === state.room) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => moveTo(room.room));
    li.append(button);
    ui.roomList.append(li);

    const chip = el('li');
    const chipButton = el('button', 'chip');
    chipButton.type = 'button';
    chipButton.append(el('span', null, `#${room.room}`));
    chipButton.append(el('span', 'count', String(room.members)));
    chipButton.addEventListener('click', () => { ui.room.value = room.room; ui.nick.value ? ui.joinButton.focus() : ui.nick.focus(); });
    chip.append(chipButton);
    ui.lobbyRooms.append(chip);
  }
}

function setPrivateTarget(nick) {
  state.privateTo = nick;
  ui.pmTarget.hidden = !nick;
  ui.pmName.textContent = nick ?? '';
  updatePlaceholder();
}

function updatePlaceholder() {
  ui.text.placeholder = state.privateTo ? `Private message to ${state.privateTo}` : state.room ? `Message #${state.room}` : 'Message';
}

function updateComposer() {
  const ready = state.joined && !state.syncing;
  ui.composer.classList.toggle('offline', !ready);
  ui.send.title = ready ? 'Send' : 'Will be sent when connected';
}

function updateCharCount() {
  const length = ui.text.value.length;
  const max = state.limits.maxTextLength;
  ui.charCount.textContent = length > max * 0.8 ? `${length} / ${max}` : '';
}

function updateTitle() {
  const room = state.room ? `#${state.room} — ` : '';
  document.title = `${state.unread > 0 ? `(${state.unread}) ` : ''}${room}Tern Chat`;
}

function autoGrow() {
  ui.text.style.height = 'auto';
  ui.text.style.height = `${Math.min(ui.text.scrollHeight, window.innerHeight * 0.4)}px`;
}

let toastTimer = 0;
function toast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 6000);
}

function showBanner(text, actionLabel, action) {
  ui.bannerText.textContent = text;
  ui.bannerAction.textContent = actionLabel;
  ui.bannerAction.onclick = action;
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Views and user actions

function showLobby() {
  ui.app.dataset.view = 'lobby';
  ui.lobby.hidden = false;
  ui.chat.hidden = true;
  ui.roomTitle.textContent = '';
  closeDrawers();
  updateTitle();
}

function showChat() {
  ui.app.dataset.view = 'chat';
  ui.lobby.hidden = true;
  ui.chat.hidden = false;
  ui.roomTitle.textContent = `#${state.room}`;
  ui.joinError.textContent = '';
  updatePlaceholder();
  updateComposer();
  updateTitle();
  setRooms(state.rooms);
  scrollToBottom();
}

function startJoin(room, nick) {
  state.room = room;
  state.nick = nick;
  state.replaced = false;
  state.moveTo = undefined;
  state.leaving = false;
  state.returning.clear();
  const saved = loadSession();
  state.token = saved && saved.room === room && saved.nick.toLowerCase() === nick.toLowerCase() ? saved.token : null;
  clearConversation();
  for (const item of state.outbox.values()) item.element.remove();
  state.outbox.clear();
  setPrivateTarget(null);
  hideBanner();
  if (state.connected) sendJoin();
}

// Goes to another room, or to the lobby (room null). While the server has us in the current room, the page stays
// there until its unsent messages are sent and the leave is confirmed (see the 'left' handler).
function moveTo(room) {
  closeDrawers();
  ui.switchError.textContent = '';
  if (room === state.room) {
    state.moveTo = undefined; // going back where we are: cancel a move still waiting
    return;
  }
  if (state.joined || (state.outbox.size > 0 && !state.replaced)) {
    state.moveTo = room;
    if (state.outbox.size > 0) toast(`Sending ${state.outbox.size === 1 ? 'your message' : `your ${state.outbox.size} messages`} to #${state.room} first…`);
    flushOutbox();
    return;
  }
  // Not in the room on this connection (it dropped, or another tab took over) and nothing to send: the server's
  // place, if any, ends with the reconnect grace.
  if (state.outbox.size > 0) toast(`${state.outbox.size} unsent message(s) to #${state.room} were discarded.`);
  if (room) enterRoom(room);
  else enterLobby();
}

function enterRoom(room) {
  state.members = [];
  startJoin(room, state.nick);
  ui.roomTitle.textContent = `#${room}`;
  updatePlaceholder();
  updateTitle();
  updateComposer();
  setMembers([]);
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const nick = ui.nick.value.trim();
  const room = ui.room.value.trim().replace(/^#/, '').toLowerCase() || 'general';
  if (!/^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.-]*$/u.test(nick) || nick.length > state.limits.maxNickLength) {
    ui.joinError.textContent = `A nickname is 1 to ${state.limits.maxNickLength} letters, digits, '-', '_' or '.', starting with a letter or digit.`;
    ui.nick.focus();
    return;
  }
  if (!/^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_-]*$/u.test(room) || room.length > state.limits.maxRoomLength) {
    ui.joinError.textContent = `A room name is 1 to ${state.limits.maxRoomLength} letters, digits, '-' or '_'.`;
    ui.room.focus();
    return;
  }
  ui.joinError.textContent = '';
  ui.joinButton.disabled = true;
  ui.joinButton.textContent = state.connected ? 'Joining…' : 'Waiting for the connection…';
  startJoin(room, nick);
});

ui.switchForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = ui.newRoom.value.trim().replace(/^#/, '').toLowerCase();
  if (!room) return;
  if (!/^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_-]*$/u.test(room) || room.length > state.limits.maxRoomLength) {
    ui.switchError.textContent = `A room name is 1 to ${state.limits.maxRoomLength} letters, digits, '-' or '_'.`;
    return;
  }
  ui.newRoom.value = '';
  moveTo(room);
});

ui.leaveButton.addEventListener('click', () => moveTo(null));

function enterLobby() {
  state.room = null;
  state.moveTo = undefined;
  state.leaving = false;
  state.token = null;
  state.joined = false;
  clearSession();
  clearConversation();
  for (const item of state.outbox.values()) item.element.remove();
  state.outbox.clear();
  hideBanner();
  showLobby();
  ui.joinButton.disabled = false;
  ui.joinButton.textContent = 'Join';
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  submitText();
  ui.text.focus();
});

ui.text.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitText();
  } else if (event.key === 'Escape' && state.privateTo) {
    setPrivateTarget(null);
  }
});

ui.text.addEventListener('input', () => {
  autoGrow();
  updateCharCount();
});

ui.pmCancel.addEventListener('click', () => {
  setPrivateTarget(null);
  ui.text.focus();
});

let stuckToBottom = true;
ui.scroller.addEventListener('scroll', () => {
  stuckToBottom = isNearBottom();
  if (stuckToBottom) ui.jumpLatest.hidden = true;
});
// When the conversation gets shorter (the private-message bar opens, the text box grows, a banner shows), the last
// messages would slide under the composer: a view that was at the bottom stays there.
new ResizeObserver(() => { if (stuckToBottom) scrollToBottom(); }).observe(ui.scroller);
ui.jumpLatest.addEventListener('click', scrollToBottom);

// Drawers on narrow screens.
function toggleDrawer(name) {
  const open = ui.app.dataset.drawer === name ? '' : name;
  ui.app.dataset.drawer = open;
  ui.scrim.hidden = !open;
  ui.roomsToggle.setAttribute('aria-expanded', String(open === 'rooms'));
  ui.peopleToggle.setAttribute('aria-expanded', String(open === 'people'));
}

function closeDrawers() {
  ui.app.dataset.drawer = '';
  ui.scrim.hidden = true;
  ui.roomsToggle.setAttribute('aria-expanded', 'false');
  ui.peopleToggle.setAttribute('aria-expanded', 'false');
}

ui.roomsToggle.addEventListener('click', () => toggleDrawer('rooms'));
ui.peopleToggle.addEventListener('click', () => toggleDrawer('people'));
ui.scrim.addEventListener('click', closeDrawers);
document.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeDrawers(); });

// ---------------------------------------------------------------------------------------------------------------
// Storage

function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null'); } catch { return null; }
}

function saveSession() {
  if (!state.room || !state.token) return;
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ room: state.room, nick: state.nick, token: state.token }));
  } catch { /* storage full or disabled: a reload then shows the join form */ }
}

function clearSession() {
  try { sessionStorage.removeItem(SESSION_KEY); } catch { /* ignore */ }
}

function savePrefs(nick, room) {
  try { localStorage.setItem(PREFS_KEY, JSON.stringify({ nick, room })); } catch { /* ignore */ }
}

function loadPrefs() {
  try { return JSON.parse(localStorage.getItem(PREFS_KEY) ?? 'null'); } catch { return null; }
}

// ---------------------------------------------------------------------------------------------------------------
// Start

(function start() {
  const prefs = loadPrefs();
  ui.nick.value = prefs?.nick ?? '';
  ui.room.value = prefs?.room ?? 'general';
  const session = loadSession();
  if (session?.room && session?.nick) {
    // A reload: take the same place back (the token makes it silent) and show the recent history.
    state.room = session.room;
    state.nick = session.nick;
    state.token = session.token;
    showChat();
  } else {
    showLobby();
    (ui.nick.value ? ui.room : ui.nick).focus();
  }
  connect();
})();
