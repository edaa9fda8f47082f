// Sign-in modes (docs/AUTH.md) through the real socket.io-client: `--auth token`, `--auth jwt`
// with HS256 and with RS256 — each mode's accept path and every refusal (`unauthorized` for a
// missing, malformed or wrongly signed token, `alg: none`, HS/RS confusion, a missing `exp`;
// `token_expired`), and a session cut at `exp` with `session_expired`. Runs once per store.
'use strict';

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { storeKinds, useServer, Clients, connectError, call, assertOk, assertRefused, rand, withTimeout } =
  require('../lib/harness');
const jwt = require('../lib/jwt');

const SHARED = 'a shared room secret';
const HS_SECRET = 'an HS256 secret of at least 32 bytes!';

for (const kind of storeKinds()) {
  describe(`auth token [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients, { args: ['--auth', 'token', '--auth-secret', SHARED] });

    test('the right token and a name of the client’s choice connect', async () => {
      const s = await clients.connect(srv.url, { auth: { token: SHARED, name: 'tok-ann' } });
      assert.equal(s.welcomeData.name, 'tok-ann');
      assert.equal(s.welcomeData.role, 'user');
      assertOk(await call(s, 'join', { room: `r-${rand()}` }));
    });

    for (const [label, auth] of [
      ['no auth at all', undefined],
      ['a name but no token', { name: 'tok-bob' }],
      ['a wrong token', { token: 'a shared room secreT', name: 'tok-bob' }],
      ['a token prefix', { token: SHARED.slice(0, -1), name: 'tok-bob' }],
      ['a token that is not a string', { token: 42, name: 'tok-bob' }],
    ]) {
      test(`unauthorized: ${label}`, async () => {
        const s = clients.open(srv.url, auth === undefined ? {} : { auth });
        const err = await connectError(s);
        assert.equal(err.message, 'unauthorized');
      });
    }
  });

  describe(`auth jwt HS256 [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients, { args: ['--auth', 'jwt', '--auth-secret', HS_SECRET] });

    test('sub, name and role come from the token; auth.name is ignored', async () => {
      const sub = `u-${rand()}`;
      const exp = jwt.epoch(600);
      const token = jwt.hs256({ sub, name: 'Jay', role: 'moderator', exp }, HS_SECRET);
      const s = await clients.connect(srv.url, { auth: { token, name: 'someone-else' } });
      assert.equal(s.welcomeData.name, 'Jay');
      assert.equal(s.welcomeData.user_id, sub);
      assert.equal(s.welcomeData.role, 'moderator');
      assert.equal(s.welcomeData.identity, undefined, 'the token is the identity');
      assert.equal(s.welcomeData.expires_at, exp * 1000);
      // The token's name is not the client's to change.
      assertRefused(await call(s, 'rename', { name: 'Jay2' }), 'forbidden');
    });

    test('without a name claim the name is sub, the role user', async () => {
      const sub = `plain-${rand()}`;
      const s = await clients.connect(srv.url, { auth: { token: jwt.hs256({ sub, exp: jwt.epoch(600) }, HS_SECRET) } });
      assert.equal(s.welcomeData.name, sub);
      assert.equal(s.welcomeData.role, 'user');
    });

    test('two tabs of one sub share the name; another sub cannot take it', async () => {
      const token = jwt.hs256({ sub: 'tab-user', name: 'Tabby', exp: jwt.epoch(600) }, HS_SECRET);
      await clients.connect(srv.url, { auth: { token } });
      await clients.connect(srv.url, { auth: { token } });
      const other = jwt.hs256({ sub: 'not-tabby', name: 'tabby', exp: jwt.epoch(600) }, HS_SECRET);
      const err = await connectError(clients.open(srv.url, { auth: { token: other } }));
      assert.equal(err.message, 'name_taken');
    });

    const claims = () => ({ sub: `x-${rand()}`, exp: jwt.epoch(600) });
    for (const [label, token, code] of [
      ['no token', undefined, 'unauthorized'],
      ['garbage', 'not-a-jwt', 'unauthorized'],
      ['signed with the wrong secret', () => jwt.hs256(claims(), 'another secret of at least 32 bytes!!'), 'unauthorized'],
      ['alg: none', () => jwt.none(claims()), 'unauthorized'],
      ['alg: none with a signature', () => `${jwt.none(claims())}c2ln`, 'unauthorized'],
      ['missing exp', () => jwt.hs256({ sub: 'no-exp' }, HS_SECRET), 'unauthorized'],
      ['missing sub', () => jwt.hs256({ name: 'x', exp: jwt.epoch(600) }, HS_SECRET), 'unauthorized'],
      ['unknown role', () => jwt.hs256({ ...claims(), role: 'root' }, HS_SECRET), 'unauthorized'],
      ['RS256 token against an HS256 server', () => jwt.rs256(claims(), jwt.otherPrivateKey()), 'unauthorized'],
      ['a tampered payload', () => {
        const [h, , s] = jwt.hs256(claims(), HS_SECRET).split('.');
        const p = Buffer.from(JSON.stringify({ sub: 'admin', role: 'admin', exp: jwt.epoch(600) })).toString('base64url');
        return `${h}.${p}.${s}`;
      }, 'unauthorized'],
      ['expired', () => jwt.hs256({ sub: 'late', exp: jwt.epoch(-5) }, HS_SECRET), 'token_expired'],
    ]) {
      test(`${code}: ${label}`, async () => {
        const value = typeof token === 'function' ? token() : token;
        const auth = value === undefined ? { name: 'x' } : { token: value };
        const err = await connectError(clients.open(srv.url, { auth }));
        assert.equal(err.message, code);
      });
    }

    test('a connection that ends before exp leaves no expiry timer behind', async () => {
      const tasks = async () => (await (await fetch(`${srv.url}/healthz`)).json()).tasks;
      const before = await tasks();
      const sockets = [];
      for (let i = 0; i < 30; i++) {
        sockets.push(await clients.connect(srv.url, { auth: { token: jwt.hs256({ sub: `t-${i}-${rand()}`, exp: jwt.epoch(3600) }, HS_SECRET) } }));
      }
      const during = await tasks();
      assert.ok(during >= before + 30, `one timer per signed-in connection: ${before} → ${during}`);
      clients.closeAll();
      const deadline = Date.now() + 10000;
      let after = during;
      while (Date.now() < deadline) {
        after = await tasks();
        if (after <= before + 5) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(after <= before + 5, `tasks after the clients left: ${before} → ${during} → ${after}`);
    });

    test('a session is cut at exp: session_expired, then the disconnect', async () => {
      const exp = jwt.epoch(3);
      const s = await clients.connect(srv.url, { auth: { token: jwt.hs256({ sub: `e-${rand()}`, exp }, HS_SECRET) } });
      const expired = new Promise((resolve) => s.once('session_expired', () => resolve(Date.now())));
      const gone = new Promise((resolve) => s.once('disconnect', (reason) => resolve(reason)));
      const at = await withTimeout(expired, 10000, 'session_expired');
      assert.ok(at >= exp * 1000 - 50, `session_expired ${exp * 1000 - at} ms before exp`);
      assert.equal(await withTimeout(gone, 5000, 'disconnect'), 'io server disconnect');
      // Reconnecting with the same token is refused; a fresh one is accepted.
      const again = await connectError(clients.open(srv.url, { auth: { token: jwt.hs256({ sub: 'e2', exp }, HS_SECRET) } }));
      assert.equal(again.message, 'token_expired');
      const fresh = await clients.connect(srv.url, { auth: { token: jwt.hs256({ sub: 'e2', exp: jwt.epoch(600) }, HS_SECRET) } });
      assert.equal(fresh.welcomeData.name, 'e2');
    });
  });

  describe(`auth jwt RS256 [${kind}]`, () => {
    const clients = new Clients();
    const pair = jwt.rsaPair();
    after(() => pair.cleanup());
    const srv = useServer(kind, clients, { args: ['--auth', 'jwt', '--jwt-public-key', pair.publicKeyFile] });

    test('a token signed with the matching private key connects', async () => {
      const token = jwt.rs256({ sub: `rs-${rand()}`, name: 'Rae', role: 'admin', exp: jwt.epoch(600) }, pair.privateKey);
      const s = await clients.connect(srv.url, { auth: { token } });
      assert.equal(s.welcomeData.name, 'Rae');
      assert.equal(s.welcomeData.role, 'admin');
    });

    const claims = () => ({ sub: `x-${rand()}`, exp: jwt.epoch(600) });
    for (const [label, mint] of [
      ['HS256 signed with the public key (HS/RS confusion)', () => jwt.hs256(claims(), pair.publicPem)],
      ['HS256 with any secret', () => jwt.hs256(claims(), HS_SECRET)],
      ['RS256 signed by another key', () => jwt.rs256(claims(), jwt.otherPrivateKey())],
      ['alg: none', () => jwt.none(claims())],
      ['missing exp', () => jwt.rs256({ sub: 'no-exp' }, pair.privateKey)],
    ]) {
      test(`unauthorized: ${label}`, async () => {
        const err = await connectError(clients.open(srv.url, { auth: { token: mint() } }));
        assert.equal(err.message, 'unauthorized');
      });
    }

    test('token_expired: an RS256 token past exp', async () => {
      const err = await connectError(
        clients.open(srv.url, { auth: { token: jwt.rs256({ sub: 'old', exp: jwt.epoch(-1) }, pair.privateKey) } }),
      );
      assert.equal(err.message, 'token_expired');
    });
  });
}
