// `search` (issue 11, docs/PROTOCOL.md) through the real socket.io-client, once per store:
// finds by word and by the AND of terms, the Chinese case (技术 inside 技术讨论区), newest
// first, pagination with `before`/`limit`/`more`, the room filter, refusals (empty, too long,
// bad shapes, a DM room that is not yours) that change nothing, a message deleted by a
// moderator is not found, and the `--search-rate` bucket.
//
// One server per store for the whole file: every test tags its messages with a random marker
// word (or searches one random room) so tests do not see each other's messages.
'use strict';

const { describe, test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  storeKinds,
  useServer,
  startServer,
  Clients,
  call,
  assertOk,
  assertRefused,
  rand,
  room,
} = require('../lib/harness');
const jwt = require('../lib/jwt');

const SECRET = 'search tests HS256 secret, 32+ bytes!!';
const token = (name, role) => jwt.hs256({ sub: `sub-${name}`, name, role, exp: jwt.epoch(3600) }, SECRET);

/** A word no other test uses (lowercase letters and digits: one search term). */
const marker = () => `k${rand(10).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;

/** Sends `texts` to room `r` in order; the acked messages. */
async function sendAll(socket, r, texts) {
  const out = [];
  for (const text of texts) {
    const res = await call(socket, 'send', { room: r, text });
    assertOk(res, `send ${text}`);
    out.push(res.message);
  }
  return out;
}

const texts = (res) => res.results.map((m) => m.text);

for (const kind of storeKinds()) {
  describe(`search [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients, {
      args: ['--auth', 'jwt', '--auth-secret', SECRET, '--search-rate', 'off'],
    });
    const as = (name, role) => clients.connect(srv.url, { auth: { token: token(name, role) } });

    test('finds by word, case-insensitively, every term must match, newest first', async () => {
      const m = marker();
      const r = room();
      const a = await as(`alice-${rand(4)}`);
      assertOk(await call(a, 'join', { room: r }));
      const sent = await sendAll(a, r, [
        `${m} Deploy finished 🎉`,
        `${m} the deploy FAILED again`,
        `${m} lunch?`,
        `${m}: deploy, rolled back`,
      ]);
      // Another user, not in the room, searches: any non-DM room is readable.
      const b = await as(`bob-${rand(4)}`);
      const res = await call(b, 'search', { query: `${m.toUpperCase()} DEPLOY` });
      assertOk(res);
      assert.deepEqual(texts(res), [sent[3].text, sent[1].text, sent[0].text]);
      assert.equal(res.more, false);
      // The results are Messages as history gives them.
      const first = res.results[0];
      assert.equal(first.id, sent[3].id);
      assert.equal(first.room, r);
      assert.equal(first.name, a.welcomeData.name);
      assert.equal(typeof first.ts, 'number');
      assert.equal(typeof first.seq, 'number');
      const ids = res.results.map((x) => x.id);
      assert.deepEqual(ids, [...ids].sort((x, y) => y - x), 'newest (highest id) first');

      const and = await call(b, 'search', { query: `deploy ${m} failed` });
      assertOk(and);
      assert.deepEqual(texts(and), [sent[1].text]);
      const none = await call(b, 'search', { query: `${m} deploy dinner` });
      assertOk(none);
      assert.deepEqual(none.results, []);
      assert.equal(none.more, false);
      // A part of a word is not a word.
      assertOk((await call(b, 'search', { query: `${m} dep` })), 'prefix');
      assert.deepEqual((await call(b, 'search', { query: `${m} dep` })).results, []);
    });

    test('Chinese: 技术 is found inside 技术讨论区, mixed with Latin, not when the characters are apart', async () => {
      const r = room('zh');
      const a = await as(`li-${rand(4)}`);
      assertOk(await call(a, 'join', { room: r }));
      const sent = await sendAll(a, r, [
        '欢迎来到技术讨论区',
        '技 术 分开写',
        'Rust语言很好用',
        '今天讨论区很热闹',
      ]);
      const find = async (query) => {
        const res = await call(a, 'search', { query, room: r });
        assertOk(res, query);
        return texts(res);
      };
      assert.deepEqual(await find('技术'), [sent[0].text]);
      assert.deepEqual(await find('讨论区'), [sent[3].text, sent[0].text]);
      assert.deepEqual(await find('技术 讨论区'), [sent[0].text]);
      assert.deepEqual(await find('rust 好用'), [sent[2].text]);
      assert.deepEqual(await find('RUST语言'), [sent[2].text]);
      assert.deepEqual(await find('技术讨论会'), []);
    });

    test('pagination: limit, more, and before = the last result id, through every match', async () => {
      const m = marker();
      const r = room();
      const a = await as(`pager-${rand(4)}`);
      assertOk(await call(a, 'join', { room: r }));
      const sent = [];
      for (let i = 0; i < 25; i++) {
        sent.push(...(await sendAll(a, r, [`${m} item ${i}`, `noise ${i}`])));
      }
      const matching = sent.filter((x) => x.text.startsWith(m)).map((x) => x.id).reverse();
      assert.equal(matching.length, 25);

      const dflt = await call(a, 'search', { query: m });
      assertOk(dflt);
      assert.equal(dflt.results.length, 20, 'default limit 20');
      assert.equal(dflt.more, true);

      const got = [];
      let before;
      for (let page = 0; page < 10; page++) {
        const res = await call(a, 'search', { query: m, limit: 10, ...(before ? { before } : {}) });
        assertOk(res);
        got.push(...res.results.map((x) => x.id));
        if (!res.more) {
          assert.equal(res.results.length, 5, 'last page');
          break;
        }
        assert.equal(res.results.length, 10);
        before = res.results[res.results.length - 1].id;
      }
      assert.deepEqual(got, matching, 'every match once, newest first');

      const one = await call(a, 'search', { query: m, limit: 1, before: matching[3] });
      assertOk(one);
      assert.deepEqual(one.results.map((x) => x.id), [matching[4]]);
      assert.equal(one.more, true);
      const fifty = await call(a, 'search', { query: m, limit: 50 });
      assertOk(fifty);
      assert.equal(fifty.results.length, 25);
      assert.equal(fifty.more, false);
    });

    test('room filter: only that room, joined or not; a DM room that is not yours is forbidden', async () => {
      const m = marker();
      const [r1, r2] = [room(), room()];
      const a = await as(`roomy-${rand(4)}`);
      for (const r of [r1, r2]) assertOk(await call(a, 'join', { room: r }));
      await sendAll(a, r1, [`${m} in one`]);
      await sendAll(a, r2, [`${m} in two`]);
      const b = await as(`outsider-${rand(4)}`);
      const both = await call(b, 'search', { query: m });
      assertOk(both);
      assert.deepEqual(texts(both), [`${m} in two`, `${m} in one`]);
      const only = await call(b, 'search', { query: m, room: r1 });
      assertOk(only);
      assert.deepEqual(texts(only), [`${m} in one`]);
      const empty = await call(b, 'search', { query: m, room: room('nobody') });
      assertOk(empty);
      assert.deepEqual(empty.results, []);
      assertRefused(await call(b, 'search', { query: m, room: `dm:${'ab'.repeat(16)}` }), 'forbidden');
    });

    test('refusals: empty, too long, bad shapes; each answered with its code', async () => {
      const a = await as(`shapes-${rand(4)}`);
      assertRefused(await call(a, 'search', { query: '' }), 'empty');
      assertRefused(await call(a, 'search', { query: '  \t ' }), 'empty');
      assertRefused(await call(a, 'search', { query: '🎉 !!' }), 'empty', 'nothing searchable');
      assertRefused(await call(a, 'search', { query: 'x'.repeat(201) }), 'too_long');
      assertRefused(await call(a, 'search', { query: '技'.repeat(201) }), 'too_long', 'counted in characters');
      assertOk(await call(a, 'search', { query: 'x'.repeat(200) }), '200 characters are fine');
      assertOk(await call(a, 'search', { query: '技'.repeat(200) }), '200 CJK characters are fine');
      for (const [payload, code] of [
        [undefined, 'bad_request'],
        ['deploy', 'bad_request'],
        [[], 'bad_request'],
        [{}, 'bad_request'],
        [{ query: 42 }, 'bad_request'],
        [{ query: null }, 'bad_request'],
        [{ query: 'ok', limit: 0 }, 'bad_request'],
        [{ query: 'ok', limit: 51 }, 'bad_request'],
        [{ query: 'ok', limit: 'ten' }, 'bad_request'],
        [{ query: 'ok', limit: 2.5 }, 'bad_request'],
        [{ query: 'ok', before: 'x' }, 'bad_request'],
        [{ query: 'ok', before: 0 }, 'bad_request'],
        [{ query: 'ok', room: 42 }, 'bad_request'],
        [{ query: 'ok', room: 'has space' }, 'invalid_room'],
        [{ query: 'ok', room: '' }, 'invalid_room'],
      ]) {
        assertRefused(await call(a, 'search', payload), code, JSON.stringify(payload));
      }
      // Still connected and served after the refusals.
      assertOk(await call(a, 'search', { query: 'still here' }));
    });

    test('a message deleted by a moderator is not found; its neighbours are', async () => {
      const m = marker();
      const r = room();
      const user = await as(`author-${rand(4)}`);
      assertOk(await call(user, 'join', { room: r }));
      const [gone, kept] = await sendAll(user, r, [`${m} delete this`, `${m} keep this`]);
      const before = await call(user, 'search', { query: `${m} this` });
      assertOk(before);
      assert.deepEqual(texts(before), [kept.text, gone.text]);
      const mod = await as(`mod-${rand(4)}`, 'moderator');
      assertOk(await call(mod, 'delete', { id: gone.id }));
      const after = await call(user, 'search', { query: `${m} this` });
      assertOk(after);
      assert.deepEqual(texts(after), [kept.text]);
      const direct = await call(user, 'search', { query: `${m} delete` });
      assertOk(direct);
      assert.deepEqual(direct.results, []);
    });
  });
}

describe('search rate limit', () => {
  const clients = new Clients();
  let srv;
  afterEach(async () => {
    clients.closeAll();
    if (srv) assert.equal((await srv.stop()).code, 0, srv.logs());
    srv = undefined;
  });

  test('--search-rate: past the burst, rate_limited with retry_ms; refused shapes cost nothing', async () => {
    srv = await startServer({ db: 'memory', args: ['--search-rate', '1/3'] });
    const a = await clients.connect(srv.url, { name: `rate-${rand(4)}` });
    for (let i = 0; i < 5; i++) assertRefused(await call(a, 'search', { query: '' }), 'empty');
    for (let i = 0; i < 3; i++) assertOk(await call(a, 'search', { query: 'hello' }), `within burst ${i}`);
    const res = await call(a, 'search', { query: 'hello' });
    assertRefused(res, 'rate_limited');
    assert.ok(Number.isInteger(res.error.retry_ms) && res.error.retry_ms > 0, JSON.stringify(res));
    // Its own bucket: history and send are not affected.
    assertOk(await call(a, 'join', { room: 'lobby' }));
    assertOk(await call(a, 'send', { room: 'lobby', text: 'not limited by search' }));
  });
});
