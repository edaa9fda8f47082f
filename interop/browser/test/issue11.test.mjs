// Issue 11 on our page in Chromium against the real server: two users DM each other; a mention
// raises a browser Notification while the page is hidden; edit, delete and reactions show on the
// other page (and after a reconnect); search finds a message and jumps to it in its room.
// Screenshots in interop/browser/screenshots/issue11-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, messageWithText, joinRoom, openSidebarIfNeeded,
  waitConnected, screenshotDir, sleep,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await mkdir(screenshotDir, { recursive: true });
});

after(async () => {
  await browser?.close();
  const e = await server?.stop();
  if (e) assert.equal(e.code, 0, `server exit ${JSON.stringify(e)}`);
});

const shot = (page, name) => page.screenshot({ path: path.join(screenshotDir, `issue11-${name}.png`) });

/** Makes the page report itself hidden (document.hidden / visibilityState) when window.__hidden is set. */
async function controllableVisibility(page) {
  await page.addInitScript(() => {
    window.__hidden = false;
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return window.__hidden; } });
    Object.defineProperty(Document.prototype, 'visibilityState', {
      configurable: true, get() { return window.__hidden ? 'hidden' : 'visible'; },
    });
  });
}

async function setHidden(page, hidden) {
  await page.evaluate((h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }, hidden);
}

/** Records every Notification the page creates (the real one still runs). */
async function recordNotifications(page) {
  await page.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    class Recorded extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options && options.body, tag: options && options.tag });
      }
    }
    Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
    Recorded.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recorded;
  });
}

/** The stored message `text` on `page`, hovered so its action bar shows. */
async function hoverMessage(page, text) {
  const m = await waitForMessage(page, text);
  await m.hover();
  return m;
}

test('two users DM each other; a third sees nothing of it', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'ada');
  const b = await openChat(browser, server.url, 'bo');
  const c = await openChat(browser, server.url, 'cy');
  try {
    await a.page.locator('#member-list [data-name="bo"]').waitFor();
    await a.page.locator('#member-list [data-name="bo"]').hover();
    await a.page.click('#member-list [data-name="bo"] .member-dm');
    await a.page.locator('#room-name', { hasText: /^bo$/ }).waitFor();
    assert.equal(await a.page.textContent('#room-hash'), '@');
    const dmRoom = await a.page.getAttribute('#dm-list .dm-item[aria-current="true"]', 'data-room');
    assert.match(dmRoom, /^dm:[0-9a-f]{32}$/);
    await send(a.page, 'psst bo, just between us');
    await waitForMessage(a.page, 'psst bo, just between us');

    // bo: the conversation shows up without a reload, with an unread badge
    const item = b.page.locator(`#dm-list .dm-item[data-room="${dmRoom}"]`);
    await item.waitFor();
    assert.equal(await item.getAttribute('data-with'), 'ada');
    await item.locator('.unread', { hasText: '1' }).waitFor();
    await shot(b.page, 'dm-badge');
    await item.click();
    await waitForMessage(b.page, 'psst bo, just between us');
    await item.locator('.unread').waitFor({ state: 'detached' });
    await send(b.page, 'got it 🤫');
    await waitForMessage(a.page, 'got it 🤫');
    await shot(a.page, 'dm');

    // cy: no DM in the room list or the conversation list
    await sleep(500);
    assert.equal(await c.page.locator(`[data-room="${dmRoom}"]`).count(), 0);
    assert.equal(await c.page.locator('#dm-list .dm-item').count(), 0);
    assert.equal(await messageWithText(c.page, 'psst bo, just between us').count(), 0);

    // the read position follows bo to a reload: no badge for what was read
    await b.page.reload();
    await waitConnected(b.page);
    await b.page.locator(`#dm-list .dm-item[data-room="${dmRoom}"]`).waitFor();
    await sleep(500);
    assert.equal(await b.page.locator(`#dm-list .dm-item[data-room="${dmRoom}"] .unread`).count(), 0);
    for (const u of [a, b, c]) assert.deepEqual(u.problems, { errors: [], dialogs: [] });
  } finally {
    for (const u of [a, b, c]) await u.context.close();
  }
});

test('a mention raises a notification while the page is hidden, and is highlighted', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'Mina', {
    async setup(page, context) {
      await context.grantPermissions(['notifications'], { origin: server.url });
      await controllableVisibility(page);
      await recordNotifications(page);
    },
  });
  const b = await openChat(browser, server.url, 'pat');
  try {
    assert.equal(await a.page.evaluate(() => Notification.permission), 'granted');
    assert.equal(await a.page.locator('#notify-offer').isHidden(), true, 'no offer once granted');
    await a.page.locator('#member-list [data-name="pat"]').waitFor();

    // visible: highlighted, no notification
    await send(b.page, '@mina are you there?');
    const seen = await waitForMessage(a.page, '@mina are you there?');
    assert.match(await seen.getAttribute('class'), /mentions-me/);
    assert.equal(await seen.locator('mark.mention').textContent(), '@mina');
    assert.deepEqual(await a.page.evaluate(() => window.__notes), []);

    // hidden: a mention notifies, a message without one does not
    await setHidden(a.page, true);
    await send(b.page, 'no mention here');
    await send(b.page, 'hey @Mina, the build is green');
    await a.page.waitForFunction(() => window.__notes.length > 0, null, { timeout: 10_000 });
    await sleep(300);
    const notes = await a.page.evaluate(() => window.__notes);
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.match(notes[0].title, /pat mentioned you in #lobby/);
    assert.equal(notes[0].body, 'hey @Mina, the build is green');
    // the mention counts in the badge of a room that is not on screen
    await setHidden(a.page, false);
    await joinRoom(a.page, 'elsewhere');
    await send(b.page, '@mina one more');
    const lobby = a.page.locator('#room-list [data-room="lobby"]');
    await lobby.locator('.mention-badge', { hasText: '@1' }).waitFor();
    await lobby.locator('.unread', { hasText: '1' }).waitFor();
    await shot(a.page, 'mention-badge');
    await lobby.click();
    await lobby.locator('.mention-badge').waitFor({ state: 'detached' });
    await shot(a.page, 'mention');

    // a page without the permission offers it, politely, behind a button
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(server.url + '/');
    if (await p.evaluate(() => Notification.permission) === 'default') {
      await p.locator('#notify-offer').waitFor();
    }
    await ctx.close();
    assert.deepEqual(a.problems, { errors: [], dialogs: [] });
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('edit, delete and reactions show on the other page, live and after a reconnect', { timeout: 120_000 }, async () => {
  const sockets = [];
  const a = await openChat(browser, server.url, 'eddie');
  const b = await openChat(browser, server.url, 'rita', {
    async setup(page) {
      await page.routeWebSocket(/socket\.io/, (ws) => sockets.push({ ws, srv: ws.connectToServer() }));
    },
  });
  try {
    await joinRoom(a.page, 'edits');
    await joinRoom(b.page, 'edits');
    await send(a.page, 'teh quick fox');
    await send(a.page, 'this one goes away');
    await waitForMessage(b.page, 'this one goes away');
    assert.equal(await (await waitForMessage(b.page, 'teh quick fox')).locator('.msg-action[data-act="edit"]').count(), 0,
      'only the author may edit');

    // edit
    const m = await hoverMessage(a.page, 'teh quick fox');
    await m.locator('.msg-action[data-act="edit"]').click();
    const box = a.page.locator('#message-list .edit-form textarea');
    await box.fill('the quick fox');
    await box.press('Enter');
    const edited = await waitForMessage(b.page, 'the quick fox');
    await edited.locator('.edited-mark').waitFor();
    assert.equal(await messageWithText(b.page, 'teh quick fox').count(), 0);

    // delete own (two clicks)
    const d = await hoverMessage(a.page, 'this one goes away');
    await d.locator('.msg-action[data-act="delete"]').click();
    await d.locator('.msg-action[data-act="delete"]', { hasText: 'Delete?' }).click();
    await b.page.locator('#message-list li.tombstone .bubble', { hasText: 'This message was deleted.' }).waitFor();
    assert.equal(await messageWithText(b.page, 'this one goes away').count(), 0);

    // reactions: rita picks one, eddie adds the same, both see 2
    const r = await hoverMessage(b.page, 'the quick fox');
    await r.locator('.msg-action[data-act="react"]').click();
    await b.page.click('.picker button:has-text("👍")');
    const chipA = (await waitForMessage(a.page, 'the quick fox')).locator('.reaction[data-emoji="👍"]');
    await chipA.locator('.n', { hasText: '1' }).waitFor();
    assert.equal(await chipA.getAttribute('aria-pressed'), 'false');
    await chipA.click();
    await chipA.locator('.n', { hasText: '2' }).waitFor();
    assert.equal(await chipA.getAttribute('aria-pressed'), 'true');
    const chipB = (await waitForMessage(b.page, 'the quick fox')).locator('.reaction[data-emoji="👍"]');
    await chipB.locator('.n', { hasText: '2' }).waitFor();
    await r.hover();
    await shot(b.page, 'edit-delete-react');

    // rita's network goes away; eddie edits, unreacts and deletes; rita catches up with since = through
    await sleep(1000);
    await b.context.setOffline(true);
    for (const { ws, srv } of sockets) { await srv.close().catch(() => {}); await ws.close().catch(() => {}); }
    await b.page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 30_000 });
    await send(a.page, 'typo here too');
    const t = await hoverMessage(a.page, 'typo here too');
    await t.locator('.msg-action[data-act="edit"]').click();
    await a.page.locator('#message-list .edit-form textarea').fill('fixed while you were away');
    await a.page.locator('#message-list .edit-form textarea').press('Enter');
    await waitForMessage(a.page, 'fixed while you were away');
    await chipA.click();
    await chipA.locator('.n', { hasText: '1' }).waitFor();
    await b.context.setOffline(false);
    await waitConnected(b.page, 40_000);
    const fixed = await waitForMessage(b.page, 'fixed while you were away', 30_000);
    await fixed.locator('.edited-mark').waitFor();
    await chipB.locator('.n', { hasText: '1' }).waitFor();
    assert.deepEqual(a.problems, { errors: [], dialogs: [] });
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('search finds a message and jumps to it in its room, loading its history', { timeout: 120_000 }, async () => {
  const room = 'search-archive';
  const writer = await openChat(browser, server.url, 'scribe');
  const reader = await openChat(browser, server.url, 'seeker');
  try {
    // 120 messages, the needle early on, straight through the page's Socket.IO client
    await writer.page.evaluate(async ({ room }) => {
      const s = window.io({ auth: { name: 'bulk-writer' } });
      await new Promise((r) => s.once('connect', r));
      await new Promise((r) => s.emit('join', { room }, r));
      for (let i = 0; i < 120; i++) {
        const text = i === 5 ? '欢迎来到技术讨论区 the needle' : `filler ${i}`;
        const ack = await new Promise((r) => s.emit('send', { room, text, cid: `s-${i}` }, r));
        if (!ack.ok) throw new Error(JSON.stringify(ack));
      }
      s.disconnect();
    }, { room });

    await reader.page.fill('#search-input', '技术');
    await reader.page.press('#search-input', 'Enter');
    const result = reader.page.locator('#search-results .result-btn', { hasText: '技术讨论区 the needle' });
    await result.waitFor();
    assert.match(await result.locator('.result-room').textContent(), new RegExp(`#${room}`));
    await shot(reader.page, 'search-results');
    await result.click();
    await reader.page.locator('#room-name', { hasText: room }).waitFor();
    const target = await waitForMessage(reader.page, '欢迎来到技术讨论区 the needle');
    await reader.page.locator('#message-list li.msg.highlight').waitFor();
    assert.equal(await target.isVisible(), true);
    const box = await reader.page.locator('#messages').boundingBox();
    const at = await target.boundingBox();
    assert.ok(at.y >= box.y && at.y + at.height <= box.y + box.height, 'the message is scrolled into view');
    await shot(reader.page, 'search-jump');
    // the gap up to the newest message was filled: every one of the room's messages once
    await waitForMessage(reader.page, 'filler 119');
    const ids = await reader.page.$$eval('#message-list li.msg[data-id]', (els) => els.map((e) => Number(e.dataset.id)));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    assert.ok(ids.length >= 115, `from the needle to the newest: ${ids.length}`);
    assert.deepEqual(reader.problems, { errors: [], dialogs: [] });
  } finally {
    await writer.context.close();
    await reader.context.close();
  }
});
