// The page's limits and character rules are the server's (issue 11): the numbers are rendered
// into the template from chatroom-core, and a room name the server accepts (U+180E, which the
// page's old copy of the rule refused) is accepted by the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openChat, send, waitForMessage, openSidebarIfNeeded } from './harness.mjs';

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

test('room names the server accepts are accepted by the page (U+180E)', { timeout: 60_000 }, async () => {
  const a = await openChat(browser, server.url, 'mongol');
  try {
    const room = 'a\u180eb';
    await openSidebarIfNeeded(a.page);
    await a.page.fill('#join-input', room);
    await a.page.press('#join-input', 'Enter');
    await a.page.locator(`#room-list .room-item[aria-current="true"][data-room="${room}"]`).waitFor();
    assert.equal(await a.page.locator('#join-error').isHidden(), true);
    await send(a.page, 'inside a\u180eb');
    await waitForMessage(a.page, 'inside a\u180eb');
    // the page's limits are the server's, from the template
    assert.deepEqual(await a.page.evaluate(() => ({ ...document.getElementById('app').dataset })),
      { sidebar: 'closed', maxName: '32', maxRoom: '64', maxText: '4000' });
    await a.page.fill('#join-input', 'no spaces');
    await a.page.press('#join-input', 'Enter');
    await a.page.locator('#join-error', { hasText: 'cannot contain spaces' }).waitFor();
    assert.deepEqual(a.problems, { errors: [], dialogs: [] });
  } finally {
    await a.context.close();
  }
});
