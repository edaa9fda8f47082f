/*
 * The sidebar and the room header: the room list (joined and listed rooms, unread badges), the
 * member list (with moderators' actions), who is typing, and who we are.
 */
import { ui, el, button, avatar } from './dom.js';
import { hue } from '../util.js';
import { canModerate, roomDirectory, isDm, roomTitle } from '../state.js';

export function renderRooms() {
  const { state, dom, actions } = ui;
  const frag = document.createDocumentFragment();
  for (const { name, members, room } of roomDirectory(state)) {
    const li = el('li');
    const b = el('button', 'room-item' + (room ? '' : ' not-joined'));
    b.type = 'button';
    b.dataset.room = name;
    if (name === state.current) b.setAttribute('aria-current', 'true');
    b.appendChild(el('span', 'hash', '#'));
    b.appendChild(el('span', 'room-label', name));
    let label = name;
    if (room && room.mentions) {
      b.appendChild(el('span', 'mention-badge', '@' + (room.mentions > 99 ? '99+' : room.mentions)));
      label += ', ' + room.mentions + (room.mentions === 1 ? ' mention' : ' mentions');
    }
    if (room && room.unread) {
      b.appendChild(el('span', 'unread', room.unread > 99 ? '99+' : room.unread));
      label += ', ' + room.unread + ' unread';
    }
    if (members !== null) {
      const c = el('span', 'room-count', members);
      c.title = members + (members === 1 ? ' person here' : ' people here');
      b.appendChild(c);
      label += ', ' + members + ' online';
    }
    if (!room) label += ', not joined';
    b.setAttribute('aria-label', label);
    b.addEventListener('click', () => actions.openRoom(name));
    li.appendChild(b);
    frag.appendChild(li);
  }
  dom.roomList.replaceChildren(frag);
}

export function renderMembers() {
  const { state, dom } = ui;
  const room = state.rooms.get(state.current);
  const names = room ? Array.from(room.members).sort((a, b) => a.localeCompare(b)) : [];
  // a crowded room lists only some names; the server's count is the whole room
  const total = room && typeof room.count === 'number' && room.count > names.length ? room.count : names.length;
  const frag = document.createDocumentFragment();
  for (const name of names) {
    const li = el('li', 'member');
    li.dataset.name = name;
    li.appendChild(avatar(name, 'small'));
    li.appendChild(el('span', 'member-name', name));
    if (name === state.name) li.appendChild(el('span', 'you', 'you'));
    else if (room.typing.has(name)) li.appendChild(el('span', 'typing-dot', 'typing…'));
    if (name !== state.name && state.uid && !isDm(room.name)) {
      li.appendChild(button('member-dm', 'Message', () => ui.actions.startDm(name), 'Send ' + name + ' a direct message'));
    }
    if (canModerate(state) && name !== state.name) li.appendChild(memberActions(name, room.name));
    frag.appendChild(li);
  }
  if (total > names.length) frag.appendChild(el('li', 'member member-more', 'and ' + (total - names.length) + ' more'));
  dom.memberList.replaceChildren(frag);
  dom.memberCount.textContent = total ? '· ' + total : '';
  dom.roomSub.textContent = total === 1 ? '1 member' : total + ' members';
}

function memberActions(name, roomName) {
  const box = el('span', 'member-actions');
  for (const [text, event, payload, done] of [
    ['Mute', 'mute', { name, room: roomName, minutes: 10 }, name + ' is muted in #' + roomName + ' for 10 minutes.'],
    ['Kick', 'kick', { name }, name + ' was removed from the chat.'],
    ['Ban', 'ban', { name, minutes: 60 }, name + ' is banned for an hour.'],
  ]) {
    const b = button('member-action', text, () => ui.actions.moderate(event, payload, done), text + ' ' + name);
    b.dataset.action = event;
    box.appendChild(b);
  }
  return box;
}

export function renderTyping() {
  const { state, dom } = ui;
  const room = state.rooms.get(state.current);
  const names = room ? Array.from(room.typing.keys()).filter((n) => n !== state.name) : [];
  let text = '';
  if (names.length === 1) text = names[0] + ' is typing…';
  else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
  else if (names.length > 2) text = names.length + ' people are typing…';
  if (dom.typing.textContent !== text) dom.typing.textContent = text;
}

export function renderHeader() {
  const { state, dom } = ui;
  const title = roomTitle(state, state.current);
  const dm = isDm(state.current);
  const c = dm ? state.conversations.get(state.current) : null;
  dom.roomHash.textContent = dm ? '@' : '#';
  dom.roomName.textContent = dm ? (c ? c.with.name : 'Direct message') : state.current;
  dom.input.placeholder = 'Message ' + title;
  document.body.dataset.roomKind = dm ? 'dm' : 'room';
  dom.leave.hidden = state.current === 'lobby';
  dom.meName.textContent = state.name || '';
  dom.rename.hidden = state.signedIn || !!state.stopped;
  document.body.dataset.role = state.role;
  dom.meAvatar.textContent = Array.from(state.name || '?')[0];
  dom.meAvatar.style.setProperty('--hue', String(hue(state.name || '?')));
}
