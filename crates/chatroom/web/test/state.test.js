// state.js under node: merging messages (order, duplicates, pending acks), deletes, presence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createState, lastId, isOwn, mergeMessages, othersOf, applyDeleted, applyPresence, roomDirectory,
} from '../app/state.js';

const msg = (id, extra = {}) => ({ id, seq: id, room: 'lobby', name: 'bob', text: 't' + id, ts: 1000 + id, ...extra });

test('createState keeps the lobby and valid saved rooms, and the saved current room if kept', () => {
  const s = createState({ name: 'ann', rooms: ['lobby', 'rust', 'bad room', 3, 'rust'], current: 'rust', validRoom: (n) => !/\s/.test(n) });
  assert.deepEqual([...s.rooms.keys()], ['lobby', 'rust']);
  assert.equal(s.current, 'rust');
  assert.equal(createState({ current: 'gone' }).current, 'lobby');
});

test('mergeMessages keeps id order, drops duplicates and other rooms, reports out-of-order', () => {
  const s = createState();
  let r = mergeMessages(s, 'lobby', [msg(5), msg(3), msg(5), msg(7, { room: 'other' }), { id: 'x' }]);
  assert.deepEqual(r.added.map((m) => m.id), [5, 3]);
  assert.equal(r.inOrder, true, 'nothing was rendered before: appending both in order is fine');
  assert.deepEqual(s.rooms.get('lobby').messages.map((m) => m.id), [3, 5]);
  r = mergeMessages(s, 'lobby', [msg(4), msg(9)]);
  assert.equal(r.inOrder, false, '4 goes between 3 and 5');
  assert.deepEqual(s.rooms.get('lobby').messages.map((m) => m.id), [3, 4, 5, 9]);
  r = mergeMessages(s, 'lobby', [msg(3), msg(9)]);
  assert.deepEqual(r.added, []);
  assert.equal(s.maxSeenId, 9);
  assert.equal(lastId(s.rooms.get('lobby')), 9);
  assert.equal(mergeMessages(s, 'nowhere', [msg(1)]), null);
});

test('a message with a pending cid resolves the pending entry of that room only', () => {
  const s = createState({ name: 'ann' });
  s.pending.set('c1', { cid: 'c1', room: 'lobby' });
  s.pending.set('c2', { cid: 'c2', room: 'elsewhere' });
  s.ownCids.add('c1');
  const r = mergeMessages(s, 'lobby', [msg(1, { cid: 'c1', name: 'ann2' }), msg(2, { cid: 'c2' })]);
  assert.deepEqual(r.resolved.map((p) => p.cid), ['c1']);
  assert.deepEqual([...s.pending.keys()], ['c2']);
  // own by cid even under another name (renamed since), and by name
  assert.equal(isOwn(s, r.added[0]), true);
  assert.equal(isOwn(s, msg(3, { name: 'ann' })), true);
  assert.deepEqual(othersOf(s, r.added).map((m) => m.id), [2]);
});

test('an empty room re-joins from its baseline', () => {
  const s = createState();
  const room = s.rooms.get('lobby');
  assert.equal(lastId(room), 0);
  room.baseline = 41;
  assert.equal(lastId(room), 41);
});

test('deleted turns a known message into a tombstone and ignores the rest', () => {
  const s = createState();
  mergeMessages(s, 'lobby', [msg(1), msg(2)]);
  assert.equal(applyDeleted(s, { id: 2, room: 'lobby' }), 'lobby');
  const m = s.rooms.get('lobby').messages[1];
  assert.equal(m.deleted, true);
  assert.equal(m.text, '');
  assert.equal(m.name, 'bob');
  assert.equal(applyDeleted(s, { id: 99, room: 'lobby' }), null);
  assert.equal(applyDeleted(s, { id: '2', room: 'lobby' }), null);
  assert.equal(applyDeleted(s, null), null);
});

test('presence joins, leaves, renames and counts', () => {
  const s = createState();
  const room = s.rooms.get('lobby');
  applyPresence(s, { room: 'lobby', name: 'a', action: 'join' });
  applyPresence(s, { room: 'lobby', name: 'b', action: 'join' });
  applyPresence(s, { room: 'lobby', name: 'a', action: 'leave' });
  applyPresence(s, { room: 'lobby', name: 'c', old: 'b', action: 'rename' });
  assert.deepEqual([...room.members], ['c']);
  applyPresence(s, { room: 'lobby', action: 'count', count: 250 });
  assert.equal(room.count, 250);
  assert.equal(applyPresence(s, { room: 'lobby', action: 'join' }), null);
});

test('the room directory puts the lobby first and marks rooms not joined', () => {
  const s = createState({ rooms: ['zeta'] });
  s.directory = [{ name: 'alpha', members: 2 }, { name: 'lobby', members: 5 }, { bogus: 1 }];
  const d = roomDirectory(s);
  assert.deepEqual(d.map((r) => [r.name, r.members, !!r.room]), [['lobby', 5, true], ['alpha', 2, false], ['zeta', null, true]]);
});
