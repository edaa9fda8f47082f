// Changes of messages (docs/PROTOCOL.md, *Changes*) through the real socket.io-client, on
// SQLite and PostgreSQL: `edit`, `delete`, `react`, `unreact` reach another client live as
// `edited` / `deleted` / `reaction`, in the room's order (consecutive seqs); a client that was
// away gets them back with `join {room, since}` (`changes`, `through`); history shows the
// current state; every refusal changes nothing; seed clients get no change events; a moderator
// deletes another's message (JWT, as moderation.test.js).
'use strict';

const { describe, test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  storeKinds,
  makeStore,
  startServer,
  useServer,
  Clients,
  Recorder,
  call,
  assertOk,
  assertRefused,
  rand,
  room,
  sleep,
} = require('../lib/harness');
const jwt = require('../lib/jwt');

/** Records every change event of `socket`, in arrival order, as `{event, ...payload}`. */
function changesOf(socket) {
  // A Recorder of an event nobody sends, fed by the three change events.
  const rec = new Recorder(socket, 'changes (edited, deleted, reaction)');
  for (const event of ['edited', 'deleted', 'reaction']) {
    socket.on(event, (payload) => {
      rec.items.push({ event, ...payload });
      rec._wake();
    });
  }
  return rec;
}

const joinAll = async (r, ...sockets) => {
  for (const s of sockets) assertOk(await call(s, 'join', { room: r }), 'join');
};

for (const kind of storeKinds()) {
  describe(`changes [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);
    const as = (name) => clients.connect(srv.url, { name: `${name}-${rand(4)}` });

    test('edit, react, unreact and delete reach the room live, in its order', async () => {
      const r = room();
      const alice = await as('alice');
      const bob = await as('bob');
      await joinAll(r, alice, bob);
      const seenByBob = changesOf(bob);
      const seenByAlice = changesOf(alice);
      const sent = await call(alice, 'send', { room: r, text: 'helo' });
      assertOk(sent);
      const m = sent.message;

      const edited = await call(alice, 'edit', { id: m.id, text: 'hello' });
      assertOk(edited, 'edit');
      assert.equal(edited.message.id, m.id);
      assert.equal(edited.message.text, 'hello');
      assert.equal(typeof edited.message.edited, 'number');
      const e = await seenByBob.find((c) => c.event === 'edited');
      assert.deepEqual(
        { id: e.id, room: e.room, text: e.text, edited: e.edited, seq: e.seq, name: e.name, uid: e.uid },
        {
          id: m.id,
          room: r,
          text: 'hello',
          edited: edited.message.edited,
          seq: m.seq + 1,
          name: alice.welcomeData.name,
          uid: alice.welcomeData.user_id,
        },
      );
      assert.ok(e.change > m.id, 'a change has its own id, after the message');

      const reacted = await call(bob, 'react', { id: m.id, emoji: '👍' });
      assertOk(reacted, 'react');
      assert.deepEqual(reacted.message.reactions, [
        { emoji: '👍', count: 1, names: [bob.welcomeData.name], uids: [bob.welcomeData.user_id] },
      ]);
      // Twice: ok, nothing stored, nothing sent.
      const twice = await call(bob, 'react', { id: m.id, emoji: '👍' });
      assertOk(twice, 'react again');
      assert.equal(twice.message.reactions[0].count, 1);
      const alsoAlice = await call(alice, 'react', { id: m.id, emoji: '👍' });
      assert.equal(alsoAlice.message.reactions[0].count, 2);
      const unreacted = await call(bob, 'unreact', { id: m.id, emoji: '👍' });
      assertOk(unreacted, 'unreact');
      assert.deepEqual(unreacted.message.reactions, [
        { emoji: '👍', count: 1, names: [alice.welcomeData.name], uids: [alice.welcomeData.user_id] },
      ]);
      const never = await call(bob, 'unreact', { id: m.id, emoji: '🎉' });
      assertOk(never, 'unreact of nothing');

      const deleted = await call(alice, 'delete', { id: m.id });
      assertOk(deleted, 'delete');
      assert.equal(deleted.message.deleted, true);
      assert.equal(deleted.message.text, '');
      assert.equal(deleted.message.reactions, undefined);

      for (const seen of [seenByBob, seenByAlice]) {
        const all = await seen.until((items) => items.some((c) => c.event === 'deleted'));
        assert.deepEqual(
          all.map((c) => [c.event, c.added ?? null, c.uid ?? null]),
          [
            ['edited', null, alice.welcomeData.user_id],
            ['reaction', true, bob.welcomeData.user_id],
            ['reaction', true, alice.welcomeData.user_id],
            ['reaction', false, bob.welcomeData.user_id],
            ['deleted', null, null],
          ],
          'sender included, no events for the no-ops',
        );
        assert.deepEqual(
          all.map((c) => c.seq),
          [m.seq + 1, m.seq + 2, m.seq + 3, m.seq + 4, m.seq + 5],
          'changes take consecutive places in the room order',
        );
        const ids = all.map((c) => c.change);
        assert.deepEqual([...ids].sort((a, b) => a - b), ids);
        assert.ok(all.every((c) => c.id === m.id && c.room === r));
        assert.equal(all[4].by, alice.welcomeData.name);
        assert.equal(all[1].emoji, '👍');
      }
      // A message sent after them arrives after them, with the next seq.
      const next = await call(alice, 'send', { room: r, text: 'after' });
      assert.equal(next.message.seq, m.seq + 6);
    });

    test('a client that was away gets the changes it missed with join {room, since}, then through', async () => {
      const r = room();
      const alice = await as('alice');
      const bob = await as('bob');
      await joinAll(r, alice, bob);
      const one = (await call(alice, 'send', { room: r, text: 'one' })).message;
      const two = (await call(alice, 'send', { room: r, text: 'two' })).message;
      const carol = await as('carol');
      const joined = await call(carol, 'join', { room: r });
      assertOk(joined);
      assert.equal(joined.through, two.id, 'a plain join reaches its newest message');
      carol.close();

      // While carol is away:
      assertOk(await call(alice, 'edit', { id: one.id, text: 'one, edited' }));
      assertOk(await call(bob, 'react', { id: one.id, emoji: '🎉' }));
      const three = (await call(bob, 'send', { room: r, text: 'three' })).message;
      assertOk(await call(alice, 'delete', { id: two.id }));
      assertOk(await call(bob, 'unreact', { id: one.id, emoji: '🎉' }));
      assertOk(await call(bob, 'react', { id: three.id, emoji: '❤️' }));

      const back = await as('carol-again');
      const since = await call(back, 'join', { room: r, since: two.id });
      assertOk(since, 'join since');
      assert.deepEqual(
        since.messages.map((m) => [m.id, m.text, m.reactions?.[0]?.emoji ?? null]),
        [[three.id, 'three', '❤️']],
        'messages after since, in their current state',
      );
      assert.deepEqual(
        since.changes.map((c) => [c.event, c.id, c.text ?? c.emoji ?? null, c.added ?? null]),
        [
          ['edited', one.id, 'one, edited', null],
          ['reaction', one.id, '🎉', true],
          ['deleted', two.id, null, null],
          ['reaction', one.id, '🎉', false],
          ['reaction', three.id, '❤️', true],
        ],
      );
      const seqs = since.changes.map((c) => c.seq).concat(three.seq).sort((a, b) => a - b);
      assert.deepEqual(seqs, [3, 4, 5, 6, 7, 8], 'changes and messages fill the room order without holes');
      assert.equal(since.through, since.changes[4].change, 'through is the last row covered');
      assert.equal(since.more, false);

      // Continuing from `through`: nothing new, and `through` stays.
      const again = await call(back, 'join', { room: r, since: since.through });
      assert.deepEqual([again.messages, again.changes, again.through], [[], [], since.through]);

      // The limit counts both kinds: a page of 2 rows, then the rest from `through`.
      const paged = [];
      let from = two.id;
      for (;;) {
        const page = await call(back, 'join', { room: r, since: from });
        paged.push(...page.messages.map((m) => m.id), ...page.changes.map((c) => c.change));
        from = page.through;
        if (!page.more) break;
      }
      assert.equal(paged.length, 6);
    });

    test('history shows the edit mark, tombstones and reactions with counts and names', async () => {
      const r = room();
      const alice = await as('alice');
      const bob = await as('bob');
      await joinAll(r, alice, bob);
      const a = (await call(alice, 'send', { room: r, text: 'first' })).message;
      const b = (await call(bob, 'send', { room: r, text: 'second' })).message;
      const c = (await call(bob, 'send', { room: r, text: 'third' })).message;
      assertOk(await call(alice, 'edit', { id: a.id, text: 'first!' }));
      assertOk(await call(bob, 'delete', { id: b.id }));
      assertOk(await call(alice, 'react', { id: c.id, emoji: '👍' }));
      assertOk(await call(bob, 'react', { id: c.id, emoji: '👍' }));
      assertOk(await call(bob, 'react', { id: c.id, emoji: '👩‍💻' }));
      const page = await call(alice, 'history', { room: r });
      assertOk(page);
      assert.deepEqual(
        page.messages.map((m) => m.id),
        [a.id, b.id, c.id],
        'messages only: no change rows in history',
      );
      const [ma, mb, mc] = page.messages;
      assert.equal(ma.text, 'first!');
      assert.equal(typeof ma.edited, 'number');
      assert.equal(mb.deleted, true);
      assert.equal(mb.text, '');
      assert.equal(mc.edited, undefined);
      assert.deepEqual(mc.reactions, [
        {
          emoji: '👍',
          count: 2,
          names: [alice.welcomeData.name, bob.welcomeData.name],
          uids: [alice.welcomeData.user_id, bob.welcomeData.user_id],
        },
        { emoji: '👩‍💻', count: 1, names: [bob.welcomeData.name], uids: [bob.welcomeData.user_id] },
      ]);
      const joined = await call((await as('dave')), 'join', { room: r });
      assert.deepEqual(joined.messages, page.messages, 'a plain join shows the same current state');
      assert.equal(joined.changes, undefined);
    });

    test('refusals change nothing', async () => {
      const r = room();
      const alice = await as('alice');
      const bob = await as('bob');
      const outsider = await as('eve');
      await joinAll(r, alice, bob);
      const seen = changesOf(bob);
      const m = (await call(alice, 'send', { room: r, text: 'mine' })).message;
      const before = await call(bob, 'history', { room: r });
      const refusals = [
        [bob, 'edit', { id: m.id, text: 'not yours' }, 'forbidden'],
        [bob, 'delete', { id: m.id }, 'forbidden'],
        [alice, 'edit', { id: m.id + 1000, text: 'x' }, 'not_found'],
        [alice, 'delete', { id: m.id + 1000 }, 'not_found'],
        [bob, 'react', { id: m.id + 1000, emoji: '👍' }, 'not_found'],
        [alice, 'edit', { id: m.id, text: '   ' }, 'empty'],
        [alice, 'edit', { id: m.id, text: 'x'.repeat(4001) }, 'too_long'],
        [alice, 'edit', { id: m.id }, 'bad_request'],
        [alice, 'edit', { id: String(m.id), text: 'x' }, 'bad_request'],
        [bob, 'react', { id: m.id, emoji: 'a' }, 'bad_emoji'],
        [bob, 'react', { id: m.id, emoji: '👍👍' }, 'bad_emoji'],
        [bob, 'react', { id: m.id, emoji: '' }, 'bad_emoji'],
        [bob, 'unreact', { id: m.id, emoji: 'ok👍' }, 'bad_emoji'],
        [bob, 'react', { id: m.id }, 'bad_request'],
        [outsider, 'react', { id: m.id, emoji: '👍' }, 'not_in_room'],
      ];
      for (const [who, event, payload, code] of refusals) {
        assertRefused(await call(who, event, payload), code, `${event} ${JSON.stringify(payload).slice(0, 60)}`);
      }
      // A change of a deleted message is not_found.
      const gone = (await call(alice, 'send', { room: r, text: 'gone soon' })).message;
      assertOk(await call(alice, 'delete', { id: gone.id }));
      assertRefused(await call(alice, 'edit', { id: gone.id, text: 'back?' }), 'not_found');
      assertRefused(await call(alice, 'delete', { id: gone.id }), 'not_found');
      assertRefused(await call(bob, 'react', { id: gone.id, emoji: '👍' }), 'not_found');
      // More than 20 different emoji on one message.
      const emoji = ['😀', '😃', '😄', '😁', '😆', '😅', '🤣', '😂', '🙂', '🙃', '😉', '😊', '😇', '🥰', '😍', '🤩', '😘', '😗', '😚', '😙'];
      const full = (await call(alice, 'send', { room: r, text: 'react to me' })).message;
      for (const e of emoji) assertOk(await call(bob, 'react', { id: full.id, emoji: e }));
      assertRefused(await call(bob, 'react', { id: full.id, emoji: '🥲' }), 'too_many_reactions');

      const after = await call(bob, 'history', { room: r });
      assert.deepEqual(after.messages[0], before.messages[0], 'the message is as it was');
      // Only the delete of `gone` and the 20 reactions were sent.
      await sleep(200);
      assert.deepEqual(
        [...new Set(seen.items.map((c) => c.id))],
        [gone.id, full.id],
        'no change event for any refusal',
      );
      assert.equal(seen.items.length, 21);
    });

    test('seed clients get no change events', async () => {
      const alice = await as('alice');
      const seed = clients.open(srv.url, {});
      await new Promise((resolve) => seed.once('connect', resolve));
      const seedChanges = changesOf(seed);
      const seedLines = new Recorder(seed, 'chat message');
      const m = (await call(alice, 'send', { room: 'lobby', text: 'to everyone' })).message;
      await seedLines.find((line) => line.endsWith('to everyone'));
      assertOk(await call(alice, 'edit', { id: m.id, text: 'to everyone!' }));
      assertOk(await call(alice, 'react', { id: m.id, emoji: '👍' }));
      assertOk(await call(alice, 'delete', { id: m.id }));
      assertOk(await call(alice, 'send', { room: 'lobby', text: 'marker' }));
      await seedLines.find((line) => line.endsWith('marker'));
      assert.deepEqual(seedChanges.items, []);
      assert.equal(seedLines.items.length, 2, JSON.stringify(seedLines.items));
    });
  });

  describe(`changes by a moderator [${kind}]`, () => {
    const SECRET = 'changes tests HS256 secret, 32+ bytes long';
    const token = (name, role) => jwt.hs256({ sub: `sub-${name}`, name, role, exp: jwt.epoch(3600) }, SECRET);
    const clients = new Clients();
    let store;
    let srv;
    before(async () => {
      store = await makeStore(kind);
      srv = await startServer({ db: store.url, args: ['--auth', 'jwt', '--auth-secret', SECRET] });
    });
    afterEach(() => clients.closeAll());
    after(async () => {
      clients.closeAll();
      if (srv) assert.equal((await srv.stop()).code, 0, srv.logs());
      if (store) await store.cleanup();
    });
    const as = (name, role) => clients.connect(srv.url, { auth: { token: token(`${name}-${rand(4)}`, role) } });

    test("a moderator deletes another's message but may not edit it", async () => {
      const r = room();
      const user = await as('user');
      const mod = await as('mod', 'moderator');
      const watcher = await as('watcher');
      await joinAll(r, user, mod, watcher);
      const seen = changesOf(watcher);
      const m = (await call(user, 'send', { room: r, text: 'rude words' })).message;
      assertRefused(await call(mod, 'edit', { id: m.id, text: 'nice words' }), 'forbidden');
      assertRefused(await call(watcher, 'delete', { id: m.id }), 'forbidden');
      const gone = await call(mod, 'delete', { id: m.id });
      assertOk(gone, 'moderator delete');
      assert.equal(gone.message.deleted, true);
      const d = await seen.find((c) => c.event === 'deleted');
      assert.deepEqual([d.id, d.room, d.by, d.seq], [m.id, r, mod.welcomeData.name, m.seq + 1]);
      assert.equal(seen.items.length, 1);
      const page = await call(watcher, 'history', { room: r });
      assert.equal(page.messages[0].deleted, true);
    });
  });
}
