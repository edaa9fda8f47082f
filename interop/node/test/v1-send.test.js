// Protocol v1 `send` (docs/PROTOCOL.md): the ack and the Message shape, delivery to the room
// (sender included, nobody else), every refusal code, events without an ack callback, and `cid`
// idempotency within a connection and across a reconnect. Runs once per store.
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
  call,
  assertOk,
  assertRefused,
  room,
  rand,
} = require('../lib/harness');

function assertMessage(m, { room: r, name, text, cid }) {
  assert.equal(typeof m, 'object');
  assert.ok(Number.isInteger(m.id) && m.id > 0, `id ${m.id}`);
  assert.equal(m.room, r);
  assert.equal(m.name, name);
  assert.equal(m.text, text);
  assert.ok(Number.isInteger(m.ts), `ts ${m.ts}`);
  assert.ok(Math.abs(Date.now() - m.ts) < 60000, `ts ${m.ts} near now`);
  if (cid === undefined) assert.ok(!('cid' in m) || m.cid === undefined, `no cid expected: ${JSON.stringify(m)}`);
  else assert.equal(m.cid, cid);
}

for (const kind of storeKinds()) {
  describe(`v1 send [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);
    const v1 = (name, opts = {}) => clients.connect(srv.url, { name, ...opts });


    test('send acks the stored Message; the room (sender included) gets message; others do not', async () => {
      const r = room();
      const a = await v1('alice');
      const b = await v1('bob', { transports: ['polling'] });
      const outsider = await v1('olga');
      assertOk(await call(a, 'join', { room: r }));
      assertOk(await call(b, 'join', { room: r }));
      const ma = new Recorder(a, 'message');
      const mb = new Recorder(b, 'message');
      const mo = new Recorder(outsider, 'message');
      const text = 'héllo 😀 <img src=x onerror=alert(1)>';
      const res = await call(a, 'send', { room: r, text });
      assertOk(res);
      assertMessage(res.message, { room: r, name: 'alice', text });
      const withCid = await call(a, 'send', { room: r, text: 'with cid', cid: 'c-1' });
      assertMessage(withCid.message, { room: r, name: 'alice', text: 'with cid', cid: 'c-1' });
      assert.ok(withCid.message.id > res.message.id, 'ids increase');
      await ma.waitCount(2);
      await mb.waitCount(2);
      assert.deepEqual(ma.items, [res.message, withCid.message]);
      assert.deepEqual(mb.items, [res.message, withCid.message]);
      // The outsider is only in the lobby; a lobby message proves it would have had the time.
      assertOk(await call(a, 'send', { room: 'lobby', text: 'lobby fence' }));
      await mo.until((i) => i.some((m) => m.text === 'lobby fence'));
      assert.deepEqual(mo.items.filter((m) => m.room === r), []);
    });

    test('ids increase across rooms in storage order; ts is server time', async () => {
      const r1 = room();
      const r2 = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r1 }));
      assertOk(await call(a, 'join', { room: r2 }));
      let last = 0;
      for (let i = 0; i < 10; i++) {
        const res = await call(a, 'send', { room: i % 2 ? r1 : r2, text: `m${i}` });
        assert.ok(res.message.id > last, `id ${res.message.id} > ${last}`);
        last = res.message.id;
      }
    });

    test('too_long: 4001 emoji refused, 4000 emoji accepted intact', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const ma = new Recorder(a, 'message');
      assertRefused(await call(a, 'send', { room: r, text: '😀'.repeat(4001) }), 'too_long');
      assertRefused(await call(a, 'send', { room: r, text: 'x'.repeat(4001) }), 'too_long');
      const ok = await call(a, 'send', { room: r, text: '😀'.repeat(4000) });
      assertOk(ok);
      assert.equal(ok.message.text, '😀'.repeat(4000));
      const okx = await call(a, 'send', { room: r, text: 'x'.repeat(4000) });
      assertOk(okx);
      await ma.waitCount(2);
      assert.deepEqual(ma.items.map((m) => m.text.length), [8000, 4000], 'only the accepted ones delivered');
      const h = await call(a, 'history', { room: r });
      assert.deepEqual(h.messages.map((m) => m.id), [ok.message.id, okx.message.id], 'only the accepted ones stored');
    });

    test('empty: blank text refused, neither stored nor delivered', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const ma = new Recorder(a, 'message');
      for (const text of ['', ' ', '\n\t  ', '\u3000']) {
        assertRefused(await call(a, 'send', { room: r, text }), 'empty', JSON.stringify(text));
      }
      const h = await call(a, 'history', { room: r });
      assert.deepEqual(h.messages, []);
      assertOk(await call(a, 'send', { room: r, text: 'fence' }));
      await ma.waitCount(1);
      assert.deepEqual(ma.items.map((m) => m.text), ['fence']);
    });

    test('bad_request for wrong shapes; invalid_room; not_in_room', async () => {
      const a = await v1('alice');
      const badShapes = [
        'hello',
        42,
        null,
        ['lobby', 'hi'],
        {},
        { room: 'lobby' },
        { text: 'no room' },
        { room: 'lobby', text: 42 },
        { room: 'lobby', text: null },
        { room: 'lobby', text: ['a'] },
        { room: 7, text: 'x' },
        { room: 'lobby', text: 'x', cid: '' },
        { room: 'lobby', text: 'x', cid: 'c'.repeat(65) },
        { room: 'lobby', text: 'x', cid: 17 },
      ];
      for (const p of badShapes) {
        assertRefused(await call(a, 'send', p), 'bad_request', `send ${JSON.stringify(p)}`);
      }
      for (const r of ['', 'a b', 'x'.repeat(65), 'a\u3000b', 'a\u2028b', 'c\u0007']) {
        assertRefused(await call(a, 'send', { room: r, text: 'x' }), 'invalid_room', `room ${JSON.stringify(r)}`);
      }
      assertRefused(await call(a, 'send', { room: room(), text: 'x' }), 'not_in_room');
      const okCid = await call(a, 'send', { room: 'lobby', text: 'cid 64', cid: '😀'.repeat(64) });
      assertOk(okCid);
      assert.equal(okCid.message.cid, '😀'.repeat(64));
    });

    test('events without an ack are still carried out; failures come as an error event', async () => {
      const r = room();
      const a = await v1('alice');
      const b = await v1('bob');
      const errs = new Recorder(a, 'error');
      const pb = new Recorder(b, 'presence');
      const mb = new Recorder(b, 'message');
      assertOk(await call(b, 'join', { room: r }));
      a.emit('join', { room: r });
      await pb.find((p) => p.room === r && p.name === 'alice' && p.action === 'join');
      a.emit('send', { room: r, text: 'no ack' });
      await mb.find((m) => m.text === 'no ack');
      a.emit('send', { room: r, text: '' });
      a.emit('send', { room: room(), text: 'x' });
      a.emit('send', 'garbage');
      a.emit('history', { room: r, limit: 0 });
      a.emit('rename', { name: '' });
      await errs.waitCount(5);
      assert.deepEqual(
        errs.items.map((e) => e.code).sort(),
        ['bad_request', 'bad_request', 'empty', 'invalid_name', 'not_in_room'],
      );
      for (const e of errs.items) {
        assert.equal(typeof e.message, 'string');
        assert.ok(!('ok' in e), `error event is {code, message}: ${JSON.stringify(e)}`);
      }
      a.emit('typing', { room: r, typing: true });
      const tb = new Recorder(b, 'typing');
      await tb.find((t) => t.name === 'alice' && t.typing === true);
      a.emit('leave', { room: r });
      await pb.find((p) => p.room === r && p.name === 'alice' && p.action === 'leave');
    });

    test('cid: a repeated send acks the original, stores and delivers nothing new', async () => {
      const r = room();
      const a = await v1('alice');
      const b = await v1('bob');
      assertOk(await call(a, 'join', { room: r }));
      assertOk(await call(b, 'join', { room: r }));
      const mb = new Recorder(b, 'message');
      const cid = `cid-${rand(10)}`;
      const first = await call(a, 'send', { room: r, text: 'once', cid });
      assertOk(first);
      const again = await call(a, 'send', { room: r, text: 'once', cid });
      assertOk(again);
      assert.deepEqual(again.message, first.message);
      const changed = await call(a, 'send', { room: r, text: 'different text, same cid', cid });
      assertOk(changed);
      assert.equal(changed.message.id, first.message.id, 'same room+cid acks the original message');
      assert.equal(changed.message.text, 'once');
      assertOk(await call(a, 'send', { room: r, text: 'fence' }));
      await mb.find((m) => m.text === 'fence');
      assert.deepEqual(mb.items.map((m) => m.text), ['once', 'fence'], 'delivered once');
      const h = await call(a, 'history', { room: r });
      assert.deepEqual(h.messages.map((m) => m.text), ['once', 'fence'], 'stored once');
      // The same cid in another room is another message.
      const r2 = room();
      assertOk(await call(a, 'join', { room: r2 }));
      const other = await call(a, 'send', { room: r2, text: 'other room', cid });
      assertOk(other);
      assert.notEqual(other.message.id, first.message.id);
    });

    test('cid: concurrent duplicates store one message', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const cid = `dup-${rand(10)}`;
      const acks = await Promise.all(Array.from({ length: 10 }, () => call(a, 'send', { room: r, text: 'dup', cid })));
      for (const x of acks) assertOk(x);
      assert.equal(new Set(acks.map((x) => x.message.id)).size, 1);
      const h = await call(a, 'history', { room: r });
      assert.equal(h.messages.length, 1);
    });

    test('cid: a retry after a reconnect acks the original message; history has it once', async () => {
      const r = room();
      const cid = `re-${rand(10)}`;
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const first = await call(a, 'send', { room: r, text: 'survives reconnect', cid });
      assertOk(first);
      a.close();
      const a2 = await v1('alice', { transports: ['polling'] });
      const j = await call(a2, 'join', { room: r, since: first.message.id - 1 });
      assertOk(j);
      const m2 = new Recorder(a2, 'message');
      const retry = await call(a2, 'send', { room: r, text: 'survives reconnect', cid });
      assertOk(retry);
      assert.equal(retry.message.id, first.message.id);
      assert.deepEqual(retry.message, first.message);
      assertOk(await call(a2, 'send', { room: r, text: 'fence' }));
      await m2.find((m) => m.text === 'fence');
      assert.deepEqual(m2.items.map((m) => m.text), ['fence'], 'the retry delivered nothing again');
      const h = await call(a2, 'history', { room: r });
      assert.equal(h.messages.filter((m) => m.cid === cid).length, 1);
    });
  });
}
