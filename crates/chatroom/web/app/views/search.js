/*
 * The search panel: the results of `search` (newest first), each showing where and who, with
 * the matching text; a click jumps to the message in its room. "More" asks for the next page.
 */
import { ui, el, button, timeFmt, fullFmt, dayLabel } from './dom.js';
import { roomTitle } from '../state.js';
import { appendText } from './messages.js';

export function renderSearch() {
  const { state, dom, actions } = ui;
  const s = state.search;
  dom.searchPanel.hidden = !s.open;
  if (!s.open) return;
  const frag = document.createDocumentFragment();
  for (const m of s.results) {
    const li = el('li', 'result');
    const b = el('button', 'result-btn');
    b.type = 'button';
    b.dataset.id = String(m.id);
    b.dataset.room = m.room;
    const head = el('span', 'result-head');
    head.appendChild(el('span', 'result-room', roomTitle(state, m.room)));
    head.appendChild(el('span', 'result-name', m.name));
    const t = el('time', 'result-time', dayLabel(m.ts) + ' ' + timeFmt.format(new Date(m.ts)));
    t.dateTime = new Date(m.ts).toISOString();
    t.title = fullFmt.format(new Date(m.ts));
    head.appendChild(t);
    b.appendChild(head);
    const text = el('span', 'result-text');
    appendText(text, m.text, { links: false });
    b.appendChild(text);
    b.addEventListener('click', () => actions.jumpTo(m.room, m.id));
    li.appendChild(b);
    frag.appendChild(li);
  }
  dom.searchResults.replaceChildren(frag);
  let status = '';
  if (s.loading) status = 'Searching…';
  else if (s.error) status = s.error;
  else if (!s.results.length && s.query) status = 'Nothing found for “' + s.query + '”.';
  else if (s.results.length) status = s.results.length + (s.more ? '+' : '') + (s.results.length === 1 ? ' message' : ' messages');
  dom.searchStatus.textContent = status;
  dom.searchMore.replaceChildren();
  if (s.more && !s.loading) dom.searchMore.appendChild(button('btn btn-ghost btn-small', 'Show older results', actions.searchMore));
}
