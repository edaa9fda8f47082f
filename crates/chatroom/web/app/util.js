/*
 * Small pure helpers shared by the page's modules (no DOM, no socket): counting code points the
 * way the server does, client message ids, avatar hues, message shape checks and day keys.
 * Kept apart so the state and protocol modules can be unit-tested under node.
 */

/** Length in Unicode code points, as the server counts (4000 emoji are 4000 characters). */
export function codePoints(s) { return Array.from(s).length; }

/** A client message id (`w-` + 32 hex digits) from `getRandomValues` (window.crypto or node's webcrypto). */
export function newCid(crypto) {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return 'w-' + hex;
}

/** A stable hue (0–359) for a name's avatar. */
export function hue(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
  return h;
}

/** Whether `m` has the shape of a wire Message (docs/PROTOCOL.md). */
export function isMessage(m) {
  return !!m && typeof m === 'object' && typeof m.id === 'number' && typeof m.room === 'string' &&
    typeof m.name === 'string' && typeof m.text === 'string' && typeof m.ts === 'number';
}

/** A local calendar day, for grouping messages under day separators. */
export function dayKey(ts) {
  const d = new Date(ts);
  return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate();
}
