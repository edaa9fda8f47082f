/*
 * Protocol v1 (docs/PROTOCOL.md) as pure decisions, apart from the socket and the DOM: what a
 * `join` asks for, what to do with a refused `send` or a refused handshake, the handshake's
 * `auth`, where a sign-in token comes from. main.js carries them out; the node tests check them.
 */

/** `join` payload: `since` only when something was seen there (0 = nothing yet). */
export function joinRequest(name, since) {
  const req = { room: name };
  if (since) req.since = since;
  return req;
}

/**
 * What to do with a pending message after a refused `send` (`err` = ack.error):
 * { retryMs } to queue and resend later (same cid), { rejoin: true } to join first, or
 * { failed: sentence, mutedMinutes? } to show it as not sent.
 */
export function sendFailure(err) {
  const e = err || { code: 'bad_request', message: 'no answer' };
  if (e.code === 'rate_limited') return { retryMs: Math.max(50, Number(e.retry_ms) || 500) };
  if (e.code === 'unavailable') return { retryMs: 2000 };
  if (e.code === 'not_in_room') return { rejoin: true };
  if (e.code === 'muted') {
    const minutes = Math.max(1, Math.ceil((Number(e.retry_ms) || 60000) / 60000));
    return { failed: 'you are muted for ' + (minutes === 1 ? 'another minute' : minutes + ' more minutes'), mutedMinutes: minutes };
  }
  return { failed: e.message || e.code };
}

/**
 * A refused handshake (`connect_error` message) as one of: unauthorized, expired, banned
 * (with `until` ms or null), invalid_name, name_taken, invalid_identity, or retry (network and
 * everything else).
 */
export function connectFailure(message) {
  const msg = typeof message === 'string' ? message : '';
  if (msg === 'unauthorized') return { kind: 'unauthorized' };
  if (msg === 'token_expired') return { kind: 'expired' };
  if (msg === 'banned') return { kind: 'banned', until: null };
  if (msg.startsWith('banned until ')) {
    const until = Date.parse(msg.slice('banned until '.length));
    return { kind: 'banned', until: Number.isNaN(until) ? null : until };
  }
  if (msg === 'invalid_name' || msg === 'name_taken' || msg === 'invalid_identity') return { kind: msg };
  return { kind: 'retry' };
}

/** The handshake auth: the name, and the identity token that keeps us the same user. */
export function authFor({ token, signedIn, name, identity }) {
  const auth = {};
  if (token) auth.token = token;
  if (signedIn || !name) return auth;  // a JWT names us; without a name the server decides
  auth.name = name;
  if (identity) auth.identity = identity;
  return auth;
}

/** A sign-in token in the address fragment (`#token=…` or `…&token=…`), or null. */
export function tokenFromHash(hash) {
  const m = /(?:^#|&)token=([^&]+)/.exec(hash || '');
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch (e) { return null; }
}

/**
 * `?transport=polling` or `?transport=websocket` pins the client to one transport (checking a
 * proxy's sticky routing or WebSocket support, docs/DEPLOY.md); otherwise the client's default.
 */
export function transportsFromSearch(search) {
  let wanted = null;
  try { wanted = new URLSearchParams(search || '').get('transport'); } catch (e) { /* old browser */ }
  return wanted === 'polling' || wanted === 'websocket' ? [wanted] : undefined;
}

/** The error of a refused ack (or of no ack at all). */
export function ackError(ack, fallback = 'no answer') {
  return (ack && ack.error) || { code: 'error', message: fallback };
}
