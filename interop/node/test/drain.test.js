// Graceful drain (docs/PROTOCOL.md "Server shutdown"): the real socket.io-client, sending
// continuously while the server gets SIGTERM, has every message it sent answered before the
// connection closes (`ok`, or `unavailable` for the ones that arrived while draining); the
// close is a transport close, so the client reconnects by itself — here to a second server on
// the same port and store — where it resends the `unavailable` ones with the same cid. Every
// message is then stored exactly once. Both transports, both stores.
'use strict';

const { describe, test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  storeKinds,
  makeStore,
  startServer,
  Clients,
  connected,
  call,
  withTimeout,
  sleep,
  room,
} = require('../lib/harness');

for (const kind of storeKinds()) {
  for (const transport of ['websocket', 'polling']) {
    describe(`drain on SIGTERM [${kind}, ${transport}]`, () => {
      const clients = new Clients();
      afterEach(() => clients.closeAll());

      test('every sent message is answered, the client reconnects and resends', async (t) => {
        const store = await makeStore(kind);
        const first = await startServer({ db: store.url });
        let second;
        try {
          const socket = clients.open(first.url, {
            name: `drainer-${transport}`,
            transports: [transport],
            reconnection: true,
            reconnectionDelay: 100,
            reconnectionDelayMax: 200,
          });
          await connected(socket);
          const r = room('drain');
          const joined = await call(socket, 'join', { room: r });
          assert.equal(joined.ok, true);

          const sent = []; // cids emitted while connected, in order
          const answers = new Map(); // cid → ack
          let stopSending = false;
          let reason = null;
          let willReconnect = null;
          const disconnected = new Promise((resolve) =>
            socket.once('disconnect', (why) => {
              reason = why;
              willReconnect = socket.active; // socket.io-client: "will try to reconnect"
              stopSending = true;
              resolve();
            }),
          );
          let attempts = 0;
          socket.io.on('reconnect_attempt', () => (attempts += 1));

          // Continuous sending, not waiting for acks: one message every 2 ms until the
          // server says `unavailable` (the documented "stop, retry elsewhere") or goes away.
          const sender = (async () => {
            for (let i = 0; !stopSending; i += 1) {
              const cid = `c${i}`;
              sent.push(cid);
              socket.emit('send', { room: r, text: `m${i}`, cid }, (ack) => {
                answers.set(cid, ack);
                if (ack?.ok === false && ack.error?.code === 'unavailable') stopSending = true;
              });
              await sleep(2);
            }
          })();
          await sleep(300);
          const sentAtSignal = sent.length;
          const signalledAt = Date.now();
          first.proc.kill('SIGTERM');
          await withTimeout(disconnected, 10000, 'disconnect after SIGTERM');
          const closedMs = Date.now() - signalledAt;
          await sender;
          const exit = await withTimeout(first.exited, 10000, 'first server exit');
          const exitedMs = Date.now() - signalledAt;
          assert.equal(exit.code, 0, first.logs());

          // The reason is one after which socket.io-client reconnects by itself: a transport
          // close (never "io server disconnect"). A polling client between two polls when the
          // session closes finds it gone at its next poll: "transport error", also retried.
          if (transport === 'websocket') assert.equal(reason, 'transport close');
          else assert.ok(['transport close', 'transport error'].includes(reason), reason);
          assert.equal(willReconnect, true, `disconnect reason ${reason} does not reconnect`);
          assert.ok(sentAtSignal > 10, `only ${sentAtSignal} sent before SIGTERM`);
          const unanswered = sent.filter((cid) => !answers.has(cid));
          assert.deepEqual(unanswered, [], `sent ${sent.length}, answered ${answers.size}`);
          const refused = [];
          for (const [cid, ack] of answers) {
            if (ack.ok) continue;
            assert.equal(ack.error?.code, 'unavailable', JSON.stringify(ack));
            refused.push(cid);
          }
          assert.ok(answers.size - refused.length >= sentAtSignal / 2, `${refused.length} of ${answers.size} refused`);
          t.diagnostic(
            `reason=${reason} sent=${sent.length} ok=${answers.size - refused.length} ` +
              `unavailable=${refused.length} closed_after_ms=${closedMs} exited_after_ms=${exitedMs}`,
          );

          // It is already trying; a second server on the same port takes it back.
          await withTimeout(
            (async () => {
              while (attempts === 0) await sleep(20);
            })(),
            5000,
            'reconnect attempt',
          );
          second = await startServer({ db: store.url, port: first.port });
          await withTimeout(
            new Promise((resolve) => (socket.connected ? resolve() : socket.once('connect', resolve))),
            10000,
            'reconnect to the second server',
          );
          assert.equal((await call(socket, 'join', { room: r })).ok, true);
          for (const cid of refused) {
            const i = cid.slice(1);
            const again = await call(socket, 'send', { room: r, text: `m${i}`, cid });
            assert.equal(again.ok, true, JSON.stringify(again));
          }

          // Stored exactly once each, nothing else.
          const stored = [];
          let since = 0;
          for (;;) {
            const page = await call(socket, 'join', { room: r, since });
            stored.push(...page.messages.map((m) => m.cid));
            if (!page.more || page.messages.length === 0) break;
            since = page.messages[page.messages.length - 1].id;
          }
          assert.deepEqual([...stored].sort(), [...sent].sort());
        } finally {
          clients.closeAll();
          await first.stop();
          if (second) {
            const { code } = await second.stop();
            assert.equal(code, 0, second.logs());
          }
          await store.cleanup();
        }
      });
    });
  }
}
