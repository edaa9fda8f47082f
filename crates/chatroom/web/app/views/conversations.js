/*
 * The direct-message list of the sidebar: one entry per conversation (the other person's
 * name), newest activity first, with unread and mention badges.
 */
import { ui, el, avatar } from './dom.js';
import { conversationList } from '../state.js';

export function renderConversations() {
  const { state, dom, actions } = ui;
  const frag = document.createDocumentFragment();
  const list = conversationList(state);
  for (const c of list) {
    const room = state.rooms.get(c.room);
    const unread = room ? room.unread : c.unread;
    const mentions = room ? room.mentions : c.mentions;
    const li = el('li');
    const b = el('button', 'room-item dm-item' + (unread ? ' has-unread' : ''));
    b.type = 'button';
    b.dataset.room = c.room;
    b.dataset.with = c.with.name;
    if (c.room === state.current) b.setAttribute('aria-current', 'true');
    b.appendChild(avatar(c.with.name, 'tiny'));
    b.appendChild(el('span', 'room-label', c.with.name));
    let label = 'Direct messages with ' + c.with.name;
    if (mentions) {
      const m = el('span', 'mention-badge', '@' + (mentions > 99 ? '99+' : mentions));
      m.title = mentions + (mentions === 1 ? ' mention' : ' mentions');
      b.appendChild(m);
      label += ', ' + mentions + (mentions === 1 ? ' mention' : ' mentions');
    }
    if (unread) {
      b.appendChild(el('span', 'unread', unread > 99 ? '99+' : unread));
      label += ', ' + unread + ' unread';
    }
    b.setAttribute('aria-label', label);
    b.addEventListener('click', () => actions.openRoom(c.room));
    li.appendChild(b);
    frag.appendChild(li);
  }
  dom.dmList.replaceChildren(frag);
  dom.dmEmpty.hidden = list.length > 0;
}
