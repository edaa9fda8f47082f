// Our chat page in Chromium against the real server: chatting, XSS safety, polling fallback,
// rooms with history, and recovery after a network cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, messageWithText, renderedIds,
  joinRoom, openSidebarIfNeeded, waitConnected, sleep,
  screenshotDir,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const e = await server?.stop();
  if (e) assert.equal(e.code, 0, `server exit ${JSON.stringify(e)}`);
});

test('two pages chat with each other; own messages are distinct; typing and members show', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'alice');
  const b = await openChat(browser, server.url, 'bob');
  try {
    // the title is the page heading
    assert.equal((await a.page.textContent('h1#title')).trim(), '技术讨论区');
    // members of the lobby, both ways
    await a.page.locator('#member-list [data-name="bob"]').waitFor();
    await b.page.locator('#member-list [data-name="alice"]').waitFor();

    // typing indicator
    await b.page.fill('#composer-input', 'hel');
    await b.page.type('#composer-input', 'lo');
    await a.page.locator('#typing', { hasText: 'bob is typing…' }).waitFor();

    await send(b.page, 'hello alice 👋');
    await a.page.locator('#typing', { hasText: /^$/ }).waitFor();
    const got = await waitForMessage(a.page, 'hello alice 👋');
    assert.equal(await got.locator('.msg-name').textContent(), 'bob');
    assert.ok(!(await got.getAttribute('class')).includes('own'));
    const mine = await waitForMessage(b.page, 'hello alice 👋');
    assert.ok((await mine.getAttribute('class')).includes('own'), 'own message is marked');
    assert.match(await mine.locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);

    await send(a.page, '你好, bob');
    await waitForMessage(b.page, '你好, bob');
    await waitForMessage(a.page, '你好, bob');
    // the composer is cleared and keeps focus; nothing is left pending
    assert.equal(await a.page.inputValue('#composer-input'), '');
    assert.equal(await a.page.evaluate(() => document.activeElement.id), 'composer-input');
    assert.equal(await a.page.locator('#message-list li.pending').count(), 0);
    // screen readers hear the new message
    await b.page.locator('#announcer', { hasText: 'alice: 你好, bob' }).waitFor({ state: 'attached' });

    assert.deepEqual(a.problems, { errors: [], dialogs: [] });
    assert.deepEqual(b.problems, { errors: [], dialogs: [] });
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('an XSS message shows as text and runs nothing', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'mallory');
  const b = await openChat(browser, server.url, 'victim');
  try {
    const payloads = [
      '<img src=x onerror="window.__xss=1;alert(\'xss\')">',
      '<script>window.__xss=2;alert(2)</script>',
      '<a href="javascript:alert(3)">click</a> <svg onload=alert(4)>',
    ];
    for (const p of payloads) await send(a.page, p);
    for (const p of payloads) {
      await waitForMessage(b.page, p);
      await waitForMessage(a.page, p);
    }
    await sleep(500);
    for (const { page, problems } of [a, b]) {
      assert.equal(await page.locator('#message-list img, #message-list script, #message-list svg').count(), 0);
      assert.equal(await page.locator('#message-list a').count(), 0);
      assert.equal(await page.evaluate(() => window.__xss), undefined);
      assert.deepEqual(problems.dialogs, []);
      assert.deepEqual(problems.errors.filter((e) => !/favicon/.test(e)), []);
    }
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('falls back to long-polling when WebSocket is blocked and still chats', { timeout: 120_000 }, async () => {
  let wsAttempts = 0;
  const polling = [];
  const blocked = await openChat(browser, server.url, 'poller', {
    async setup(page) {
      // Playwright's page.route does not see WebSocket upgrades; routeWebSocket does. Refuse every one
      // without ever connecting it to the server.
      await page.routeWebSocket(/socket\.io/, (ws) => { wsAttempts += 1; ws.close({ code: 1011, reason: 'blocked' }); });
      page.on('request', (r) => { if (r.url().includes('transport=polling')) polling.push(Date.now()); });
    },
  });
  const other = await openChat(browser, server.url, 'socketeer');
  try {
    await send(blocked.page, 'over polling');
    await waitForMessage(other.page, 'over polling');
    const mark = Date.now();
    await send(other.page, 'back to the poller');
    await waitForMessage(blocked.page, 'back to the poller');
    await sleep(300);
    assert.ok(polling.length > 2, 'polling requests were made');
    assert.ok(polling.some((t) => t >= mark), 'still on polling after the exchange');
    assert.equal(await blocked.page.getAttribute('#status', 'data-state'), 'connected');
    assert.deepEqual(blocked.problems.dialogs, []);
    // informative: how many upgrade attempts were refused
    process.stderr.write(`# websocket attempts refused: ${wsAttempts}, polling requests: ${polling.length}\n`);
  } finally {
    await blocked.context.close();
    await other.context.close();
  }
});

test('two named users chat in a new room; a third joins later and sees the history', { timeout: 120_000 }, async () => {
  const room = 'rust-talk';
  const a = await openChat(browser, server.url, 'ann');
  const b = await openChat(browser, server.url, 'ben');
  let c;
  try {
    await joinRoom(a.page, room);
    await joinRoom(b.page, room);
    await a.page.locator('#member-list [data-name="ben"]').waitFor();
    const lines = [['ann', 'anyone tried socketioxide?'], ['ben', 'yes, 0.18 is nice'], ['ann', 'durable history too 🎉']];
    for (const [who, text] of lines) {
      await send(who === 'ann' ? a.page : b.page, text);
      await waitForMessage(a.page, text);
      await waitForMessage(b.page, text);
    }
    // the lobby did not get room messages
    await openSidebarIfNeeded(a.page);
    await a.page.click('#room-list [data-room="lobby"]');
    await a.page.locator('#room-name', { hasText: 'lobby' }).waitFor();
    assert.equal(await messageWithText(a.page, 'yes, 0.18 is nice').count(), 0);

    c = await openChat(browser, server.url, 'cat');
    // the room list shows the room; joining it by clicking
    const item = c.page.locator(`#room-list [data-room="${room}"]`);
    await item.waitFor();
    await item.click();
    await c.page.locator('#room-name', { hasText: room }).waitFor();
    for (const [who, text] of lines) {
      const m = await waitForMessage(c.page, text);
      assert.equal(await m.count(), 1);
      assert.ok(!(await m.getAttribute('class')).includes('own'));
      // names are shown on the first message of a group
      assert.equal(await m.getAttribute('data-name'), who);
    }
    await c.page.locator('#member-list [data-name="ann"]').waitFor();
    await c.page.locator('#member-list [data-name="ben"]').waitFor();
    await c.page.locator('#history-marker', { hasText: 'beginning' }).waitFor();
    // and chats there
    await send(c.page, 'hi both');
    await waitForMessage(b.page, 'hi both');
  } finally {
    await a.context.close();
    await b.context.close();
    await c?.context.close();
  }
});

test('after the network is cut and restored the page shows what it missed exactly once', { timeout: 120_000 }, async () => {
  const sockets = [];
  const a = await openChat(browser, server.url, 'steady');
  const b = await openChat(browser, server.url, 'flaky', {
    async setup(page) {
      // pass WebSockets through, keeping a handle so the test can cut them
      await page.routeWebSocket(/socket\.io/, (ws) => {
        const srv = ws.connectToServer();
        sockets.push({ ws, srv });
      });
    },
  });
  try {
    await send(a.page, 'before the cut');
    await waitForMessage(b.page, 'before the cut');
    await sleep(1500); // let the polling → WebSocket upgrade finish

    await b.context.setOffline(true);
    for (const { ws, srv } of sockets) {
      await srv.close().catch(() => {});
      await ws.close().catch(() => {});
    }
    await b.page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 30_000 });
    assert.match(await b.page.textContent('#status'), /Reconnecting…/);

    const missed = ['missed one', 'missed two', 'missed three'];
    for (const t of missed) {
      await send(a.page, t);
      await waitForMessage(a.page, t);
    }
    // the offline page sends too; it waits as pending
    await send(b.page, 'sent while offline');
    await b.page.locator('#message-list li.pending').waitFor();

    await b.context.setOffline(false);
    await waitConnected(b.page, 40_000);
    for (const t of missed) await waitForMessage(b.page, t, 30_000);
    await waitForMessage(a.page, 'sent while offline', 30_000);
    await waitForMessage(b.page, 'sent while offline', 30_000);
    await sleep(1500); // let any duplicate show up if it were going to

    for (const { page } of [a, b]) {
      const ids = await renderedIds(page);
      assert.equal(new Set(ids).size, ids.length, `no message id rendered twice: ${ids}`);
      const sorted = [...ids].sort((x, y) => x - y);
      assert.deepEqual(ids, sorted, 'messages in id order');
      for (const t of ['before the cut', ...missed, 'sent while offline']) {
        assert.equal(await messageWithText(page, t).count(), 1, `${t} exactly once`);
      }
      assert.equal(await page.locator('#message-list li.pending').count(), 0);
    }
    assert.deepEqual(await renderedIds(a.page), await renderedIds(b.page));
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('scroll-back loads older history; new messages scroll into view unless the user scrolled up', { timeout: 120_000 }, async () => {
  const room = 'archive';
  const reader = await openChat(browser, server.url, 'reader');
  const writer = await openChat(browser, server.url, 'writer');
  try {
    // 120 messages straight through the page's Socket.IO client (fast, no UI)
    const total = 120;
    await writer.page.evaluate(async ({ room, total }) => {
      const s = window.io({ auth: { name: 'bulk' } });
      const within = (what, p) => Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error(`${what}: no answer in 10 s`)), 10_000))]);
      await within('connect', new Promise((r) => s.once('connect', r)));
      await within('join', new Promise((r) => s.emit('join', { room }, r)));
      for (let i = 0; i < total; i++) {
        const ack = await within(`send ${i}`, new Promise((r) => s.emit('send', { room, text: `bulk ${i}`, cid: `bulk-${i}` }, r)));
        if (!ack.ok) throw new Error(JSON.stringify(ack));
      }
      s.disconnect();
    }, { room, total });

    await joinRoom(reader.page, room);
    await waitForMessage(reader.page, `bulk ${total - 1}`);
    assert.equal((await renderedIds(reader.page)).length, 50);
    await reader.page.locator('#history-marker', { hasText: 'Scroll up' }).waitFor();

    for (let round = 0; round < 5 && (await renderedIds(reader.page)).length < total; round++) {
      await reader.page.$eval('#messages', (e) => { e.scrollTop = 0; });
      await reader.page.waitForFunction((n) => document.querySelectorAll('#message-list li.msg[data-id]').length > n,
        (await renderedIds(reader.page)).length, { timeout: 10_000 }).catch(() => {});
    }
    const ids = await renderedIds(reader.page);
    assert.equal(ids.length, total);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    assert.equal(await messageWithText(reader.page, 'bulk 0').count(), 1);
    await reader.page.locator('#history-marker', { hasText: 'beginning of #archive' }).waitFor();

    // the user is reading old messages: a new one does not yank the view, a button offers to jump
    await joinRoom(writer.page, room);
    await reader.page.$eval('#messages', (e) => { e.scrollTop = 200; });
    await sleep(200);
    const before = await reader.page.$eval('#messages', (e) => e.scrollTop);
    await send(writer.page, 'while you were reading');
    await waitForMessage(reader.page, 'while you were reading');
    await reader.page.locator('#jump-button').waitFor({ state: 'visible' });
    assert.equal(await reader.page.$eval('#messages', (e) => e.scrollTop), before);
    await reader.page.click('#jump-button');
    const atBottom = () => reader.page.$eval('#messages', (e) => e.scrollHeight - e.scrollTop - e.clientHeight < 2);
    assert.ok(await atBottom());
    // at the bottom, new messages scroll into view
    await send(writer.page, 'and now you follow along');
    await waitForMessage(reader.page, 'and now you follow along');
    await sleep(100);
    assert.ok(await atBottom());
    assert.ok(await messageWithText(reader.page, 'and now you follow along').isVisible());
  } finally {
    await reader.context.close();
    await writer.context.close();
  }
});

test('rename and leave update the other page; bad names are explained', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'oldname');
  const b = await openChat(browser, server.url, 'watcher');
  try {
    await joinRoom(a.page, 'renames');
    await joinRoom(b.page, 'renames');
    await b.page.locator('#member-list [data-name="oldname"]').waitFor();

    await a.page.click('#rename-button');
    await a.page.fill('#name-input', 'x'.repeat(33));
    await a.page.press('#name-input', 'Enter');
    await a.page.locator('#name-error', { hasText: 'at most 32' }).waitFor();
    await a.page.fill('#name-input', '  newname  ');
    await a.page.press('#name-input', 'Enter');
    await a.page.locator('#me-name', { hasText: 'newname' }).waitFor();
    await b.page.locator('#member-list [data-name="newname"]').waitFor();
    assert.equal(await b.page.locator('#member-list [data-name="oldname"]').count(), 0);

    await send(a.page, 'renamed');
    const m = await waitForMessage(b.page, 'renamed');
    assert.equal(await m.getAttribute('data-name'), 'newname');
    assert.equal(await a.page.evaluate(() => localStorage.getItem('chatroom.name')), 'newname');

    await a.page.click('#leave-button');
    await a.page.locator('#room-name', { hasText: 'lobby' }).waitFor();
    await b.page.locator('#member-list [data-name="newname"]').waitFor({ state: 'detached' });

    // the remembered name is used on the next visit: no prompt
    const again = await a.context.newPage();
    await again.goto(server.url + '/');
    await waitConnected(again);
    assert.equal(await again.locator('#name-dialog[open]').count(), 0);
    assert.equal(await again.textContent('#me-name'), 'newname');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a name is one person\'s: another browser is asked to choose, the holder keeps it across a reload', { timeout: 120_000 }, async () => {
  const a = await openChat(browser, server.url, 'Zoë');
  const intruder = await browser.newContext();
  try {
    const page = await intruder.newPage();
    await page.goto(server.url + '/');
    await page.locator('#name-dialog[open]').waitFor();
    // the same name in other letters' case is the same name
    await page.fill('#name-input', 'ZOË');
    await page.press('#name-input', 'Enter');
    await page.locator('#name-error', { hasText: 'Someone else is using that name' }).waitFor();
    await page.screenshot({ path: path.join(screenshotDir, 'desktop-name-taken.png') });

    // the holder reloads: its identity token gets the name back at once, same user id
    const before = await a.page.evaluate(() => localStorage.getItem('chatroom.identity'));
    assert.match(before, /^v1\.[0-9a-f]{32}\./);
    await a.page.reload();
    await waitConnected(a.page);
    assert.equal(await a.page.textContent('#me-name'), 'Zoë');
    assert.equal(await a.page.evaluate(() => localStorage.getItem('chatroom.identity')), before);

    // an invisible character does not make a new name
    await page.fill('#name-input', 'Zo\u200bë');
    await page.press('#name-input', 'Enter');
    await page.locator('#name-error', { hasText: 'not accepted' }).waitFor();
    await page.fill('#name-input', 'zoe2');
    await page.press('#name-input', 'Enter');
    await waitConnected(page);
    assert.equal(await page.textContent('#me-name'), 'zoe2');
  } finally {
    await a.context.close();
    await intruder.close();
  }
});
