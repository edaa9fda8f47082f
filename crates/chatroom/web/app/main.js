/*
 * chatroom web page, the controller: speaks protocol v1 (docs/PROTOCOL.md) through the project's
 * own Socket.IO client served at /socket.io/socket.io.js (global `io`), feeds events and acks to
 * state.js, and asks the views to render. Plain ES modules, no build step, no third-party code.
 *
 * Invariants the page keeps:
 * - every message is rendered at most once per room, keyed by its server id (`data-id`);
 * - user text only ever reaches the DOM through textContent / text nodes (never innerHTML);
 * - a message the user typed stays "pending" (keyed by its `cid`) until the server acknowledges it,
 *   and is re-sent with the same `cid` after a reconnect (the server de-duplicates by room + cid);
 * - after a reconnect every joined room is re-joined with `since` = the newest id seen there.
 */
import { newCid, dayKey, isMessage } from './util.js';
import {
  createState, newRoom, lastId, isOwn, mergeMessages, othersOf, applyPresence, applyChange, applyJoinAnswer,
  markRead, setConversation, isDm, roomTitle, newestMessageId, reacted,
} from './state.js';
import { mentions } from './text.js';
import * as notify from './notify.js';
import {
  joinRequest, sendFailure, connectFailure, authFor as authPayload, tokenFromHash, transportsFromSearch, ackError,
} from './protocol.js';
import { validRoomName, validName, textTooLong, invalidNameSentence } from './rules.js';
import { ui, lookup, setStatus, showHint, announce, untilText } from './views/dom.js';
import {
  atBottom, scrollToBottom, renderMessages, appendRendered, renderHistoryMarker, renderPending, removePendingEl,
  replaceRendered,
} from './views/messages.js';
import { renderRooms as renderRoomList, renderMembers, renderTyping, renderHeader } from './views/sidebar.js';
import { renderConversations } from './views/conversations.js';
import { renderSearch } from './views/search.js';
import { el, button } from './views/dom.js';

const TYPING_RESEND_MS = 3000;  // server expires typing after 5 s: refresh before that
const TYPING_IDLE_MS = 4000;    // stop "typing" after this long without input
const TYPING_SHOW_MS = 6500;    // drop someone's indicator if no update arrives
const ROOMS_POLL_MS = 10000;
const ACK_TIMEOUT_MS = 15000;   // re-send (same cid) if a send is not acknowledged in time
const STORE = { name: 'chatroom.name', rooms: 'chatroom.rooms', current: 'chatroom.current', identity: 'chatroom.identity' };
const TOKEN_KEY = 'chatroom.token';
const READ_DELAY_MS = 300;      // batch `read` while messages stream in
const MAX_DM_JOINS = 30;        // conversations joined at connect, so their badges stay live

// ---------- storage ----------

function storageGet(key) {
  try { return window.localStorage.getItem(key); } catch (e) { return null; }
}

function storageSet(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch (e) { /* private mode or quota: the page still works without memory */ }
}

function sessionGet(key) {
  try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
}

function sessionSet(key, value) {
  try {
    if (value === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch (e) { /* private mode: the token lasts as long as the page */ }
}

function savedRooms() {
  try { return JSON.parse(storageGet(STORE.rooms) || '[]'); } catch (e) { return []; }
}

// ---------- state ----------

const state = createState({
  name: storageGet(STORE.name),
  rooms: savedRooms(),
  current: storageGet(STORE.current),
  validRoom: (n) => !validRoomName(n),
});
const dom = lookup();
ui.state = state;
ui.dom = dom;
ui.editing = null;             // id of the message being edited here
ui.anchor = null;              // { id, until }: a message jumped to, kept in view while history loads

/** Rooms and conversations: both lists carry unread badges. */
function renderRooms() {
  renderRoomList();
  renderConversations();
}

function pageVisible() { return document.visibilityState === 'visible'; }

function mentionsMe(text) { return !!state.name && mentions(text, state.name); }

function ensureRoom(name) {
  let room = state.rooms.get(name);
  if (!room) {
    room = newRoom(name);
    state.rooms.set(name, room);
    saveRooms();
  }
  return room;
}

function saveRooms() {
  storageSet(STORE.rooms, JSON.stringify(Array.from(state.rooms.keys())));
  storageSet(STORE.current, state.current);
}

function authFor(name) {
  return authPayload({ token: state.token, signedIn: state.signedIn, name, identity: storageGet(STORE.identity) });
}

// ---------- moderation ----------

/** Sends a moderator action; shows its outcome as a sentence. */
function moderate(event, payload, done) {
  if (!state.socket || !state.connected) { showHint('Not connected right now; try again in a moment.', 5000); return; }
  state.socket.emit(event, payload, (ack) => {
    if (ack && ack.ok) { showHint(done, 4000); announce(done); return; }
    const err = ackError(ack);
    showHint(err.code === 'forbidden' ? 'You are not allowed to do that.' : (err.message || err.code), 6000);
  });
}

/** `edited`, `deleted`, `reaction`: the message they change is re-rendered where it shows. */
function onChange(event, ev) {
  const m = applyChange(state, event, ev);
  if (!m) return;
  if (ui.editing === m.id && event === 'deleted') ui.editing = null;
  if (m.room === state.current) replaceRendered(m);
}

/** The server will not take this page back by itself: say why, stop reconnecting. */
function stopWith(kind, sentence) {
  state.stopped = kind;
  setStatus('offline', sentence);
  showHint(sentence);
  announce(sentence);
  dom.input.disabled = true;
  renderHeader();
  if (state.socket) {
    state.socket.io.reconnection(false);
    state.socket.disconnect();
  }
}

/** Our sign-in ended: a token from the operator's page is renewed by loading it again. */
function onSessionExpired() {
  sessionSet(TOKEN_KEY, null);
  if (state.tokenFrom === 'operator' && !recentlyReloaded()) {
    stopWith('expired', 'Your session has expired. Getting a fresh sign-in…');
    sessionSet('chatroom.reloadedAt', String(Date.now()));
    window.location.reload();
    return;
  }
  stopWith('expired', 'Your session has expired. Sign in again to continue.');
}

function recentlyReloaded() {
  const at = Number(sessionGet('chatroom.reloadedAt')) || 0;
  return Date.now() - at < 30000;
}

// ---------- messages ----------

/** Merges messages into a room. `live`: they arrive now (announce, count unread). */
function addMessages(roomName, msgs, live) {
  const merged = mergeMessages(state, roomName, msgs);
  if (!merged) return;
  const room = state.rooms.get(roomName);
  for (const p of merged.resolved) {
    clearTimeout(p.timer);
    if (roomName === state.current) removePendingEl(p.cid);
  }
  const { added, inOrder } = merged;
  if (!added.length) return;
  for (const msg of added) {
    const t = room.typing.get(msg.name);
    if (t !== undefined) { clearTimeout(t); room.typing.delete(msg.name); }
  }

  if (roomName === state.current) {
    const wasBottom = state.stick || atBottom();
    if (inOrder) {
      added.slice().sort((a, b) => a.id - b.id).forEach(appendRendered);
    } else {
      renderMessages();
    }
    renderHistoryMarker();
    const ownNew = added.some((m) => isOwn(state, m));
    // filling the gap after a jump to a message: older news, the view stays on that message
    const quiet = ui.anchor && ui.anchor.until > Date.now();
    if (quiet) { /* renderMessages kept the anchor in view */ }
    else if (live && (wasBottom || ownNew)) scrollToBottom();
    else if (live && added.length) dom.jump.hidden = false;
    if (live && !quiet) {
      const others = othersOf(state, added);
      if (others.length > 3) announce(others.length + ' new messages in ' + roomTitle(state, roomName));
      else others.forEach((m) => announce(m.name + ': ' + m.text));
    }
    renderTyping();
  }
  if (!live) return;
  const others = othersOf(state, added).filter((m) => m.id > room.readSent);
  if (roomName === state.current && pageVisible()) {
    scheduleRead(roomName);
  } else if (others.length) {
    room.unread += others.length;
    room.mentions += others.filter((m) => mentionsMe(m.text)).length;
    renderRooms();
  }
  const c = state.conversations.get(roomName);
  if (c) { c.last = added[added.length - 1]; renderConversations(); }
  const hidden = !pageVisible();
  for (const m of others) {
    if (notify.shouldNotify(state, m, { hidden, permission: notify.permission() })) {
      notify.show(m, roomTitle(state, roomName), () => jumpTo(roomName, m.id));
    }
  }
}

// ---------- read position ----------

/** Tells the server (soon) that we read `roomName` up to its newest message. */
function scheduleRead(roomName) {
  const room = state.rooms.get(roomName);
  if (!room) return;
  clearTimeout(room.readTimer);
  room.readTimer = setTimeout(() => sendRead(roomName), READ_DELAY_MS);
}

function sendRead(roomName) {
  const room = state.rooms.get(roomName);
  if (!room || roomName !== state.current || !pageVisible()) return;
  const id = newestMessageId(room);
  const hadBadge = room.unread || room.mentions;
  if (id > room.readSent) {
    markRead(state, roomName, id, mentionsMe);
    if (state.socket && state.connected && room.joined) {
      state.socket.emit('read', { room: roomName, id }, () => { /* best effort: the next read carries it */ });
    }
  } else {
    room.unread = 0;
    room.mentions = 0;
  }
  if (hadBadge) renderRooms();
}

/** Another connection of ours read further. */
function onRead(ev) {
  if (!ev || typeof ev.room !== 'string' || typeof ev.id !== 'number') return;
  if (markRead(state, ev.room, ev.id, mentionsMe)) renderRooms();
}

// ---------- direct messages ----------

function requestConversations() {
  if (!state.socket || !state.connected) return;
  const socket = state.socket;
  socket.emit('conversations', {}, (ack) => {
    if (socket !== state.socket || !ack || !ack.ok || !Array.isArray(ack.conversations)) return;
    let joined = 0;
    for (const c of ack.conversations) {
      const entry = setConversation(state, c);
      if (!entry) continue;
      if (!state.rooms.has(entry.room) && joined < MAX_DM_JOINS) {
        joined += 1;
        ensureRoom(entry.room).unread = entry.unread;
        state.rooms.get(entry.room).mentions = entry.mentions;
        joinRoom(entry.room);
      }
    }
    renderRooms();
    if (isDm(state.current)) renderHeader();
  });
}

/** A new conversation someone opened with us: list it and join it, so its messages arrive. */
function onDm(ev) {
  const entry = setConversation(state, ev);
  if (!entry) return;
  if (!state.rooms.has(entry.room)) {
    ensureRoom(entry.room);
    joinRoom(entry.room);
  }
  renderRooms();
  announce(entry.with.name + ' started a conversation with you.');
}

/** Opens (or finds) the conversation with `name` and switches to it. */
function startDm(name) {
  if (!state.socket || !state.connected) { showHint('Not connected right now; try again in a moment.', 5000); return; }
  state.socket.emit('dm', { to: name }, (ack) => {
    if (!ack || !ack.ok || typeof ack.room !== 'string') {
      const err = ackError(ack);
      showHint('Cannot message ' + name + ': ' + (err.message || err.code), 6000);
      return;
    }
    setConversation(state, { room: ack.room, with: ack.with || { name } });
    openRoom(ack.room);
    dom.input.focus();
  });
}

// ---------- edit, delete, react ----------

function emitChange(event, payload, onOk) {
  if (!state.socket || !state.connected) { showHint('Not connected right now; try again in a moment.', 5000); return; }
  state.socket.emit(event, payload, (ack) => {
    if (ack && ack.ok) {
      if (ack.message && isMessage(ack.message)) {
        // the answer carries the message's new state: show it even before the room event
        const m = applyAnswer(ack.message);
        if (m && m.room === state.current) replaceRendered(m);
      }
      if (onOk) onOk(ack);
      return;
    }
    const err = ackError(ack);
    const why = {
      forbidden: 'You are not allowed to do that.',
      not_found: 'That message is gone.',
      bad_emoji: 'That is not a single emoji.',
      too_many_reactions: 'This message has as many different reactions as it can take.',
      too_long: 'Too long: ' + (err.message || ''),
      empty: 'A message cannot be empty.',
      muted: 'You are muted here; you can edit and react again in '
        + Math.max(1, Math.ceil((Number(err.retry_ms) || 60000) / 60000)) + ' minutes.',
    }[err.code];
    showHint(why || err.message || err.code, 6000);
  });
}

/** The current state of a message from an ack: replaces ours (text, edited, deleted, reactions). */
function applyAnswer(msg) {
  const room = state.rooms.get(msg.room);
  if (!room || !room.ids.has(msg.id)) return null;
  const i = room.messages.findIndex((m) => m.id === msg.id);
  room.messages[i] = { ...room.messages[i], ...msg };
  if (!msg.reactions) delete room.messages[i].reactions;
  return room.messages[i];
}

function startEdit(msg) {
  ui.editing = msg.id;
  replaceRendered(msg);
  const box = dom.list.querySelector('li.msg[data-id="' + msg.id + '"] .edit-form textarea');
  if (box) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
}

function stopEdit(msg) {
  ui.editing = null;
  const room = state.rooms.get(msg.room);
  const cur = room && room.messages.find((m) => m.id === msg.id);
  if (cur) replaceRendered(cur);
  dom.input.focus();
}

/** The inline editor shown instead of a message's bubble while its author edits it. */
function editForm(msg) {
  const form = el('form', 'edit-form');
  const box = el('textarea');
  box.value = msg.text;
  box.rows = Math.min(8, msg.text.split('\n').length + 1);
  box.setAttribute('aria-label', 'Edit message');
  form.appendChild(box);
  const buttons = el('div', 'edit-buttons');
  buttons.appendChild(el('span', 'edit-hint', 'Enter to save · Esc to cancel'));
  buttons.appendChild(button('btn btn-ghost btn-small', 'Cancel', () => stopEdit(msg)));
  const save = el('button', 'btn btn-small', 'Save');
  save.type = 'submit';
  buttons.appendChild(save);
  form.appendChild(buttons);
  const submit = () => {
    const text = box.value;
    if (text === msg.text) { stopEdit(msg); return; }
    if (!text.trim()) { showHint('A message cannot be empty; delete it instead.', 5000); return; }
    const tooLong = textTooLong(text);
    if (tooLong) { showHint(tooLong, 6000); return; }
    save.disabled = true;
    emitChange('edit', { id: msg.id, text }, () => { ui.editing = null; stopEdit(msg); });
    setTimeout(() => { save.disabled = false; }, 3000);
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
    if (e.key === 'Escape') { e.preventDefault(); stopEdit(msg); }
  });
  return form;
}

function deleteMessage(msg) {
  emitChange('delete', { id: msg.id }, () => announce('Message deleted.'));
}

function toggleReaction(msg, emoji) {
  const room = state.rooms.get(msg.room);
  const cur = (room && room.messages.find((m) => m.id === msg.id)) || msg;
  emitChange(reacted(state, cur, emoji) ? 'unreact' : 'react', { id: msg.id, emoji });
}

// ---------- search ----------

function runSearch(query, before) {
  const s = state.search;
  if (!state.socket || !state.connected) { s.error = 'Not connected right now; try again in a moment.'; renderSearch(); return; }
  s.open = true;
  s.loading = true;
  s.error = null;
  if (!before) { s.query = query; s.results = []; s.more = false; }
  renderSearch();
  const req = { query, limit: 20 };
  if (before) req.before = before;
  const socket = state.socket;
  socket.emit('search', req, (ack) => {
    if (socket !== state.socket || s.query !== query) return;
    s.loading = false;
    if (!ack || !ack.ok || !Array.isArray(ack.results)) {
      const err = ackError(ack);
      s.error = {
        empty: 'Type something to search for.',
        too_long: 'That search is too long.',
        rate_limited: 'Searching too fast; try again in a moment.',
      }[err.code] || 'Search failed: ' + (err.message || err.code);
      renderSearch();
      return;
    }
    const seen = new Set(s.results.map((m) => m.id));
    for (const m of ack.results) if (isMessage(m) && !seen.has(m.id)) s.results.push(m);
    s.more = !!ack.more;
    renderSearch();
  });
}

function searchMore() {
  const s = state.search;
  if (s.results.length) runSearch(s.query, s.results[s.results.length - 1].id);
}

function closeSearch() {
  state.search.open = false;
  renderSearch();
}

/**
 * Shows message `id` of `roomName`: joins the room if needed, loads the history around the
 * message if it is not loaded, scrolls to it and highlights it.
 */
function jumpTo(roomName, id) {
  closeSearch();
  closeSidebar(true);
  if (!state.rooms.has(roomName)) {
    ensureRoom(roomName);
    joinRoom(roomName);
  }
  switchRoom(roomName);
  const room = state.rooms.get(roomName);
  const show = () => {
    const li = dom.list.querySelector('li.msg[data-id="' + id + '"]');
    if (!li) return false;
    state.stick = false;
    ui.anchor = { id, until: Date.now() + 4000 };
    li.scrollIntoView({ block: 'center' });
    li.classList.remove('highlight');
    void li.offsetWidth; // restart the animation
    li.classList.add('highlight');
    setTimeout(() => li.classList.remove('highlight'), 3000);
    return true;
  };
  if (room.ids.has(id)) { show(); return; }
  let tries = 0;
  const load = () => {
    if (room.ids.has(id)) { renderMessages(); show(); return; }
    if (!room.joined || !state.connected) {
      if (++tries < 50) setTimeout(load, 100);
      return;
    }
    // the page of history that ends with the message, then everything after it (fills the gap)
    const socket = state.socket;
    socket.emit('history', { room: roomName, before: id + 1, limit: 25 }, (ack) => {
      if (socket !== state.socket || !ack || !ack.ok) { showHint('Cannot load that message.', 5000); return; }
      if (room.messages.length === 0 || id < room.messages[0].id) room.more = !!ack.more;
      state.stick = false;
      addMessages(roomName, ack.messages || [], false);
      joinRoom(roomName, id);
      renderMessages();
      if (!show()) showHint('That message is no longer there.', 5000);
    });
  };
  load();
}

// ---------- notifications ----------

function renderNotifyOffer() {
  dom.notifyOffer.hidden = notify.permission() !== 'default';
}

function renderAll() {
  renderHeader();
  renderRooms();
  renderMembers();
  renderTyping();
  renderMessages();
}

// ---------- rooms ----------

function requestRooms() {
  if (!state.socket || !state.connected) return;
  state.socket.emit('rooms', {}, (ack) => {
    if (ack && ack.ok && Array.isArray(ack.rooms)) {
      state.directory = ack.rooms;
      renderRooms();
    }
  });
}

function scheduleRoomsRefresh() {
  clearTimeout(state.roomsRefresh);
  state.roomsRefresh = setTimeout(requestRooms, 400);
}

function joinRoom(name, since) {
  const room = ensureRoom(name);
  if (!state.socket || !state.connected) return;
  const req = joinRequest(name, since === undefined ? lastId(room) : since);
  room.joining = true;
  const socket = state.socket;
  socket.emit('join', req, (ack) => {
    if (socket !== state.socket || !state.rooms.has(name)) return;
    room.joining = false;
    if (!ack || !ack.ok) {
      const err = ackError(ack, 'could not join');
      const msg = err.message || 'could not join';
      if (!room.joined && !room.messages.length && name !== 'lobby') {
        state.rooms.delete(name);
        saveRooms();
        if (state.current === name) switchRoom('lobby');
        else renderRooms();
        showJoinError('Cannot join #' + name + ': ' + msg);
      } else {
        showHint('Cannot join #' + name + ': ' + msg, 5000);
        if (err.code === 'unavailable') {
          setTimeout(() => { if (state.connected) joinRoom(name); }, 2000);
        }
      }
      return;
    }
    const first = !room.joined;
    room.joined = true;
    room.count = typeof ack.count === 'number' ? ack.count : undefined;
    if (Array.isArray(ack.members)) {
      room.members = new Set(ack.members.filter((n) => typeof n === 'string'));
    }
    if (req.since === undefined) room.more = !!ack.more;
    const hadMessages = room.messages.length > 0;
    addMessages(name, ack.messages || [], hadMessages || req.since !== undefined);
    // after the messages: changes target them; unread counts replace what was counted live
    const changed = applyJoinAnswer(state, name, ack);
    if (name === state.current) changed.forEach(replaceRendered);
    if (name === state.current) scheduleRead(name);
    renderRooms();
    if (!room.messages.length && !room.baseline) room.baseline = state.maxSeenId;
    if (req.since !== undefined && ack.more && room.messages.length) {
      // more than one page missed: keep catching up before re-sending anything
      joinRoom(name, lastId(room));
      return;
    }
    if (name === state.current) {
      renderMembers();
      renderHistoryMarker();
      if (first && !hadMessages) { state.stick = true; renderMessages(); }
      fillScreen();
    }
    flushPending(name);
    scheduleRoomsRefresh();
  });
}

function openRoom(name) {
  if (!state.rooms.has(name)) {
    ensureRoom(name);
    joinRoom(name);
  }
  switchRoom(name);
  closeSidebar(true);
}

function switchRoom(name) {
  if (!state.rooms.has(name)) name = 'lobby';
  const leaving = state.rooms.get(state.current);
  if (leaving && leaving.readTimer && state.current !== name) {
    // what was on screen until now is read
    clearTimeout(leaving.readTimer);
    leaving.readTimer = null;
    sendRead(state.current);
  }
  if (state.current !== name) stopTyping();
  state.current = name;
  ui.editing = null;
  state.stick = true;
  dom.jump.hidden = true;
  saveRooms();
  renderAll();
  fillScreen();
  scheduleRead(name);
}

function leaveRoom(name) {
  if (name === 'lobby') return;
  const room = state.rooms.get(name);
  if (!room) return;
  stopTyping();
  state.rooms.delete(name);
  state.pending.forEach((p, cid) => { if (p.room === name) { clearTimeout(p.timer); state.pending.delete(cid); } });
  saveRooms();
  if (state.socket && state.connected) {
    state.socket.emit('leave', { room: name }, () => { scheduleRoomsRefresh(); });
  }
  switchRoom('lobby');
}

function showJoinError(text) {
  dom.joinError.textContent = text;
  dom.joinError.hidden = !text;
}

// ---------- history ----------

function loadOlder() {
  const room = state.rooms.get(state.current);
  if (!room || !room.more || room.loadingHistory || !room.joined || !state.connected) return;
  room.loadingHistory = true;
  renderHistoryMarker();
  const req = { room: room.name, limit: 50 };
  if (room.messages.length) req.before = room.messages[0].id;
  const socket = state.socket;
  socket.emit('history', req, (ack) => {
    room.loadingHistory = false;
    if (socket !== state.socket) return;
    if (!ack || !ack.ok) {
      renderHistoryMarker();
      return;
    }
    room.more = !!ack.more;
    const stick = state.stick;
    state.stick = false;
    addMessages(room.name, ack.messages || [], false);
    state.stick = stick && atBottom();
    renderHistoryMarker();
    fillScreen();
  });
}

// If the list does not fill the view there is nothing to scroll: fetch older pages now.
function fillScreen() {
  const room = state.rooms.get(state.current);
  if (!room || !room.more) return;
  requestAnimationFrame(() => {
    if (dom.messages.scrollHeight <= dom.messages.clientHeight + 40) loadOlder();
  });
}

// ---------- sending ----------

function flushPending(roomName) {
  state.pending.forEach((p) => {
    if (p.room === roomName && p.status === 'queued') trySend(p);
  });
}

function trySend(p) {
  const room = state.rooms.get(p.room);
  clearTimeout(p.timer);
  if (!room) { dropPending(p.cid); return; }
  if (!state.connected || !room.joined) {
    p.status = 'queued';
    renderPending(p);
    return;
  }
  p.status = 'sent';
  p.attempt = (p.attempt || 0) + 1;
  const attempt = p.attempt;
  renderPending(p);
  const socket = state.socket;
  p.timer = setTimeout(() => {
    if (state.pending.get(p.cid) === p && p.attempt === attempt && state.connected) trySend(p);
  }, ACK_TIMEOUT_MS);
  socket.emit('send', { room: p.room, text: p.text, cid: p.cid }, (ack) => {
    if (ack && ack.ok && isMessage(ack.message)) {
      addMessages(ack.message.room, [ack.message], true);
      if (state.pending.get(p.cid) === p) {  // acked message has no cid echo: resolve by hand
        clearTimeout(p.timer);
        state.pending.delete(p.cid);
        removePendingEl(p.cid);
      }
      return;
    }
    if (state.pending.get(p.cid) !== p || p.attempt !== attempt) return;
    clearTimeout(p.timer);
    const next = sendFailure(ack && ack.error);
    if (next.retryMs) {
      p.status = 'queued';
      renderPending(p);
      p.timer = setTimeout(() => { trySend(p); }, next.retryMs);
    } else if (next.rejoin) {
      room.joined = false;
      p.status = 'queued';
      renderPending(p);
      joinRoom(p.room);
    } else {
      p.status = 'failed';
      p.error = next.failed;
      renderPending(p);
      if (next.mutedMinutes) {
        const m = next.mutedMinutes;
        showHint('A moderator muted you. You can write again in ' + (m === 1 ? 'a minute' : m + ' minutes') + '.', 8000);
      }
    }
  });
}

function dropPending(cid) {
  const p = state.pending.get(cid);
  if (p) clearTimeout(p.timer);
  state.pending.delete(cid);
  removePendingEl(cid);
}

function submitMessage() {
  const text = dom.input.value;
  if (!text.trim()) return;
  const tooLong = textTooLong(text);
  if (tooLong) {
    showHint(tooLong, 6000);
    return;
  }
  showHint('');
  stopTyping();
  const cid = newCid(window.crypto);
  const p = { cid, room: state.current, text, ts: Date.now(), status: 'queued', attempt: 0, timer: null };
  state.ownCids.add(cid);
  state.pending.set(cid, p);
  dom.input.value = '';
  autosize();
  renderPending(p);
  scrollToBottom();
  trySend(p);
}

// ---------- typing ----------

function onComposerInput() {
  autosize();
  if (!dom.input.value.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (state.typingRoom !== state.current || now - state.typingSentAt > TYPING_RESEND_MS) {
    if (state.typingRoom && state.typingRoom !== state.current) stopTyping();
    emitTyping(state.current, true);
    state.typingRoom = state.current;
    state.typingSentAt = now;
  }
  clearTimeout(state.typingIdle);
  state.typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingIdle);
  if (state.typingRoom) emitTyping(state.typingRoom, false);
  state.typingRoom = null;
  state.typingSentAt = 0;
}

function emitTyping(room, typing) {
  const r = state.rooms.get(room);
  if (!state.socket || !state.connected || !r || !r.joined) return;
  state.socket.emit('typing', { room, typing }, () => { /* best effort */ });
}

function onTyping(ev) {
  if (!ev || typeof ev.room !== 'string' || typeof ev.name !== 'string') return;
  const room = state.rooms.get(ev.room);
  if (!room || ev.name === state.name) return;
  const old = room.typing.get(ev.name);
  if (old !== undefined) clearTimeout(old);
  if (ev.typing) {
    room.typing.set(ev.name, setTimeout(() => {
      room.typing.delete(ev.name);
      if (ev.room === state.current) { renderTyping(); renderMembers(); }
    }, TYPING_SHOW_MS));
  } else {
    room.typing.delete(ev.name);
  }
  if (ev.room === state.current) { renderTyping(); renderMembers(); }
}

function autosize() {
  dom.input.style.height = 'auto';
  dom.input.style.height = Math.min(dom.input.scrollHeight, 160) + 'px';
}

// ---------- presence ----------

function onPresence(ev) {
  const seen = applyPresence(state, ev);
  if (!seen) return;
  const { room } = seen;
  if (room) {
    const drop = (name) => {
      const t = room.typing.get(name);
      if (t !== undefined) { clearTimeout(t); room.typing.delete(name); }
    };
    if (seen.action === 'leave') {
      drop(ev.name);
      // the same name may still be connected elsewhere: re-joining answers the true member list
      clearTimeout(room.membersRefresh);
      room.membersRefresh = setTimeout(() => {
        if (state.connected && state.rooms.get(ev.room) === room && room.joined) joinRoom(ev.room);
      }, 800);
    } else if (seen.action === 'rename' && typeof ev.old === 'string') {
      drop(ev.old);
    }
    if (ev.room === state.current) { renderMembers(); renderTyping(); }
  }
  scheduleRoomsRefresh();
}

// ---------- connection ----------

function connect() {
  if (typeof window.io !== 'function') {
    setStatus('offline', 'Client failed to load');
    return;
  }
  setStatus('connecting', 'Connecting…');
  const socket = window.io({ auth: authFor(state.name), transports: transportsFromSearch(window.location.search) });
  state.socket = socket;
  socket.on('connect', onConnect);
  socket.on('disconnect', onDisconnect);
  socket.on('connect_error', onConnectError);
  socket.on('welcome', onWelcome);
  socket.on('message', (msg) => { if (isMessage(msg)) addMessages(msg.room, [msg], true); });
  socket.on('presence', onPresence);
  socket.on('typing', onTyping);
  socket.on('edited', (ev) => onChange('edited', ev));
  socket.on('deleted', (ev) => onChange('deleted', ev));
  socket.on('reaction', (ev) => onChange('reaction', ev));
  socket.on('dm', onDm);
  socket.on('read', onRead);
  socket.on('session_expired', onSessionExpired);
  socket.on('kicked', (ev) => {
    const why = ev && typeof ev.reason === 'string' ? ' Reason: ' + ev.reason : '';
    stopWith('kicked', 'A moderator removed you from the chat.' + why + ' Reload the page to come back.');
  });
  socket.on('banned', (ev) => {
    const until = untilText(ev && ev.until);
    const why = ev && typeof ev.reason === 'string' ? ' Reason: ' + ev.reason : '';
    stopWith('banned', (until ? 'You are banned from this chat until ' + until + '.' : 'You are banned from this chat.') + why);
  });
  socket.on('muted', (ev) => {
    const until = untilText(ev && ev.until);
    const where = ev && typeof ev.room === 'string' ? ' in #' + ev.room : '';
    showHint('A moderator muted you' + where + (until ? ' until ' + until : '') + '.', 10000);
  });
  socket.on('error', (err) => {
    if (err && err.code === 'muted') {
      showHint('You are muted; you can write again in ' + Math.max(1, Math.ceil((Number(err.retry_ms) || 60000) / 60000)) + ' minutes.', 8000);
      return;
    }
    if (err && typeof err.message === 'string') showHint(err.message, 5000);
  });
}

function onConnect() {
  state.connected = true;
  state.everConnected = true;
  setStatus('connected', 'Online');
  state.rooms.forEach((room, name) => {
    room.joined = false;
    joinRoom(name);
  });
  state.pending.forEach((p) => { if (p.status !== 'failed') renderPending(p); });
  requestRooms();
  requestConversations();
  clearInterval(state.roomsTimer);
  state.roomsTimer = setInterval(requestRooms, ROOMS_POLL_MS);
}

function onDisconnect(reason) {
  state.connected = false;
  clearInterval(state.roomsTimer);
  state.typingRoom = null;
  state.rooms.forEach((room) => {
    room.joined = false;
    room.joining = false;
    room.loadingHistory = false;
    room.typing.forEach((t) => { clearTimeout(t); });
    room.typing.clear();
  });
  state.pending.forEach((p) => {
    clearTimeout(p.timer);
    if (p.status === 'sent') p.status = 'queued';
    renderPending(p);
  });
  renderTyping();
  renderMembers();
  if (state.stopped) return;  // the sentence saying why stays
  if (reason === 'io client disconnect') {
    setStatus('offline', 'Disconnected');
    return;
  }
  setStatus('reconnecting', 'Reconnecting…');
  if (reason === 'io server disconnect') {
    // the server closed this session on purpose: socket.io does not retry by itself
    const socket = state.socket;
    setTimeout(() => { if (socket === state.socket && !state.connected) socket.connect(); }, 1000);
  }
}

function onConnectError(err) {
  state.connected = false;
  const why = connectFailure(err && err.message);
  switch (why.kind) {
    case 'unauthorized':
      sessionSet(TOKEN_KEY, null);
      stopWith('unauthorized', state.token
        ? 'Your sign-in was not accepted. Open the chat again from your account page.'
        : 'This chat needs a sign-in. Open it from your account page.');
      return;
    case 'expired':
      onSessionExpired();
      return;
    case 'banned': {
      const until = untilText(why.until);
      stopWith('banned', until ? 'You are banned from this chat until ' + until + '.' : 'You are banned from this chat.');
      return;
    }
    case 'invalid_name':
      setStatus('offline', 'Choose a name');
      openNameDialog('invalid', invalidNameSentence());
      return;
    case 'name_taken':
      setStatus('offline', 'Choose a name');
      openNameDialog('invalid', 'Someone else is using that name right now. Please choose another.');
      return;
    case 'invalid_identity':
      // a token this server does not know (its data was reset): start as a new user
      storageSet(STORE.identity, null);
      if (state.socket) state.socket.auth = authFor(state.name);
      break;
    default:
      break;
  }
  setStatus('reconnecting', state.everConnected ? 'Reconnecting…' : 'Connecting…');
  const socket = state.socket;
  if (socket && socket.active === false) {
    // refused by the server rather than by the network: retry ourselves
    setTimeout(() => { if (socket === state.socket && !state.connected) socket.connect(); }, 2000);
  }
}

function onWelcome(ev) {
  if (ev && typeof ev.identity === 'string') storageSet(STORE.identity, ev.identity);
  if (ev && typeof ev.user_id === 'string' && ev.user_id !== state.uid) { state.uid = ev.user_id; renderMessages(); }
  // A welcome with an end time: the token (a JWT) named us; the name is not ours to pick.
  state.signedIn = !!(state.token && ev && typeof ev.expires_at === 'number');
  const role = ev && typeof ev.role === 'string' ? ev.role : 'user';
  if (role !== state.role) { state.role = role; renderMessages(); }
  if (ev && typeof ev.name === 'string') {
    state.name = ev.name;
    storageSet(STORE.name, ev.name);
    if (state.socket) state.socket.auth = authFor(ev.name);
    renderHeader();
    renderMembers();
  }
  if (state.signedIn && dom.dialog.open) closeNameDialog();
}

/** A sign-in token from the address (`#token=…`; moved out of it into this tab's session
 *  storage, so a reload keeps it but bookmarks and shared links do not), or from the operator's
 *  page template (`window.CHATROOM_TOKEN`). */
function readToken() {
  const fromHash = tokenFromHash(window.location.hash);
  if (fromHash) {
    state.token = fromHash;
    state.tokenFrom = 'fragment';
    sessionSet(TOKEN_KEY, state.token);
    try { window.history.replaceState(null, '', window.location.pathname + window.location.search); } catch (e) { /* ignore */ }
    return;
  }
  if (typeof window.CHATROOM_TOKEN === 'string' && window.CHATROOM_TOKEN) {
    state.token = window.CHATROOM_TOKEN;
    state.tokenFrom = 'operator';
    return;
  }
  const kept = sessionGet(TOKEN_KEY);
  if (kept) {
    state.token = kept;
    state.tokenFrom = 'fragment';
  }
}

// ---------- name dialog ----------

function openNameDialog(mode, error) {
  state.dialogMode = mode;
  dom.nameTitle.textContent = mode === 'rename' ? 'Change your name' : 'Welcome! What should we call you?';
  dom.nameSubmit.textContent = mode === 'rename' ? 'Save' : 'Start chatting';
  dom.nameCancel.hidden = mode !== 'rename';
  dom.nameInput.value = state.name || '';
  dom.nameError.textContent = error || '';
  dom.nameError.hidden = !error;
  if (!dom.dialog.open) {
    if (typeof dom.dialog.showModal === 'function') dom.dialog.showModal();
    else dom.dialog.setAttribute('open', '');
  }
  dom.nameInput.focus();
  dom.nameInput.select();
}

function closeNameDialog() {
  state.dialogMode = null;
  if (dom.dialog.open) dom.dialog.close();
  dom.input.focus();
}

function onNameSubmit(e) {
  e.preventDefault();
  const v = validName(dom.nameInput.value);
  if (v.error) {
    dom.nameError.textContent = v.error;
    dom.nameError.hidden = false;
    dom.nameInput.focus();
    return;
  }
  const mode = state.dialogMode;
  if (mode === 'rename') {
    if (!state.socket || !state.connected) {
      dom.nameError.textContent = 'Not connected right now; try again in a moment.';
      dom.nameError.hidden = false;
      return;
    }
    dom.nameSubmit.disabled = true;
    state.socket.emit('rename', { name: v.name }, (ack) => {
      dom.nameSubmit.disabled = false;
      if (ack && ack.ok) {
        state.name = typeof ack.name === 'string' ? ack.name : v.name;
        storageSet(STORE.name, state.name);
        state.socket.auth = authFor(state.name);
        closeNameDialog();
        renderAll();
      } else {
        dom.nameError.textContent = (ack && ack.error && ack.error.message) || 'That name was not accepted.';
        dom.nameError.hidden = false;
      }
    });
    return;
  }
  state.name = v.name;
  storageSet(STORE.name, v.name);
  closeNameDialog();
  renderHeader();
  if (!state.socket) {
    connect();
  } else {
    state.socket.auth = authFor(v.name);
    setStatus('connecting', 'Connecting…');
    state.socket.connect();
  }
}

// ---------- sidebar (narrow screens) ----------

function sidebarIsOverlay() { return window.matchMedia('(max-width: 760px)').matches; }

function openSidebar() {
  dom.app.dataset.sidebar = 'open';
  dom.menu.setAttribute('aria-expanded', 'true');
  dom.sidebarClose.focus();
}

function closeSidebar(keepFocus) {
  if (dom.app.dataset.sidebar !== 'open') return;
  dom.app.dataset.sidebar = 'closed';
  dom.menu.setAttribute('aria-expanded', 'false');
  if (!keepFocus && sidebarIsOverlay()) dom.menu.focus();
}

// ---------- wiring ----------

ui.actions = {
  moderate,
  openRoom,
  startDm,
  startEdit,
  editForm,
  deleteMessage,
  toggleReaction,
  jumpTo,
  searchMore,
  retry(p) { p.status = 'queued'; p.error = null; trySend(p); },
  discard: dropPending,
};

function wire() {
  dom.composer.addEventListener('submit', (e) => { e.preventDefault(); submitMessage(); dom.input.focus(); });
  dom.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitMessage();
    }
  });
  dom.input.addEventListener('input', onComposerInput);
  dom.input.addEventListener('blur', stopTyping);

  dom.joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = dom.joinInput.value.trim();
    const err = validRoomName(name);
    if (err) { showJoinError(err); dom.joinInput.focus(); return; }
    showJoinError('');
    dom.joinInput.value = '';
    openRoom(name);
    dom.input.focus();
  });
  dom.joinInput.addEventListener('input', () => { showJoinError(''); });

  dom.leave.addEventListener('click', () => { leaveRoom(state.current); dom.input.focus(); });

  dom.messages.addEventListener('scroll', () => {
    state.stick = atBottom();
    if (state.stick) { dom.jump.hidden = true; scheduleRead(state.current); }
    if (dom.messages.scrollTop < 150) loadOlder();
  }, { passive: true });
  dom.jump.addEventListener('click', () => { scrollToBottom(); dom.input.focus(); });

  dom.menu.addEventListener('click', () => {
    if (dom.app.dataset.sidebar === 'open') closeSidebar(); else openSidebar();
  });
  dom.sidebarClose.addEventListener('click', () => { closeSidebar(); });
  dom.backdrop.addEventListener('click', () => { closeSidebar(); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && dom.app.dataset.sidebar === 'open') closeSidebar();
  });
  window.matchMedia('(max-width: 760px)').addEventListener('change', () => {
    dom.app.dataset.sidebar = 'closed';
    dom.menu.setAttribute('aria-expanded', 'false');
  });
  dom.backdrop.hidden = false;

  dom.rename.addEventListener('click', () => { openNameDialog('rename'); });

  dom.searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = dom.searchInput.value.trim();
    if (!q) { closeSearch(); return; }
    runSearch(q);
  });
  dom.searchClose.addEventListener('click', () => { closeSearch(); dom.searchInput.focus(); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.search.open) closeSearch();
  });
  document.addEventListener('click', (e) => {
    // a click elsewhere closes the reaction picker
    if (!e.target.closest || !e.target.closest('.picker, .msg-action[data-act="react"]')) {
      for (const p of document.querySelectorAll('.picker')) p.remove();
    }
  });
  document.addEventListener('visibilitychange', () => { if (pageVisible()) sendRead(state.current); });
  dom.notifyButton.addEventListener('click', async () => {
    const p = await notify.askPermission();
    renderNotifyOffer();
    showHint(p === 'granted' ? 'You will get a notification when someone mentions you while this page is hidden.'
      : 'Notifications stay off. You can allow them in the browser\'s site settings.', 6000);
  });
  dom.nameForm.addEventListener('submit', onNameSubmit);
  dom.nameCancel.addEventListener('click', closeNameDialog);
  dom.dialog.addEventListener('cancel', (e) => {
    if (state.dialogMode !== 'rename') e.preventDefault();  // a name is needed to chat
    else state.dialogMode = null;
  });

  // re-render relative day labels ("Today") after midnight and keep times honest
  setInterval(() => {
    const room = state.rooms.get(state.current);
    if (room && room.messages.length && dom.messages.querySelector('.day') &&
        dom.list.dataset.day !== dayKey(Date.now())) {
      dom.list.dataset.day = dayKey(Date.now());
      renderMessages();
    }
  }, 60000);
}

function start() {
  dom.list.dataset.day = dayKey(Date.now());
  wire();
  renderAll();
  renderNotifyOffer();
  readToken();
  if (state.token) {
    // Signed in elsewhere: connect at once; the welcome tells us our name.
    const known = state.name ? validName(state.name) : { error: 'none' };
    state.name = known.error ? null : known.name;
    renderHeader();
    connect();
    dom.input.focus();
    return;
  }
  const v = state.name ? validName(state.name) : { error: 'none' };
  if (v.error) {
    state.name = null;
    setStatus('offline', 'Not connected');
    openNameDialog('first');
  } else {
    state.name = v.name;
    renderHeader();
    connect();
    dom.input.focus();
  }
}

start();
