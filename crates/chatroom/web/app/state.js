/*
 * The page's state and the rules that change it, without a DOM or a socket: which rooms are
 * joined, their messages (sorted by id, each at most once), messages waiting for an ack
 * (`pending`, keyed by cid), unread counts. Views read it; main.js feeds it events and acks.
 * Everything here runs under node (crates/chatroom/web/test/).
 */
import { isMessage } from './util.js';

/** The whole page state. `saved`: { name, rooms, current } remembered from a previous visit. */
export function createState(saved = {}) {
  const state = {
    socket: null,
    name: saved.name || null,
    connected: false,
    everConnected: false,
    current: 'lobby',
    rooms: new Map(),        // joined rooms by name
    directory: [],           // last `rooms` answer: [{ name, members }]
    pending: new Map(),      // cid -> { cid, room, text, ts, status: queued|sent|failed, error, timer, attempt }
    ownCids: new Set(),
    maxSeenId: 0,
    stick: true,             // keep the view pinned to the newest message
    lastRendered: null,      // newest real message rendered in the list
    typingRoom: null,
    typingSentAt: 0,
    typingIdle: null,
    dialogMode: null,        // 'first' | 'invalid' | 'rename'
    roomsTimer: null,
    roomsRefresh: null,
    token: null,             // sign-in token (#token=… or window.CHATROOM_TOKEN), if any
    tokenFrom: null,         // 'fragment' | 'operator'
    signedIn: false,         // the token named us (JWT): no name dialog, no rename
    role: 'user',            // 'moderator' and 'admin' get moderation controls
    stopped: null,           // why the server will not take us back (banned, kicked, expired…)
    uid: null,               // our user id (welcome): our messages are the ones with this uid
    conversations: new Map(), // DM room -> { room, with: {name, uid}, last, unread, mentions }
    search: { query: '', results: [], more: false, loading: false, error: null },
  };
  state.rooms.set('lobby', newRoom('lobby'));
  for (const n of Array.isArray(saved.rooms) ? saved.rooms : []) {
    if (typeof n === 'string' && (!saved.validRoom || saved.validRoom(n)) && !state.rooms.has(n)) {
      state.rooms.set(n, newRoom(n));
    }
  }
  state.current = saved.current && state.rooms.has(saved.current) ? saved.current : 'lobby';
  return state;
}

export function newRoom(name) {
  return {
    name,
    messages: [],          // sorted by id
    ids: new Set(),
    members: new Set(),
    count: undefined,      // connections in the room (join answer / crowded presence)
    typing: new Map(),     // name -> timeout handle
    more: false,           // older messages exist on the server
    loadingHistory: false,
    joined: false,         // the join ack of the current connection arrived
    joining: false,
    baseline: 0,           // `since` to use when the room had no messages at join
    unread: 0,
    mentions: 0,           // unread messages that mention us
    through: 0,            // highest id (message or change) the server said this page has seen
    readSent: 0,           // highest id we told the server we read
    changes: new Set(),    // change ids already applied (a since answer and live events overlap)
    membersRefresh: null,
  };
}

/** A direct-message room (named `dm:` + 32 hex digits by the server). */
export function isDm(name) { return typeof name === 'string' && name.startsWith('dm:'); }

/** How a room is called on screen: `#name`, or `@name` of the other person in a DM. */
export function roomTitle(state, name) {
  if (!isDm(name)) return '#' + name;
  const c = state.conversations.get(name);
  return c && c.with && typeof c.with.name === 'string' ? '@' + c.with.name : 'Direct message';
}

/** The `since` for re-joining `room`: the newest id seen there (or the baseline of an empty room). */
export function lastId(room) {
  const last = room.messages.length ? room.messages[room.messages.length - 1].id : 0;
  return Math.max(last, room.through, room.messages.length ? 0 : room.baseline);
}

/** The newest message of a room (the read position to report), or 0. */
export function newestMessageId(room) {
  return room.messages.length ? room.messages[room.messages.length - 1].id : 0;
}

export function isOwn(state, msg) {
  if (state.uid && typeof msg.uid === 'string') return msg.uid === state.uid;
  return msg.name === state.name || (msg.cid !== undefined && state.ownCids.has(msg.cid));
}

/** Whether we may edit `msg` (the author only) and delete it (the author, or a moderator). */
export function mayEdit(state, msg) { return !msg.deleted && isOwn(state, msg); }
export function mayDelete(state, msg) { return !msg.deleted && (isOwn(state, msg) || canModerate(state)); }

export function canModerate(state) { return state.role === 'moderator' || state.role === 'admin'; }

/**
 * Merges `msgs` into `roomName`: keeps id order, drops duplicates and other rooms' messages,
 * resolves the pending entries they acknowledge. Returns { added (in arrival order), inOrder
 * (all appended after the previous newest), resolved (pending entries to forget) } or null when
 * the room is unknown.
 */
export function mergeMessages(state, roomName, msgs) {
  const room = state.rooms.get(roomName);
  if (!room || !Array.isArray(msgs)) return null;
  const added = [];
  const resolved = [];
  const prevLast = room.messages.length ? room.messages[room.messages.length - 1].id : -Infinity;
  let inOrder = true;
  for (const msg of msgs) {
    if (!isMessage(msg) || msg.room !== roomName) continue;
    if (msg.id > state.maxSeenId) state.maxSeenId = msg.id;
    if (msg.cid !== undefined) {
      const p = state.pending.get(msg.cid);
      if (p && p.room === roomName) {
        state.pending.delete(msg.cid);
        resolved.push(p);
      }
    }
    if (room.ids.has(msg.id)) continue;
    room.ids.add(msg.id);
    const arr = room.messages;
    if (!arr.length || arr[arr.length - 1].id < msg.id) {
      arr.push(msg);
    } else {
      let lo = 0, hi = arr.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].id < msg.id) lo = mid + 1; else hi = mid; }
      arr.splice(lo, 0, msg);
    }
    if (msg.id < prevLast) inOrder = false;
    added.push(msg);
  }
  return { added, inOrder, resolved };
}

/** Messages in `added` that count as unread (not our own). */
export function othersOf(state, added) {
  return added.filter((m) => !isOwn(state, m));
}

/**
 * Applies one change (`edited`, `deleted` or `reaction`, live or from a since answer's
 * `changes`) to the message it targets. Each change id is applied once. Returns the updated
 * message, or null if nothing changed here (unknown room or message, already applied).
 */
export function applyChange(state, event, ev) {
  if (!ev || typeof ev.id !== 'number' || typeof ev.room !== 'string') return null;
  const room = state.rooms.get(ev.room);
  if (!room) return null;
  if (typeof ev.change === 'number') {
    if (room.changes.has(ev.change)) return null;
    room.changes.add(ev.change);
    if (ev.change > room.through) room.through = ev.change;
  }
  if (event === 'edited' && typeof ev.text === 'string') {
    return updateMessage(state, ev.room, ev.id, (old) => ({ ...old, text: ev.text, edited: typeof ev.edited === 'number' ? ev.edited : Date.now() }));
  }
  if (event === 'deleted') {
    return updateMessage(state, ev.room, ev.id, (old) => ({ ...old, text: '', deleted: true, reactions: undefined }));
  }
  if (event === 'reaction' && typeof ev.emoji === 'string') {
    return updateMessage(state, ev.room, ev.id, (old) => ({ ...old, reactions: react(old.reactions, ev) }));
  }
  return null;
}

/** `reactions` after one `reaction` event (by uid, so a repeated event changes nothing). */
export function react(reactions, ev) {
  const list = Array.isArray(reactions) ? reactions.map((r) => ({ ...r, names: [...(r.names || [])], uids: [...(r.uids || [])] })) : [];
  let r = list.find((x) => x.emoji === ev.emoji);
  const who = typeof ev.uid === 'string' ? ev.uid : null;
  if (ev.added) {
    if (!r) { r = { emoji: ev.emoji, count: 0, names: [], uids: [] }; list.push(r); }
    if (who && r.uids.includes(who)) return list;
    r.count += 1;
    if (who) r.uids.push(who);
    if (typeof ev.name === 'string') r.names.push(ev.name);
  } else {
    if (!r || (who && !r.uids.includes(who))) return list;
    r.count -= 1;
    if (who) {
      const i = r.uids.indexOf(who);
      r.uids.splice(i, 1);
      if (r.names.length > i) r.names.splice(i, 1);
    } else if (typeof ev.name === 'string') {
      const i = r.names.indexOf(ev.name);
      if (i !== -1) r.names.splice(i, 1);
    }
  }
  return list.filter((x) => x.count > 0);
}

/** Whether we reacted to `msg` with `emoji`. */
export function reacted(state, msg, emoji) {
  const r = Array.isArray(msg.reactions) ? msg.reactions.find((x) => x.emoji === emoji) : null;
  if (!r) return false;
  if (state.uid && Array.isArray(r.uids)) return r.uids.includes(state.uid);
  return Array.isArray(r.names) && r.names.includes(state.name);
}

/**
 * A `join` answer's catch-up beyond messages: `changes` (applied in order), `through` (the
 * `since` for the next reconnect), and the unread counts from the server's read position
 * (`read`, `unread`, `mentions`). Returns the messages changed.
 */
export function applyJoinAnswer(state, roomName, ack) {
  const room = state.rooms.get(roomName);
  if (!room || !ack) return [];
  const changed = [];
  if (Array.isArray(ack.changes)) {
    for (const c of ack.changes) {
      if (!c || typeof c.event !== 'string') continue;
      const m = applyChange(state, c.event, c);
      if (m) changed.push(m);
    }
  }
  if (typeof ack.through === 'number' && ack.through > room.through) room.through = ack.through;
  if (typeof ack.read === 'number' && ack.read > room.readSent) room.readSent = ack.read;
  if (typeof ack.unread === 'number') room.unread = ack.unread;
  if (typeof ack.mentions === 'number') room.mentions = ack.mentions;
  return changed;
}

/**
 * Our read position moved to `id` (we read it here, or another connection of ours did):
 * recount what is still unread among the messages we hold.
 */
export function markRead(state, roomName, id, mentionsMe) {
  const room = state.rooms.get(roomName);
  if (!room || typeof id !== 'number') return false;
  if (id > room.readSent) room.readSent = id;
  const after = room.messages.filter((m) => m.id > room.readSent && !m.deleted && !isOwn(state, m));
  room.unread = after.length;
  room.mentions = mentionsMe ? after.filter((m) => mentionsMe(m.text)).length : 0;
  const c = state.conversations.get(roomName);
  if (c) { c.unread = room.unread; c.mentions = room.mentions; }
  return true;
}

/** Stores `conversations` / `dm` entries (newest activity first is the server's order). */
export function setConversation(state, c) {
  if (!c || typeof c.room !== 'string' || !isDm(c.room) || !c.with || typeof c.with.name !== 'string') return null;
  const old = state.conversations.get(c.room) || {};
  const entry = {
    room: c.room,
    with: { name: c.with.name, uid: typeof c.with.uid === 'string' ? c.with.uid : old.with && old.with.uid },
    last: c.last !== undefined ? c.last : old.last || null,
    unread: typeof c.unread === 'number' ? c.unread : old.unread || 0,
    mentions: typeof c.mentions === 'number' ? c.mentions : old.mentions || 0,
  };
  state.conversations.set(c.room, entry);
  return entry;
}

/** Conversations newest activity first (by the last message id we know of). */
export function conversationList(state) {
  const lastOf = (c) => {
    const room = state.rooms.get(c.room);
    const held = room ? newestMessageId(room) : 0;
    return Math.max(held, c.last && typeof c.last.id === 'number' ? c.last.id : 0);
  };
  return Array.from(state.conversations.values()).sort((a, b) => lastOf(b) - lastOf(a));
}

/** Replaces message `id` of `roomName` by `update(old)`; returns the new message or null. */
export function updateMessage(state, roomName, id, update) {
  const room = state.rooms.get(roomName);
  if (!room || !room.ids.has(id)) return null;
  const arr = room.messages;
  let lo = 0, hi = arr.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].id < id) lo = mid + 1; else hi = mid; }
  if (lo >= arr.length || arr[lo].id !== id) return null;
  arr[lo] = update(arr[lo]);
  return arr[lo];
}

/** A `deleted {id, room}` event: the message becomes a tombstone. Returns the room name changed or null. */
export function applyDeleted(state, ev) {
  return applyChange(state, 'deleted', ev) ? ev.room : null;
}

/** Sorted list of room names for the sidebar: the lobby first, joined and listed rooms by name. */
export function roomDirectory(state) {
  const names = new Map();
  for (const r of state.directory) {
    if (r && typeof r.name === 'string') names.set(r.name, typeof r.members === 'number' ? r.members : null);
  }
  for (const name of state.rooms.keys()) if (!names.has(name)) names.set(name, null);
  for (const name of Array.from(names.keys())) if (isDm(name)) names.delete(name);
  const sorted = Array.from(names.keys()).sort((a, b) => {
    if (a === 'lobby') return -1;
    if (b === 'lobby') return 1;
    return a.localeCompare(b);
  });
  return sorted.map((name) => ({ name, members: names.get(name), room: state.rooms.get(name) || null }));
}

/** Applies a `presence` event to a room's member set; returns what the caller should refresh. */
export function applyPresence(state, ev) {
  if (!ev || typeof ev.room !== 'string') return null;
  const room = state.rooms.get(ev.room);
  if (ev.action === 'count') {
    if (room && typeof ev.count === 'number') room.count = ev.count;
    return { room, action: 'count' };
  }
  if (typeof ev.name !== 'string') return null;
  if (room) {
    if (ev.action === 'join') {
      room.members.add(ev.name);
    } else if (ev.action === 'leave') {
      room.members.delete(ev.name);
    } else if (ev.action === 'rename' && typeof ev.old === 'string') {
      room.members.delete(ev.old);
      room.members.add(ev.name);
    }
  }
  return { room, action: ev.action };
}
