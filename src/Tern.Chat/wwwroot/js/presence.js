// This tab's presence: away when hidden or when nobody has used it for 5 minutes, online again when it is back.
// The server combines the tabs: online when any is online. `?idle=<ms>` in the page's address sets another idle time
// (100 ms to a day; tests use it so as not to wait 5 minutes): it only changes what this tab says about itself.

import { send } from './net.js';

const IDLE_MS = idleTime();
let lastActivity = Date.now();
let sent = null;

function idleTime() {
  const asked = Number(new URLSearchParams(location.search).get('idle'));
  return Number.isInteger(asked) && asked >= 100 && asked <= 24 * 60 * 60 * 1000 ? asked : 5 * 60 * 1000;
}

function wanted() {
  return document.hidden || Date.now() - lastActivity >= IDLE_MS ? 'away' : 'online';
}

/** Sends this tab's presence if it changed, or always when `force` (after a hello: a new connection starts online). */
export function syncPresence(force = false) {
  const status = wanted();
  if (!force && status === sent) return;
  if (force && status === 'online') { sent = 'online'; return; }
  if (send({ type: 'presence', status })) sent = status;
}

function activity() {
  const wasIdle = Date.now() - lastActivity >= IDLE_MS;
  lastActivity = Date.now();
  if (wasIdle || sent === 'away') syncPresence();
}

for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart', 'focus']) {
  window.addEventListener(type, activity, { passive: true, capture: true });
}
let lastMove = 0;
window.addEventListener('pointermove', () => {
  // Moves come in bursts; one a second is plenty to know someone is there.
  if (Date.now() - lastMove < 1000) return;
  lastMove = Date.now();
  activity();
}, { passive: true });
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) lastActivity = Date.now();
  syncPresence();
});
// Checked every 30 s, or twice per idle time when that is shorter.
setInterval(() => syncPresence(), Math.min(30 * 1000, IDLE_MS / 2));
