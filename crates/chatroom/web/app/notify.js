/*
 * Browser notifications for mentions (issue 11): a live message from someone else that
 * mentions us raises a Notification while the page is hidden. Permission is asked only from a
 * click on the page's own "Notify me" button (browsers ignore or punish prompts without a user
 * gesture, and people dislike them). `shouldNotify` is pure and unit-tested.
 */
import { mentions } from './text.js';
import { isOwn } from './state.js';

/** Whether `msg` (live, in `room`) should raise a notification now. */
export function shouldNotify(state, msg, { hidden, permission }) {
  if (!hidden || permission !== 'granted' || !state.name) return false;
  if (msg.deleted || isOwn(state, msg)) return false;
  return mentions(msg.text, state.name);
}

/** The browser's permission: 'granted', 'denied', 'default', or 'unsupported'. */
export function permission() {
  return typeof window.Notification === 'function' ? window.Notification.permission : 'unsupported';
}

/** Asks for permission (call from a click handler only). Resolves to the new permission. */
export async function askPermission() {
  if (typeof window.Notification !== 'function') return 'unsupported';
  try {
    return await window.Notification.requestPermission();
  } catch (e) {
    return window.Notification.permission;
  }
}

/** Shows the notification for `msg`; a click brings the page back to the message. */
export function show(msg, where, onClick) {
  if (typeof window.Notification !== 'function') return null;
  let n;
  try {
    n = new window.Notification(msg.name + ' mentioned you in ' + where, {
      body: msg.text.length > 200 ? msg.text.slice(0, 200) + '…' : msg.text,
      tag: 'chatroom-' + msg.id,
    });
  } catch (e) {
    return null; // e.g. Android Chrome wants a service worker for this
  }
  n.onclick = () => { try { window.focus(); } catch (e) { /* ignore */ } onClick(); n.close(); };
  return n;
}
