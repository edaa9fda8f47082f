/*
 * What every view shares: the page's elements (looked up once), the state and the actions the
 * controller (main.js) hands in, element builders that only ever set user text as text, and the
 * date formats.
 */
import { hue, dayKey } from '../util.js';

/** Filled in by main.js before anything renders: { state, dom, actions }. */
export const ui = { state: null, dom: null, actions: {} };

export function $(id) { return document.getElementById(id); }

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function button(className, text, onClick, label) {
  const b = el('button', className, text);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  if (onClick) b.addEventListener('click', onClick);
  return b;
}

export function avatar(name, extra) {
  const a = el('span', 'avatar' + (extra ? ' ' + extra : ''), Array.from(name || '?')[0]);
  a.style.setProperty('--hue', String(hue(name || '?')));
  a.setAttribute('aria-hidden', 'true');
  return a;
}

export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
export const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });

export function dayLabel(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(ts) === dayKey(today.getTime())) return 'Today';
  if (dayKey(ts) === dayKey(yesterday.getTime())) return 'Yesterday';
  return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

export function untilText(ms) {
  return typeof ms === 'number' ? fullFmt.format(new Date(ms)) : null;
}

/** The page's elements by role. */
export function lookup() {
  return {
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
    nameSubmit: $('name-submit'),
    roomHash: $('room-hash'),
    dmList: $('dm-list'),
    dmEmpty: $('dm-empty'),
    searchForm: $('search-form'),
    searchInput: $('search-input'),
    searchPanel: $('search-panel'),
    searchResults: $('search-results'),
    searchStatus: $('search-status'),
    searchMore: $('search-more'),
    searchClose: $('search-close'),
    notifyOffer: $('notify-offer'),
    notifyButton: $('notify-button'),
  };
}

// ---------- status line, hints, screen reader announcements ----------

export function setStatus(kind, text) {
  const { dom } = ui;
  dom.status.dataset.state = kind;
  dom.statusText.textContent = text;
  dom.status.title = text;
  document.body.dataset.connection = kind;
}

let hintTimer = null;
export function showHint(text, ms) {
  const { dom } = ui;
  clearTimeout(hintTimer);
  dom.hint.textContent = text;
  dom.hint.hidden = !text;
  if (text && ms) hintTimer = setTimeout(() => { dom.hint.hidden = true; }, ms);
}

export function announce(text) {
  const { dom } = ui;
  dom.announcer.appendChild(el('p', null, text));
  while (dom.announcer.childNodes.length > 5) dom.announcer.removeChild(dom.announcer.firstChild);
}
