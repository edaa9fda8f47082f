// Screenshots of our page (desktop 1280×800 and phone 390×844, light and dark) for a human to look at.
// Written to interop/browser/screenshots/ (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, joinRoom, screenshotDir, sleep,
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
  await server?.stop();
});

const conversation = [
  ['alice', '大家好！新的聊天室上线了 🎉'],
  ['bob', 'Nice. Is history durable now?'],
  ['alice', 'Yes: SQLite or PostgreSQL, and reconnects catch up with `since`.'],
  ['alice', 'Try scrolling up for older messages.'],
  ['carol', 'Looks great on my phone too 📱'],
  ['bob', 'Long lines wrap nicely: https://example.com/a/very/long/path/that/keeps/going/and/going/to/test/wrapping'],
  ['carol', '<img src=x onerror=alert(1)> shows as text'],
  ['bob', 'Multi-line\nmessages\nwork as well'],
];

test('screenshots: desktop and phone, light and dark', { timeout: 180_000 }, async () => {
  const users = {};
  for (const name of ['alice', 'bob', 'carol']) users[name] = await openChat(browser, server.url, name);
  const shots = [];
  try {
    await joinRoom(users.alice.page, 'design');
    await users.alice.page.click('#room-list [data-room="lobby"]');
    await users.alice.page.locator('#room-name', { hasText: 'lobby' }).waitFor();
    for (const [who, text] of conversation) {
      await send(users[who].page, text);
      await waitForMessage(users.bob.page, text);
    }
    const viewer = users.bob;
    await viewer.page.fill('#composer-input', 'Sounds good');

    const views = [
      { tag: 'desktop', name: 'dana', viewport: { width: 1280, height: 800 } },
      { tag: 'phone', name: 'erin', viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 },
    ];
    for (const v of views) {
      const sockets = [];
      const me = await openChat(browser, server.url, v.name, {
        viewport: v.viewport, isMobile: v.isMobile, deviceScaleFactor: v.deviceScaleFactor,
        async setup(page) {
          await page.routeWebSocket(/socket\.io/, (ws) => sockets.push({ ws, srv: ws.connectToServer() }));
        },
      });
      await waitForMessage(me.page, conversation.at(-1)[1]);
      const hi = `Hi all, ${v.name} here 👋`;
      await send(me.page, hi);
      await waitForMessage(me.page, hi);
      // typing starts after this page joined (a late joiner is not told about typing already going on)
      await users.carol.page.fill('#composer-input', '');
      await users.carol.page.type('#composer-input', 'typing');
      await me.page.locator('#typing', { hasText: 'carol is typing…' }).waitFor();
      for (const scheme of ['light', 'dark']) {
        await me.page.emulateMedia({ colorScheme: scheme });
        await sleep(200);
        const file = path.join(screenshotDir, `${v.tag}-${scheme}.png`);
        await me.page.screenshot({ path: file });
        shots.push(file);
        if (v.tag === 'phone') {
          await me.page.click('#menu-button');
          await me.page.locator('#app[data-sidebar="open"]').waitFor();
          await sleep(300);
          const f2 = path.join(screenshotDir, `phone-${scheme}-sidebar.png`);
          await me.page.screenshot({ path: f2 });
          shots.push(f2);
          await me.page.keyboard.press('Escape');
          await sleep(300);
        }
      }
      // the reconnecting state, with a message waiting to be sent
      await me.page.emulateMedia({ colorScheme: 'light' });
      await me.context.setOffline(true);
      for (const { ws, srv } of sockets) { await srv.close().catch(() => {}); await ws.close().catch(() => {}); }
      await me.page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 30_000 });
      await send(me.page, 'this waits for the network');
      await me.page.locator('#message-list li.pending').waitFor();
      const f3 = path.join(screenshotDir, `${v.tag}-light-reconnecting.png`);
      await me.page.screenshot({ path: f3 });
      shots.push(f3);
      await me.context.setOffline(false);
      await waitForMessage(me.page, 'this waits for the network', 30_000);
      await me.context.close();
    }

    // the name prompt
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    const p = await ctx.newPage();
    await p.goto(server.url + '/');
    await p.locator('#name-input').waitFor();
    const f = path.join(screenshotDir, 'desktop-dark-name-prompt.png');
    await p.screenshot({ path: f });
    shots.push(f);
    await ctx.close();
    process.stderr.write(`# screenshots:\n${shots.map((s) => '#   ' + s).join('\n')}\n`);
    assert.ok(shots.length >= 6);
  } finally {
    for (const u of Object.values(users)) await u.context.close();
  }
});
