// Native TLS (`--tls-cert`/`--tls-key`, docs/DEPLOY.md): the real socket.io-client over WSS and
// over HTTPS long-polling, trusting a certificate made for this test (openssl CLI), chats; a
// client that does not trust it is refused by its own certificate check.
'use strict';

const { describe, test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { makeStore, startServer, Clients, Recorder, connectError, call, assertOk, room } = require('../lib/harness');

describe('TLS', () => {
  const clients = new Clients();
  let dir;
  let store;
  let srv;
  let ca;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroom-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    ca = fs.readFileSync(cert);
    store = await makeStore('sqlite');
    srv = await startServer({ db: store.url, args: ['--tls-cert', cert, '--tls-key', key] });
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    clients.closeAll();
    if (srv) assert.equal((await srv.stop()).code, 0, srv.logs());
    if (store) await store.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the server announces an https URL', () => {
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  for (const transport of ['websocket', 'polling']) {
    test(`a session over ${transport === 'websocket' ? 'WSS' : 'HTTPS polling'} chats`, async () => {
      const a = await clients.connect(srv.url, { name: `tls-a-${transport}`, transports: [transport], ca });
      const b = await clients.connect(srv.url, { name: `tls-b-${transport}`, transports: [transport], ca });
      assert.equal(a.io.engine.transport.name, transport);
      const r = room('tls');
      assertOk(await call(a, 'join', { room: r }));
      assertOk(await call(b, 'join', { room: r }));
      const seen = new Recorder(b, 'message');
      const sent = await call(a, 'send', { room: r, text: 'sealed', cid: 'tls-1' });
      assertOk(sent);
      const got = await seen.find((m) => m.cid === 'tls-1');
      assert.equal(got.text, 'sealed');
      assert.equal(got.id, sent.message.id);
    });
  }

  test('a client that does not trust the certificate cannot connect', async () => {
    const socket = clients.open(srv.url, { name: 'untrusting', transports: ['websocket'] });
    const err = await connectError(socket);
    // socket.io-client: message "websocket error", description = the TLS error of `ws`.
    const why = err.description?.message ?? String(err.description);
    assert.match(why, /self-signed certificate|unable to verify/i, `${err.message}: ${why}`);
  });
});
