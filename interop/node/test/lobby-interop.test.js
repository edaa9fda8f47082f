// Seed ↔ v1 interop in the shared lobby (docs/PROTOCOL.md, "Seed protocol"): a seed `chat message`
// reaches v1 clients as `message` under the guest name, a v1 lobby `send` reaches seed clients as
// `chat message` "name: text", and both end up in the lobby history. Runs once per store.
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { storeKinds, useServer, Clients, Recorder, call, assertOk, room } = require('../lib/harness');

for (const kind of storeKinds()) {
  describe(`seed ↔ v1 lobby interop [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);


    test('seed chat message reaches v1 as message with the guest name', async () => {
      const seed = await clients.connect(srv.url);
      const guest = seed.welcomeData.name;
      const v = await clients.connect(srv.url, { name: 'alice', transports: ['polling'] });
      const mv = new Recorder(v, 'message');
      const cv = new Recorder(v, 'chat message');
      const ms = new Recorder(seed, 'message');
      const text = 'from seed 😀 <img src=x onerror=alert(1)>';
      seed.emit('chat message', text);
      const m = await mv.find((x) => x.text === text);
      assert.equal(m.room, 'lobby');
      assert.equal(m.name, guest);
      assert.ok(Number.isInteger(m.id) && Number.isInteger(m.ts));
      assert.ok(!('cid' in m), 'no cid');
      const h = await call(v, 'history', { room: 'lobby' });
      assert.deepEqual(h.messages.at(-1), m, 'stored in the lobby under the guest name');
      assertOk(await call(v, 'send', { room: 'lobby', text: 'fence' }));
      await mv.find((x) => x.text === 'fence');
      assert.deepEqual(cv.items, [], 'a v1 client gets message, not chat message');
      assert.deepEqual(ms.items, [], 'a seed client gets chat message, not message');
    });

    test('v1 lobby send reaches seed clients as chat message "name: text"', async () => {
      const seedWs = await clients.connect(srv.url);
      const seedPoll = await clients.connect(srv.url, { transports: ['polling'] });
      const v = await clients.connect(srv.url, { name: 'Ana María' });
      const rs = new Recorder(seedWs, 'chat message');
      const rp = new Recorder(seedPoll, 'chat message');
      const text = 'hola 👋 <b>x</b>';
      const res = await call(v, 'send', { room: 'lobby', text, cid: 'lobby-1' });
      assertOk(res);
      await rs.waitCount(1);
      await rp.waitCount(1);
      assert.deepEqual(rs.items, [`Ana María: ${text}`]);
      assert.deepEqual(rp.items, [`Ana María: ${text}`]);
    });

    test('v1 messages in other rooms do not reach seed clients', async () => {
      const seed = await clients.connect(srv.url);
      const rs = new Recorder(seed, 'chat message');
      const v = await clients.connect(srv.url, { name: 'bob' });
      const r = room();
      assertOk(await call(v, 'join', { room: r }));
      assertOk(await call(v, 'send', { room: r, text: 'elsewhere' }));
      assertOk(await call(v, 'send', { room: 'lobby', text: 'here' }));
      await rs.waitCount(1);
      assert.deepEqual(rs.items, ['bob: here']);
    });

    test('a conversation both ways keeps order per sender and the seed text unchanged', async () => {
      const seed = await clients.connect(srv.url);
      const guest = seed.welcomeData.name;
      const v = await clients.connect(srv.url, { name: 'carol' });
      const rs = new Recorder(seed, 'chat message');
      const mv = new Recorder(v, 'message');
      for (let i = 0; i < 10; i++) {
        seed.emit('chat message', `s${i}`);
        v.emit('send', { room: 'lobby', text: `v${i}` });
      }
      await rs.waitCount(20);
      await mv.waitCount(20);
      assert.deepEqual(rs.items.filter((x) => x.startsWith('s')), Array.from({ length: 10 }, (_, i) => `s${i}`));
      assert.deepEqual(
        rs.items.filter((x) => x.startsWith('carol: ')),
        Array.from({ length: 10 }, (_, i) => `carol: v${i}`),
      );
      assert.deepEqual(
        mv.items.filter((m) => m.name === guest).map((m) => m.text),
        Array.from({ length: 10 }, (_, i) => `s${i}`),
      );
      for (let i = 1; i < mv.items.length; i++) assert.ok(mv.items[i - 1].id < mv.items[i].id, 'delivered in id order');
      // Both see the same interleaving: the seed client's order maps onto the v1 client's.
      const asSeed = mv.items.map((m) => (m.name === guest ? m.text : `${m.name}: ${m.text}`));
      assert.deepEqual(rs.items, asSeed, 'same order for everyone');
    });
  });
}
