// Protocol v1 durable history (docs/PROTOCOL.md): `join` without/with `since`, `history` paging
// (`before`, `limit`, `more`), recovery of missed messages after a drop (≤ 1000 and > 1000), and
// durability across `kill -9` including `cid` retries after the restart. Runs once per store.
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

/** Sends `n` messages to `r` with at most `window` acks outstanding; returns the acked Messages by id. */
async function sendMany(socket, r, n, prefix, window = 50, extra = () => ({})) {
  const out = [];
  for (let i = 0; i < n; i += window) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + window); j++) {
      batch.push(call(socket, 'send', { room: r, text: `${prefix}${j}`, ...extra(j) }, 30000));
    }
    for (const res of await Promise.all(batch)) {
      assertOk(res, 'sendMany');
      out.push(res.message);
    }
  }
  return out.sort((a, b) => a.id - b.id);
}

function ids(ms) {
  return ms.map((m) => m.id);
}

function assertAscending(ms, what) {
  for (let i = 1; i < ms.length; i++) assert.ok(ms[i - 1].id < ms[i].id, `${what}: ascending at ${i}`);
}

for (const kind of storeKinds()) {
  describe(`v1 history [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);
    const v1 = (name, opts = {}) => clients.connect(srv.url, { name, ...opts });


    test('join gives the last 50 oldest first with more; history pages back with before/limit', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const sent = await sendMany(a, r, 120, 'h');
      const b = await v1('bob');
      const j = await call(b, 'join', { room: r });
      assertOk(j);
      assert.deepEqual(ids(j.messages), ids(sent.slice(-50)));
      assert.equal(j.more, true);
      assert.deepEqual(j.messages, sent.slice(-50), 'join messages equal the acked Messages');
      const p1 = await call(b, 'history', { room: r, before: j.messages[0].id });
      assertOk(p1);
      assert.deepEqual(ids(p1.messages), ids(sent.slice(20, 70)), 'default limit 50');
      assert.equal(p1.more, true);
      const p2 = await call(b, 'history', { room: r, before: p1.messages[0].id });
      assert.deepEqual(ids(p2.messages), ids(sent.slice(0, 20)));
      assert.equal(p2.more, false);
      const newest = await call(b, 'history', { room: r });
      assert.deepEqual(ids(newest.messages), ids(sent.slice(-50)), 'no before: the newest');
      assert.equal(newest.more, true);
      const l100 = await call(b, 'history', { room: r, limit: 100 });
      assert.deepEqual(ids(l100.messages), ids(sent.slice(-100)));
      assert.equal(l100.more, true);
      const l1 = await call(b, 'history', { room: r, limit: 1, before: sent[1].id });
      assert.deepEqual(ids(l1.messages), [sent[0].id]);
      assert.equal(l1.more, false);
      const exact = await call(b, 'history', { room: r, limit: 20, before: sent[20].id });
      assert.deepEqual(ids(exact.messages), ids(sent.slice(0, 20)));
      assert.equal(exact.more, false, 'exactly limit left: more is false');
      const l120 = await call(b, 'history', { room: r, limit: 100, before: sent[119].id + 1 });
      assert.deepEqual(ids(l120.messages), ids(sent.slice(-100)));
    });

    test('a room with few messages: join gives all, more=false; empty room gives []', async () => {
      const r = room();
      const a = await v1('alice');
      const j0 = await call(a, 'join', { room: r });
      assert.deepEqual(j0.messages, []);
      assert.equal(j0.more, false);
      const h0 = await call(a, 'history', { room: r });
      assertOk(h0);
      assert.deepEqual(h0.messages, []);
      assert.equal(h0.more, false);
      const sent = await sendMany(a, r, 50, 'f');
      const b = await v1('bob');
      const j = await call(b, 'join', { room: r });
      assert.deepEqual(j.messages, sent);
      assert.equal(j.more, false, 'exactly 50: more is false');
    });

    test('history errors: limit 0 and 101 → bad_request; wrong types; not_in_room; invalid_room', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      for (const p of [
        { room: r, limit: 0 },
        { room: r, limit: 101 },
        { room: r, limit: -1 },
        { room: r, limit: 'ten' },
        { room: r, before: 'x' },
        { room: 5 },
        {},
        'lobby',
        null,
      ]) {
        assertRefused(await call(a, 'history', p), 'bad_request', `history ${JSON.stringify(p)}`);
      }
      assertRefused(await call(a, 'history', { room: room() }), 'not_in_room');
      assertRefused(await call(a, 'history', { room: 'a b' }), 'invalid_room');
    });

    test('since: a dropped client gets exactly the 50 it missed, once, more=false', async () => {
      const r = room();
      const c = await v1('carol');
      const a = await v1('alice');
      assertOk(await call(c, 'join', { room: r }));
      assertOk(await call(a, 'join', { room: r }));
      const mc = new Recorder(c, 'message');
      await sendMany(a, r, 5, 'before');
      await mc.waitCount(5);
      const lastSeen = mc.items.at(-1).id;
      c.close();
      const missed = await sendMany(a, r, 50, 'missed', 10);
      const c2 = await v1('carol', { transports: ['polling'] });
      const live = new Recorder(c2, 'message');
      const j = await call(c2, 'join', { room: r, since: lastSeen });
      assertOk(j);
      assert.deepEqual(j.messages, missed);
      assert.equal(j.more, false);
      const fence = await call(a, 'send', { room: r, text: 'after rejoin' });
      await live.find((m) => m.text === 'after rejoin');
      assert.deepEqual(ids(live.items), [fence.message.id], 'missed messages not delivered again live');
    });

    test('since: more than 1000 missed → 1000 and more=true; paging with since gets the rest', async () => {
      const r = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r }));
      const mark = await call(a, 'send', { room: r, text: 'mark' });
      const missed = await sendMany(a, r, 1234, 'bulk', 100);
      const c = await v1('carol');
      const got = [];
      let since = mark.message.id;
      let pages = 0;
      for (;;) {
        const j = await call(c, 'join', { room: r, since }, 30000);
        assertOk(j);
        pages++;
        assertAscending(j.messages, `page ${pages}`);
        if (pages === 1) {
          assert.equal(j.messages.length, 1000);
          assert.equal(j.more, true);
        }
        got.push(...j.messages);
        if (!j.more) break;
        since = j.messages.at(-1).id;
        assert.ok(pages < 5, 'too many pages');
      }
      assert.equal(pages, 2);
      assert.deepEqual(ids(got), ids(missed));
      const exactly = await call(c, 'join', { room: r, since: missed[233].id }, 30000);
      assert.deepEqual(ids(exactly.messages), ids(missed.slice(234)), 'exactly 1000 after since');
      assert.equal(exactly.more, false, 'exactly 1000: more is false');
      const tail = await call(c, 'join', { room: r, since: got.at(-1).id });
      assert.deepEqual(tail.messages, []);
      assert.equal(tail.more, false);
    });

    test('since only returns messages of the joined room', async () => {
      const r1 = room();
      const r2 = room();
      const a = await v1('alice');
      assertOk(await call(a, 'join', { room: r1 }));
      assertOk(await call(a, 'join', { room: r2 }));
      const first = await call(a, 'send', { room: r1, text: 'r1-0' });
      const want = [];
      for (let i = 0; i < 6; i++) {
        const res = await call(a, 'send', { room: i % 2 ? r1 : r2, text: `x${i}` });
        if (i % 2) want.push(res.message);
      }
      const j = await call(a, 'join', { room: r1, since: first.message.id });
      assert.deepEqual(j.messages, want);
    });
  });

  describe(`v1 durability across kill -9 [${kind}]`, () => {
    const clients = new Clients();
    let store;
    let srv;
    after(async () => {
      clients.closeAll();
      if (srv) await srv.stop();
      if (store) await store.cleanup();
    });

    test('every acked message survives kill -9; cid retries after the restart do not duplicate', async () => {
      store = await makeStore(kind);
      srv = await startServer({ db: store.url });
      const r = room();
      const a = await clients.connect(srv.url, { name: 'alice' });
      assertOk(await call(a, 'join', { room: r }));
      const mark = await call(a, 'send', { room: r, text: 'mark' });
      assertOk(mark);
      const tag = rand(6);
      const acked = await sendMany(a, r, 300, `d-${tag}-`, 100, (j) => ({ cid: `k${j}` }));
      // Fire more without waiting, then kill mid-flight: whatever got acked must survive.
      const inflight = [];
      const gone = new Promise((resolve) => a.once('disconnect', () => resolve(null)));
      for (let j = 300; j < 400; j++) {
        const sent = call(a, 'send', { room: r, text: `d-${tag}-${j}`, cid: `k${j}` }, 5000).then(
          (res) => (res.ok ? res.message : null),
          () => null,
        );
        inflight.push(Promise.race([sent, gone]));
      }
      await new Promise((resolve) => setImmediate(resolve));
      await srv.kill9();
      const lateAcked = (await Promise.all(inflight)).filter(Boolean);
      clients.closeAll();
      srv = await startServer({ db: store.url });
      const b = await clients.connect(srv.url, { name: 'bob' });
      const j = await call(b, 'join', { room: r, since: mark.message.id });
      assertOk(j);
      assert.equal(j.more, false);
      const stored = new Map(j.messages.map((m) => [m.id, m]));
      for (const m of [...acked, ...lateAcked]) {
        assert.deepEqual(stored.get(m.id), m, `acked message ${m.id} survived`);
      }
      // Retry everything with the same cids: nothing new is stored, acked ones keep their ids.
      const retried = await sendMany(b, r, 400, `d-${tag}-`, 100, (k) => ({ cid: `k${k}` }));
      const byCid = new Map(retried.map((m) => [m.cid, m]));
      assert.equal(byCid.size, 400);
      for (const m of [...acked, ...lateAcked]) assert.equal(byCid.get(m.cid).id, m.id, `cid ${m.cid}`);
      const all = [];
      let since = mark.message.id;
      for (;;) {
        const p = await call(b, 'join', { room: r, since });
        all.push(...p.messages);
        if (!p.more) break;
        since = p.messages.at(-1).id;
      }
      assert.equal(all.length, 400, 'each cid stored once');
      assert.ok(acked[0].id < all.at(-1).id);
      // Ids keep increasing after the restart.
      const after = await call(b, 'send', { room: r, text: 'after restart' });
      assert.ok(after.message.id > Math.max(...all.map((m) => m.id)));
    });
  });
}
