// Cluster-wide presence (issue 8): `join`'s member list, `rooms`, presence join/leave/rename,
// `typing` (and its 5 s expiry) and the seed protocol's `chat message`, each with the clients
// involved on different nodes of a three-node cluster, through real socket.io-client.
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { Recorder, call, assertOk, room, rand, sleep } = require('../lib/harness');
const { useCluster, hasFields, joinUntilMembers, HARNESS_CHECK } = require('../lib/cluster');

/** The `rooms` entry for `name` (following `more` pages), or undefined. */
async function roomEntry(socket, name) {
  let after;
  for (;;) {
    const res = await call(socket, 'rooms', after === undefined ? {} : { after });
    assertOk(res, 'rooms');
    const hit = res.rooms.find((r) => r.name === name);
    if (hit || !res.more || res.rooms.length === 0) return hit;
    after = res.rooms.at(-1).name;
  }
}

describe('cluster presence, typing and seed clients: 3 nodes, socket.io-client', () => {
  const suite = useCluster({ options: { n: 3 } });
  const { clients } = suite;

  test('join member lists, rooms counts and presence join/rename/leave cover every node', { timeout: 60000 }, async () => {
    const r = room('pres');
    const a = await clients.connect(suite.cl.node(0).url, { name: 'ann' });
    const pa = new Recorder(a, 'presence');
    const ja = await call(a, 'join', { room: r });
    assertOk(ja);
    assert.deepEqual(ja.members, ['ann']);

    const b = await clients.connect(suite.cl.node(1).url, { name: 'ben' });
    const pb = new Recorder(b, 'presence');
    assertOk(await call(b, 'join', { room: r }));
    await joinUntilMembers(b, r, ['ann', 'ben'], { count: 2 });
    await pa.find((p) => p.room === r && p.name === 'ben' && p.action === 'join', 5000, 'ann (node 0) told ben joined on node 1');

    const c = await clients.connect(suite.cl.node(2).url, { name: 'cat' });
    const pc = new Recorder(c, 'presence');
    assertOk(await call(c, 'join', { room: r }));
    await joinUntilMembers(c, r, ['ann', 'ben', 'cat'], { count: 3 });
    for (const [who, rec] of [['ann', pa], ['ben', pb]]) {
      await rec.find((p) => p.room === r && p.name === 'cat' && p.action === 'join', 5000, `${who} told cat joined`);
    }
    // `rooms` counts connections of every node, asked on any node.
    for (let n = 0; n < 3; n++) {
      const s = [a, b, c][n];
      const e = await roomEntry(s, r);
      assert.ok(hasFields(e, { name: r, members: 3 }), `rooms on node ${n}: ${JSON.stringify(e)}`);
    }
    // Two connections of one user on two nodes: one name in members, count 4.
    const b2 = await clients.connect(suite.cl.node(2).url, { auth: { name: 'ben', identity: b.welcomeData.identity } });
    assertOk(await call(b2, 'join', { room: r }));
    await joinUntilMembers(b2, r, ['ann', 'ben', 'cat'], { count: 4 });
    b2.close();
    await pa.find((p) => p.room === r && p.action === 'leave' && p.name === 'ben', 5000, 'leave of ben’s second connection');
    pa.clear();

    // rename on node 1 reaches node 0 and node 2, and ben himself.
    assertOk(await call(b, 'rename', { name: 'bert' }));
    for (const [who, rec] of [['ann', pa], ['cat', pc], ['ben', pb]]) {
      const p = await rec.find((x) => x.room === r && x.action === 'rename', 5000, `${who} told of the rename`);
      assert.ok(hasFields(p, { room: r, name: 'bert', action: 'rename', old: 'ben' }), `${who}: ${JSON.stringify(p)}`);
    }
    const d = await clients.connect(suite.cl.node(0).url, { name: 'dan' });
    assertOk(await call(d, 'join', { room: r }));
    await joinUntilMembers(d, r, ['ann', 'bert', 'cat', 'dan']);

    // leave (event) on node 2, disconnect on node 1: both announced on node 0.
    assertOk(await call(c, 'leave', { room: r }));
    await pa.find((p) => p.room === r && p.name === 'cat' && p.action === 'leave', 5000, 'ann told cat left');
    b.close();
    await pa.find((p) => p.room === r && p.name === 'bert' && p.action === 'leave', 5000, 'ann told bert disconnected');
    const e = await roomEntry(d, r);
    assert.ok(hasFields(e, { name: r, members: 2 }), `rooms after leave and disconnect: ${JSON.stringify(e)}`);
    await joinUntilMembers(d, r, ['ann', 'dan'], { count: 2 });
    // Presence of a room never reaches a client that left it (cat, on node 2).
    const eve = await clients.connect(suite.cl.node(1).url, { name: 'eve' });
    assertOk(await call(eve, 'join', { room: r }));
    await pa.find((p) => p.room === r && p.name === 'eve' && p.action === 'join', 5000, 'ann told eve joined');
    await sleep(300);
    assert.deepEqual(pc.items.filter((p) => p.room === r && p.name === 'eve'), [], 'cat left and hears nothing of eve');
  });

  test('typing crosses nodes, never comes back to the typist, and expires after 5 s everywhere', { timeout: 30000 }, async () => {
    const r = room('typ');
    const socks = [];
    const recs = [];
    for (let n = 0; n < 3; n++) {
      const s = await clients.connect(suite.cl.node(n).url, { name: `typer${n}` });
      recs.push(new Recorder(s, 'typing'));
      assertOk(await call(s, 'join', { room: r }));
      socks.push(s);
    }
    assertOk(await call(socks[0], 'typing', { room: r, typing: true }));
    for (const n of [1, 2]) {
      const t = await recs[n].find((x) => x.room === r && x.name === 'typer0', 5000, `node ${n} sees typer0 typing`);
      assert.ok(hasFields(t, { room: r, name: 'typer0', typing: true }), JSON.stringify(t));
    }
    assertOk(await call(socks[0], 'typing', { room: r, typing: false }));
    for (const n of [1, 2]) {
      await recs[n].find((x) => x.name === 'typer0' && x.typing === false, 5000, `node ${n} sees typer0 stop`);
    }
    // typing: true from node 2, never stopped: others get typing: false about 5 s later.
    const t0 = Date.now();
    assertOk(await call(socks[2], 'typing', { room: r, typing: true }));
    for (const n of [0, 1]) {
      await recs[n].find((x) => x.name === 'typer2' && x.typing === true, 5000, `node ${n} sees typer2`);
    }
    for (const n of [0, 1]) {
      await recs[n].find((x) => x.name === 'typer2' && x.typing === false, 9000, `node ${n} sees typer2 expire`);
    }
    const waited = Date.now() - t0;
    assert.ok(waited >= 4000 && waited < 8000, `expiry after ${waited} ms (5 s documented)`);
    await sleep(300);
    assert.equal(recs[0].items.filter((x) => x.name === 'typer0').length, 0, 'the typist is not told about itself');
    assert.equal(recs[2].items.filter((x) => x.name === 'typer2').length, 0, 'the typist is not told about itself');
    // A client in another room hears nothing.
    const other = await clients.connect(suite.cl.node(1).url, { name: 'elsewhere' });
    const ro = new Recorder(other, 'typing');
    assertOk(await call(socks[1], 'typing', { room: r, typing: true }));
    await recs[0].find((x) => x.name === 'typer1' && x.typing === true, 5000, 'typer1 seen');
    await sleep(300);
    assert.deepEqual(ro.items, [], 'not in the room: no typing');
  });

  test('seed clients (chat message) on any node get lobby messages from every node, in order, once', { timeout: 30000 }, async () => {
    const tag = rand(6);
    const seeds = [];
    for (let n = 0; n < 3; n++) {
      const s = await clients.connect(suite.cl.node(n).url, { transports: n === 2 ? ['polling'] : ['websocket'] });
      assert.match(s.welcomeData.name, /^guest-[0-9a-f]{4}$/);
      seeds.push({ s, rec: new Recorder(s, 'chat message') });
    }
    const v = await clients.connect(suite.cl.node(1).url, { name: `vee-${tag}` });
    const vm = new Recorder(v, 'message');
    const mine = (x) => x.includes(tag);

    // Each seed client sends 10 in order; the v1 client sends 5 into the lobby.
    const expected = [];
    for (let n = 0; n < 3; n++) for (let i = 0; i < 10; i++) expected.push(`seed${n}-${tag}-${i}`);
    for (let i = 0; i < 10; i++) for (let n = 0; n < 3; n++) seeds[n].s.emit('chat message', `seed${n}-${tag}-${i}`);
    const vAcks = [];
    for (let i = 0; i < 5; i++) vAcks.push(call(v, 'send', { room: 'lobby', text: `v1-${tag}-${i}` }));
    for (const a of await Promise.all(vAcks)) assertOk(a);
    for (let i = 0; i < 5; i++) expected.push(`vee-${tag}: v1-${tag}-${i}`);

    for (let n = 0; n < 3; n++) {
      await seeds[n].rec.until((items) => items.filter(mine).length >= expected.length, 15000, `seed on node ${n} gets all ${expected.length}`);
    }
    await sleep(300);
    const lobby = (await call(v, 'history', { room: 'lobby', limit: 100 })).messages.filter((m) => m.text.includes(tag));
    // What seed clients get, in history order: the seed's own string, or "name: text" of a v1 sender.
    const asSeed = lobby.map((m) => (m.name.startsWith('guest-') ? m.text : `${m.name}: ${m.text}`));
    assert.deepEqual([...asSeed].sort(), [...expected].sort(), 'history holds every lobby message once');
    for (let n = 0; n < 3; n++) {
      assert.deepEqual(seeds[n].rec.items.filter(mine), asSeed, `seed client on node ${n}: every lobby message once, in history order`);
    }
    // Each sender's own messages stay in the order sent.
    for (let n = 0; n < 3; n++) {
      const own = asSeed.filter((x) => x.startsWith(`seed${n}-`));
      assert.deepEqual(own, expected.filter((x) => x.startsWith(`seed${n}-`)), `order of seed${n}`);
    }
    // The v1 client sees the seed messages as Messages, same order as history.
    await vm.until((items) => items.filter((m) => m.room === 'lobby' && m.text.includes(tag)).length >= lobby.length, 10000, 'v1 lobby');
    assert.deepEqual(
      vm.items.filter((m) => m.room === 'lobby' && m.text.includes(tag)).map((m) => m.id),
      lobby.map((m) => m.id),
    );
    if (!HARNESS_CHECK) {
      for (const m of lobby) assert.ok(Number.isInteger(m.seq), `lobby message has a seq: ${JSON.stringify(m)}`);
    }
  });
});
