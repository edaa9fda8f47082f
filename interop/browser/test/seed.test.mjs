// The original seed page (jQuery swapped for plain JS, otherwise unchanged) served through `--views`
// chats in the lobby with our page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, renderOurPage, startPageProxy, watch, sleep,
} from './harness.mjs';

let server;
let browser;
let proxy;

before(async () => {
  server = await startServer({ seedViews: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  const e = await server?.stop();
  if (e) assert.equal(e.code, 0, `server exit ${JSON.stringify(e)}`);
});

test('the seed page and our page chat in the lobby', { timeout: 180_000 }, async () => {
  const seedCtx = await browser.newContext();
  const seed = await seedCtx.newPage();
  const seedProblems = watch(seed);
  await seed.goto(server.url + '/');
  // rendered by the server from the --views template with the default title
  assert.equal((await seed.textContent('h2')).trim(), '技术讨论区');
  assert.equal(await seed.title(), 'Socket.IO chat');

  // --views replaces GET /, so our page is shown through a loopback proxy that serves our template at /
  // and forwards everything else (scripts, Socket.IO, WebSocket) to the same server.
  proxy = await startPageProxy(server.url, await renderOurPage());
  const ours = await openChat(browser, proxy.url, 'alice');
  try {
    // give the seed socket time to connect before it types
    await seed.waitForFunction(() => window.socket && window.socket.connected, null, { timeout: 15_000 });
    await seed.fill('#m', 'hello from the seed page');
    await seed.press('#m', 'Enter');
    await seed.locator('#messages li', { hasText: 'hello from the seed page' }).waitFor();
    const m = await waitForMessage(ours.page, 'hello from the seed page');
    assert.match(await m.locator('.msg-name').textContent(), /^guest-[0-9a-f]{4}$/);

    await send(ours.page, 'hi seed <b>bold?</b>');
    await seed.locator('#messages li', { hasText: 'alice: hi seed <b>bold?</b>' }).waitFor();
    await sleep(300);
    const items = await seed.$$eval('#messages li', (els) => els.map((e) => e.textContent));
    assert.deepEqual(items, ['hello from the seed page', 'alice: hi seed <b>bold?</b>']);
    assert.equal(await seed.locator('#messages b').count(), 0);
    assert.deepEqual(seedProblems, { errors: [], dialogs: [] });
    assert.deepEqual(ours.problems, { errors: [], dialogs: [] });
  } finally {
    await ours.context.close();
    await seedCtx.close();
  }
});
