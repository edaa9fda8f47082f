// rules.js under node: the limits come from the page's data attributes, and the character rules
// are the server's (chatroom-core room.rs, name.rs), not a drifted copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitsFrom, validRoomName, validName, textTooLong, trimName, invalidNameSentence } from '../app/rules.js';

const limits = limitsFrom({ maxName: '32', maxRoom: '64', maxText: '4000' });

test('limits are read from the data attributes; missing or bad ones are null', () => {
  assert.deepEqual(limits, { name: 32, room: 64, text: 4000 });
  assert.deepEqual(limitsFrom({ maxName: '', maxRoom: 'x', maxText: '-3' }), { name: null, room: null, text: null });
  assert.deepEqual(limitsFrom(undefined), { name: null, room: null, text: null });
  // another server's numbers are used as they are
  const other = limitsFrom({ maxName: '8', maxRoom: '10', maxText: '20' });
  assert.match(validName('ninechars', other).error, /at most 8/);
  assert.match(validRoomName('elevenchars', other), /at most 10/);
  assert.match(textTooLong('x'.repeat(21), other), /limit is 20/);
  assert.equal(textTooLong('x'.repeat(20), other), null);
});

test('U+180E (Mongolian vowel separator) is accepted in room names, as the server accepts it', () => {
  // Not White_Space since Unicode 6.3 and not a control character: RoomName::new takes it.
  assert.equal(validRoomName('a\u180eb', limits), null);
  // U+FEFF too (JavaScript's \s matches it; Rust's is_whitespace does not)
  assert.equal(validRoomName('a\ufeffb', limits), null);
  assert.equal(validRoomName('技术讨论区', limits), null);
  assert.equal(validRoomName('🦀'.repeat(64), limits), null);
});

test('room names with White_Space or controls, empty or too long are refused', () => {
  for (const bad of ['a b', 'a\u3000b', 'a\u2028b', 'a\u0085b', 'a\u00a0b', 'a\tb', 'x\u007f', 'x\u009f']) {
    assert.match(validRoomName(bad, limits), /spaces or control/, JSON.stringify(bad));
  }
  assert.match(validRoomName('', limits), /Type a room name/);
  assert.match(validRoomName('🦀'.repeat(65), limits), /at most 64/);
});

test('names: trimmed like the server, length by code points; finer rules are the server\'s', () => {
  assert.deepEqual(validName('  alice \n', limits), { name: 'alice' });
  assert.deepEqual(validName('😀'.repeat(32), limits), { name: '😀'.repeat(32) });
  assert.match(validName('😀'.repeat(33), limits).error, /at most 32/);
  assert.match(validName(' \u3000 ', limits).error, /enter a name/);
  assert.match(validName('a\u0000b', limits).error, /control/);
  // a BOM is not trimmed by the server: keep it, so the server's invalid_name answers for it
  assert.equal(trimName('\ufeffbob'), '\ufeffbob');
  assert.deepEqual(validName('\ufeffbob', limits), { name: '\ufeffbob' });
  assert.match(invalidNameSentence(limits), /1–32 characters/);
  assert.doesNotMatch(invalidNameSentence({ name: null }), /\d/);
});

test('without limits (an operator template) only blank input is refused locally', () => {
  const none = limitsFrom({});
  assert.equal(textTooLong('x'.repeat(100000), none), null);
  assert.deepEqual(validName('x'.repeat(100), none), { name: 'x'.repeat(100) });
  assert.equal(validRoomName('r'.repeat(100), none), null);
});
