/*
 * The page's checks of what the user types, before asking the server: names, room names,
 * message length. Pure, unit-tested under node.
 */
import { codePoints } from './util.js';

export const MAX_TEXT = 4000;          // code points, as the server counts
export const MAX_NAME = 32;
export const MAX_ROOM = 64;

function hasControl(s) { return /[\u0000-\u001f\u007f-\u009f]/.test(s); }

function hasWhitespace(s) { return /[\s\u0085\u180e]/.test(s); }

/** null if `name` may be asked for, else the sentence saying why not. */
export function validRoomName(name) {
  const n = codePoints(name);
  if (n < 1) return 'Type a room name.';
  if (n > MAX_ROOM) return 'Room names are at most ' + MAX_ROOM + ' characters.';
  if (hasWhitespace(name) || hasControl(name)) return 'Room names cannot contain spaces.';
  return null;
}

/** { name } (trimmed) or { error: sentence }. */
export function validName(raw) {
  const name = raw.trim();
  const n = codePoints(name);
  if (n < 1) return { error: 'Please enter a name.' };
  if (n > MAX_NAME) return { error: 'Names are at most ' + MAX_NAME + ' characters.' };
  if (hasControl(name)) return { error: 'Names cannot contain control characters.' };
  return { name };
}

/** null if `text` fits, else the sentence saying it is too long. */
export function textTooLong(text) {
  const n = codePoints(text);
  return n > MAX_TEXT ? 'This message is ' + n + ' characters long; the limit is ' + MAX_TEXT + '.' : null;
}
