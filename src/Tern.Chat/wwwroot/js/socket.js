// The WebSocket to /chat: connects with the session cookie, reconnects with backoff (0.5 s doubling to 15 s, with
// jitter; at once when the network or the tab comes back), and tells the page when the session is gone: close code
// 4001, or a handshake that fails while GET /api/session says 401.

import { getSession } from './api.js';

const SIGNED_OUT = 4001;

export class ChatSocket {
  /**
   * @param {object} handlers
   * @param {(message: object) => void} handlers.onMessage every parsed message, hello included
   * @param {() => void} handlers.onDisconnect the socket closed (messages in flight must wait for the next hello)
   * @param {(state: string, text: string, canRetry: boolean) => void} handlers.onState for the status pill
   * @param {(reason: string) => void} handlers.onSignedOut the session is over: show the sign-in screen
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.ready = false;      // open, and hello arrived
    this.stopped = true;
    this.everReady = false;
    this.attempt = 0;
    this.timer = 0;
    this.countdown = 0;
    this.retryAt = 0;
    window.addEventListener('online', () => this.reconnectNow());
    window.addEventListener('offline', () => { if (!this.socket && !this.stopped) this.state('offline', 'Offline — waiting for the network'); });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.reconnectNow(); });
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.everReady = false;
    this.connect();
  }

  /** Closes for good (signing out): no reconnect. */
  stop() {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'signed out');
  }

  /** Sends one message if the connection is ready; false when it is not (the caller keeps it). */
  send(message) {
    if (!this.ready || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    if (this.stopped || this.socket) return;
    this.state(this.everReady ? 'reconnecting' : 'connecting', this.everReady ? 'Reconnecting…' : 'Connecting…');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/chat`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => { opened = true; });
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return;
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (!message || typeof message.type !== 'string') return;
      if (message.type === 'hello') {
        this.ready = true;
        this.everReady = true;
        this.attempt = 0;
        clearInterval(this.countdown);
        this.state('online', 'Connected');
      }
      this.handlers.onMessage(message);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      const wasReady = this.ready;
      this.ready = false;
      if (wasReady) this.handlers.onDisconnect();
      if (this.stopped) return;
      if (event.code === SIGNED_OUT) {
        this.stopped = true;
        this.handlers.onSignedOut('You were signed out.');
        return;
      }
      if (event.code === 1009) this.handlers.onState('reconnecting', 'A message was too large for the server.', false);
      if (!opened) {
        // A refused handshake looks like any other failure from here; the session endpoint tells a lost session
        // (401: sign in again) from a server that is down or restarting (try again).
        this.checkSessionThenReconnect();
        return;
      }
      this.scheduleReconnect();
    });
  }

  async checkSessionThenReconnect() {
    this.state('reconnecting', 'Reconnecting…');
    const session = await getSession();
    if (this.stopped) return;
    if (session.status === 401) {
      this.stopped = true;
      this.handlers.onSignedOut('Your session has ended. Please sign in again.');
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    clearTimeout(this.timer);
    clearInterval(this.countdown);
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.state('offline', 'Offline — waiting for the network');
      return; // the 'online' event reconnects
    }
    // Exponential backoff with jitter, so a restarted server is not hit by every page at the same instant.
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.retryAt = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
      this.state('reconnecting', seconds > 0 ? `Disconnected — retrying in ${seconds} s` : 'Reconnecting…', true);
    };
    tick();
    this.countdown = setInterval(tick, 500);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  state(name, text, canRetry = false) {
    this.handlers.onState(name, text, canRetry);
  }
}
