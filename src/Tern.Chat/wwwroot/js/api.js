// The HTTP API for accounts (docs/chat-protocol.md, "HTTP API"). Every call answers { ok, status, data } or
// { ok: false, status, error, message, retryAfterSeconds }; network failures come back as status 0.

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, error: 'network', message: 'The server cannot be reached. Check your connection and try again.' };
  }
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (response.ok) return { ok: true, status: response.status, data };
  const retryAfter = Number(response.headers.get('Retry-After'));
  return {
    ok: false,
    status: response.status,
    error: data?.error ?? 'http_' + response.status,
    message: data?.message ?? `The server answered ${response.status}.`,
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  };
}

/** Who is signed in: 200 with { username, displayName }, or 401. */
export const getSession = () => call('GET', '/api/session');

export const signIn = (username, password) => call('POST', '/api/login', { username, password });

export function signUp(username, password, displayName) {
  const body = { username, password };
  if (displayName) body.displayName = displayName;
  return call('POST', '/api/signup', body);
}

/** Signs this device out, or every device of the account (their sockets close with 4001). */
export const signOut = (everywhere) => call('POST', '/api/logout', { everywhere: Boolean(everywhere) });
