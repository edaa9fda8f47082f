// Cross-node delivery (issue 8, docs/PROTOCOL.md "Delivery"): three nodes on one PostgreSQL
// schema and one Redis namespace, real socket.io-client clients spread over them, several nodes
// sending into the same rooms at once. Every client must see every message of its rooms exactly
// once, in the order of `history` (same ids, same seqs), and nothing of rooms it is not in.
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { Recorder, call, assertOk, room } = require('../lib/harness');
const {
  useCluster,
  startSender,
  fullHistory,
  orderDiff,
  roomOrderViolation,
  ofRoom,
  eventually,
  joinThenLive,
  pythonListener,
} = require('../lib/cluster');

describe('cluster delivery: 3 nodes, socket.io-client', () => {
  const suite = useCluster({ options: { n: 3 } });
  const { clients } = suite;

  test('every client gets every message of its rooms exactly once, in history order, while 3 nodes send at once', { timeout: 90000 }, async () => {
    const r1 = room('both');
    const r2 = room('half');
    // Watchers: two per node, one of them (on every node) also in r2; one polling-only.
    const watchers = [];
    for (let n = 0; n < 3; n++) {
      for (const [k, transports] of [
        [0, ['websocket']],
        [1, n === 1 ? ['polling'] : ['websocket']],
      ]) {
        const name = `w${n}${k}`;
        const s = await clients.connect(suite.cl.node(n).url, { name, transports });
        const rec = new Recorder(s, 'message');
        assertOk(await call(s, 'join', { room: r1 }), `${name} join r1`);
        const rooms = [r1];
        if (k === 0) {
          assertOk(await call(s, 'join', { room: r2 }), `${name} join r2`);
          rooms.push(r2);
        }
        watchers.push({ name, node: n, s, rec, rooms });
      }
    }
    // Senders: two per node, each into both rooms, all at once.
    const senders = [];
    for (let n = 0; n < 3; n++) {
      for (let k = 0; k < 2; k++) {
        const s = await clients.connect(suite.cl.node(n).url, { name: `s${n}${k}` });
        const rec = new Recorder(s, 'message');
        assertOk(await call(s, 'join', { room: r1 }));
        assertOk(await call(s, 'join', { room: r2 }));
        senders.push({ name: `s${n}${k}`, s, rec, rooms: [r1, r2] });
      }
    }
    const traffic = senders.map((x) => startSender(x.s, [r1, r2], x.name, { lanes: 3, pauseMs: 0, max: 60 }));
    await Promise.all(traffic.map((t) => t.done));
    for (const [i, t] of traffic.entries()) {
      assert.deepEqual(t.refused, [], `${senders[i].name}: no refusals`);
      assert.equal(t.acked.size, 60, `${senders[i].name}: 60 acked`);
    }

    const reader = senders[0].s;
    const hist = { [r1]: await fullHistory(reader, r1), [r2]: await fullHistory(reader, r2) };
    assert.equal(hist[r1].length + hist[r2].length, 360, 'history holds all 360 acked messages');
    for (const r of [r1, r2]) {
      assert.equal(roomOrderViolation(hist[r]), null, `room order of ${r}: ${roomOrderViolation(hist[r])}`);
    }
    // Every ack names the message as history has it (same id, same seq).
    const byId = new Map([...hist[r1], ...hist[r2]].map((m) => [m.id, m]));
    for (const t of traffic) {
      for (const [cid, m] of t.acked) {
        const h = byId.get(m.id);
        assert.ok(h, `acked ${cid} (id ${m.id}) is in history`);
        assert.equal(h.cid, cid);
        assert.equal(h.seq, m.seq, `ack seq of ${cid}`);
      }
    }
    // The same history is read on every node.
    for (let n = 1; n < 3; n++) {
      const w = watchers.find((x) => x.node === n && x.rooms.includes(r2));
      const other = await fullHistory(w.s, r2);
      assert.equal(orderDiff(other, hist[r2]), null, `history of r2 on node ${n}: ${orderDiff(other, hist[r2])}`);
    }

    for (const x of [...watchers, ...senders]) {
      for (const r of [r1, r2]) {
        if (!x.rooms.includes(r)) {
          assert.equal(ofRoom(x.rec, r).length, 0, `${x.name} is not in ${r} and got none of it`);
          continue;
        }
        await eventually(
          () => ofRoom(x.rec, r).length >= hist[r].length,
          15000,
          () => `${x.name} (node ${x.node ?? x.name[1]}) in ${r}: ${orderDiff(ofRoom(x.rec, r), hist[r])}\n${suite.cl.logs(20)}`,
        );
      }
    }
    // A moment more, so a late duplicate would show up too.
    await new Promise((res) => setTimeout(res, 500));
    for (const x of [...watchers, ...senders]) {
      for (const r of x.rooms) {
        const diff = orderDiff(ofRoom(x.rec, r), hist[r]);
        assert.equal(diff, null, `${x.name} in ${r}: ${diff}`);
      }
    }
  });

  test('join with since on another node gives exactly the messages after it, then live ones', { timeout: 60000 }, async () => {
    const r = room('since');
    const a = await clients.connect(suite.cl.node(0).url, { name: 'alice' });
    assertOk(await call(a, 'join', { room: r }));
    const first = startSender(a, [r], 'first', { max: 30 });
    await first.done;
    const acked = [...first.acked.values()].sort((x, y) => x.id - y.id);
    const since = acked[9].id;
    const b = await clients.connect(suite.cl.node(2).url, { name: 'bob' });
    const live = new Recorder(b, 'message');
    const j = await call(b, 'join', { room: r, since });
    assertOk(j);
    const hist = await fullHistory(a, r);
    assert.equal(orderDiff(j.messages, hist.slice(10)), null, `join since on node 2: ${orderDiff(j.messages, hist.slice(10))}`);
    assert.equal(j.more, false);
    const c = await clients.connect(suite.cl.node(1).url, { name: 'carol' });
    assertOk(await call(c, 'join', { room: r }));
    const second = startSender(c, [r], 'second', { max: 10 });
    await second.done;
    const all = await fullHistory(a, r);
    const seen = () => joinThenLive(j.messages, live.items).messages;
    await eventually(() => seen().length >= all.length - 10, 10000, () => `bob: ${orderDiff(seen(), all.slice(10))}`);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(orderDiff(seen(), all.slice(10)), null, `join answer + live = history after since: ${orderDiff(seen(), all.slice(10))}`);
  });

  test('python-socketio and socket.io-client members of one room on different nodes get the same messages in the same order', { timeout: 90000 }, async () => {
    const r = room('mixed');
    // WebSocket: python-engineio's polling client aborts on a poll answer of more than 16
    // packets, which six unpaced senders can cause (interop/python/cluster covers polling with
    // paced senders).
    const py = [0, 1, 2].map((n) => pythonListener(suite.cl.node(n).url, `py${n}`, r));
    try {
      for (const p of py) assert.equal((await p.joined).ok, true, `${p.name} joined`);
      const js = [];
      for (let n = 0; n < 3; n++) {
        const s = await clients.connect(suite.cl.node(n).url, { name: `js${n}` });
        const rec = new Recorder(s, 'message');
        assertOk(await call(s, 'join', { room: r }));
        js.push({ name: `js${n}`, s, rec });
      }
      const traffic = js.map((x) => startSender(x.s, [r], x.name, { lanes: 2, pauseMs: 0, max: 40 }));
      await Promise.all(traffic.map((t) => t.done));
      for (const t of traffic) assert.deepEqual(t.refused, []);
      const hist = await fullHistory(js[0].s, r);
      assert.equal(hist.length, 120);
      assert.equal(roomOrderViolation(hist), null, `room order: ${roomOrderViolation(hist)}`);
      const members = [
        ...js.map((x) => ({ name: `${x.name} (socket.io-client)`, got: () => ofRoom(x.rec, r) })),
        ...py.map((p) => ({ name: `${p.name} (python-socketio)`, got: () => p.messages.filter((m) => m.room === r) })),
      ];
      for (const m of members) {
        await eventually(() => m.got().length >= hist.length, 20000, () => `${m.name}: ${orderDiff(m.got(), hist)}`);
      }
      await new Promise((res) => setTimeout(res, 500));
      for (const m of members) assert.equal(orderDiff(m.got(), hist), null, `${m.name}: ${orderDiff(m.got(), hist)}`);
      for (const p of py) assert.equal(p.disconnects, 0, `${p.name} stayed connected`);
    } finally {
      for (const p of py) await p.close();
    }
  });
});
