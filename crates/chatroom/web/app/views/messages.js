/*
 * The message list of the current room: day separators, grouped messages, pending (unsent)
 * messages at the end, the history marker, and keeping the scroll position honest.
 */
import { ui, el, button, avatar, timeFmt, fullFmt, dayLabel } from './dom.js';
import { dayKey } from '../util.js';
import { isOwn, canModerate, mayEdit, mayDelete, reacted, isDm, roomTitle } from '../state.js';
import { segments, mentions } from '../text.js';

/** The reactions offered by the picker (any single emoji is accepted by the server). */
export const PICKER = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

const GROUP_MS = 5 * 60 * 1000; // consecutive messages of one sender within this are grouped

/** Appends `text` to `parent` as text nodes and safe links (built with DOM APIs).
 *  `links: false` (inside a button) keeps links as text. */
export function appendText(parent, text, { links = true } = {}) {
  for (const seg of segments(text, ui.state.name)) {
    if (seg.kind === 'link' && links) {
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

/** The action bar of a message: react, edit (author), delete (author or moderator). */
function actionsBar(msg, li) {
  const { state, actions } = ui;
  const bar = el('div', 'msg-actions');
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Message actions');
  const add = (act, text, label, onClick) => {
    const b = button('msg-action', text, onClick, label);
    b.dataset.act = act;
    bar.appendChild(b);
    return b;
  };
  if (msg.deleted) return null;
  add('react', '☺+', 'Add a reaction', () => togglePicker(msg, li));
  if (mayEdit(state, msg)) add('edit', 'Edit', 'Edit your message', () => actions.startEdit(msg));
  if (mayDelete(state, msg) && isOwn(state, msg)) {
    const del = add('delete', 'Delete', 'Delete your message', () => {
      // two steps: a stray click does not delete
      if (!del.classList.contains('confirm')) {
        del.classList.add('confirm');
        del.textContent = 'Delete?';
        bar.classList.add('open');
        setTimeout(() => { del.classList.remove('confirm'); del.textContent = 'Delete'; bar.classList.remove('open'); }, 4000);
        return;
      }
      actions.deleteMessage(msg);
    });
  } else if (canModerate(state)) {
    // moderators delete anyone's message in one click (audited by the server)
    const del = add('delete', 'Delete', 'Delete this message by ' + msg.name,
      () => actions.moderate('delete', { id: msg.id }, 'Message deleted.'));
    del.classList.add('msg-delete');
  }
  return bar;
}

function togglePicker(msg, li) {
  const old = li.querySelector('.picker');
  if (old) { old.remove(); return; }
  for (const p of document.querySelectorAll('.picker')) p.remove();
  const box = el('div', 'picker');
  box.setAttribute('role', 'menu');
  box.setAttribute('aria-label', 'Pick a reaction');
  for (const emoji of PICKER) {
    const b = button(null, emoji, () => { box.remove(); ui.actions.toggleReaction(msg, emoji); }, 'React with ' + emoji);
    b.setAttribute('role', 'menuitem');
    box.appendChild(b);
  }
  box.addEventListener('keydown', (e) => { if (e.key === 'Escape') { box.remove(); } });
  li.appendChild(box);
  box.querySelector('button').focus();
}

function reactionsRow(msg) {
  const { state, actions } = ui;
  if (msg.deleted || !Array.isArray(msg.reactions) || !msg.reactions.length) return null;
  const row = el('div', 'reactions');
  for (const r of msg.reactions) {
    if (!r || typeof r.emoji !== 'string' || typeof r.count !== 'number') continue;
    const mine = reacted(state, msg, r.emoji);
    const b = button('reaction', null, () => actions.toggleReaction(msg, r.emoji));
    b.dataset.emoji = r.emoji;
    b.setAttribute('aria-pressed', mine ? 'true' : 'false');
    b.appendChild(el('span', 'e', r.emoji));
    b.appendChild(el('span', 'n', r.count));
    const names = Array.isArray(r.names) ? r.names.filter((n) => typeof n === 'string') : [];
    b.title = names.length ? names.join(', ') + ' reacted with ' + r.emoji : r.emoji;
    b.setAttribute('aria-label', r.emoji + ' ' + r.count + (mine ? ', including you' : '') + (names.length ? ': ' + names.join(', ') : ''));
    row.appendChild(b);
  }
  return row;
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
  const mentioned = !msg.deleted && !own && !!state.name && mentions(msg.text, state.name);
  const li = el('li', 'msg' + (own ? ' own' : '') + (cont ? ' cont' : '') + (mentioned ? ' mentions-me' : ''));
  li.dataset.id = String(msg.id);
  li.dataset.name = msg.name;
  if (ui.anchor && ui.anchor.id === msg.id && ui.anchor.until > Date.now()) li.classList.add('highlight');
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
    bubble.textContent = 'This message was deleted.';
    li.classList.add('tombstone');
  } else {
    appendText(bubble, msg.text);
  }
  bubble.title = time.title;
  if (ui.editing === msg.id && !msg.deleted) {
    li.appendChild(actions.editForm(msg));
  } else {
    li.appendChild(bubble);
  }
  if (typeof msg.edited === 'number' && !msg.deleted) {
    const mark = el('span', 'edited-mark', '(edited)');
    mark.title = 'Edited ' + fullFmt.format(new Date(msg.edited));
    li.appendChild(mark);
  }
  const row = reactionsRow(msg);
  if (row) li.appendChild(row);
  const bar = actionsBar(msg, li);
  if (bar) {
    li.appendChild(bar);
    // touch screens have no hover: a tap on the message shows its actions (chat.css)
    li.addEventListener('click', (e) => {
      if (e.target.closest && e.target.closest('button, a, textarea, .picker')) return;
      for (const other of ui.dom.list.querySelectorAll('li.msg.selected')) if (other !== li) other.classList.remove('selected');
      li.classList.toggle('selected');
    });
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
  else if (isDm(room.name)) dom.historyMarker.textContent = 'This is the beginning of your conversation with ' + roomTitle(state, room.name).replace(/^@/, '') + '.';
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
  const anchor = ui.anchor && ui.anchor.until > Date.now()
    ? dom.list.querySelector('li.msg[data-id="' + ui.anchor.id + '"]') : null;
  if (anchor) anchor.scrollIntoView({ block: 'center' }); // a jump to a message: it stays in view while the gap fills
  else if (state.stick) scrollToBottom();
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
