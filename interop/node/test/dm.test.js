// Direct messages and read positions (docs/PROTOCOL.md, "Direct messages") through the real
// socket.io-client, once per store: `dm` by name and by user id (same room both ways, the
// documented room name), the recipient's live `dm`, privacy (a third user cannot join, read,
// mark or list a DM), `conversations` with unread and mention counts, `read` across two
// connections of one user and after a reconnect, and the refusals.
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {
  storeKinds,
  useServer,
  Clients,
  Recorder,
  call,
  assertOk,
  assertRefused,
  room,
  rand,
  sleep,
} = require('../lib/harness');

/** The documented DM room name of two user ids. */
function dmRoom(a, b) {
  const [low, high] = a < b ? [a, b] : [b, a];
  return `dm:${crypto.createHash('sha256').update(`${low}:${high}`).digest('hex').slice(0, 32)}`;
}

for (const kind of storeKinds()) {
  describe(`direct messages [${kind}]`, () => {
    const clients = new Clients();
    const srv = useServer(kind, clients);
    // Names with a space in them: mentions must cope.
    const v1 = (name = `User ${rand(6)}`, opts = {}) => clients.connect(srv.url, { name, ...opts });
    const uid = (s) => s.welcomeData.user_id;
    const nameOf = (s) => s.welcomeData.name;

    /** Sends `text` to `r` from `s`; the stored message. */
    async function say(s, r, text) {
      const res = await call(s, 'send', { room: r, text });
      assertOk(res, `send ${text}`);
      return res.message;
    }

    test('dm by name and by id: one room, named as documented; the recipient gets `dm` once', async () => {
      const ann = await v1();
      const bob = await v1();
      const bobDm = new Recorder(bob, 'dm');
      const annDm = new Recorder(ann, 'dm');

      const opened = await call(ann, 'dm', { to: nameOf(bob) });
      assertOk(opened, 'dm by name');
      assert.match(opened.room, /^dm:[0-9a-f]{32}$/);
      assert.equal(opened.room, dmRoom(uid(ann), uid(bob)));
      assert.deepEqual(opened.with, { name: nameOf(bob), uid: uid(bob) });

      const live = await bobDm.find((e) => e.room === opened.room);
      assert.deepEqual(live, { room: opened.room, with: { name: nameOf(ann), uid: uid(ann) } });

      const back = await call(bob, 'dm', { to: uid(ann) });
      assertOk(back, 'dm by user id');
      assert.equal(back.room, opened.room);
      assert.deepEqual(back.with, { name: nameOf(ann), uid: uid(ann) });
      assertOk(await call(ann, 'dm', { to: uid(bob) }), 'again');

      // Opening does not join.
      assertRefused(await call(ann, 'send', { room: opened.room, text: 'too early' }), 'not_in_room');

      // Both join and talk.
      const joined = await call(ann, 'join', { room: opened.room });
      assertOk(joined, 'participant joins');
      assert.deepEqual(joined.messages, []);
      assertOk(await call(bob, 'join', { room: opened.room }));
      const bobMessages = new Recorder(bob, 'message');
      const sent = await say(ann, opened.room, 'hello in private');
      await bobMessages.find((m) => m.id === sent.id);

      // Only the first opening told anyone: one `dm` for Bob, none for Ann.
      assert.equal(bobDm.items.length, 1, JSON.stringify(bobDm.items));
      assert.equal(annDm.items.length, 0, JSON.stringify(annDm.items));
    });

    test('every connection of the recipient gets `dm`', async () => {
      const ann = await v1();
      const bob1 = await v1();
      const bob2 = await v1(nameOf(bob1), { auth: { name: nameOf(bob1), identity: bob1.welcomeData.identity } });
      assert.equal(uid(bob2), uid(bob1));
      const r1 = new Recorder(bob1, 'dm');
      const r2 = new Recorder(bob2, 'dm');
      const opened = await call(ann, 'dm', { to: nameOf(bob1) });
      assertOk(opened);
      await r1.find((e) => e.room === opened.room);
      await r2.find((e) => e.room === opened.room);
    });

    test('a user who wrote once and left is found by id', async () => {
      const gone = await v1();
      const goneId = uid(gone);
      const goneName = nameOf(gone);
      await say(gone, 'lobby', 'I was here');
      gone.close();
      const ann = await v1();
      // Let the server see the close (the name is then free: by name it is not found).
      for (let i = 0; i < 50; i++) {
        const res = await call(ann, 'dm', { to: goneName });
        if (res.ok === false) break;
        await sleep(100);
      }
      assertRefused(await call(ann, 'dm', { to: goneName }), 'not_found', 'name of a disconnected user');
      const opened = await call(ann, 'dm', { to: goneId });
      assertOk(opened, 'by id');
      assert.deepEqual(opened.with, { name: goneName, uid: goneId });
    });

    test('a third user cannot join, read, mark or list a DM', async () => {
      const ann = await v1();
      const bob = await v1();
      const eve = await v1();
      const opened = await call(ann, 'dm', { to: nameOf(bob) });
      assertOk(opened);
      const dm = opened.room;
      assertOk(await call(ann, 'join', { room: dm }));
      assertOk(await call(bob, 'join', { room: dm }));
      const secret = await say(ann, dm, 'just between us');
      const pub = room('pub');
      assertOk(await call(eve, 'join', { room: pub }));

      const eveMessages = new Recorder(eve, 'message');
      assertRefused(await call(eve, 'join', { room: dm }), 'forbidden', 'join');
      assertRefused(await call(eve, 'join', { room: dm, since: 0 }), 'forbidden', 'join since');
      assertRefused(await call(eve, 'history', { room: dm }), 'forbidden', 'history');
      assertRefused(await call(eve, 'history', { room: dm, before: secret.id + 1 }), 'forbidden', 'history before');
      assertRefused(await call(eve, 'read', { room: dm, id: secret.id }), 'forbidden', 'read');
      assertRefused(await call(eve, 'send', { room: dm, text: 'let me in' }), 'not_in_room', 'send');
      assertRefused(await call(eve, 'typing', { room: dm, typing: true }), 'not_in_room', 'typing');

      // `rooms` lists the public room but no DM, to anyone — participants included.
      for (const s of [eve, ann]) {
        const list = await call(s, 'rooms', {});
        assertOk(list);
        const names = list.rooms.map((r) => r.name);
        assert.ok(names.includes(pub), `public room listed: ${names}`);
        assert.ok(!names.some((n) => n.startsWith('dm:')), `no DM listed: ${names}`);
      }
      const eves = await call(eve, 'conversations', {});
      assertOk(eves);
      assert.deepEqual(eves.conversations, []);

      // A `dm:` room nobody opened is refused to everyone (it is reserved).
      const unused = `dm:${'0'.repeat(32)}`;
      assertRefused(await call(ann, 'join', { room: unused }), 'forbidden', 'unopened DM');
      assertRefused(await call(ann, 'join', { room: 'dm:mine' }), 'forbidden', 'reserved prefix');

      // Still nothing of it reached Eve, and the participants still talk.
      const more = await say(bob, dm, 'still private');
      const annHistory = await call(ann, 'history', { room: dm });
      assertOk(annHistory);
      assert.deepEqual(annHistory.messages.map((m) => m.id), [secret.id, more.id]);
      await say(eve, pub, 'fence');
      await eveMessages.find((m) => m.text === 'fence');
      assert.ok(!eveMessages.items.some((m) => m.room === dm), JSON.stringify(eveMessages.items));

      // Search: the participants find the DM's words, Eve finds nothing of them, everywhere or
      // by naming the room.
      const word = `whisper${rand(6)}`;
      await say(ann, dm, `a ${word} for bob`);
      await say(eve, pub, `a ${word} in public`);
      for (const [s, who] of [[ann, 'ann'], [bob, 'bob']]) {
        const found = await call(s, 'search', { query: word });
        assertOk(found);
        assert.deepEqual(found.results.map((m) => m.room).sort(), [dm, pub].sort(), `${who} finds both`);
        const inDm = await call(s, 'search', { query: word, room: dm });
        assertOk(inDm);
        assert.deepEqual(inDm.results.map((m) => m.text), [`a ${word} for bob`], `${who} in the DM`);
      }
      const evesSearch = await call(eve, 'search', { query: word });
      assertOk(evesSearch);
      assert.deepEqual(evesSearch.results.map((m) => m.room), [pub], 'eve finds only the public one');
      assertRefused(await call(eve, 'search', { query: word, room: dm }), 'forbidden', 'search in the DM');
    });

    test('conversations: newest activity first, with unread and mention counts', async () => {
      const ann = await v1();
      const bob = await v1();
      const cy = await v1();
      const withBob = await call(ann, 'dm', { to: nameOf(bob) });
      const withCy = await call(ann, 'dm', { to: uid(cy) });
      assertOk(withBob);
      assertOk(withCy);
      assertOk(await call(bob, 'join', { room: withBob.room }));
      assertOk(await call(cy, 'join', { room: withCy.room }));
      const first = await say(bob, withBob.room, 'hi');
      const mention = await say(bob, withBob.room, `look @${nameOf(ann).toUpperCase()}, here`);
      await say(bob, withBob.room, `not you: @${nameOf(ann)}x`);
      const last = await say(cy, withCy.room, 'yo');

      const list = await call(ann, 'conversations', {});
      assertOk(list);
      assert.deepEqual(
        list.conversations.map((c) => c.room),
        [withCy.room, withBob.room],
        'newest activity first',
      );
      const [cyConv, bobConv] = list.conversations;
      assert.deepEqual(cyConv.with, { name: nameOf(cy), uid: uid(cy) });
      assert.equal(cyConv.last.id, last.id);
      assert.equal(cyConv.last.text, 'yo');
      assert.equal(cyConv.read, null);
      assert.equal(cyConv.unread, 1);
      assert.equal(cyConv.mentions, 0);
      assert.deepEqual(bobConv.with, { name: nameOf(bob), uid: uid(bob) });
      assert.equal(bobConv.unread, 3);
      assert.equal(bobConv.mentions, 1);

      // The join answer carries the same counts; reading clears them.
      const joined = await call(ann, 'join', { room: withBob.room });
      assertOk(joined);
      assert.equal(joined.read, null);
      assert.equal(joined.unread, 3);
      assert.equal(joined.mentions, 1);
      const read = await call(ann, 'read', { room: withBob.room, id: first.id });
      assertOk(read);
      assert.deepEqual({ room: read.room, id: read.id }, { room: withBob.room, id: first.id });
      const after = await call(ann, 'conversations', {});
      const bobAfter = after.conversations.find((c) => c.room === withBob.room);
      assert.equal(bobAfter.read, first.id);
      assert.equal(bobAfter.unread, 2);
      assert.equal(bobAfter.mentions, 1);
      assert.ok(mention.id > first.id);

      // Bob's own messages are not unread for Bob.
      const bobs = await call(bob, 'conversations', {});
      assertOk(bobs);
      assert.equal(bobs.conversations.length, 1);
      assert.equal(bobs.conversations[0].unread, 0);
      assert.deepEqual(bobs.conversations[0].with, { name: nameOf(ann), uid: uid(ann) });
    });

    test('read position: shared by two connections of one user, kept across a reconnect', async () => {
      const bob = await v1();
      const ann1 = await v1();
      const identity = ann1.welcomeData.identity;
      assert.equal(typeof identity, 'string');
      const ann2 = await v1(nameOf(ann1), { auth: { name: nameOf(ann1), identity } });
      assert.equal(uid(ann2), uid(ann1));

      const r = room('read');
      assertOk(await call(bob, 'join', { room: r }));
      const ms = [];
      for (const t of ['one', 'two', 'three']) ms.push(await say(bob, r, t));

      const joined = await call(ann1, 'join', { room: r });
      assertOk(joined);
      assert.equal(joined.read, null);
      assert.equal(joined.unread, 3);

      const seen1 = new Recorder(ann1, 'read');
      const seen2 = new Recorder(ann2, 'read');
      const marked = await call(ann1, 'read', { room: r, id: ms[1].id });
      assertOk(marked);
      assert.equal(marked.id, ms[1].id);
      assert.deepEqual(await seen2.find((e) => e.room === r), { room: r, id: ms[1].id });

      // Backwards from the other connection: answered with the stored position.
      const back = await call(ann2, 'read', { room: r, id: ms[0].id });
      assertOk(back);
      assert.equal(back.id, ms[1].id);
      const j2 = await call(ann2, 'join', { room: r });
      assertOk(j2);
      assert.equal(j2.read, ms[1].id);
      assert.equal(j2.unread, 1);
      // The connection that sent a `read` is not told about its own (only the other one is).
      await seen1.find((e) => e.id === ms[1].id);
      assert.equal(seen1.items.filter((e) => e.id === ms[1].id).length, 1, JSON.stringify(seen1.items));
      assert.equal(seen2.items.length, 1, JSON.stringify(seen2.items));

      ann1.close();
      ann2.close();
      const ann3 = await v1(nameOf(ann1), { auth: { name: nameOf(ann1), identity } });
      assert.equal(uid(ann3), uid(ann1));
      const j3 = await call(ann3, 'join', { room: r });
      assertOk(j3);
      assert.equal(j3.read, ms[1].id, 'kept across the reconnect');
      assert.equal(j3.unread, 1);
      // Past the newest message: clamped to it.
      const clamp = await call(ann3, 'read', { room: r, id: ms[2].id + 1000 });
      assertOk(clamp);
      assert.equal(clamp.id, ms[2].id);
    });

    test('refusals change nothing', async () => {
      const ann = await v1();
      const bob = await v1();
      const annDm = new Recorder(ann, 'dm');
      assertRefused(await call(ann, 'dm', { to: nameOf(ann) }), 'bad_request', 'yourself by name');
      assertRefused(await call(ann, 'dm', { to: uid(ann) }), 'bad_request', 'yourself by id');
      assertRefused(await call(ann, 'dm', { to: '' }), 'invalid_name', 'empty');
      assertRefused(await call(ann, 'dm', { to: 'a\u0001b' }), 'invalid_name', 'control character');
      assertRefused(await call(ann, 'dm', { to: `nobody ${rand(6)}` }), 'not_found', 'unknown name');
      assertRefused(await call(ann, 'dm', { to: crypto.randomBytes(16).toString('hex') }), 'not_found', 'unseen id');
      assertRefused(await call(ann, 'dm', { to: 5 }), 'bad_request', 'number');
      assertRefused(await call(ann, 'dm', {}), 'bad_request', 'no to');
      assertRefused(await call(ann, 'dm', 'bob'), 'bad_request', 'not an object');
      assertRefused(await call(ann, 'read', { room: 'a b', id: 1 }), 'invalid_room', 'read bad room');
      assertRefused(await call(ann, 'read', { room: 'x' }), 'bad_request', 'read without id');
      assertRefused(await call(ann, 'read', { room: 'x', id: -1 }), 'bad_request', 'read negative id');
      assertRefused(await call(ann, 'read', { room: 'x', id: 'one' }), 'bad_request', 'read id not a number');
      assertRefused(await call(ann, 'conversations', 'x'), 'bad_request', 'conversations not an object');

      // A seed client has no lasting identity: no DMs.
      const seed = await clients.connect(srv.url, {});
      assertRefused(await call(seed, 'dm', { to: nameOf(bob) }), 'bad_request', 'seed dm');
      assertRefused(await call(seed, 'conversations', {}), 'bad_request', 'seed conversations');

      // Nothing was opened by any of it.
      const list = await call(ann, 'conversations', {});
      assertOk(list);
      assert.deepEqual(list.conversations, []);
      const bobs = await call(bob, 'conversations', {});
      assert.deepEqual(bobs.conversations, []);
      assert.equal(annDm.items.length, 0);
    });
  });
}
