// Shared helpers for the Chromium tests: start the chatroom binary on a free loopback port with a fresh
// SQLite database, launch Chromium through playwright-core, and drive the chat page.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, mkdir, copyFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const browserDir = path.resolve(here, '..');
export const repoRoot = path.resolve(browserDir, '../..');
export const screenshotDir = path.join(browserDir, 'screenshots');
export const templatePath = path.join(repoRoot, 'crates/chatroom/web/templates/index.html');
export const seedFixture = path.join(browserDir, 'fixtures/seed-index.html');

export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function serverBinary() {
  if (process.env.CHATROOM_BIN) return process.env.CHATROOM_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
  return path.join(target, 'debug', 'chatroom');
}

/**
 * Starts `chatroom` on 127.0.0.1 with `--port 0`, a fresh SQLite db in a temp dir and `--rate-limit off`.
 * `opts.seedViews`: serve interop/browser/fixtures/seed-index.html as the page (via `--views`).
 * `opts.args`: more flags (e.g. `['--allowed-origins', origin]`).
 * `opts.db`: another `--db` URL instead of the fresh SQLite file (e.g. a PostgreSQL schema).
 * Resolves to { url, pid, stop(), kill(signal), logs() }.
 */
export async function startServer(opts = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`chatroom binary not found at ${bin} (build it or set CHATROOM_BIN)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'chatroom-browser-'));
  const args = ['--host', '127.0.0.1', '--port', '0', '--db', opts.db || `sqlite://${dir}/chat.db`, '--rate-limit', 'off'];
  if (opts.seedViews) {
    const views = path.join(dir, 'views');
    await mkdir(views);
    await copyFile(seedFixture, path.join(views, 'index.html'));
    args.push('--views', views);
  }
  if (opts.title) args.push('--title', opts.title);
  if (opts.args) args.push(...opts.args);
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' };
  delete env.CHATROOM_VIEWS;
  delete env.CHATROOM_TITLE;
  delete env.CHATROOM_DB;
  delete env.CHATROOM_RATE_LIMIT;
  const child = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-200_000); });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not print its address in 30 s\n${stderr}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    exit.then((e) => { clearTimeout(timer); reject(new Error(`server exited early ${JSON.stringify(e)}\n${stderr}`)); });
  });

  return {
    url,
    pid: child.pid,
    logs: () => stderr,
    /** Sends `signal` (e.g. SIGKILL) and resolves once the process is gone. */
    async kill(signal) {
      if (!exited) child.kill(signal);
      return exit;
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const e = await exit;
        clearTimeout(t);
        if (process.env.CHATROOM_TEST_VERBOSE) process.stderr.write(stderr);
        await rm(dir, { recursive: true, force: true });
        return e;
      }
      await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: chromiumArgs,
  });
}

/** Our page's template rendered the way the server would (title autoescaped). */
export async function renderOurPage(title = '技术讨论区') {
  const esc = title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&#34;').replace(/'/g, '&#39;');
  const tpl = await readFile(templatePath, 'utf8');
  return tpl.replace(/\{\{\s*title\s*\}\}/g, esc);
}

/**
 * A loopback HTTP server that answers `GET pagePath` with `html` and forwards every other request,
 * WebSocket upgrades included, to `target` (the chatroom server). Lets a test show our page while the
 * server's `/` serves the seed page (`--views`). A document fulfilled by page.route would have no
 * address, and Chromium's Local Network Access checks then refuse its WebSocket to 127.0.0.1.
 * Like a reverse proxy (nginx `proxy_set_header Host $host`) it keeps the browser's Host, so the
 * server sees the page's Origin as its own origin.
 * Resolves to { url, close() }.
 */
export async function startPageProxy(target, html, pagePath = '/') {
  const t = new URL(target);
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === pagePath) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
      return;
    }
    const up = http.request({
      host: t.hostname, port: t.port, method: req.method, path: req.url,
      headers: req.headers,
    }, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(t.port), t.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i];
        raw += `${k}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      up.write(raw + '\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    sockets.add(up);
    up.on('close', () => { sockets.delete(up); socket.destroy(); });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Records console errors, page errors and dialogs of a page (asserted empty by the tests). */
export function watch(page) {
  const problems = { errors: [], dialogs: [] };
  page.on('pageerror', (e) => problems.errors.push(String(e)));
  // failed loads are reported with their URL from 'response'; the console line has none
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.errors.push(`${r.status()} ${r.url()}`);
  });
  page.on('dialog', (d) => { problems.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return problems;
}

/**
 * Opens our chat page in a new context and answers the name prompt.
 * opts: { path, viewport, colorScheme, isMobile, deviceScaleFactor, setup(page, context) }
 */
export async function openChat(browser, url, name, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport || { width: 1280, height: 800 },
    colorScheme: opts.colorScheme || 'light',
    isMobile: !!opts.isMobile,
    hasTouch: !!opts.isMobile,
    deviceScaleFactor: opts.deviceScaleFactor || 1,
  });
  const page = await context.newPage();
  const problems = watch(page);
  if (opts.setup) await opts.setup(page, context);
  await page.goto(url + (opts.path || '/'));
  await page.locator('#name-input').waitFor({ state: 'visible' });
  await page.fill('#name-input', name);
  await page.press('#name-input', 'Enter');
  await waitConnected(page);
  return { context, page, problems };
}

export async function waitConnected(page, timeout = 20_000) {
  await page.locator('#status[data-state="connected"]').waitFor({ state: 'attached', timeout });
}

export async function send(page, text) {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

/** Locator of rendered (stored) messages whose text is exactly `text`. */
export function messageWithText(page, text) {
  return page.locator('#message-list li.msg[data-id]').filter({
    has: page.locator('.bubble', { hasText: new RegExp('^' + escapeRe(text) + '$') }),
  });
}

export async function waitForMessage(page, text, timeout = 15_000) {
  const loc = messageWithText(page, text);
  await loc.first().waitFor({ state: 'visible', timeout });
  return loc;
}

/** Every rendered message id, in DOM order (duplicates included). */
export async function renderedIds(page) {
  return page.$$eval('#message-list li.msg[data-id]', (els) => els.map((e) => Number(e.dataset.id)));
}

export async function joinRoom(page, room) {
  await openSidebarIfNeeded(page);
  await page.fill('#join-input', room);
  await page.press('#join-input', 'Enter');
  await page.locator('#room-name', { hasText: room }).waitFor();
  await page.locator(`#room-list .room-item[aria-current="true"][data-room="${room}"]`).waitFor();
}

export async function openSidebarIfNeeded(page) {
  if (await page.locator('#menu-button').isVisible()) {
    if ((await page.getAttribute('#app', 'data-sidebar')) !== 'open') await page.click('#menu-button');
  }
}

export function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
