// Can the official socket.io-client (WebSocket transport only) use issue 10's engine experiment?
//   node bench/mini-engine-check.js http://127.0.0.1:PORT
// Two clients connect to `/`, one emits two `chat message`s (one with an ack), the other must
// receive both in order; both must still be connected after HOLD_MS (default 3000) — with the
// server started with a short --ping-interval, that proves heartbeats are answered. Exit 0 on
// success. socket.io-client is taken from interop/node (npm ci there first).
'use strict';
const path = require('path');
const { io } = require(path.join(__dirname, '../interop/node/node_modules/socket.io-client'));

const url = process.argv[2];
const holdMs = Number(process.env.HOLD_MS || 3000);
const fail = (why) => { console.error('mini-engine-check: FAILED: ' + why); process.exit(1); };
setTimeout(() => fail('timed out'), holdMs + 10000).unref();

const opts = { transports: ['websocket'], reconnection: false };
const connected = (s) => new Promise((resolve, reject) => {
  s.once('connect', resolve);
  s.once('connect_error', reject);
});

(async () => {
  const a = io(url, opts);
  const b = io(url, opts);
  await Promise.all([connected(a), connected(b)]).catch((e) => fail('connect_error ' + e.message));
  const got = [];
  const both = new Promise((resolve) => b.on('chat message', (m) => {
    got.push(m);
    if (got.length === 2) resolve();
  }));
  const acked = new Promise((resolve) => a.emit('chat message', 'hello', () => resolve()));
  a.emit('chat message', { n: 2 });
  await Promise.all([both, acked]);
  if (JSON.stringify(got) !== JSON.stringify(['hello', { n: 2 }])) fail('received ' + JSON.stringify(got));
  await new Promise((r) => setTimeout(r, holdMs));
  if (!a.connected || !b.connected) fail('a client was disconnected during the hold');
  console.log(`mini-engine-check: ok (ids ${a.id}, ${b.id}; broadcast, ack, ${holdMs} ms of heartbeats)`);
  a.close();
  b.close();
  process.exit(0);
})();
