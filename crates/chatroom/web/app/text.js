/*
 * Message text as segments for the views: plain text, safe links and mentions of the reader.
 * Pure (no DOM) so the rules are unit-tested under node; the views turn segments into text nodes
 * and <a> elements built with DOM APIs, never innerHTML.
 *
 * Links: only http:, https: and mailto: URLs become links (checked with the URL parser, so
 * `javascript:` and friends stay text). Mentions follow the server's rule (issue 11 contract,
 * chatroom-core mention.rs): `@` + the name, compared after Unicode lowercasing, followed by the
 * end of the text, whitespace or ASCII punctuation.
 */

const LINK = /(?:\bhttps?:\/\/|\bmailto:)[^\s<>"']+/giu;
const TRAILING = /[.,;:!?)\]}'"]+$/u;
const SAFE = new Set(['http:', 'https:', 'mailto:']);

/** The URL `raw` as a safe href (http, https, mailto), or null. */
export function safeHref(raw) {
  let url;
  try { url = new URL(raw); } catch (e) { return null; }
  if (!SAFE.has(url.protocol)) return null;
  if (url.protocol === 'mailto:' && !/^[^@\s]+@[^@\s]+$/u.test(decodeURIComponent(url.pathname))) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  return url.href;
}

function isBoundary(ch) {
  // end of text, whitespace, or ASCII punctuation
  return ch === undefined || /^\s$/u.test(ch) || /^[!-/:-@[-`{-~]$/u.test(ch);
}

/**
 * Whether `text` mentions `name` (see the rule above). Compares on lowercased text; when
 * lowercasing changes the length (rare: İ), it still answers, just without exact positions.
 */
export function mentions(text, name) {
  return mentionRanges(text, name).length > 0 || (lowerDiffers(text) && lowerFind(text, name));
}

function lowerDiffers(text) { return text.toLowerCase().length !== text.length; }

function lowerFind(text, name) {
  const lt = text.toLowerCase();
  const needle = '@' + name.toLowerCase();
  let at = lt.indexOf(needle);
  while (at !== -1) {
    if (isBoundary(Array.from(lt.slice(at + needle.length))[0])) return true;
    at = lt.indexOf(needle, at + 1);
  }
  return false;
}

/** [start, end) ranges (UTF-16 indexes of `text`) of each mention of `name`, `@` included. */
export function mentionRanges(text, name) {
  if (!name || typeof text !== 'string') return [];
  const lname = name.toLowerCase();
  const out = [];
  let at = text.indexOf('@');
  while (at !== -1) {
    const cand = text.slice(at + 1, at + 1 + name.length);
    if (cand.toLowerCase() === lname) {
      const end = at + 1 + name.length;
      const next = text.codePointAt(end);
      if (isBoundary(next === undefined ? undefined : String.fromCodePoint(next))) out.push([at, end]);
    }
    at = text.indexOf('@', at + 1);
  }
  return out;
}

/**
 * `text` as [{ kind: 'text' | 'link' | 'mention', text, href? }]: links first (a mention inside
 * a URL is part of the link), then mentions of `me` in the text between them.
 */
export function segments(text, me) {
  const out = [];
  const plain = (s) => {
    if (!s) return;
    let last = 0;
    for (const [a, b] of mentionRanges(s, me)) {
      if (a > last) out.push({ kind: 'text', text: s.slice(last, a) });
      out.push({ kind: 'mention', text: s.slice(a, b) });
      last = b;
    }
    if (last < s.length) out.push({ kind: 'text', text: s.slice(last) });
  };
  let last = 0;
  LINK.lastIndex = 0;
  let m;
  while ((m = LINK.exec(text)) !== null) {
    const raw = m[0].replace(TRAILING, '');
    const href = safeHref(raw);
    if (!href) continue;
    plain(text.slice(last, m.index));
    out.push({ kind: 'link', text: raw, href });
    last = m.index + raw.length;
    LINK.lastIndex = last;
  }
  plain(text.slice(last));
  return out;
}
