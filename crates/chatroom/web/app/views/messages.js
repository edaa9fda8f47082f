/*
 * The message list of the current room: day separators, grouped messages, pending (unsent)
 * messages at the end, the history marker, and keeping the scroll position honest.
 */
import { ui, el, button, avatar, timeFmt, fullFmt, dayLabel } from './dom.js';
import { dayKey } from '../util.js';
import { isOwn, canModerate } from '../state.js';
import { segments } from '../text.js';

const GROUP_MS = 5 * 60 * 1000; // consecutive messages of one sender within this are grouped

/** Appends `text` to `parent` as text nodes and safe links (built with DOM APIs). */
export function appendText(parent, text) {
  for (const seg of segments(text, ui.state.name)) {
    if (seg.kind === 'link') {
      const a = el('a', 'link', seg.text);
      a.href = seg.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      parent.appendChild(a);
    } else if (seg.kind === 'mention') {
      parent.appendChild(el('mark', 'mention', seg.text));
    } else {
      parent.appendChild(document.createTextNode(seg.text));
    }
  }
}

export function atBottom() {
  const m = ui.dom.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}

export function scrollToBottom() {
  const { dom, state } = ui;
  dom.messages.scrollTop = dom.messages.scrollHeight;
  state.stick = true;
  dom.jump.hidden = true;
}

export function messageItem(msg, prev) {
  const { state, actions } = ui;
  const own = isOwn(state, msg);
  const cont = prev && prev.name === msg.name && msg.ts - prev.ts < GROUP_MS && msg.ts >= prev.ts &&
    dayKey(prev.ts) === dayKey(msg.ts);
  const li = el('li', 'msg' + (own ? ' own' : '') + (cont ? ' cont' : ''));
  li.dataset.id = String(msg.id);
  li.dataset.name = msg.name;
  if (!own) li.appendChild(avatar(msg.name));
  const head = el('div', 'msg-head');
  head.appendChild(el('span', 'msg-name', own ? msg.name + ' (you)' : msg.name));
  const time = el('time', 'msg-time', timeFmt.format(new Date(msg.ts)));
  time.dateTime = new Date(msg.ts).toISOString();
  time.title = fullFmt.format(new Date(msg.ts));
  head.appendChild(time);
  li.appendChild(head);
  const bubble = el('div', 'bubble' + (msg.deleted ? ' deleted' : ''));
  if (msg.deleted) {
    bubble.textContent = 'This message was deleted by a moderator.';
    li.classList.add('tombstone');
  } else {
    appendText(bubble, msg.text);
  }
  bubble.title = time.title;
  li.appendChild(bubble);
  if (canModerate(state) && !msg.deleted) {
    head.appendChild(button('msg-delete', 'Delete',
      () => actions.moderate('delete', { id: msg.id }, 'Message deleted.'),
      'Delete this message by ' + msg.name));
  }
  return li;
}

function dayItem(ts) {
  const li = el('li', 'day');
  li.setAttribute('role', 'separator');
  li.appendChild(el('span', null, dayLabel(ts)));
  return li;
}

function pendingItem(p) {
  const { state, actions } = ui;
  const li = el('li', 'msg own pending' + (p.status === 'failed' ? ' failed' : ''));
  li.dataset.cid = p.cid;
  const bubble = el('div', 'bubble');
  appendText(bubble, p.text);
  li.appendChild(bubble);
  const st = el('div', 'msg-state');
  if (p.status === 'failed') {
    st.appendChild(document.createTextNode('Not sent: ' + (p.error || 'error')));
    st.appendChild(button(null, 'Retry', () => actions.retry(p)));
    st.appendChild(button(null, 'Discard', () => actions.discard(p.cid)));
  } else {
    st.textContent = state.connected ? 'Sending…' : 'Waiting for connection…';
  }
  li.appendChild(st);
  return li;
}

export function renderHistoryMarker() {
  const { state, dom } = ui;
  const room = state.rooms.get(state.current);
  if (!room || !room.joined && !room.messages.length) { dom.historyMarker.textContent = ''; return; }
  if (room.loadingHistory) dom.historyMarker.textContent = 'Loading earlier messages…';
  else if (room.more) dom.historyMarker.textContent = 'Scroll up for earlier messages';
  else dom.historyMarker.textContent = 'This is the beginning of #' + room.name + '.';
}

/** Rebuilds the whole list; keeps the distance from the bottom unless pinned to the newest message. */
export function renderMessages() {
  const { state, dom } = ui;
  const room = state.rooms.get(state.current);
  const box = dom.messages;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const frag = document.createDocumentFragment();
  let prev = null;
  if (room) {
    for (const msg of room.messages) {
      if (!prev || dayKey(prev.ts) !== dayKey(msg.ts)) frag.appendChild(dayItem(msg.ts));
      frag.appendChild(messageItem(msg, prev));
      prev = msg;
    }
    state.pending.forEach((p) => { if (p.room === room.name) frag.appendChild(pendingItem(p)); });
  }
  state.lastRendered = prev;
  dom.list.replaceChildren(frag);
  renderHistoryMarker();
  if (state.stick) scrollToBottom();
  else box.scrollTop = box.scrollHeight - fromBottom;
}

/** Appends a message newer than every rendered one (before the pending ones). */
export function appendRendered(msg) {
  const { state, dom } = ui;
  const prev = state.lastRendered;
  const before = dom.list.querySelector('li.pending');
  if (!prev || dayKey(prev.ts) !== dayKey(msg.ts)) dom.list.insertBefore(dayItem(msg.ts), before);
  dom.list.insertBefore(messageItem(msg, prev), before);
  state.lastRendered = msg;
}

/** Re-renders one message in place (an edit, a delete, a reaction), if it is on screen. */
export function replaceRendered(msg) {
  const { state, dom } = ui;
  const old = dom.list.querySelector('li.msg[data-id="' + msg.id + '"]');
  if (!old) return;
  const room = state.rooms.get(msg.room);
  const i = room ? room.messages.findIndex((m) => m.id === msg.id) : -1;
  const li = messageItem(msg, i > 0 ? room.messages[i - 1] : null);
  for (const c of ['highlight']) if (old.classList.contains(c)) li.classList.add(c);
  old.replaceWith(li);
  if (state.lastRendered && state.lastRendered.id === msg.id) state.lastRendered = msg;
}

export function renderPending(p) {
  const { state, dom } = ui;
  if (p.room !== state.current) return;
  const old = dom.list.querySelector('li.pending[data-cid="' + p.cid + '"]');
  const li = pendingItem(p);
  if (old) old.replaceWith(li);
  else dom.list.appendChild(li);
}

export function removePendingEl(cid) {
  const old = ui.dom.list.querySelector('li.pending[data-cid="' + cid + '"]');
  if (old) old.remove();
}
