/*
 * chatroom web page: speaks protocol v1 (docs/PROTOCOL.md) through the project's own Socket.IO client
 * served at /socket.io/socket.io.js (global `io`). Plain JS, no framework, no third-party code.
 *
 * Invariants the page keeps:
 * - every message is rendered at most once per room, keyed by its server id (`data-id`);
 * - user text only ever reaches the DOM through textContent / text nodes (never innerHTML);
 * - a message the user typed stays "pending" (keyed by its `cid`) until the server acknowledges it,
 *   and is re-sent with the same `cid` after a reconnect (the server de-duplicates by room + cid);
 * - after a reconnect every joined room is re-joined with `since` = the newest id seen there.
 */
(function () {
  'use strict';

  var MAX_TEXT = 4000;          // code points, as the server counts
  var MAX_NAME = 32;
  var MAX_ROOM = 64;
  var GROUP_MS = 5 * 60 * 1000; // consecutive messages of one sender within this are grouped
  var TYPING_RESEND_MS = 3000;  // server expires typing after 5 s: refresh before that
  var TYPING_IDLE_MS = 4000;    // stop "typing" after this long without input
  var TYPING_SHOW_MS = 6500;    // drop someone's indicator if no update arrives
  var ROOMS_POLL_MS = 10000;
  var ACK_TIMEOUT_MS = 15000;   // re-send (same cid) if a send is not acknowledged in time
  var STORE = { name: 'chatroom.name', rooms: 'chatroom.rooms', current: 'chatroom.current', identity: 'chatroom.identity' };

  // ---------- small helpers ----------

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function codePoints(s) { return Array.from(s).length; }

  function hasControl(s) { return /[\u0000-\u001f\u007f-\u009f]/.test(s); }

  function hasWhitespace(s) { return /[\s\u0085\u180e]/.test(s); }

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode or quota: the page still works without memory */ }
  }

  function newCid() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return 'w-' + hex;
  }

  function hue(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
    return h;
  }

  function avatar(name, extra) {
    var a = el('span', 'avatar' + (extra ? ' ' + extra : ''), Array.from(name || '?')[0]);
    a.style.setProperty('--hue', String(hue(name || '?')));
    a.setAttribute('aria-hidden', 'true');
    return a;
  }

  var timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
  var fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
  var dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
  var dayYearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });

  function dayKey(ts) {
    var d = new Date(ts);
    return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate();
  }

  function dayLabel(ts) {
    var d = new Date(ts);
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(ts) === dayKey(today.getTime())) return 'Today';
    if (dayKey(ts) === dayKey(yesterday.getTime())) return 'Yesterday';
    return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
  }

  // Appends `text` to `parent` as text nodes, turning http(s) URLs into links (built with DOM APIs).
  function appendText(parent, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+/g;
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]}]+$/, '');
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el('a', 'link', url);
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      parent.appendChild(a);
      last = m.index + url.length;
      re.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function isMessage(m) {
    return m && typeof m === 'object' && typeof m.id === 'number' && typeof m.room === 'string' &&
      typeof m.name === 'string' && typeof m.text === 'string' && typeof m.ts === 'number';
  }

  // ---------- state ----------

  var state = {
    socket: null,
    name: storageGet(STORE.name),
    connected: false,
    everConnected: false,
    current: 'lobby',
    rooms: new Map(),        // joined rooms by name
    directory: [],           // last `rooms` answer: [{ name, members }]
    pending: new Map(),      // cid -> { cid, room, text, ts, status: queued|sent|failed, error, timer }
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
    stopped: null            // why the server will not take us back (banned, kicked, expired…)
  };

  function newRoom(name) {
    return {
      name: name,
      messages: [],          // sorted by id
      ids: new Set(),
      members: new Set(),
      typing: new Map(),     // name -> timeout handle
      more: false,           // older messages exist on the server
      loadingHistory: false,
      joined: false,         // the join ack of the current connection arrived
      joining: false,
      baseline: 0,           // `since` to use when the room had no messages at join
      unread: 0,
      membersRefresh: null
    };
  }

  function ensureRoom(name) {
    var room = state.rooms.get(name);
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

  function lastId(room) {
    return room.messages.length ? room.messages[room.messages.length - 1].id : room.baseline;
  }

  function isOwn(msg) {
    return msg.name === state.name || (msg.cid !== undefined && state.ownCids.has(msg.cid));
  }

  // ---------- DOM references ----------

  var dom = {
    app: $('app'),
    sidebar: $('sidebar'),
    backdrop: $('backdrop'),
    menu: $('menu-button'),
    sidebarClose: $('sidebar-close'),
    joinForm: $('join-form'),
    joinInput: $('join-input'),
    joinError: $('join-error'),
    roomList: $('room-list'),
    memberList: $('member-list'),
    memberCount: $('member-count'),
    meAvatar: $('me-avatar'),
    meName: $('me-name'),
    rename: $('rename-button'),
    roomName: $('room-name'),
    roomSub: $('room-sub'),
    status: $('status'),
    statusText: $('status-text'),
    leave: $('leave-button'),
    messages: $('messages'),
    list: $('message-list'),
    historyMarker: $('history-marker'),
    jump: $('jump-button'),
    typing: $('typing'),
    hint: $('composer-hint'),
    composer: $('composer'),
    input: $('composer-input'),
    announcer: $('announcer'),
    dialog: $('name-dialog'),
    nameForm: $('name-form'),
    nameInput: $('name-input'),
    nameError: $('name-error'),
    nameTitle: $('name-dialog-title'),
    nameSub: $('name-dialog-sub'),
    nameCancel: $('name-cancel'),
    nameSubmit: $('name-submit')
  };

  // ---------- status ----------

  function setStatus(kind, text) {
    dom.status.dataset.state = kind;
    dom.statusText.textContent = text;
    dom.status.title = text;
    document.body.dataset.connection = kind;
  }

  var hintTimer = null;
  function showHint(text, ms) {
    clearTimeout(hintTimer);
    dom.hint.textContent = text;
    dom.hint.hidden = !text;
    if (text && ms) hintTimer = setTimeout(function () { dom.hint.hidden = true; }, ms);
  }

  function announce(text) {
    var p = el('p', null, text);
    dom.announcer.appendChild(p);
    while (dom.announcer.childNodes.length > 5) dom.announcer.removeChild(dom.announcer.firstChild);
  }

  // ---------- rendering: messages ----------

  function atBottom() {
    var m = dom.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
  }

  function scrollToBottom() {
    dom.messages.scrollTop = dom.messages.scrollHeight;
    state.stick = true;
    dom.jump.hidden = true;
  }

  function messageItem(msg, prev) {
    var own = isOwn(msg);
    var cont = prev && prev.name === msg.name && msg.ts - prev.ts < GROUP_MS && msg.ts >= prev.ts &&
      dayKey(prev.ts) === dayKey(msg.ts);
    var li = el('li', 'msg' + (own ? ' own' : '') + (cont ? ' cont' : ''));
    li.dataset.id = String(msg.id);
    li.dataset.name = msg.name;
    if (!own) li.appendChild(avatar(msg.name));
    var head = el('div', 'msg-head');
    head.appendChild(el('span', 'msg-name', own ? msg.name + ' (you)' : msg.name));
    var time = el('time', 'msg-time', timeFmt.format(new Date(msg.ts)));
    time.dateTime = new Date(msg.ts).toISOString();
    time.title = fullFmt.format(new Date(msg.ts));
    head.appendChild(time);
    li.appendChild(head);
    var bubble = el('div', 'bubble' + (msg.deleted ? ' deleted' : ''));
    if (msg.deleted) {
      bubble.textContent = 'This message was deleted by a moderator.';
      li.classList.add('tombstone');
    } else {
      appendText(bubble, msg.text);
    }
    bubble.title = time.title;
    li.appendChild(bubble);
    if (canModerate() && !msg.deleted) {
      var del = el('button', 'msg-delete', 'Delete');
      del.type = 'button';
      del.setAttribute('aria-label', 'Delete this message by ' + msg.name);
      del.addEventListener('click', function () { moderate('delete', { id: msg.id }, 'Message deleted.'); });
      head.appendChild(del);
    }
    return li;
  }

  // ---------- moderation ----------

  function canModerate() { return state.role === 'moderator' || state.role === 'admin'; }

  /** Sends a moderator action; shows its outcome as a sentence. */
  function moderate(event, payload, done) {
    if (!state.socket || !state.connected) { showHint('Not connected right now; try again in a moment.', 5000); return; }
    state.socket.emit(event, payload, function (ack) {
      if (ack && ack.ok) { showHint(done, 4000); announce(done); return; }
      var err = (ack && ack.error) || { code: 'error', message: 'no answer' };
      showHint(err.code === 'forbidden' ? 'You are not allowed to do that.' : (err.message || err.code), 6000);
    });
  }

  /** A deleted message: its room shows the tombstone instead of the text. */
  function onDeleted(ev) {
    if (!ev || typeof ev.id !== 'number' || typeof ev.room !== 'string') return;
    var room = state.rooms.get(ev.room);
    if (!room) return;
    for (var i = 0; i < room.messages.length; i++) {
      if (room.messages[i].id === ev.id) {
        room.messages[i] = Object.assign({}, room.messages[i], { text: '', deleted: true });
        if (ev.room === state.current) renderMessages();
        return;
      }
    }
  }

  function untilText(ms) {
    return typeof ms === 'number' ? fullFmt.format(new Date(ms)) : null;
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
    var sentence = 'Your session has expired. Sign in again to continue.';
    if (state.tokenFrom === 'operator' && !recentlyReloaded()) {
      stopWith('expired', 'Your session has expired. Getting a fresh sign-in…');
      sessionSet('chatroom.reloadedAt', String(Date.now()));
      window.location.reload();
      return;
    }
    stopWith('expired', sentence);
  }

  function recentlyReloaded() {
    var at = 0;
    at = Number(sessionGet('chatroom.reloadedAt')) || 0;
    return Date.now() - at < 30000;
  }

  function dayItem(ts) {
    var li = el('li', 'day');
    li.setAttribute('role', 'separator');
    li.appendChild(el('span', null, dayLabel(ts)));
    return li;
  }

  function pendingItem(p) {
    var li = el('li', 'msg own pending' + (p.status === 'failed' ? ' failed' : ''));
    li.dataset.cid = p.cid;
    var bubble = el('div', 'bubble');
    appendText(bubble, p.text);
    li.appendChild(bubble);
    var st = el('div', 'msg-state');
    if (p.status === 'failed') {
      st.appendChild(document.createTextNode('Not sent: ' + (p.error || 'error')));
      var retry = el('button', null, 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', function () { p.status = 'queued'; p.error = null; trySend(p); });
      var discard = el('button', null, 'Discard');
      discard.type = 'button';
      discard.addEventListener('click', function () { dropPending(p.cid); });
      st.appendChild(retry);
      st.appendChild(discard);
    } else {
      st.textContent = state.connected ? 'Sending…' : 'Waiting for connection…';
    }
    li.appendChild(st);
    return li;
  }

  function firstPendingEl() {
    return dom.list.querySelector('li.pending');
  }

  function renderHistoryMarker() {
    var room = state.rooms.get(state.current);
    if (!room || !room.joined && !room.messages.length) { dom.historyMarker.textContent = ''; return; }
    if (room.loadingHistory) dom.historyMarker.textContent = 'Loading earlier messages…';
    else if (room.more) dom.historyMarker.textContent = 'Scroll up for earlier messages';
    else dom.historyMarker.textContent = 'This is the beginning of #' + room.name + '.';
  }

  // Rebuilds the whole list; keeps the distance from the bottom unless pinned to the newest message.
  function renderMessages() {
    var room = state.rooms.get(state.current);
    var box = dom.messages;
    var fromBottom = box.scrollHeight - box.scrollTop;
    var frag = document.createDocumentFragment();
    var prev = null;
    if (room) {
      for (var i = 0; i < room.messages.length; i++) {
        var msg = room.messages[i];
        if (!prev || dayKey(prev.ts) !== dayKey(msg.ts)) frag.appendChild(dayItem(msg.ts));
        frag.appendChild(messageItem(msg, prev));
        prev = msg;
      }
      state.pending.forEach(function (p) {
        if (p.room === room.name) frag.appendChild(pendingItem(p));
      });
    }
    state.lastRendered = prev;
    dom.list.replaceChildren(frag);
    renderHistoryMarker();
    if (state.stick) scrollToBottom();
    else box.scrollTop = box.scrollHeight - fromBottom;
  }

  function appendRendered(msg) {
    var prev = state.lastRendered;
    var before = firstPendingEl();
    if (!prev || dayKey(prev.ts) !== dayKey(msg.ts)) dom.list.insertBefore(dayItem(msg.ts), before);
    dom.list.insertBefore(messageItem(msg, prev), before);
    state.lastRendered = msg;
  }

  function renderPending(p) {
    if (p.room !== state.current) return;
    var old = dom.list.querySelector('li.pending[data-cid="' + p.cid + '"]');
    var li = pendingItem(p);
    if (old) old.replaceWith(li);
    else dom.list.appendChild(li);
  }

  function removePendingEl(cid) {
    var old = dom.list.querySelector('li.pending[data-cid="' + cid + '"]');
    if (old) old.remove();
  }

  // Merges messages into a room. `live`: they arrive now (announce, count unread).
  function addMessages(roomName, msgs, live) {
    var room = state.rooms.get(roomName);
    if (!room || !Array.isArray(msgs)) return;
    var added = [];
    var prevLast = room.messages.length ? room.messages[room.messages.length - 1].id : -Infinity;
    var inOrder = true;
    for (var i = 0; i < msgs.length; i++) {
      var msg = msgs[i];
      if (!isMessage(msg) || msg.room !== roomName) continue;
      if (msg.id > state.maxSeenId) state.maxSeenId = msg.id;
      if (msg.cid !== undefined && state.pending.has(msg.cid) && state.pending.get(msg.cid).room === roomName) {
        clearTimeout(state.pending.get(msg.cid).timer);
        state.pending.delete(msg.cid);
        if (roomName === state.current) removePendingEl(msg.cid);
      }
      if (room.ids.has(msg.id)) continue;
      room.ids.add(msg.id);
      var arr = room.messages;
      if (!arr.length || arr[arr.length - 1].id < msg.id) {
        arr.push(msg);
      } else {
        var lo = 0, hi = arr.length;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid].id < msg.id) lo = mid + 1; else hi = mid; }
        arr.splice(lo, 0, msg);
      }
      if (msg.id < prevLast) inOrder = false;
      added.push(msg);
      var t = room.typing.get(msg.name);
      if (t !== undefined) { clearTimeout(t); room.typing.delete(msg.name); }
    }
    if (!added.length) return;

    if (roomName === state.current) {
      var wasBottom = state.stick || atBottom();
      if (inOrder) {
        added.sort(function (a, b) { return a.id - b.id; });
        added.forEach(appendRendered);
      } else {
        renderMessages();
      }
      renderHistoryMarker();
      var ownNew = added.some(isOwn);
      if (live && (wasBottom || ownNew)) scrollToBottom();
      else if (live && added.length) dom.jump.hidden = false;
      if (live) {
        var others = added.filter(function (m) { return !isOwn(m); });
        if (others.length > 3) announce(others.length + ' new messages in #' + roomName);
        else others.forEach(function (m) { announce(m.name + ': ' + m.text); });
      }
      renderTyping();
    } else if (live) {
      var count = added.filter(function (m) { return !isOwn(m); }).length;
      if (count) { room.unread += count; renderRooms(); }
    }
  }

  // ---------- rendering: sidebar, header, typing ----------

  function renderRooms() {
    var names = new Map();
    state.directory.forEach(function (r) {
      if (r && typeof r.name === 'string') names.set(r.name, typeof r.members === 'number' ? r.members : null);
    });
    state.rooms.forEach(function (_, name) { if (!names.has(name)) names.set(name, null); });
    var sorted = Array.from(names.keys()).sort(function (a, b) {
      if (a === 'lobby') return -1;
      if (b === 'lobby') return 1;
      return a.localeCompare(b);
    });
    var frag = document.createDocumentFragment();
    sorted.forEach(function (name) {
      var room = state.rooms.get(name);
      var li = el('li');
      var b = el('button', 'room-item' + (room ? '' : ' not-joined'));
      b.type = 'button';
      b.dataset.room = name;
      if (name === state.current) b.setAttribute('aria-current', 'true');
      b.appendChild(el('span', 'hash', '#'));
      b.appendChild(el('span', 'room-label', name));
      var label = name;
      if (room && room.unread) {
        b.appendChild(el('span', 'unread', room.unread > 99 ? '99+' : room.unread));
        label += ', ' + room.unread + ' unread';
      }
      var n = names.get(name);
      if (n !== null) {
        var c = el('span', 'room-count', n);
        c.title = n + (n === 1 ? ' person here' : ' people here');
        b.appendChild(c);
        label += ', ' + n + ' online';
      }
      if (!room) label += ', not joined';
      b.setAttribute('aria-label', label);
      b.addEventListener('click', function () { openRoom(name); });
      li.appendChild(b);
      frag.appendChild(li);
    });
    dom.roomList.replaceChildren(frag);
  }

  function renderMembers() {
    var room = state.rooms.get(state.current);
    var names = room ? Array.from(room.members).sort(function (a, b) { return a.localeCompare(b); }) : [];
    // a crowded room lists only some names; the server's count is the whole room
    var total = room && typeof room.count === 'number' && room.count > names.length ? room.count : names.length;
    var frag = document.createDocumentFragment();
    names.forEach(function (name) {
      var li = el('li', 'member');
      li.dataset.name = name;
      li.appendChild(avatar(name, 'small'));
      li.appendChild(el('span', 'member-name', name));
      if (name === state.name) li.appendChild(el('span', 'you', 'you'));
      else if (room.typing.has(name)) li.appendChild(el('span', 'typing-dot', 'typing…'));
      if (canModerate() && name !== state.name) li.appendChild(memberActions(name, room.name));
      frag.appendChild(li);
    });
    if (total > names.length) frag.appendChild(el('li', 'member member-more', 'and ' + (total - names.length) + ' more'));
    dom.memberList.replaceChildren(frag);
    dom.memberCount.textContent = total ? '· ' + total : '';
    dom.roomSub.textContent = total === 1 ? '1 member' : total + ' members';
  }

  function memberActions(name, roomName) {
    var box = el('span', 'member-actions');
    [
      ['Mute', 'mute', { name: name, room: roomName, minutes: 10 }, name + ' is muted in #' + roomName + ' for 10 minutes.'],
      ['Kick', 'kick', { name: name }, name + ' was removed from the chat.'],
      ['Ban', 'ban', { name: name, minutes: 60 }, name + ' is banned for an hour.']
    ].forEach(function (a) {
      var b = el('button', 'member-action', a[0]);
      b.type = 'button';
      b.dataset.action = a[1];
      b.setAttribute('aria-label', a[0] + ' ' + name);
      b.addEventListener('click', function () { moderate(a[1], a[2], a[3]); });
      box.appendChild(b);
    });
    return box;
  }

  function renderTyping() {
    var room = state.rooms.get(state.current);
    var names = room ? Array.from(room.typing.keys()).filter(function (n) { return n !== state.name; }) : [];
    var text = '';
    if (names.length === 1) text = names[0] + ' is typing…';
    else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
    else if (names.length > 2) text = names.length + ' people are typing…';
    if (dom.typing.textContent !== text) dom.typing.textContent = text;
  }

  function renderHeader() {
    dom.roomName.textContent = state.current;
    dom.input.placeholder = 'Message #' + state.current;
    dom.leave.hidden = state.current === 'lobby';
    dom.meName.textContent = state.name || '';
    dom.rename.hidden = state.signedIn || !!state.stopped;
    document.body.dataset.role = state.role;
    dom.meAvatar.textContent = Array.from(state.name || '?')[0];
    dom.meAvatar.style.setProperty('--hue', String(hue(state.name || '?')));
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
    state.socket.emit('rooms', {}, function (ack) {
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
    var room = ensureRoom(name);
    if (!state.socket || !state.connected) return;
    var req = { room: name };
    if (since === undefined) since = lastId(room);
    if (since) req.since = since;
    room.joining = true;
    var socket = state.socket;
    socket.emit('join', req, function (ack) {
      if (socket !== state.socket || !state.rooms.has(name)) return;
      room.joining = false;
      if (!ack || !ack.ok) {
        var msg = ack && ack.error && ack.error.message ? ack.error.message : 'could not join';
        if (!room.joined && !room.messages.length && name !== 'lobby') {
          state.rooms.delete(name);
          saveRooms();
          if (state.current === name) switchRoom('lobby');
          else renderRooms();
          showJoinError('Cannot join #' + name + ': ' + msg);
        } else {
          showHint('Cannot join #' + name + ': ' + msg, 5000);
          if (ack && ack.error && ack.error.code === 'unavailable') {
            setTimeout(function () { if (state.connected) joinRoom(name); }, 2000);
          }
        }
        return;
      }
      var first = !room.joined;
      room.joined = true;
      room.count = typeof ack.count === 'number' ? ack.count : undefined;
      if (Array.isArray(ack.members)) {
        room.members = new Set(ack.members.filter(function (n) { return typeof n === 'string'; }));
      }
      if (req.since === undefined) room.more = !!ack.more;
      var hadMessages = room.messages.length > 0;
      addMessages(name, ack.messages || [], hadMessages || req.since !== undefined);
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
    if (state.current !== name) stopTyping();
    state.current = name;
    var room = state.rooms.get(name);
    if (room) room.unread = 0;
    state.stick = true;
    dom.jump.hidden = true;
    saveRooms();
    renderAll();
    fillScreen();
  }

  function leaveRoom(name) {
    if (name === 'lobby') return;
    var room = state.rooms.get(name);
    if (!room) return;
    stopTyping();
    state.rooms.delete(name);
    state.pending.forEach(function (p, cid) { if (p.room === name) { clearTimeout(p.timer); state.pending.delete(cid); } });
    saveRooms();
    if (state.socket && state.connected) {
      state.socket.emit('leave', { room: name }, function () { scheduleRoomsRefresh(); });
    }
    switchRoom('lobby');
  }

  function showJoinError(text) {
    dom.joinError.textContent = text;
    dom.joinError.hidden = !text;
  }

  function validRoomName(name) {
    var n = codePoints(name);
    if (n < 1) return 'Type a room name.';
    if (n > MAX_ROOM) return 'Room names are at most ' + MAX_ROOM + ' characters.';
    if (hasWhitespace(name) || hasControl(name)) return 'Room names cannot contain spaces.';
    return null;
  }

  // ---------- history ----------

  function loadOlder() {
    var room = state.rooms.get(state.current);
    if (!room || !room.more || room.loadingHistory || !room.joined || !state.connected) return;
    room.loadingHistory = true;
    renderHistoryMarker();
    var req = { room: room.name, limit: 50 };
    if (room.messages.length) req.before = room.messages[0].id;
    var socket = state.socket;
    socket.emit('history', req, function (ack) {
      room.loadingHistory = false;
      if (socket !== state.socket) return;
      if (!ack || !ack.ok) {
        renderHistoryMarker();
        return;
      }
      room.more = !!ack.more;
      var stick = state.stick;
      state.stick = false;
      addMessages(room.name, ack.messages || [], false);
      state.stick = stick && atBottom();
      renderHistoryMarker();
      fillScreen();
    });
  }

  // If the list does not fill the view there is nothing to scroll: fetch older pages now.
  function fillScreen() {
    var room = state.rooms.get(state.current);
    if (!room || !room.more) return;
    requestAnimationFrame(function () {
      if (dom.messages.scrollHeight <= dom.messages.clientHeight + 40) loadOlder();
    });
  }

  // ---------- sending ----------

  function flushPending(roomName) {
    state.pending.forEach(function (p) {
      if (p.room === roomName && p.status === 'queued') trySend(p);
    });
  }

  function trySend(p) {
    var room = state.rooms.get(p.room);
    clearTimeout(p.timer);
    if (!room) { dropPending(p.cid); return; }
    if (!state.connected || !room.joined) {
      p.status = 'queued';
      renderPending(p);
      return;
    }
    p.status = 'sent';
    p.attempt = (p.attempt || 0) + 1;
    var attempt = p.attempt;
    renderPending(p);
    var socket = state.socket;
    p.timer = setTimeout(function () {
      if (state.pending.get(p.cid) === p && p.attempt === attempt && state.connected) trySend(p);
    }, ACK_TIMEOUT_MS);
    socket.emit('send', { room: p.room, text: p.text, cid: p.cid }, function (ack) {
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
      var err = (ack && ack.error) || { code: 'bad_request', message: 'no answer' };
      if (err.code === 'rate_limited') {
        p.status = 'queued';
        renderPending(p);
        p.timer = setTimeout(function () { trySend(p); }, Math.max(50, Number(err.retry_ms) || 500));
      } else if (err.code === 'unavailable') {
        p.status = 'queued';
        renderPending(p);
        p.timer = setTimeout(function () { trySend(p); }, 2000);
      } else if (err.code === 'muted') {
        p.status = 'failed';
        var minutes = Math.max(1, Math.ceil((Number(err.retry_ms) || 60000) / 60000));
        p.error = 'you are muted for ' + (minutes === 1 ? 'another minute' : minutes + ' more minutes');
        renderPending(p);
        showHint('A moderator muted you. You can write again in ' + (minutes === 1 ? 'a minute' : minutes + ' minutes') + '.', 8000);
      } else if (err.code === 'not_in_room') {
        room.joined = false;
        p.status = 'queued';
        renderPending(p);
        joinRoom(p.room);
      } else {
        p.status = 'failed';
        p.error = err.message || err.code;
        renderPending(p);
      }
    });
  }

  function dropPending(cid) {
    var p = state.pending.get(cid);
    if (p) clearTimeout(p.timer);
    state.pending.delete(cid);
    removePendingEl(cid);
  }

  function submitMessage() {
    var text = dom.input.value;
    if (!text.trim()) return;
    var n = codePoints(text);
    if (n > MAX_TEXT) {
      showHint('This message is ' + n + ' characters long; the limit is ' + MAX_TEXT + '.', 6000);
      return;
    }
    showHint('');
    stopTyping();
    var cid = newCid();
    var p = { cid: cid, room: state.current, text: text, ts: Date.now(), status: 'queued', attempt: 0, timer: null };
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
    var now = Date.now();
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
    var r = state.rooms.get(room);
    if (!state.socket || !state.connected || !r || !r.joined) return;
    state.socket.emit('typing', { room: room, typing: typing }, function () { /* best effort */ });
  }

  function onTyping(ev) {
    if (!ev || typeof ev.room !== 'string' || typeof ev.name !== 'string') return;
    var room = state.rooms.get(ev.room);
    if (!room || ev.name === state.name) return;
    var old = room.typing.get(ev.name);
    if (old !== undefined) clearTimeout(old);
    if (ev.typing) {
      room.typing.set(ev.name, setTimeout(function () {
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
    if (!ev || typeof ev.room !== 'string') return;
    var room = state.rooms.get(ev.room);
    if (ev.action === 'count') {
      // a crowded room: its size instead of each join and leave
      if (room && typeof ev.count === 'number') {
        room.count = ev.count;
        if (ev.room === state.current) renderMembers();
      }
      scheduleRoomsRefresh();
      return;
    }
    if (typeof ev.name !== 'string') return;
    if (room) {
      if (ev.action === 'join') {
        room.members.add(ev.name);
      } else if (ev.action === 'leave') {
        room.members.delete(ev.name);
        var t = room.typing.get(ev.name);
        if (t !== undefined) { clearTimeout(t); room.typing.delete(ev.name); }
        // the same name may still be connected elsewhere: re-joining answers the true member list
        clearTimeout(room.membersRefresh);
        room.membersRefresh = setTimeout(function () {
          if (state.connected && state.rooms.get(ev.room) === room && room.joined) joinRoom(ev.room);
        }, 800);
      } else if (ev.action === 'rename' && typeof ev.old === 'string') {
        room.members.delete(ev.old);
        room.members.add(ev.name);
        var tt = room.typing.get(ev.old);
        if (tt !== undefined) { clearTimeout(tt); room.typing.delete(ev.old); }
      }
      if (ev.room === state.current) { renderMembers(); renderTyping(); }
    }
    scheduleRoomsRefresh();
  }

  // ---------- connection ----------

  /**
   * `?transport=polling` or `?transport=websocket` in the page's URL pins the client to one
   * transport (checking a proxy's sticky routing or WebSocket support, docs/DEPLOY.md); without
   * it (or with another value) the client's default applies: WebSocket, long-polling if that fails.
   */
  function transportsFromUrl() {
    var wanted = null;
    try { wanted = new URLSearchParams(window.location.search).get('transport'); } catch (e) { /* old browser */ }
    if (wanted === 'polling' || wanted === 'websocket') return [wanted];
    return undefined;
  }

  function connect() {
    if (typeof window.io !== 'function') {
      setStatus('offline', 'Client failed to load');
      return;
    }
    setStatus('connecting', 'Connecting…');
    var socket = window.io({ auth: authFor(state.name), transports: transportsFromUrl() });
    state.socket = socket;
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', onConnectError);
    socket.on('welcome', onWelcome);
    socket.on('message', function (msg) { if (isMessage(msg)) addMessages(msg.room, [msg], true); });
    socket.on('presence', onPresence);
    socket.on('typing', onTyping);
    socket.on('deleted', onDeleted);
    socket.on('session_expired', onSessionExpired);
    socket.on('kicked', function (ev) {
      var why = ev && typeof ev.reason === 'string' ? ' Reason: ' + ev.reason : '';
      stopWith('kicked', 'A moderator removed you from the chat.' + why + ' Reload the page to come back.');
    });
    socket.on('banned', function (ev) {
      var until = untilText(ev && ev.until);
      var why = ev && typeof ev.reason === 'string' ? ' Reason: ' + ev.reason : '';
      stopWith('banned', (until ? 'You are banned from this chat until ' + until + '.' : 'You are banned from this chat.') + why);
    });
    socket.on('muted', function (ev) {
      var until = untilText(ev && ev.until);
      var where = ev && typeof ev.room === 'string' ? ' in #' + ev.room : '';
      showHint('A moderator muted you' + where + (until ? ' until ' + until : '') + '.', 10000);
    });
    socket.on('error', function (err) {
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
    state.rooms.forEach(function (room, name) {
      room.joined = false;
      joinRoom(name);
    });
    state.pending.forEach(function (p) { if (p.status !== 'failed') renderPending(p); });
    requestRooms();
    clearInterval(state.roomsTimer);
    state.roomsTimer = setInterval(requestRooms, ROOMS_POLL_MS);
  }

  function onDisconnect(reason) {
    state.connected = false;
    clearInterval(state.roomsTimer);
    state.typingRoom = null;
    state.rooms.forEach(function (room) {
      room.joined = false;
      room.joining = false;
      room.loadingHistory = false;
      room.typing.forEach(function (t) { clearTimeout(t); });
      room.typing.clear();
    });
    state.pending.forEach(function (p) {
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
      var socket = state.socket;
      setTimeout(function () { if (socket === state.socket && !state.connected) socket.connect(); }, 1000);
    }
  }

  function onConnectError(err) {
    state.connected = false;
    var msg = err && err.message;
    if (msg === 'unauthorized') {
      sessionSet(TOKEN_KEY, null);
      stopWith('unauthorized', state.token
        ? 'Your sign-in was not accepted. Open the chat again from your account page.'
        : 'This chat needs a sign-in. Open it from your account page.');
      return;
    }
    if (msg === 'token_expired') {
      onSessionExpired();
      return;
    }
    if (typeof msg === 'string' && (msg === 'banned' || msg.indexOf('banned until ') === 0)) {
      var until = msg === 'banned' ? null : untilText(Date.parse(msg.slice('banned until '.length)));
      stopWith('banned', until ? 'You are banned from this chat until ' + until + '.' : 'You are banned from this chat.');
      return;
    }
    if (msg === 'invalid_name') {
      setStatus('offline', 'Choose a name');
      openNameDialog('invalid', 'That name was not accepted. Use 1–32 characters, no control or invisible characters.');
      return;
    }
    if (msg === 'name_taken') {
      setStatus('offline', 'Choose a name');
      openNameDialog('invalid', 'Someone else is using that name right now. Please choose another.');
      return;
    }
    if (msg === 'invalid_identity') {
      // a token this server does not know (its data was reset): start as a new user
      storageSet(STORE.identity, null);
      if (state.socket) state.socket.auth = authFor(state.name);
    }
    setStatus('reconnecting', state.everConnected ? 'Reconnecting…' : 'Connecting…');
    var socket = state.socket;
    if (socket && socket.active === false) {
      // refused by the server rather than by the network: retry ourselves
      setTimeout(function () { if (socket === state.socket && !state.connected) socket.connect(); }, 2000);
    }
  }

  /** The handshake auth: the name, and the identity token that keeps us the same user. */
  function authFor(name) {
    var auth = {};
    if (state.token) auth.token = state.token;
    if (state.signedIn || !name) return auth;  // a JWT names us; without a name the server decides
    auth.name = name;
    var identity = storageGet(STORE.identity);
    if (identity) auth.identity = identity;
    return auth;
  }

  function onWelcome(ev) {
    if (ev && typeof ev.identity === 'string') storageSet(STORE.identity, ev.identity);
    // A welcome with an end time: the token (a JWT) named us; the name is not ours to pick.
    state.signedIn = !!(state.token && ev && typeof ev.expires_at === 'number');
    var role = ev && typeof ev.role === 'string' ? ev.role : 'user';
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
    var m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || '');
    if (m) {
      state.token = decodeURIComponent(m[1]);
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
    var kept = sessionGet(TOKEN_KEY);
    if (kept) {
      state.token = kept;
      state.tokenFrom = 'fragment';
    }
  }

  var TOKEN_KEY = 'chatroom.token';

  function sessionGet(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }

  function sessionSet(key, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (e) { /* private mode: the token lasts as long as the page */ }
  }

  // ---------- name dialog ----------

  function validName(raw) {
    var name = raw.trim();
    var n = codePoints(name);
    if (n < 1) return { error: 'Please enter a name.' };
    if (n > MAX_NAME) return { error: 'Names are at most ' + MAX_NAME + ' characters.' };
    if (hasControl(name)) return { error: 'Names cannot contain control characters.' };
    return { name: name };
  }

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
    var v = validName(dom.nameInput.value);
    if (v.error) {
      dom.nameError.textContent = v.error;
      dom.nameError.hidden = false;
      dom.nameInput.focus();
      return;
    }
    var mode = state.dialogMode;
    if (mode === 'rename') {
      if (!state.socket || !state.connected) {
        dom.nameError.textContent = 'Not connected right now; try again in a moment.';
        dom.nameError.hidden = false;
        return;
      }
      dom.nameSubmit.disabled = true;
      state.socket.emit('rename', { name: v.name }, function (ack) {
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

  function wire() {
    dom.composer.addEventListener('submit', function (e) { e.preventDefault(); submitMessage(); dom.input.focus(); });
    dom.input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitMessage();
      }
    });
    dom.input.addEventListener('input', onComposerInput);
    dom.input.addEventListener('blur', stopTyping);

    dom.joinForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var name = dom.joinInput.value.trim();
      var err = validRoomName(name);
      if (err) { showJoinError(err); dom.joinInput.focus(); return; }
      showJoinError('');
      dom.joinInput.value = '';
      openRoom(name);
      dom.input.focus();
    });
    dom.joinInput.addEventListener('input', function () { showJoinError(''); });

    dom.leave.addEventListener('click', function () { leaveRoom(state.current); dom.input.focus(); });

    dom.messages.addEventListener('scroll', function () {
      state.stick = atBottom();
      if (state.stick) dom.jump.hidden = true;
      if (dom.messages.scrollTop < 150) loadOlder();
    }, { passive: true });
    dom.jump.addEventListener('click', function () { scrollToBottom(); dom.input.focus(); });

    dom.menu.addEventListener('click', function () {
      if (dom.app.dataset.sidebar === 'open') closeSidebar(); else openSidebar();
    });
    dom.sidebarClose.addEventListener('click', function () { closeSidebar(); });
    dom.backdrop.addEventListener('click', function () { closeSidebar(); });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && dom.app.dataset.sidebar === 'open') closeSidebar();
    });
    window.matchMedia('(max-width: 760px)').addEventListener('change', function () {
      dom.app.dataset.sidebar = 'closed';
      dom.menu.setAttribute('aria-expanded', 'false');
    });
    dom.backdrop.hidden = false;

    dom.rename.addEventListener('click', function () { openNameDialog('rename'); });
    dom.nameForm.addEventListener('submit', onNameSubmit);
    dom.nameCancel.addEventListener('click', closeNameDialog);
    dom.dialog.addEventListener('cancel', function (e) {
      if (state.dialogMode !== 'rename') e.preventDefault();  // a name is needed to chat
      else state.dialogMode = null;
    });

    // re-render relative day labels ("Today") after midnight and keep times honest
    setInterval(function () {
      var room = state.rooms.get(state.current);
      if (room && room.messages.length && dom.messages.querySelector('.day') &&
          dom.list.dataset.day !== dayKey(Date.now())) {
        dom.list.dataset.day = dayKey(Date.now());
        renderMessages();
      }
    }, 60000);
  }

  function start() {
    var saved = [];
    try { saved = JSON.parse(storageGet(STORE.rooms) || '[]'); } catch (e) { saved = []; }
    state.rooms.set('lobby', newRoom('lobby'));
    if (Array.isArray(saved)) {
      saved.forEach(function (n) {
        if (typeof n === 'string' && !validRoomName(n) && !state.rooms.has(n)) state.rooms.set(n, newRoom(n));
      });
    }
    var cur = storageGet(STORE.current);
    state.current = cur && state.rooms.has(cur) ? cur : 'lobby';
    dom.list.dataset.day = dayKey(Date.now());
    wire();
    renderAll();
    readToken();
    if (state.token) {
      // Signed in elsewhere: connect at once; the welcome tells us our name.
      var known = state.name ? validName(state.name) : { error: 'none' };
      state.name = known.error ? null : known.name;
      renderHeader();
      connect();
      dom.input.focus();
      return;
    }
    var v = state.name ? validName(state.name) : { error: 'none' };
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
})();
