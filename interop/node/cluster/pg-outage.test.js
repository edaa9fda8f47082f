// PostgreSQL outage under a cluster (issue 8): every node reaches PostgreSQL through a TCP proxy
// the test cuts (connections reset, new ones refused) and restores. While it is cut, `send` on
// any node is acked `unavailable` (and a seed `chat message` gets an `unavailable` error event),
// nothing crashes and events that need no store (typing, across nodes through Redis) still
// work; once it is back, sends succeed again (the same `cid` stores once) and reach every node
// exactly once, in history order.
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { Recorder, call, assertOk, assertRefused, room, rand, sleep, PG_BASE } = require('../lib/harness');
const { startProxy } = require('../lib/tcp-proxy');
const { useCluster, fullHistory, orderDiff, roomOrderViolation, ofRoom, eventually } = require('../lib/cluster');

describe('cluster with PostgreSQL cut off: 3 nodes behind a TCP proxy, socket.io-client', () => {
  let proxy;
  const suite = useCluster({
    options: { n: 3 },
    setup: async () => {
      const target = new URL(PG_BASE);
      proxy = await startProxy(target.hostname, Number(target.port || 5432));
      const via = new URL(PG_BASE);
      via.hostname = '127.0.0.1';
      via.port = String(proxy.port);
      return { pgBase: via.toString() };
    },
    afterEachTest: () => {
      if (proxy) proxy.restore();
    },
    beforeCleanup: () => {
      if (proxy) proxy.restore();
    },
    afterCleanup: async () => {
      if (proxy) await proxy.close();
    },
  });
  const { clients } = suite;

  // reset: the database crashed (connections reset, new ones refused); blackhole: a network
  // partition (connections stay open, every byte is dropped).
  for (const how of ['reset', 'blackhole']) {
  test(`cut (${how}) → unavailable on every node, no crash, typing still crosses nodes; restore → sends succeed and reach every node once`, { timeout: 120000 }, async () => {
    const r = room(`pg-${how}`);
    const people = [];
    for (let n = 0; n < 3; n++) {
      const s = await clients.connect(suite.cl.node(n).url, { name: `p${n}` });
      assertOk(await call(s, 'join', { room: r }));
      people.push({ s, n, msgs: new Recorder(s, 'message'), typing: new Recorder(s, 'typing') });
    }
    const seed = await clients.connect(suite.cl.node(2).url);
    const seedErr = new Recorder(seed, 'error');
    for (const p of people) assertOk(await call(p.s, 'send', { room: r, text: `before ${p.n}`, cid: `before-${how}-${p.n}` }));

    proxy.cut(how);
    const t0 = Date.now();
    const cids = people.map((p) => `cut-${how}-${p.n}-${rand(6)}`);
    const downs = people.map((p, i) => call(p.s, 'send', { room: r, text: `during ${p.n}`, cid: cids[i] }, 60000));
    seed.emit('chat message', 'seed during the cut');
    // Store-free events keep working across nodes while the sends wait for the store.
    assertOk(await call(people[0].s, 'typing', { room: r, typing: true }, 3000));
    for (const p of people.slice(1)) {
      await p.typing.find((t) => t.room === r && t.name === 'p0' && t.typing === true, 5000, `node ${p.n} sees p0 typing during the cut`);
    }
    for (const [i, res] of (await Promise.all(downs)).entries()) assertRefused(res, 'unavailable', `send on node ${i} during the cut`);
    const tUnavailable = Date.now() - t0;
    const se = await seedErr.find(() => true, 60000, 'seed error event');
    assert.equal(se.code, 'unavailable');
    assert.equal(suite.cl.alive().length, suite.cl.nodes.length, `no node exited during the cut\n${suite.cl.logs(20)}`);

    await sleep(1000);
    proxy.restore();
    const tRestore = Date.now();
    for (const [i, p] of people.entries()) {
      let res;
      await eventually(
        async () => {
          res = await call(p.s, 'send', { room: r, text: `during ${p.n}`, cid: cids[i] }, 30000);
          if (!res.ok) assertRefused(res, 'unavailable');
          return res.ok;
        },
        30000,
        () => `send on node ${i} after restore: ${JSON.stringify(res)}\n${suite.cl.logs(20)}`,
        250,
      );
      // The same cid again acks the same message.
      const again = await call(p.s, 'send', { room: r, text: `during ${p.n}`, cid: cids[i] });
      assertOk(again);
      assert.equal(again.message.id, res.message.id, 'cid retry answers the original');
    }
    console.log(`# pg outage (${how}): unavailable after ${tUnavailable} ms; sends ok ${Date.now() - tRestore} ms after restore`);

    const hist = await fullHistory(people[0].s, r);
    assert.equal(roomOrderViolation(hist), null, `room order: ${roomOrderViolation(hist)}`);
    assert.deepEqual(
      hist.map((m) => m.text).sort(),
      ['before 0', 'before 1', 'before 2', 'during 0', 'during 1', 'during 2'],
      'the refused attempts stored nothing; each retried message once',
    );
    for (const p of people) {
      await eventually(() => ofRoom(p.msgs, r).length >= hist.length, 10000, () => `node ${p.n}: ${orderDiff(ofRoom(p.msgs, r), hist)}`);
    }
    await sleep(300);
    for (const p of people) assert.equal(orderDiff(ofRoom(p.msgs, r), hist), null, `node ${p.n}: ${orderDiff(ofRoom(p.msgs, r), hist)}`);
    assert.equal(suite.cl.alive().length, suite.cl.nodes.length, 'no node exited');
  });
  }
});
