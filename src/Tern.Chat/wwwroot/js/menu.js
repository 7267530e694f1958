// The account menu: who is signed in, the display name, notifications, and signing out here or everywhere.

import { $, avatar } from './dom.js';
import { state } from './state.js';
import { request } from './net.js';
import { updateNotificationItem } from './notify.js';

const ui = {
  button: $('menu-button'), menu: $('menu'), avatar: $('menu-avatar'), name: $('menu-name'),
  displayName: $('menu-display-name'), username: $('menu-username'),
  profile: $('menu-profile'), signOut: $('menu-signout'), signOutAll: $('menu-signout-all'),
  dialog: $('profile-dialog'), form: $('profile-form'), input: $('profile-name'), error: $('profile-error'), cancel: $('profile-cancel'),
};

let profileRef = null;

/** `signOut(everywhere)` is called from the menu. */
export function initMenu(signOut) {
  ui.signOut.addEventListener('click', () => { closeMenu(); signOut(false); });
  ui.signOutAll.addEventListener('click', () => { closeMenu(); signOut(true); });
}

export function renderMe() {
  const me = state.me;
  if (!me) return;
  const face = avatar(me.username, me.displayName, 'avatar small-avatar');
  ui.avatar.replaceWith(face);
  face.id = 'menu-avatar';
  ui.avatar = face;
  ui.name.textContent = me.displayName || me.username;
  ui.displayName.textContent = me.displayName || me.username;
  ui.username.textContent = me.username;
}

function openMenu() {
  updateNotificationItem();
  ui.menu.hidden = false;
  ui.button.setAttribute('aria-expanded', 'true');
  ui.menu.querySelector('button:not([hidden])')?.focus();
}

export function closeMenu() {
  ui.menu.hidden = true;
  ui.button.setAttribute('aria-expanded', 'false');
}

ui.button.addEventListener('click', () => (ui.menu.hidden ? openMenu() : closeMenu()));
// Enabling notifications (notify.js asks for the permission) is done with the menu, like every other item.
$('menu-notifications').addEventListener('click', () => { closeMenu(); ui.button.focus(); });
document.addEventListener('click', (event) => {
  if (!ui.menu.hidden && !ui.menu.contains(event.target) && !ui.button.contains(event.target)) closeMenu();
});
document.addEventListener('keydown', (event) => { if (event.key === 'Escape' && !ui.menu.hidden) { closeMenu(); ui.button.focus(); } });

ui.profile.addEventListener('click', () => {
  closeMenu();
  ui.input.value = state.me?.displayName ?? '';
  ui.error.textContent = '';
  ui.dialog.showModal();
  ui.input.select();
});
ui.cancel.addEventListener('click', () => ui.dialog.close());
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const displayName = ui.input.value.trim();
  if (!displayName) { ui.error.textContent = 'A display name is 1 to 40 characters.'; return; }
  profileRef = request({ type: 'profile', displayName });
  if (!profileRef) { ui.error.textContent = 'Not connected: try again in a moment.'; return; }
  ui.error.textContent = '';
});

/** The server confirmed a display name (ours, from any tab). */
export function profileChanged() {
  if (profileRef && ui.dialog.open) ui.dialog.close();
  profileRef = null;
}

/** The server refused our display name. */
export function profileRefused(error) {
  if (!error.ref || error.ref !== profileRef) return false;
  ui.error.textContent = error.message;
  return true;
}
