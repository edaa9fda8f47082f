// Protocol v1 session events (docs/PROTOCOL.md): the handshake and `welcome`, `join`/`leave` with
// `presence`, `rooms`, `rename`, and `typing` including its 5 s expiry. Runs once per store.
'use strict';

const { describe, test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  storeKinds,
  useServer,
  makeStore,
  startServer,
  Clients,
  Recorder,
  connectError,
  call,
  assertOk,
  assertRefused,
  room,
  rand,
} = require('../lib/harness');

for (const kind of storeKinds()) {
  describe(`v1 session [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);
    const v1 = (name, opts = {}) => clients.connect(srv.url, { name, ...opts });

    /** Sends a marker message to `r` from `from` and waits until every recorder has it. */
    async function fence(from, r, recorders) {
      const text = `fence-${rand(8)}`;
      assertOk(await call(from, 'send', { room: r, text }));
      await Promise.all(recorders.map((rec) => rec.until((i) => i.some((m) => m.text === text), 10000, text)));
    }


    describe('handshake', () => {
      const invalid = [
        ['empty', ''],
        ['whitespace only', '  \t '],
        ['33 characters', 'a'.repeat(33)],
        ['33 emoji', '😀'.repeat(33)],
        ['control character U+0001', 'a\u0001b'],
        ['tab inside', 'a\tb'],
        ['DEL', 'bob\u007f'],
        ['C1 control U+0085 inside', 'a\u0085b'],
        ['number', 123],
        ['boolean', true],
        ['object', { first: 'x' }],
        ['array', ['alice']],
      ];
      for (const [label, name] of invalid) {
        test(`invalid_name: ${label}`, async () => {
          const s = clients.open(srv.url, { auth: { name } });
          const err = await connectError(s);
          assert.equal(err.message, 'invalid_name');
          assert.equal(s.connected, false);
        });
      }

      const valid = [
        ['plain', 'alice', 'alice'],
        ['trimmed', '  alice  ', 'alice'],
        ['Unicode whitespace trimmed', '\u3000bob\u00a0', 'bob'],
        ['inner space kept', 'Ana María', 'Ana María'],
        ['32 emoji', '😀'.repeat(32), '😀'.repeat(32)],
        ['32 characters plus padding', ` ${'x'.repeat(32)} `, 'x'.repeat(32)],
        ['HTML kept as text', '<b>bold</b>', '<b>bold</b>'],
      ];
      for (const [label, name, expected] of valid) {
        test(`v1 client welcome: ${label}`, async () => {
          const s = await v1(name);
          assert.deepEqual(s.welcomeData, { ...s.welcomeData, name: expected, rooms: ['lobby'] });
        });
      }

      for (const [label, auth] of [
        ['no auth', undefined],
        ['auth without name', {}],
        ['auth.name null', { name: null }],
      ]) {
        test(`seed client with a guest name: ${label}`, async () => {
          const s = await clients.connect(srv.url, auth === undefined ? {} : { auth });
          assert.match(s.welcomeData.name, /^guest-[0-9a-f]{4}$/);
          assert.deepEqual(s.welcomeData.rooms, ['lobby']);
        });
      }

      test('a polling v1 client gets welcome too', async () => {
        const s = await v1('polly', { transports: ['polling'] });
        assert.equal(s.welcomeData.name, 'polly');
        assert.deepEqual(s.welcomeData.rooms, ['lobby']);
      });
    });

    describe('join, leave, presence', () => {
      test('join acks members (sorted, distinct, incl. joiner), messages, more; others get presence join', async () => {
        const r = room();
        const carol = await v1('carol');
        const alice = await v1('alice');
        const bob = await v1('bob');
        const pc = new Recorder(carol, 'presence');
        const pa = new Recorder(alice, 'presence');
        const j1 = await call(carol, 'join', { room: r });
        assertOk(j1);
        assert.equal(j1.room, r);
        assert.deepEqual(j1.members, ['carol']);
        assert.deepEqual(j1.messages, []);
        assert.equal(j1.more, false);
        const j2 = await call(alice, 'join', { room: r });
        assert.deepEqual(j2.members, ['alice', 'carol']);
        await pc.find((p) => p.room === r && p.name === 'alice' && p.action === 'join');
        const j3 = await call(bob, 'join', { room: r });
        assert.deepEqual(j3.members, ['alice', 'bob', 'carol']);
        const pj = await pa.find((p) => p.room === r && p.name === 'bob');
        assert.deepEqual(pj, { ...pj, room: r, name: 'bob', action: 'join' });
        // A second connection of the same user (its identity token): members stay distinct.
        const bob2 = await v1('bob', { auth: { name: 'bob', identity: bob.welcomeData.identity } });
        const j4 = await call(bob2, 'join', { room: r });
        assert.deepEqual(j4.members, ['alice', 'bob', 'carol']);
      });

      test('joining a room already joined is not an error and announces nothing', async () => {
        const r = room();
        const a = await v1('alice');
        const b = await v1('bob');
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        const pb = new Recorder(b, 'presence');
        const mb = new Recorder(b, 'message');
        const again = await call(a, 'join', { room: r });
        assertOk(again);
        assert.deepEqual(again.members, ['alice', 'bob']);
        await fence(a, r, [mb]);
        assert.deepEqual(pb.items.filter((p) => p.room === r), []);
      });

      test('the joiner gets no presence about itself', async () => {
        const r = room();
        const a = await v1('alice');
        const pa = new Recorder(a, 'presence');
        const ma = new Recorder(a, 'message');
        assertOk(await call(a, 'join', { room: r }));
        await fence(a, r, [ma]);
        assert.deepEqual(pa.items.filter((p) => p.room === r), []);
      });

      test('join errors: bad_request and invalid_room', async () => {
        const a = await v1('alice');
        for (const p of ['lobby', 42, null, [], {}, { room: 5 }, { room: 'x', since: 'abc' }]) {
          assertRefused(await call(a, 'join', p), 'bad_request', `join ${JSON.stringify(p)}`);
        }
        for (const r of ['', 'a b', 'x'.repeat(65), 'a\u3000b', 'tab\t', 'nb\u00a0sp', 'ctl\u0001']) {
          assertRefused(await call(a, 'join', { room: r }), 'invalid_room', `join ${JSON.stringify(r)}`);
        }
        assertOk(await call(a, 'join', { room: 'x'.repeat(64) }));
        assertOk(await call(a, 'join', { room: '🦀'.repeat(64) }));
        assertOk(await call(a, 'join', { room: '技术讨论区' }));
      });

      test('leave acks, others get presence leave; errors not_in_room, invalid_room, bad_request', async () => {
        const r = room();
        const a = await v1('alice');
        const b = await v1('bob');
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        const pb = new Recorder(b, 'presence');
        const res = await call(a, 'leave', { room: r });
        assertOk(res);
        const p = await pb.find((x) => x.room === r && x.action === 'leave');
        assert.deepEqual(p, { ...p, room: r, name: 'alice', action: 'leave' });
        assertRefused(await call(a, 'leave', { room: r }), 'not_in_room');
        assertRefused(await call(a, 'send', { room: r, text: 'gone' }), 'not_in_room');
        assertRefused(await call(a, 'leave', { room: room() }), 'not_in_room');
        assertRefused(await call(a, 'leave', { room: 'a b' }), 'invalid_room');
        assertRefused(await call(a, 'leave', 'x'), 'bad_request');
        assertRefused(await call(a, 'leave', {}), 'bad_request');
        const after = await call(b, 'join', { room: r });
        assert.deepEqual(after.members, ['bob']);
      });

      test('leaving the lobby stops lobby delivery', async () => {
        const a = await v1('alice');
        const b = await v1('bob');
        const ma = new Recorder(a, 'message');
        const mb = new Recorder(b, 'message');
        assertOk(await call(a, 'leave', { room: 'lobby' }));
        const r = room();
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        assertOk(await call(b, 'send', { room: 'lobby', text: 'lobby only' }));
        await mb.until((i) => i.some((m) => m.text === 'lobby only'));
        await fence(b, r, [ma]);
        assert.ok(!ma.items.some((m) => m.text === 'lobby only'));
      });

      test('a disconnect sends presence leave for every room it was in', async () => {
        const r1 = room();
        const r2 = room();
        const watcher = await v1('watcher');
        assertOk(await call(watcher, 'join', { room: r1 }));
        assertOk(await call(watcher, 'join', { room: r2 }));
        const c = await v1('leaver');
        assertOk(await call(c, 'join', { room: r1 }));
        assertOk(await call(c, 'join', { room: r2 }));
        const pw = new Recorder(watcher, 'presence');
        c.close();
        await pw.until(
          (i) => [r1, r2, 'lobby'].every((r) => i.some((p) => p.room === r && p.name === 'leaver' && p.action === 'leave')),
          10000,
          'leave in r1, r2, lobby',
        );
        const j = await call(watcher, 'join', { room: r1 });
        assert.deepEqual(j.members, ['watcher']);
      });
    });

    describe('rooms', () => {
      test('rooms lists every room with members, by name, with connection counts', async () => {
        const r1 = `zz-${rand(6)}`;
        const r2 = `zy-${rand(6)}`;
        const a = await v1('alice');
        const a2 = await v1('alice', { auth: { name: 'alice', identity: a.welcomeData.identity } });
        const b = await v1('bob');
        for (const s of [a, a2, b]) assertOk(await call(s, 'join', { room: r1 }));
        assertOk(await call(b, 'join', { room: r2 }));
        const res = await call(a, 'rooms', {});
        assertOk(res);
        const names = res.rooms.map((x) => x.name);
        assert.deepEqual(names, [...names].sort(), 'sorted by name');
        assert.equal(new Set(names).size, names.length, 'distinct');
        assert.equal(res.rooms.find((x) => x.name === r1)?.members, 3);
        assert.equal(res.rooms.find((x) => x.name === r2)?.members, 1);
        assert.ok((res.rooms.find((x) => x.name === 'lobby')?.members ?? 0) >= 3);
        assertOk(await call(b, 'leave', { room: r2 }));
        const res2 = await call(a, 'rooms', {});
        assert.equal(res2.rooms.find((x) => x.name === r2), undefined, 'an empty room is not listed');
        a2.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const res3 = await call(b, 'rooms', {});
        const n = res3.rooms.find((x) => x.name === r1)?.members;
        // The disconnect is processed asynchronously; allow one short retry.
        if (n !== 2) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          const res4 = await call(b, 'rooms', {});
          assert.equal(res4.rooms.find((x) => x.name === r1)?.members, 2);
        }
      });
    });

    describe('rename', () => {
      test('rename acks the trimmed name; every room (incl. the renamer) gets presence rename', async () => {
        const r = room();
        const a = await v1('alice');
        const b = await v1('bob');
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        const pa = new Recorder(a, 'presence');
        const pb = new Recorder(b, 'presence');
        const mb = new Recorder(b, 'message');
        const res = await call(a, 'rename', { name: '  alicia  ' });
        assertOk(res);
        assert.equal(res.name, 'alicia');
        for (const [rec, who] of [[pb, 'bob'], [pa, 'alicia herself']]) {
          for (const rm of [r, 'lobby']) {
            const p = await rec.find((x) => x.room === rm && x.action === 'rename', 10000, `${who} rename in ${rm}`);
            assert.deepEqual(p, { ...p, room: rm, name: 'alicia', action: 'rename', old: 'alice' });
          }
        }
        const sent = await call(a, 'send', { room: r, text: 'new name' });
        assert.equal(sent.message.name, 'alicia');
        const m = await mb.find((x) => x.text === 'new name');
        assert.equal(m.name, 'alicia');
        const c = await v1('carol');
        const j = await call(c, 'join', { room: r });
        assert.deepEqual(j.members, ['alicia', 'bob', 'carol']);
        const j2 = await call(c, 'join', { room: r });
        assert.equal(j2.messages.at(-1).name, 'alicia');
      });

      test('rename errors: invalid_name, bad_request', async () => {
        const a = await v1('alice');
        for (const n of ['', '   ', 'x'.repeat(33), '😀'.repeat(33), 'a\u0001', 'a\nb']) {
          assertRefused(await call(a, 'rename', { name: n }), 'invalid_name', `rename ${JSON.stringify(n)}`);
        }
        for (const p of ['bob', 7, null, []]) {
          assertRefused(await call(a, 'rename', p), 'bad_request', `rename ${JSON.stringify(p)}`);
        }
        // Wrong type / missing field: the document allows either reading.
        for (const p of [{ name: 5 }, { name: null }, {}]) {
          assertRefused(await call(a, 'rename', p), ['bad_request', 'invalid_name'], `rename ${JSON.stringify(p)}`);
        }
        const res = await call(a, 'rename', { name: '😀'.repeat(32) });
        assertOk(res);
        assert.equal(res.name, '😀'.repeat(32));
      });
    });

    describe('typing', () => {
      test('typing true/false reaches the others, not the typist', async () => {
        const r = room();
        const a = await v1('alice');
        const b = await v1('bob');
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        const ta = new Recorder(a, 'typing');
        const tb = new Recorder(b, 'typing');
        const mb = new Recorder(b, 'message');
        const ma = new Recorder(a, 'message');
        assertOk(await call(a, 'typing', { room: r, typing: true }));
        const t1 = await tb.find((t) => t.room === r && t.typing === true);
        assert.deepEqual(t1, { ...t1, room: r, name: 'alice', typing: true });
        assertOk(await call(a, 'typing', { room: r, typing: false }));
        const t2 = await tb.find((t) => t.room === r && t.typing === false);
        assert.deepEqual(t2, { ...t2, room: r, name: 'alice', typing: false });
        await fence(a, r, [ma, mb]);
        assert.deepEqual(ta.items, [], 'the typist gets no typing about itself');
      });

      test('typing true expires by itself after 5 s', async () => {
        const r = room();
        const a = await v1('alice');
        const b = await v1('bob');
        assertOk(await call(a, 'join', { room: r }));
        assertOk(await call(b, 'join', { room: r }));
        const tb = new Recorder(b, 'typing');
        assertOk(await call(a, 'typing', { room: r, typing: true }));
        await tb.find((t) => t.typing === true);
        const t0 = Date.now();
        await tb.find((t) => t.typing === false, 9000, 'expiry typing:false');
        const dt = Date.now() - t0;
        assert.ok(dt >= 4500 && dt <= 7000, `expired after ${dt} ms`);
        const f = tb.items.find((t) => t.typing === false);
        assert.deepEqual(f, { ...f, room: r, name: 'alice', typing: false });
      });

      test('leaving or disconnecting ends typing', async () => {
        const r = room();
        const a = await v1('alice');
        const c = await v1('carol');
        const b = await v1('bob');
        for (const s of [a, b, c]) assertOk(await call(s, 'join', { room: r }));
        const tb = new Recorder(b, 'typing');
        assertOk(await call(a, 'typing', { room: r, typing: true }));
        assertOk(await call(c, 'typing', { room: r, typing: true }));
        await tb.until((i) => i.filter((t) => t.typing).length === 2);
        const t0 = Date.now();
        assertOk(await call(a, 'leave', { room: r }));
        await tb.find((t) => t.name === 'alice' && t.typing === false, 3000, 'typing false on leave');
        c.close();
        await tb.find((t) => t.name === 'carol' && t.typing === false, 3000, 'typing false on disconnect');
        assert.ok(Date.now() - t0 < 4000, 'ended by leave/disconnect, not by expiry');
      });

      test('typing errors: bad_request, not_in_room, invalid_room', async () => {
        const a = await v1('alice');
        assertRefused(await call(a, 'typing', { room: 'lobby', typing: 'yes' }), 'bad_request');
        assertRefused(await call(a, 'typing', { room: 'lobby' }), 'bad_request');
        assertRefused(await call(a, 'typing', 'lobby'), 'bad_request');
        assertRefused(await call(a, 'typing', { room: room(), typing: true }), 'not_in_room');
        assertRefused(await call(a, 'typing', { room: 'a b', typing: true }), 'invalid_room');
        assertOk(await call(a, 'typing', { room: 'lobby', typing: false }));
      });
    });
  });
}
