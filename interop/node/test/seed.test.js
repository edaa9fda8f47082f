// The seed protocol of the Node.js original (docs/PROTOCOL.md, "Seed protocol"), spoken by the
// real npm socket.io-client over WebSocket, long-polling and the polling→WebSocket upgrade, plus
// the HTTP routes. Runs once per store.
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
  connected,
  withTimeout,
  call,
  rand,
} = require('../lib/harness');

const TITLE = `Interop 聊天室 ${rand(6)}`;

for (const kind of storeKinds()) {
  describe(`seed protocol [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients, { title: TITLE });


    test('two WebSocket clients exchange chat message (sender included, Unicode/emoji/HTML kept)', async () => {
      const a = await clients.connect(srv.url);
      const b = await clients.connect(srv.url);
      const ra = new Recorder(a, 'chat message');
      const rb = new Recorder(b, 'chat message');
      const fromA = ['héllo wörld — 你好，世界', '😀🎉👍🏽 👨‍👩‍👧‍👦', '<img src=x onerror=alert(1)>'];
      const fromB = ['Ünïcödé ∑ ≠ ∞ 𝄞', '"quotes" \\ back\\slash\nnew line\ttab', '<script>alert("x")</script>&amp;'];
      for (const m of fromA) a.emit('chat message', m);
      for (const m of fromB) b.emit('chat message', m);
      await ra.waitCount(6);
      await rb.waitCount(6);
      for (const r of [ra, rb]) {
        assert.deepEqual([...r.items].sort(), [...fromA, ...fromB].sort());
      }
    });

    test('one sender\'s quick messages arrive in the order sent, for everyone, and are stored in that order', async () => {
      const a = await clients.connect(srv.url);
      const b = await clients.connect(srv.url, { transports: ['polling'] });
      const ra = new Recorder(a, 'chat message');
      const rb = new Recorder(b, 'chat message');
      const sent = Array.from({ length: 20 }, (_, i) => `order-${i}`);
      for (const m of sent) a.emit('chat message', m);
      await ra.waitCount(sent.length);
      await rb.waitCount(sent.length);
      assert.deepEqual(ra.items, sent, 'sender sees its order');
      assert.deepEqual(rb.items, sent, 'others see the sender order');
      const v = await clients.connect(srv.url, { name: 'viewer' });
      const h = await call(v, 'history', { room: 'lobby', limit: 20 });
      assert.deepEqual(h.messages.map((m) => m.text), sent, 'stored (ids) in the order sent');
    });

    test('a polling-only client and a WebSocket client exchange both ways', async () => {
      const p = await clients.connect(srv.url, { transports: ['polling'] });
      const w = await clients.connect(srv.url, { transports: ['websocket'] });
      assert.equal(p.io.engine.transport.name, 'polling');
      assert.equal(w.io.engine.transport.name, 'websocket');
      const rp = new Recorder(p, 'chat message');
      const rw = new Recorder(w, 'chat message');
      p.emit('chat message', 'from polling ✉');
      await rw.find((m) => m === 'from polling ✉');
      w.emit('chat message', 'from websocket 🔌');
      await rp.find((m) => m === 'from websocket 🔌');
      await rp.until((i) => i.includes('from polling ✉'));
      await rw.until((i) => i.includes('from websocket 🔌'));
      assert.deepEqual(rp.items, ['from polling ✉', 'from websocket 🔌']);
      assert.deepEqual(rw.items, ['from polling ✉', 'from websocket 🔌']);
      assert.equal(p.io.engine.transport.name, 'polling');
    });

    test('a default client upgrades from polling to WebSocket and keeps working', async () => {
      const d = clients.open(srv.url, { transports: ['polling', 'websocket'] });
      assert.equal(d.io.engine.transport.name, 'polling', 'starts on polling');
      const upgraded = new Promise((resolve) => d.io.engine.once('upgrade', resolve));
      await connected(d);
      const other = await clients.connect(srv.url);
      await withTimeout(upgraded, 10000, 'engine upgrade event');
      assert.equal(d.io.engine.transport.name, 'websocket');
      const rd = new Recorder(d, 'chat message');
      const ro = new Recorder(other, 'chat message');
      d.emit('chat message', 'after upgrade');
      other.emit('chat message', 'to the upgraded one');
      await rd.until((i) => i.length >= 2);
      await ro.until((i) => i.length >= 2);
      assert.deepEqual([...rd.items].sort(), ['after upgrade', 'to the upgraded one']);
      assert.deepEqual([...ro.items].sort(), ['after upgrade', 'to the upgraded one']);
      assert.equal(d.io.engine.transport.name, 'websocket');
    });

    test('20 clients × 50 messages: each gets all 1000, no loss, no duplicate, per-sender order', async () => {
      const N = 20;
      const M = 50;
      const socks = await Promise.all(Array.from({ length: N }, () => clients.connect(srv.url)));
      const recs = socks.map((s) => new Recorder(s, 'chat message'));
      socks.forEach((s, i) => {
        for (let j = 0; j < M; j++) s.emit('chat message', `c${i}-m${j}`);
      });
      await Promise.all(recs.map((r) => r.waitCount(N * M, 60000)));
      // Give a duplicate a chance to show up behind the last expected one: one more round trip.
      socks[0].emit('chat message', 'fence');
      await Promise.all(recs.map((r) => r.until((i) => i.includes('fence'), 10000, 'fence')));
      for (const [k, r] of recs.entries()) {
        const got = r.items.filter((x) => x !== 'fence');
        assert.equal(got.length, N * M, `client ${k} count`);
        assert.equal(new Set(got).size, N * M, `client ${k} duplicates`);
        for (let i = 0; i < N; i++) {
          const mine = got.filter((x) => x.startsWith(`c${i}-`));
          assert.deepEqual(mine, Array.from({ length: M }, (_, j) => `c${i}-m${j}`), `client ${k} order of sender ${i}`);
        }
      }
    });

    test('a 100 KB message arrives intact', async () => {
      const a = await clients.connect(srv.url);
      const b = await clients.connect(srv.url, { transports: ['polling'] });
      const ra = new Recorder(a, 'chat message');
      const rb = new Recorder(b, 'chat message');
      const unit = 'abc-ДЖЗ-中文-😀|';
      let big = '';
      while (Buffer.byteLength(big) < 100 * 1024) big += unit;
      a.emit('chat message', big);
      await ra.waitCount(1, 15000);
      await rb.waitCount(1, 15000);
      assert.equal(ra.items[0].length, big.length);
      assert.ok(ra.items[0] === big, 'sender copy intact');
      assert.ok(rb.items[0] === big, 'polling copy intact');
    });

    for (const transport of ['websocket', 'polling']) {
      test(`an oversize message (> 1,000,000 bytes) over ${transport} disconnects only its sender`, async () => {
        const a = await clients.connect(srv.url);
        const b = await clients.connect(srv.url, { transports: ['polling'] });
        const s = await clients.connect(srv.url, { transports: [transport] });
        const ra = new Recorder(a, 'chat message');
        const rb = new Recorder(b, 'chat message');
        const sDisc = new Promise((resolve) => s.once('disconnect', resolve));
        let aDisc = null;
        let bDisc = null;
        a.on('disconnect', (r) => (aDisc = r));
        b.on('disconnect', (r) => (bDisc = r));
        s.emit('chat message', 'x'.repeat(1_000_001));
        const reason = await withTimeout(sDisc, 15000, 'sender disconnect');
        assert.ok(['transport close', 'transport error'].includes(reason), `reason ${reason}`);
        a.emit('chat message', 'still chatting');
        b.emit('chat message', 'me too');
        await ra.until((i) => i.includes('still chatting') && i.includes('me too'));
        await rb.until((i) => i.includes('still chatting') && i.includes('me too'));
        assert.equal(ra.items.length, 2, 'the oversize message was not delivered');
        assert.equal(rb.items.length, 2, 'the oversize message was not delivered');
        assert.equal(aDisc, null);
        assert.equal(bDisc, null);
        assert.ok(a.connected && b.connected);
      });
    }

    test('non-string chat message payloads get error bad_request and crash nothing', async () => {
      const s = await clients.connect(srv.url);
      const w = await clients.connect(srv.url);
      const errs = new Recorder(s, 'error');
      const rw = new Recorder(w, 'chat message');
      const rs = new Recorder(s, 'chat message');
      const bad = [42, { text: 'hi' }, null, ['a', 'b'], true];
      for (const p of bad) s.emit('chat message', p);
      await errs.waitCount(bad.length);
      for (const e of errs.items) {
        assert.equal(e.code, 'bad_request', JSON.stringify(e));
        assert.equal(typeof e.message, 'string');
      }
      s.emit('chat message', 'a valid one');
      await rw.until((i) => i.includes('a valid one'));
      await rs.until((i) => i.includes('a valid one'));
      assert.deepEqual(rw.items, ['a valid one'], 'nothing refused was delivered');
      assert.deepEqual(rs.items, ['a valid one']);
      assert.equal(errs.items.length, bad.length);
      assert.ok(s.connected && w.connected);
      const h = await fetch(`${srv.url}/healthz`);
      assert.equal(h.status, 200);
    });

    test('a chat message with no argument gets error bad_request and crashes nothing', async () => {
      const s = await clients.connect(srv.url);
      const errs = new Recorder(s, 'error');
      const rs = new Recorder(s, 'chat message');
      s.emit('chat message');
      await errs.waitCount(1);
      assert.equal(errs.items[0].code, 'bad_request');
      s.emit('chat message', 'after no-arg');
      await rs.until((i) => i.includes('after no-arg'));
      assert.ok(s.connected);
    });

    test('blank chat message gets error empty and is not delivered', async () => {
      const s = await clients.connect(srv.url);
      const errs = new Recorder(s, 'error');
      const rs = new Recorder(s, 'chat message');
      s.emit('chat message', '');
      s.emit('chat message', '  \n\t ');
      await errs.waitCount(2);
      assert.deepEqual(errs.items.map((e) => e.code), ['empty', 'empty']);
      s.emit('chat message', 'fence');
      await rs.until((i) => i.includes('fence'));
      assert.deepEqual(rs.items, ['fence']);
    });

    test('GET /healthz is 200', async () => {
      const r = await fetch(`${srv.url}/healthz`);
      assert.equal(r.status, 200);
    });

    test('GET / is the chat page with the title', async () => {
      const r = await fetch(`${srv.url}/`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') || '', /text\/html/);
      const body = await r.text();
      assert.ok(body.includes(TITLE), `title ${TITLE} in page`);
      assert.ok(body.includes('/socket.io/socket.io.js'), 'page loads the client script');
    });

    test('GET /socket.io/socket.io.js is JavaScript', async () => {
      const r = await fetch(`${srv.url}/socket.io/socket.io.js`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') || '', /(application|text)\/javascript/);
      const body = await r.text();
      assert.ok(body.length > 100, 'non-trivial script');
    });
  });

  describe(`seed reconnect after a server restart [${kind}]`, () => {
    const clients = new Clients();
    let store;
    let srv;
    after(async () => {
      clients.closeAll();
      if (srv) await srv.stop();
      if (store) await store.cleanup();
    });

    test('a client reconnects to the restarted server on the same port and keeps chatting', async () => {
      store = await makeStore(kind);
      srv = await startServer({ db: store.url });
      const port = srv.port;
      const c = await clients.connect(srv.url, {
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
        transports: ['polling', 'websocket'],
      });
      const rc = new Recorder(c, 'chat message');
      c.emit('chat message', 'before restart');
      await rc.until((i) => i.includes('before restart'));
      const disc = new Promise((resolve) => c.once('disconnect', resolve));
      const { code } = await srv.stop();
      assert.equal(code, 0, `exit code after SIGTERM\n${srv.logs()}`);
      await withTimeout(disc, 10000, 'client sees disconnect');
      const reconnected = new Promise((resolve) => c.once('connect', resolve));
      srv = await startServer({ db: store.url, port });
      assert.equal(srv.port, port);
      await withTimeout(reconnected, 15000, 'reconnect');
      const other = await clients.connect(srv.url);
      const ro = new Recorder(other, 'chat message');
      c.emit('chat message', 'after restart');
      await rc.until((i) => i.includes('after restart'));
      await ro.until((i) => i.includes('after restart'));
      other.emit('chat message', 'welcome back');
      await rc.until((i) => i.includes('welcome back'));
    });
  });
}
