// Browser safety (issue 7): the built-in page runs under its Content-Security-Policy without a
// single violation and chats; the seed page (inline <script>/<style>, via --views) still chats
// because its inline blocks are hashed into its policy (seed.test.mjs checks it has no console
// errors; here we look for violations explicitly); a page on another origin that loads our
// client is refused unless its origin is in --allowed-origins.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, watch,
} from './harness.mjs';

let browser;
const cleanup = [];

after(async () => {
  await browser?.close();
  for (const f of cleanup.reverse()) await f();
});

/** Records CSP violations (event and console) of a page. */
async function cspWatch(page) {
  const seen = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) seen.push(m.text()); });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return async () => seen.concat(await page.evaluate(() => window.__csp || []));
}

async function startServerWith(opts) {
  const server = await startServer(opts);
  cleanup.push(async () => {
    const e = await server.stop();
    assert.equal(e.code, 0, `server exit ${JSON.stringify(e)}`);
  });
  return server;
}

test('the built-in page loads with no CSP violation and chats', { timeout: 120_000 }, async () => {
  browser = browser || await launchBrowser();
  const server = await startServerWith({});
  const response = await fetch(server.url + '/');
  const csp = response.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  let violations;
  const chat = await openChat(browser, server.url, 'alice', {
    setup: async (page) => { violations = await cspWatch(page); },
  });
  try {
    await send(chat.page, 'hello under CSP');
    await waitForMessage(chat.page, 'hello under CSP');
    assert.deepEqual(await violations(), []);
    assert.deepEqual(chat.problems, { errors: [], dialogs: [] });
  } finally {
    await chat.context.close();
  }
});

test('the seed page runs its inline script under its hashed policy', { timeout: 120_000 }, async () => {
  browser = browser || await launchBrowser();
  const server = await startServerWith({ seedViews: true });
  const csp = (await fetch(server.url + '/')).headers.get('content-security-policy');
  assert.match(csp, /script-src 'self' 'sha256-/);
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  const violations = await cspWatch(page);
  try {
    await page.goto(server.url + '/');
    await page.waitForFunction(() => window.socket && window.socket.connected, null, { timeout: 15_000 });
    await page.fill('#m', 'seed under CSP');
    await page.press('#m', 'Enter');
    await page.locator('#messages li', { hasText: 'seed under CSP' }).waitFor();
    assert.deepEqual(await violations(), []);
    assert.deepEqual(problems, { errors: [], dialogs: [] });
  } finally {
    await context.close();
  }
});

/** A page on its own loopback port that loads our client from `target` and connects to it. */
async function startForeignSite() {
  let target = '';
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>elsewhere</title>
<script src="${target}/socket.io/socket.io.js"></script>
<script>
  window.result = new Promise((resolve) => {
    const socket = io(${JSON.stringify(target)}, { reconnection: false, auth: { name: 'visitor' } });
    socket.on('connect', () => resolve('connect'));
    socket.on('connect_error', (e) => resolve('connect_error: ' + e.message));
  });
</script>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    setTarget(t) { target = t; },
  };
}

async function visit(site) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(site.url + '/');
    return await page.evaluate(() => window.result);
  } finally {
    await context.close();
  }
}

test('a page on another origin is refused unless that origin is allowed', { timeout: 120_000 }, async () => {
  browser = browser || await launchBrowser();
  const site = await startForeignSite();
  const closed = await startServerWith({});
  site.setTarget(closed.url);
  assert.match(await visit(site), /^connect_error/);
  assert.match(closed.logs(), /origin_not_allowed/);

  const open = await startServerWith({ args: ['--allowed-origins', site.url] });
  site.setTarget(open.url);
  assert.equal(await visit(site), 'connect');
});
