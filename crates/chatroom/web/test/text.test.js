// text.js under node: safe links and mentions of the reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { segments, safeHref, mentions, mentionRanges } from '../app/text.js';

const kinds = (text, me) => segments(text, me).map((s) => [s.kind, s.text].concat(s.href ? [s.href] : []));

test('http, https and mailto become links; trailing punctuation stays text', () => {
  assert.deepEqual(kinds('see https://example.com/a?b=1. ok', null), [
    ['text', 'see '], ['link', 'https://example.com/a?b=1', 'https://example.com/a?b=1'], ['text', '. ok'],
  ]);
  assert.deepEqual(kinds('(http://x.org)', null), [['text', '('], ['link', 'http://x.org', 'http://x.org/'], ['text', ')']]);
  assert.deepEqual(kinds('mail mailto:ann@example.com!', null), [
    ['text', 'mail '], ['link', 'mailto:ann@example.com', 'mailto:ann@example.com'], ['text', '!'],
  ]);
});

test('nothing but http, https and mailto is ever a link', () => {
  for (const t of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x',
    'file:///etc/passwd', '<a href="javascript:alert(3)">click</a>', 'http://', 'mailto:', 'mailto:javascript:alert(1)',
    'xhttp://evil']) {
    assert.ok(segments(t, null).every((s) => s.kind !== 'link' || /^https?:\/\/|^mailto:/.test(s.href)), t);
  }
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('https://a.b/c'), 'https://a.b/c');
  assert.deepEqual(kinds('xhttp://evil', null).filter((s) => s[0] === 'link').map((s) => s[2]), []);
  // the text of every segment adds up to the message
  const t = 'a https://x.y/z b @ann c mailto:q@r.s';
  assert.equal(segments(t, 'ann').map((s) => s.text).join(''), t);
});

test('mentions: @name, any case, followed by the end, whitespace or ASCII punctuation', () => {
  assert.equal(mentions('hi @Ann!', 'ann'), true);
  assert.equal(mentions('hi @ANN', 'Ann'), true);
  assert.equal(mentions('@ann: look', 'ann'), true);
  assert.equal(mentions('@ann\tlook', 'ann'), true);
  assert.equal(mentions('@anna look', 'ann'), false);
  assert.equal(mentions('@ann你好', 'ann'), false);
  assert.equal(mentions('ann without at', 'ann'), false);
  assert.equal(mentions('mail ann@x.org', 'x'), true, 'the rule only looks after the name: "@x" then "."');
  assert.equal(mentions('@李雷 你好', '李雷'), true);
  assert.equal(mentions('@ÉLODIE.', 'élodie'), true);
  assert.equal(mentions('hey @bob and @ann', 'ann'), true);
  assert.deepEqual(mentionRanges('@ann @ann', 'ann'), [[0, 4], [5, 9]]);
  assert.deepEqual(kinds('hi @Ann, see', 'ann'), [['text', 'hi '], ['mention', '@Ann'], ['text', ', see']]);
  assert.deepEqual(kinds('hi @Ann', null), [['text', 'hi @Ann']]);
});

test('a mention inside a URL stays part of the link', () => {
  assert.deepEqual(kinds('https://x.org/@ann', 'ann').map((s) => s[0]), ['link']);
});
