// Sending on the chat socket, and remembering why each request was made: answers carry the request's `ref`, which
// tells a history page for scrolling up from one for resuming, or a join typed here from one made in another tab.

import { newRef } from './state.js';

export const net = {
  socket: null,            // the ChatSocket, set by app.js
  requests: new Map(),     // ref -> context object given to request()
};

/** Sends a message that needs no answer (read, typing, presence). False when not connected. */
export function send(message) {
  return net.socket ? net.socket.send(message) : false;
}

/** Sends a request with a new ref and remembers its context; the ref, or null when not connected. */
export function request(message, context = {}) {
  const ref = newRef(message.type.slice(0, 2));
  if (!send({ ...message, ref })) return null;
  net.requests.set(ref, { ...context, type: message.type, sentAt: Date.now() });
  return ref;
}

/** The context of an answer's request, forgotten once taken. */
export function takeRequest(ref) {
  if (!ref) return null;
  const context = net.requests.get(ref) ?? null;
  net.requests.delete(ref);
  return context;
}

/** After a disconnect no answer will come to what was asked. */
export function forgetRequests() {
  net.requests.clear();
}

/** Functions one module needs from another, filled in by app.js (keeps the modules free of import cycles). */
export const actions = {
  open: (/* id, options */) => {},
  jumpTo: (/* conversationId, messageId */) => {},
  refresh: () => {},
};
