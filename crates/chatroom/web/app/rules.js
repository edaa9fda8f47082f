/*
 * The page's checks of what the user types, before asking the server: names, room names,
 * message length. The numbers are the server's (chatroom-core), rendered into the page as
 * `data-max-name`, `data-max-room` and `data-max-text` on #app; the character rules are the
 * server's own definitions written with the same Unicode properties (room names: no
 * White_Space, no control characters — exactly `char::is_whitespace` / `char::is_control`).
 * Whatever the page does not check itself (the finer name rules: invisible and unassigned
 * characters, joiners) is left to the server, whose error code the page explains. A page
 * rendered by an operator's template without the limits checks no lengths and lets the server
 * answer. Pure, unit-tested under node.
 */
import { codePoints } from './util.js';

/** The server's limits from `dataset` (#app's data attributes), each a positive integer or null. */
export function limitsFrom(dataset) {
  const num = (v) => {
    const n = Number(v);
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  const d = dataset || {};
  return { name: num(d.maxName), room: num(d.maxRoom), text: num(d.maxText) };
}

/** The limits of this page (read once from the document; none under node). */
let pageLimits = null;
function current() {
  if (!pageLimits) {
    const app = typeof document !== 'undefined' ? document.getElementById('app') : null;
    pageLimits = limitsFrom(app && app.dataset);
  }
  return pageLimits;
}

// Rust's char::is_whitespace is White_Space; char::is_control is Cc.
const ROOM_REFUSED = /[\p{White_Space}\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;
// str::trim trims White_Space (JS's trim() also trims U+FEFF, which the server keeps and refuses).
const EDGES = /^\p{White_Space}+|\p{White_Space}+$/gu;

/** `s` without White_Space at either end, as the server trims names. */
export function trimName(s) { return s.replace(EDGES, ''); }

/** null if room `name` may be asked for, else the sentence saying why not. */
export function validRoomName(name, limits = current()) {
  const n = codePoints(name);
  if (n < 1) return 'Type a room name.';
  if (limits.room && n > limits.room) return 'Room names are at most ' + limits.room + ' characters.';
  if (ROOM_REFUSED.test(name)) return 'Room names cannot contain spaces or control characters.';
  return null;
}

/** { name } (trimmed) or { error: sentence }. */
export function validName(raw, limits = current()) {
  const name = trimName(raw);
  const n = codePoints(name);
  if (n < 1) return { error: 'Please enter a name.' };
  if (limits.name && n > limits.name) return { error: 'Names are at most ' + limits.name + ' characters.' };
  if (CONTROL.test(name)) return { error: 'Names cannot contain control characters.' };
  return { name };
}

/** The sentence for a name the server refused (`invalid_name`). */
export function invalidNameSentence(limits = current()) {
  const len = limits.name ? 'Use 1–' + limits.name + ' characters, ' : 'Use ';
  return 'That name was not accepted. ' + len + 'no control or invisible characters.';
}

/** null if `text` fits, else the sentence saying it is too long. */
export function textTooLong(text, limits = current()) {
  if (!limits.text) return null;
  const n = codePoints(text);
  return n > limits.text ? 'This message is ' + n + ' characters long; the limit is ' + limits.text + '.' : null;
}
