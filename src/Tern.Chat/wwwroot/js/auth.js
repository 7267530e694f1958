// The sign-in and sign-up screen. Errors show the API's own sentence; a 429 also counts down the wait.

import { $ } from './dom.js';
import { signIn, signUp } from './api.js';

const ui = {
  form: $('auth-form'), title: $('auth-title'), username: $('auth-username'), password: $('auth-password'),
  displayName: $('auth-display-name'), signupFields: $('auth-signup-fields'), error: $('auth-error'), submit: $('auth-submit'),
  signinTab: $('auth-mode-signin'), signupTab: $('auth-mode-signup'),
};

let onSignedIn = () => {};
let waitTimer = 0;
let waitUntil = 0;

/** Wires the form; `signedIn(account)` runs after a successful sign-in or sign-up. */
export function initAuth(signedIn) {
  onSignedIn = signedIn;
}

export function setMode(mode) {
  ui.form.dataset.mode = mode;
  const signup = mode === 'signup';
  ui.signupFields.hidden = !signup;
  ui.title.textContent = signup ? 'Create your Tern.Chat account' : 'Sign in to Tern.Chat';
  ui.signinTab.setAttribute('aria-selected', String(!signup));
  ui.signupTab.setAttribute('aria-selected', String(signup));
  ui.password.autocomplete = signup ? 'new-password' : 'current-password';
  ui.error.textContent = '';
  updateSubmit();
}

/** Shows the form, with an optional note (e.g. "You were signed out."). */
export function showAuth(note) {
  ui.error.textContent = note ?? '';
  ui.password.value = '';
  updateSubmit();
  (ui.username.value ? ui.password : ui.username).focus();
}

function updateSubmit(busy = false) {
  const seconds = Math.ceil((waitUntil - Date.now()) / 1000);
  const waiting = seconds > 0;
  ui.submit.disabled = busy || waiting;
  const label = ui.form.dataset.mode === 'signup' ? 'Create account' : 'Sign in';
  ui.submit.textContent = busy ? `${label}…` : waiting ? `Try again in ${seconds} s` : label;
}

function startWait(seconds) {
  waitUntil = Date.now() + seconds * 1000;
  clearInterval(waitTimer);
  waitTimer = setInterval(() => {
    updateSubmit();
    if (Date.now() >= waitUntil) clearInterval(waitTimer);
  }, 250);
  updateSubmit();
}

ui.signinTab.addEventListener('click', () => setMode('signin'));
ui.signupTab.addEventListener('click', () => setMode('signup'));

ui.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (ui.submit.disabled) return;
  const username = ui.username.value.trim();
  const password = ui.password.value;
  const signup = ui.form.dataset.mode === 'signup';
  if (!username) { ui.error.textContent = 'Enter your username.'; ui.username.focus(); return; }
  if (!password) { ui.error.textContent = 'Enter your password.'; ui.password.focus(); return; }
  if (signup && password.length < 8) { ui.error.textContent = 'A password is at least 8 characters.'; ui.password.focus(); return; }
  ui.error.textContent = '';
  updateSubmit(true);
  const answer = signup ? await signUp(username, password, ui.displayName.value.trim()) : await signIn(username, password);
  updateSubmit(false);
  if (answer.ok) {
    ui.password.value = '';
    ui.displayName.value = '';
    onSignedIn(answer.data);
    return;
  }
  ui.error.textContent = answer.message;
  if (answer.status === 429) startWait(answer.retryAfterSeconds ?? 10);
  if (answer.error === 'bad_password') ui.password.focus();
  else if (answer.error === 'bad_display_name') ui.displayName.focus();
  else ui.username.focus();
});
