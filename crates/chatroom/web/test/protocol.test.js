// protocol.js under node: join requests, what a refused send or handshake leads to, auth, tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  joinRequest, sendFailure, connectFailure, authFor, tokenFromHash, transportsFromSearch, ackError,
} from '../app/protocol.js';

test('join asks with since only when something was seen', () => {
  assert.deepEqual(joinRequest('lobby', 0), { room: 'lobby' });
  assert.deepEqual(joinRequest('lobby', undefined), { room: 'lobby' });
  assert.deepEqual(joinRequest('r', 42), { room: 'r', since: 42 });
});

test('a refused send is retried, re-joined or shown as failed by its code', () => {
  assert.deepEqual(sendFailure({ code: 'rate_limited', retry_ms: 180 }), { retryMs: 180 });
  assert.deepEqual(sendFailure({ code: 'rate_limited', retry_ms: 1 }), { retryMs: 50 });
  assert.deepEqual(sendFailure({ code: 'rate_limited' }), { retryMs: 500 });
  assert.deepEqual(sendFailure({ code: 'unavailable' }), { retryMs: 2000 });
  assert.deepEqual(sendFailure({ code: 'not_in_room' }), { rejoin: true });
  assert.deepEqual(sendFailure({ code: 'muted', retry_ms: 150000 }), { failed: 'you are muted for 3 more minutes', mutedMinutes: 3 });
  assert.deepEqual(sendFailure({ code: 'muted', retry_ms: 1000 }), { failed: 'you are muted for another minute', mutedMinutes: 1 });
  assert.deepEqual(sendFailure({ code: 'too_long', message: 'too long' }), { failed: 'too long' });
  assert.deepEqual(sendFailure({ code: 'empty' }), { failed: 'empty' });
  assert.deepEqual(sendFailure(undefined), { failed: 'no answer' });
});

test('a refused handshake is classified', () => {
  assert.deepEqual(connectFailure('unauthorized'), { kind: 'unauthorized' });
  assert.deepEqual(connectFailure('token_expired'), { kind: 'expired' });
  assert.deepEqual(connectFailure('banned'), { kind: 'banned', until: null });
  assert.deepEqual(connectFailure('banned until 2026-12-03T09:41:07Z'), { kind: 'banned', until: Date.UTC(2026, 11, 3, 9, 41, 7) });
  assert.deepEqual(connectFailure('banned until soon'), { kind: 'banned', until: null });
  for (const k of ['invalid_name', 'name_taken', 'invalid_identity']) assert.deepEqual(connectFailure(k), { kind: k });
  assert.deepEqual(connectFailure('xhr poll error'), { kind: 'retry' });
  assert.deepEqual(connectFailure(undefined), { kind: 'retry' });
});

test('auth carries the name and identity, or only the token when signed in', () => {
  assert.deepEqual(authFor({ name: 'ann', identity: 'v1.x' }), { name: 'ann', identity: 'v1.x' });
  assert.deepEqual(authFor({ name: 'ann', identity: null }), { name: 'ann' });
  assert.deepEqual(authFor({ name: null }), {});
  assert.deepEqual(authFor({ token: 't', signedIn: true, name: 'ann', identity: 'v1.x' }), { token: 't' });
  assert.deepEqual(authFor({ token: 't', signedIn: false, name: 'ann' }), { token: 't', name: 'ann' });
});

test('tokens come from the fragment; transports from the query', () => {
  assert.equal(tokenFromHash('#token=a.b.c'), 'a.b.c');
  assert.equal(tokenFromHash('#x=1&token=a%2Eb'), 'a.b');
  assert.equal(tokenFromHash('#notoken=1'), null);
  assert.equal(tokenFromHash('#token=%E0%A4%A'), null);
  assert.equal(tokenFromHash(''), null);
  assert.deepEqual(transportsFromSearch('?transport=polling'), ['polling']);
  assert.deepEqual(transportsFromSearch('?transport=websocket'), ['websocket']);
  assert.equal(transportsFromSearch('?transport=carrier-pigeon'), undefined);
  assert.deepEqual(ackError({ ok: false, error: { code: 'x' } }), { code: 'x' });
  assert.deepEqual(ackError(undefined, 'gone'), { code: 'error', message: 'gone' });
});
