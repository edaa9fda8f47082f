// Issue 11 state under node: edits, deletes and reactions (live and from a since answer, each
// change once), through / since, read positions and unread + mention counts, conversations,
// and when a mention notifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createState, mergeMessages, applyChange, applyJoinAnswer, react, reacted, markRead, lastId, setConversation,
  conversationList, roomDirectory, roomTitle, isDm, mayEdit, mayDelete, newRoom,
} from '../app/state.js';
import { shouldNotify } from '../app/notify.js';
import { mentions } from '../app/text.js';

const ME = 'a'.repeat(32);
const BOB = 'b'.repeat(32);
const msg = (id, extra = {}) => ({ id, seq: id, room: 'lobby', name: 'bob', uid: BOB, text: 't' + id, ts: 1000 + id, ...extra });

function withMessages(...ids) {
  const s = createState({ name: 'ann' });
  s.uid = ME;
  mergeMessages(s, 'lobby', ids.map((id) => msg(id)));
  return s;
}

test('edited replaces the text and sets edited; the change id moves through', () => {
  const s = withMessages(1, 2);
  const m = applyChange(s, 'edited', { id: 2, room: 'lobby', text: 'new', edited: 5000, seq: 3, change: 3, name: 'bob', uid: BOB });
  assert.equal(m.text, 'new');
  assert.equal(m.edited, 5000);
  assert.equal(s.rooms.get('lobby').through, 3);
  assert.equal(lastId(s.rooms.get('lobby')), 3, 'since for the next reconnect');
  // the same change again (live and in a since answer) is applied once
  assert.equal(applyChange(s, 'edited', { id: 2, room: 'lobby', text: 'newer', change: 3 }), null);
  assert.equal(s.rooms.get('lobby').messages[1].text, 'new');
  // unknown message or room: nothing
  assert.equal(applyChange(s, 'edited', { id: 9, room: 'lobby', text: 'x', change: 4 }), null);
  assert.equal(applyChange(s, 'edited', { id: 1, room: 'nope', text: 'x', change: 5 }), null);
  assert.equal(applyChange(s, 'edited', { id: 1, room: 'lobby', change: 6 }), null, 'no text');
});

test('deleted makes a tombstone without text or reactions', () => {
  const s = withMessages(1);
  applyChange(s, 'reaction', { id: 1, room: 'lobby', emoji: '👍', uid: BOB, name: 'bob', added: true, change: 2 });
  const m = applyChange(s, 'deleted', { id: 1, room: 'lobby', by: 'bob', seq: 3, change: 3 });
  assert.equal(m.deleted, true);
  assert.equal(m.text, '');
  assert.equal(m.reactions, undefined);
  assert.equal(mayEdit(s, m), false);
  assert.equal(mayDelete(s, m), false);
});

test('reactions count by user id; repeats change nothing; removing the last drops the emoji', () => {
  let r = react(undefined, { emoji: '👍', uid: BOB, name: 'bob', added: true });
  r = react(r, { emoji: '👍', uid: ME, name: 'ann', added: true });
  r = react(r, { emoji: '🎉', uid: ME, name: 'ann', added: true });
  r = react(r, { emoji: '👍', uid: ME, name: 'ann', added: true });
  assert.deepEqual(r, [
    { emoji: '👍', count: 2, names: ['bob', 'ann'], uids: [BOB, ME] },
    { emoji: '🎉', count: 1, names: ['ann'], uids: [ME] },
  ]);
  r = react(r, { emoji: '👍', uid: BOB, name: 'bob', added: false });
  r = react(r, { emoji: '👍', uid: BOB, name: 'bob', added: false });
  r = react(r, { emoji: '🎉', uid: ME, name: 'ann', added: false });
  assert.deepEqual(r, [{ emoji: '👍', count: 1, names: ['ann'], uids: [ME] }]);
  const before = [{ emoji: '👍', count: 1, names: ['ann'], uids: [ME] }];
  react(before, { emoji: '👍', uid: BOB, name: 'bob', added: true });
  assert.equal(before[0].count, 1, 'the input is not changed');
  const s = withMessages(1);
  applyChange(s, 'reaction', { id: 1, room: 'lobby', emoji: '👍', uid: ME, name: 'ann', added: true, change: 2 });
  assert.equal(reacted(s, s.rooms.get('lobby').messages[0], '👍'), true);
  assert.equal(reacted(s, s.rooms.get('lobby').messages[0], '🎉'), false);
});

test('a since answer: messages, then changes in order, through, and the server\'s unread counts', () => {
  const s = withMessages(1, 2);
  const room = s.rooms.get('lobby');
  mergeMessages(s, 'lobby', [msg(4, { text: 'hi @ann' })]);
  const changed = applyJoinAnswer(s, 'lobby', {
    ok: true, messages: [msg(4)], more: false,
    changes: [
      { event: 'edited', id: 1, room: 'lobby', text: 'one', edited: 1, seq: 3, change: 3 },
      { event: 'reaction', id: 4, room: 'lobby', emoji: '🎉', uid: BOB, name: 'bob', added: true, seq: 5, change: 5 },
      { event: 'deleted', id: 2, room: 'lobby', by: 'bob', seq: 6, change: 6 },
      { event: 'bogus', id: 1, room: 'lobby', change: 7 },
      null,
    ],
    through: 7, read: 2, unread: 1, mentions: 1,
  });
  assert.deepEqual(changed.map((m) => m.id), [1, 4, 2]);
  assert.equal(room.messages[0].text, 'one');
  assert.equal(room.messages[1].deleted, true);
  assert.equal(room.messages[2].reactions[0].count, 1);
  assert.equal(room.through, 7);
  assert.equal(lastId(room), 7);
  assert.equal(room.unread, 1);
  assert.equal(room.mentions, 1);
  assert.equal(room.readSent, 2);
  // a server without these fields changes nothing
  assert.deepEqual(applyJoinAnswer(s, 'lobby', { ok: true, messages: [] }), []);
  assert.equal(room.through, 7);
});

test('reading moves forward only and recounts unread and mentions among held messages', () => {
  const s = withMessages(1, 2);
  mergeMessages(s, 'lobby', [msg(3, { text: 'hey @Ann' }), msg(4, { uid: ME, name: 'ann' }), msg(5)]);
  const room = s.rooms.get('lobby');
  const me = (t) => mentions(t, s.name);
  markRead(s, 'lobby', 2, me);
  assert.deepEqual([room.unread, room.mentions], [2, 1], 'own message 4 is not unread');
  markRead(s, 'lobby', 1, me);
  assert.equal(room.readSent, 2, 'never backwards');
  markRead(s, 'lobby', 5, me);
  assert.deepEqual([room.unread, room.mentions], [0, 0]);
  assert.equal(markRead(s, 'nope', 5, me), false);
});

test('conversations: DM rooms are listed apart, newest first, titled by the other person', () => {
  const s = createState({ name: 'ann', rooms: ['dm:' + '1'.repeat(32)] });
  assert.equal(isDm('dm:x'), true);
  assert.equal(isDm('lobby'), false);
  assert.equal(setConversation(s, { room: 'lobby', with: { name: 'x' } }), null, 'not a DM room');
  assert.equal(setConversation(s, { room: 'dm:2', with: {} }), null);
  setConversation(s, { room: 'dm:' + '1'.repeat(32), with: { name: 'bob', uid: BOB }, last: { id: 5 }, unread: 2, mentions: 0 });
  setConversation(s, { room: 'dm:' + '2'.repeat(32), with: { name: 'cy', uid: 'c'.repeat(32) }, last: { id: 9 }, unread: 0, mentions: 0 });
  assert.deepEqual(conversationList(s).map((c) => c.with.name), ['cy', 'bob']);
  // a `dm` event for a known conversation keeps its counts
  setConversation(s, { room: 'dm:' + '1'.repeat(32), with: { name: 'bob', uid: BOB } });
  assert.equal(s.conversations.get('dm:' + '1'.repeat(32)).unread, 2);
  assert.equal(roomTitle(s, 'dm:' + '1'.repeat(32)), '@bob');
  assert.equal(roomTitle(s, 'dm:' + '9'.repeat(32)), 'Direct message');
  assert.equal(roomTitle(s, 'lobby'), '#lobby');
  s.directory = [{ name: 'lobby', members: 1 }, { name: 'dm:' + '1'.repeat(32), members: 2 }];
  assert.deepEqual(roomDirectory(s).map((r) => r.name), ['lobby'], 'DM rooms stay out of the room list');
});

test('own messages are recognised by user id; edit is the author\'s, delete also a moderator\'s', () => {
  const s = createState({ name: 'ann' });
  s.uid = ME;
  const mine = msg(1, { uid: ME, name: 'ann-old-name' });
  const theirs = msg(2, { name: 'ann' });
  assert.equal(mayEdit(s, mine), true);
  assert.equal(mayEdit(s, theirs), false, 'same name, other user id');
  assert.equal(mayDelete(s, theirs), false);
  s.role = 'moderator';
  assert.equal(mayDelete(s, theirs), true);
  assert.equal(mayEdit(s, theirs), false, 'moderators do not edit others');
  // messages stored before user ids: by name
  assert.equal(mayEdit(s, msg(3, { uid: undefined, name: 'ann' })), true);
});

test('a mention notifies only while hidden, with permission, from someone else', () => {
  const s = createState({ name: 'ann' });
  s.uid = ME;
  const m = msg(1, { text: 'ping @ann' });
  assert.equal(shouldNotify(s, m, { hidden: true, permission: 'granted' }), true);
  assert.equal(shouldNotify(s, m, { hidden: false, permission: 'granted' }), false);
  assert.equal(shouldNotify(s, m, { hidden: true, permission: 'default' }), false);
  assert.equal(shouldNotify(s, m, { hidden: true, permission: 'denied' }), false);
  assert.equal(shouldNotify(s, msg(2, { text: 'no ping' }), { hidden: true, permission: 'granted' }), false);
  assert.equal(shouldNotify(s, msg(3, { text: '@ann me', uid: ME }), { hidden: true, permission: 'granted' }), false);
  assert.equal(shouldNotify(s, msg(4, { text: '@annabel' }), { hidden: true, permission: 'granted' }), false);
  assert.equal(newRoom('x').mentions, 0);
});
