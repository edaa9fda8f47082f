// Roles and moderation (docs/AUTH.md, docs/PROTOCOL.md) through the real socket.io-client and
// raw HTTP, under `--auth jwt` with `--admin-token`: delete (tombstone + `deleted`), kick, ban
// (refused reconnect, kept across a restart), mute (`muted` + `retry_ms`), `forbidden` for a
// plain user with nothing changed, the admin API's 401s, and the audit trail. Once per store.
'use strict';

const { describe, test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  storeKinds,
  makeStore,
  startServer,
  Clients,
  Recorder,
  connectError,
  call,
  assertOk,
  assertRefused,
  rand,
  room,
  withTimeout,
} = require('../lib/harness');
const jwt = require('../lib/jwt');

const SECRET = 'moderation tests HS256 secret, 32+ bytes';
const ADMIN = `admin-${rand(16)}-token`;

const token = (name, role) => jwt.hs256({ sub: `sub-${name}`, name, role, exp: jwt.epoch(3600) }, SECRET);

/** `fetch` of the admin API: { status, body } (body parsed as JSON). */
async function admin(srv, method, path, { body, auth = `Bearer ${ADMIN}` } = {}) {
  const headers = {};
  if (auth !== null) headers.authorization = auth;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${srv.url}/api/admin/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Resolves when `socket` disconnects; the reason. */
const disconnected = (socket) => withTimeout(new Promise((r) => socket.once('disconnect', r)), 10000, 'disconnect');

for (const kind of storeKinds()) {
  describe(`moderation [${kind}]`, () => {
    const clients = new Clients();
    let store;
    let srv;
    const args = ['--auth', 'jwt', '--auth-secret', SECRET, '--admin-token', ADMIN];
    before(async () => {
      store = await makeStore(kind);
      srv = await startServer({ db: store.url, args });
    });
    afterEach(() => clients.closeAll());
    after(async () => {
      clients.closeAll();
      if (srv) assert.equal((await srv.stop()).code, 0, srv.logs());
      if (store) await store.cleanup();
    });

    const as = (name, role) => clients.connect(srv.url, { auth: { token: token(name, role) } });

    test('a plain user gets forbidden for every action, and nothing changes', async () => {
      const r = room();
      const user = await as(`user-${rand(4)}`);
      const victim = await as(`victim-${rand(4)}`);
      for (const s of [user, victim]) assertOk(await call(s, 'join', { room: r }));
      const sent = await call(victim, 'send', { room: r, text: 'keep me' });
      assertOk(sent);
      const name = victim.welcomeData.name;
      for (const [event, payload] of [
        ['delete', { id: sent.message.id }],
        ['kick', { name }],
        ['ban', { name, minutes: 5 }],
        ['ban', { ip: '127.0.0.1' }],
        ['mute', { name, minutes: 5 }],
      ]) {
        assertRefused(await call(user, event, payload), 'forbidden', `${event} ${JSON.stringify(payload)}`);
      }
      // An author may delete their own messages, so `delete` reads its payload first.
      assertRefused(await call(user, 'delete', 'not even well formed'), 'bad_request');
      assert.ok(victim.connected, 'the victim is still connected');
      assertOk(await call(victim, 'send', { room: r, text: 'still talking' }));
      const history = await call(user, 'history', { room: r });
      assert.deepEqual(history.messages.map((m) => [m.text, m.deleted]), [['keep me', undefined], ['still talking', undefined]]);
      const bans = await admin(srv, 'GET', 'bans');
      assert.deepEqual(bans.body.bans, []);
    });

    test('delete: the room gets `deleted`, history shows the tombstone', async () => {
      const r = room();
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      const author = await as(`author-${rand(4)}`);
      for (const s of [mod, author]) assertOk(await call(s, 'join', { room: r }));
      const deletions = new Recorder(author, 'deleted');
      const sent = await call(author, 'send', { room: r, text: 'regrettable' });
      assertOk(sent);
      const answer = await call(mod, 'delete', { id: sent.message.id });
      assertOk(answer);
      assert.equal(answer.message.deleted, true);
      assert.equal(answer.message.text, '');
      const d = await deletions.find((d) => d.id === sent.message.id);
      assert.deepEqual([d.id, d.room, d.by, d.seq], [sent.message.id, r, mod.welcomeData.name, sent.message.seq + 1]);
      const history = await call(author, 'history', { room: r });
      assert.deepEqual(history.messages.map((m) => [m.id, m.text, m.deleted, m.name]), [
        [sent.message.id, '', true, author.welcomeData.name],
      ]);
      assertRefused(await call(mod, 'delete', { id: sent.message.id + 100000 }), 'not_found');
      assertRefused(await call(mod, 'delete', { id: 'x' }), 'bad_request');
    });

    test('kick: every connection of the user gets `kicked` with the reason and is disconnected', async () => {
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      const name = `kickee-${rand(4)}`;
      const tab1 = await as(name);
      const tab2 = await as(name);
      const kicked = [tab1, tab2].map((s) => withTimeout(new Promise((r) => s.once('kicked', r)), 10000, 'kicked'));
      const gone = [tab1, tab2].map(disconnected);
      const answer = await call(mod, 'kick', { name, reason: 'cool off' });
      assertOk(answer);
      assert.equal(answer.kicked, 2);
      for (const k of await Promise.all(kicked)) assert.equal(k.reason, 'cool off');
      assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
      assertRefused(await call(mod, 'kick', { name: `nobody-${rand(4)}` }), 'not_found');
      // A moderator cannot kick an admin.
      const boss = await as(`boss-${rand(4)}`, 'admin');
      assertRefused(await call(mod, 'kick', { name: boss.welcomeData.name }), 'forbidden');
      assert.ok(boss.connected);
    });

    test('mute: send, chat message, edit and react are refused with muted and retry_ms, only where muted', async () => {
      const r = room();
      const other = room();
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      const name = `loud-${rand(4)}`;
      const loud = await as(name);
      for (const rr of [r, other]) assertOk(await call(loud, 'join', { room: rr }));
      const said = await call(loud, 'send', { room: r, text: 'before the mute' });
      assertOk(said);
      const id = said.message.id;
      assertOk(await call(loud, 'react', { id, emoji: '👍' }));
      const notice = withTimeout(new Promise((res) => loud.once('muted', res)), 10000, 'muted event');
      const answer = await call(mod, 'mute', { name, room: r, minutes: 2 });
      assertOk(answer);
      assert.equal((await notice).room, r);
      const refused = await call(loud, 'send', { room: r, text: 'hello?' });
      assertRefused(refused, 'muted');
      assert.ok(refused.error.retry_ms > 100000 && refused.error.retry_ms <= 120000, JSON.stringify(refused));
      // Editing and reacting are speaking too; taking words back (unreact, delete) is not.
      assertRefused(await call(loud, 'edit', { id, text: 'sneaky' }), 'muted');
      assertRefused(await call(loud, 'react', { id, emoji: '🎉' }), 'muted');
      const history = await call(loud, 'history', { room: r });
      assertOk(history);
      const kept = history.messages.find((m) => m.id === id);
      assert.equal(kept.text, 'before the mute');
      assert.deepEqual(kept.reactions.map((x) => x.emoji), ['👍']);
      assertOk(await call(loud, 'unreact', { id, emoji: '👍' }));
      assertOk(await call(loud, 'delete', { id }));
      assertOk(await call(loud, 'send', { room: other, text: 'elsewhere is fine' }));
      // Everywhere, including the seed protocol's lobby message.
      assertOk(await call(mod, 'mute', { name, minutes: 1 }));
      assertRefused(await call(loud, 'send', { room: other, text: 'now?' }), 'muted');
      const errors = new Recorder(loud, 'error');
      loud.emit('chat message', 'lobby shout');
      const err = await errors.find((e) => e.code === 'muted');
      assert.ok(err.retry_ms > 0);
      assertRefused(await call(mod, 'mute', { name, minutes: 0 }), 'bad_request');
    });

    test('ban by name: `banned`, disconnected, refused until lifted; the admin API lists and lifts it', async () => {
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      const name = `spammer-${rand(4)}`;
      const spammer = await as(name);
      const notice = withTimeout(new Promise((r) => spammer.once('banned', r)), 10000, 'banned event');
      const gone = disconnected(spammer);
      const answer = await call(mod, 'ban', { name, minutes: 30, reason: 'spam' });
      assertOk(answer);
      assert.equal(answer.kicked, 1);
      const event = await notice;
      assert.equal(event.reason, 'spam');
      assert.ok(event.until > Date.now() + 29 * 60000);
      await gone;
      const err = await connectError(clients.open(srv.url, { auth: { token: token(name) } }));
      assert.match(err.message, /^banned until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const listed = await admin(srv, 'GET', 'bans');
      assert.equal(listed.status, 200);
      const ban = listed.body.bans.find((b) => b.name === name);
      assert.equal(ban.reason, 'spam');
      assert.equal(ban.user_id, `sub-${name}`);
      const lifted = await admin(srv, 'DELETE', `bans/${ban.id}`);
      assert.equal(lifted.status, 200);
      assert.equal(lifted.body.ban.id, ban.id);
      assert.equal((await admin(srv, 'DELETE', `bans/${ban.id}`)).status, 404);
      await clients.connect(srv.url, { auth: { token: token(name) } });
    });

    test('ban by address over the admin API refuses everyone from it until lifted', async () => {
      const added = await admin(srv, 'POST', 'bans', { body: { ip: '127.0.0.1', reason: 'lockdown' } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.ban.until_ms, null);
      const err = await connectError(clients.open(srv.url, { auth: { token: token(`any-${rand(4)}`) } }));
      assert.equal(err.message, 'banned', 'a permanent ban has no end time');
      assert.equal((await admin(srv, 'DELETE', `bans/${added.body.ban.id}`)).status, 200);
      await as(`back-${rand(4)}`);
    });

    test('admin API: 401 without, with a wrong or a malformed token; JSON errors', async () => {
      for (const auth of [null, 'Bearer wrong', `Bearer ${ADMIN}x`, `Bearer ${ADMIN.slice(0, -1)}`, ADMIN, `Basic ${ADMIN}`]) {
        for (const [method, path] of [['GET', 'bans'], ['GET', 'audit'], ['POST', 'kick'], ['DELETE', 'messages/1'], ['DELETE', 'bans/1'], ['POST', 'bans']]) {
          const res = await admin(srv, method, path, { auth, body: method === 'POST' ? { name: 'x' } : undefined });
          assert.equal(res.status, 401, `${method} ${path} with ${auth}`);
          assert.equal(res.body.error.code, 'unauthorized');
          assert.match(res.headers.get('www-authenticate'), /^Bearer/);
        }
      }
      assert.equal((await admin(srv, 'POST', 'kick', { body: { name: `nobody-${rand(4)}` } })).status, 404);
      const bad = await admin(srv, 'POST', 'bans', { body: { name: 'a', ip: '127.0.0.1' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'bad_request');
      assert.equal((await admin(srv, 'POST', 'bans', { body: { ip: 'not-an-ip' } })).status, 400);
      assert.equal((await admin(srv, 'DELETE', 'messages/abc')).status, 400);
      assert.equal((await admin(srv, 'DELETE', 'messages/999999999')).status, 404);
    });

    test('admin API: kick and delete act; the audit shows every action with who, what, whom and why', async () => {
      const r = room();
      const name = `target-${rand(4)}`;
      const target = await as(name);
      assertOk(await call(target, 'join', { room: r }));
      const sent = await call(target, 'send', { room: r, text: 'to be removed' });
      const deleted = await admin(srv, 'DELETE', `messages/${sent.message.id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.message.deleted, true);
      const gone = disconnected(target);
      const kicked = await admin(srv, 'POST', 'kick', { body: { name, reason: 'by the operator' } });
      assert.deepEqual(kicked, { ...kicked, status: 200, body: { kicked: 1 } });
      await gone;
      const audit = await admin(srv, 'GET', 'audit?limit=500');
      assert.equal(audit.status, 200);
      const entries = audit.body.entries;
      const ids = entries.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
      const find = (action, target) => entries.find((e) => e.action === action && e.target === target);
      const kick = find('kick', name);
      assert.equal(kick.actor, 'admin-api');
      assert.equal(kick.reason, 'by the operator');
      assert.ok(Math.abs(kick.ts - Date.now()) < 60000);
      assert.equal(find('delete', String(sent.message.id)).actor, 'admin-api');
      // Earlier tests' socket actions are there too, with the moderator as actor.
      const socketBan = entries.find((e) => e.action === 'ban' && e.actor.endsWith('(moderator)'));
      assert.ok(socketBan, JSON.stringify(entries.slice(0, 5)));
      assert.equal(socketBan.reason, 'spam');
      for (const action of ['delete', 'kick', 'mute', 'unban']) {
        assert.ok(entries.some((e) => e.action === action), `audit has ${action}`);
      }
      const page = await admin(srv, 'GET', `audit?before=${ids[1]}&limit=1`);
      assert.deepEqual(page.body.entries.map((e) => e.id), [ids[2]]);
      assert.equal((await admin(srv, 'GET', 'audit?limit=lots')).status, 400);
    });

    test('bans survive a restart', async () => {
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      const name = `persistent-${rand(4)}`;
      assertOk(await call(mod, 'ban', { name, minutes: 60, reason: 'stays' }));
      clients.closeAll();
      assert.equal((await srv.stop()).code, 0, srv.logs());
      srv = await startServer({ db: store.url, args });
      const err = await connectError(clients.open(srv.url, { auth: { token: token(name) } }));
      assert.match(err.message, /^banned until /);
      const listed = await admin(srv, 'GET', 'bans');
      assert.ok(listed.body.bans.some((b) => b.name === name && b.reason === 'stays'));
      const audit = await admin(srv, 'GET', 'audit');
      assert.ok(audit.body.entries.some((e) => e.action === 'ban' && e.target === name));
    });
  });
}
