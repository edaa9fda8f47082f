// A cluster behind nginx, as docs/DEPLOY.md deploys it: three chatroom nodes (real binary, one fresh
// PostgreSQL schema, Redis at 127.0.0.1:6379 with a prefix of their own) and nginx running a copy of
// deploy/nginx.conf rendered with the nodes' ports. Two Chromium pages chat through nginx, one on
// WebSocket and one pinned to long-polling (`?transport=polling`); the nginx access log shows every
// request of a polling session reached one node; then the node a page is on is killed with -9 and
// the page must come back through nginx on a surviving node showing every message exactly once,
// including the ones sent while it was reconnecting. Done twice: the polling page's node, then the
// WebSocket page's node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtemp, mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import {
  startServer, launchBrowser, openChat, send, waitForMessage, messageWithText, renderedIds,
  waitConnected, sleep, repoRoot, screenshotDir,
} from './harness.mjs';

const run = promisify(execFile);
const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';
const PG = { host: '127.0.0.1', port: '5432', user: 'postgres', db: 'test' };
const REDIS = process.env.CHATROOM_TEST_REDIS || 'redis://127.0.0.1:6379';
const NODES = 3;
// The upstream addresses deploy/nginx.conf names, in node order (node1 = 127.0.0.1:3001, …).
const CONF_PORTS = [3001, 3002, 3003];

const tag = `browser_cluster_${process.pid}_${Date.now().toString(36)}`;
const schema = tag;
let nodes = []; // { name, server, port }
let proxy; // { url, logPath, stop() }
let browser;

async function psql(sql) {
  await run('psql', ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', PG.db, '-v', 'ON_ERROR_STOP=1', '-qc', sql]);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * deploy/nginx.conf with the real node ports, a loopback listen port and logs under `prefix`;
 * the rest (upstreams, cookie maps, timeouts, headers) is exactly what operators deploy.
 */
function renderNginxConf(conf, { ports, listenPort, logDir }) {
  let out = conf;
  CONF_PORTS.forEach((p, i) => {
    out = out.replaceAll(`127.0.0.1:${p}`, `127.0.0.1:${ports[i]}`);
    out = out.replaceAll(`127\\.0\\.0\\.1:${p}`, `127\\.0\\.0\\.1:${ports[i]}`);
  });
  out = out.replace(/^\s*listen \[::\]:80;\n/m, '');
  out = out.replace(/listen 80;/, `listen 127.0.0.1:${listenPort};`);
  out = out.replaceAll('/var/log/nginx/', `${logDir}/`);
  for (const p of CONF_PORTS) assert.ok(!out.includes(`:${p}`), `port ${p} left in the rendered config`);
  return out;
}

/** nginx in the foreground with its own prefix, pid file, temp dirs and logs, as the current user. */
async function startNginx(ports) {
  const prefix = await mkdtemp(path.join(tmpdir(), 'chatroom-nginx-'));
  const logDir = path.join(prefix, 'logs');
  await mkdir(logDir);
  const listenPort = await freePort();
  const conf = await readFile(path.join(repoRoot, 'deploy/nginx.conf'), 'utf8');
  await writeFile(path.join(prefix, 'chatroom.conf'), renderNginxConf(conf, { ports, listenPort, logDir }));
  // Run as root (CI containers), nginx would hand the workers to `nobody`, who cannot write here.
  const user = process.getuid && process.getuid() === 0 ? 'user root root;\n' : '';
  await writeFile(path.join(prefix, 'nginx.conf'), `${user}worker_processes 2;
pid ${prefix}/nginx.pid;
error_log ${logDir}/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${prefix}/chatroom.conf;
}
`);
  const child = spawn(NGINX, ['-p', prefix, '-e', `${logDir}/error.log`, '-c', `${prefix}/nginx.conf`, '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const url = `http://127.0.0.1:${listenPort}`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`nginx exited at start ${JSON.stringify(exited)}: ${stderr}`);
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (i > 100) throw new Error(`nginx did not answer in 10 s: ${stderr}`);
    await sleep(100);
  }
  return {
    url,
    logPath: path.join(logDir, 'chatroom.access.log'),
    async stop() {
      if (!exited) {
        child.kill('SIGQUIT'); // graceful: finish open requests
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(t);
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

/** Access-log lines (the `chatroom_upstream` format of deploy/nginx.conf), parsed. */
async function accessLog() {
  const text = await readFile(proxy.logPath, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => {
    const m = /"(\S+) (\S+) [^"]*" (\d+) upstream=(.*?) node_cookie=(\S+)/.exec(line);
    if (!m) return null;
    const sid = /[?&]sid=([^&\s]+)/.exec(m[2]);
    return {
      method: m[1], uri: m[2], status: Number(m[3]), upstreams: m[4].split(', '),
      cookie: m[5], sid: sid && sid[1], polling: m[2].includes('transport=polling'),
    };
  }).filter(Boolean);
}

/** The node a page's requests reach: /healthz through the same cookie route. */
async function nodeOf(page) {
  return page.evaluate(async () => {
    const r = await fetch('/healthz', { cache: 'no-store' });
    return (await r.json()).node;
  });
}

async function cookieOf(context) {
  const c = (await context.cookies()).find((k) => k.name === 'chatroom_node');
  return c && c.value;
}

/** Records every change of the page's connection state with a timestamp (Date.now()). */
async function recordStatus(page) {
  await page.evaluate(() => {
    const status = document.getElementById('status');
    window.__statusLog = [{ state: status.dataset.state, t: Date.now() }];
    new MutationObserver(() => {
      const last = window.__statusLog[window.__statusLog.length - 1];
      if (last.state !== status.dataset.state) window.__statusLog.push({ state: status.dataset.state, t: Date.now() });
    }).observe(status, { attributes: true, attributeFilter: ['data-state'] });
  });
}

/**
 * Records, with a timestamp, every change of whether the page's member list shows exactly the two
 * users of the test (names and header count), so the time it settled can be read afterwards.
 */
async function recordMembers(page) {
  await page.evaluate(() => {
    const right = () => {
      const names = [...document.querySelectorAll('#member-list [data-name]')].map((e) => e.dataset.name).sort();
      return names.join(',') === 'pollard,sockette' && document.getElementById('room-sub').textContent === '2 members'
        && !document.querySelector('#member-list .member-more');
    };
    window.__membersRight = right;
    window.__memberLog = [{ right: right(), t: Date.now() }];
    const note = () => {
      const now = right();
      if (window.__memberLog[window.__memberLog.length - 1].right !== now) window.__memberLog.push({ right: now, t: Date.now() });
    };
    new MutationObserver(note).observe(document.getElementById('member-list'), { childList: true, subtree: true, characterData: true });
    new MutationObserver(note).observe(document.getElementById('room-sub'), { childList: true, subtree: true, characterData: true });
  });
}

/** When the member list last became right (null while it is wrong). */
async function membersRightSince(page) {
  return page.evaluate(() => {
    const log = window.__memberLog;
    const last = log[log.length - 1];
    return last.right ? last.t : null;
  });
}

/** [from, to) intervals during which the page was not connected. */
async function offlineIntervals(page) {
  const log = await page.evaluate(() => window.__statusLog);
  const out = [];
  let from = null;
  for (const { state, t } of log) {
    if (state !== 'connected' && from === null) from = t;
    if (state === 'connected' && from !== null) { out.push([from, t]); from = null; }
  }
  if (from !== null) out.push([from, Infinity]);
  return out;
}

/** Sids of polling sessions and the upstream(s) each one's successful requests reached. */
function pollingSessions(lines) {
  const bySid = new Map();
  for (const l of lines) {
    if (!l.polling || !l.sid || l.status !== 200) continue;
    if (!bySid.has(l.sid)) bySid.set(l.sid, new Set());
    // the answering node is the last address tried
    bySid.get(l.sid).add(l.upstreams[l.upstreams.length - 1]);
  }
  return bySid;
}

before(async () => {
  assert.ok(existsSync(NGINX), `nginx not found at ${NGINX} (scripts/setup.sh installs it)`);
  await psql(`drop schema if exists ${schema} cascade`);
  const db = `postgres://${PG.user}@${PG.host}:${PG.port}/${PG.db}?schema=${schema}`;
  for (let i = 1; i <= NODES; i++) {
    // One at a time: the first creates the schema and runs the migrations.
    const server = await startServer({
      db,
      args: ['--redis', REDIS, '--redis-prefix', tag, '--node-name', `node${i}`, '--trust-proxy', '127.0.0.1'],
    });
    nodes.push({ name: `node${i}`, server, port: Number(new URL(server.url).port) });
  }
  proxy = await startNginx(nodes.map((n) => n.port));
  await mkdir(screenshotDir, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  for (const n of nodes) {
    const e = await n.server.stop();
    if (process.env.CHATROOM_TEST_VERBOSE) process.stderr.write(`# ${n.name} exit ${JSON.stringify(e)}\n`);
  }
  await psql(`drop schema if exists ${schema} cascade`).catch(() => {});
});

test('two pages through nginx, WebSocket and polling-only, survive kill -9 of their nodes', { timeout: 240_000 }, async () => {
  const wsFrames = [];
  const ws = await openChat(browser, proxy.url, 'sockette', {
    async setup(page) { page.on('websocket', (w) => wsFrames.push(w.url())); },
  });
  const polled = [];
  const poll = await openChat(browser, proxy.url, 'pollard', {
    path: '/?transport=polling',
    async setup(page) {
      page.on('websocket', (w) => polled.push(`websocket ${w.url()}`));
      page.on('request', (r) => { if (r.url().includes('/socket.io/?')) polled.push(r.url()); });
    },
  });
  const pages = { ws, poll };
  try {
    for (const p of [ws, poll]) await recordStatus(p.page);
    await ws.page.locator('#member-list [data-name="pollard"]').waitFor();
    await poll.page.locator('#member-list [data-name="sockette"]').waitFor();
    for (const p of [ws, poll]) await recordMembers(p.page);
    // Sticky: each page's cookie names the node its /healthz (same route) answers from, and
    // nginx's round-robin put the two first visits on two different nodes.
    const nodeWs = await nodeOf(ws.page);
    const nodePoll = await nodeOf(poll.page);
    assert.equal(await cookieOf(ws.context), nodeWs);
    assert.equal(await cookieOf(poll.context), nodePoll);
    assert.notEqual(nodeWs, nodePoll, 'the two pages landed on two nodes');
    assert.ok(wsFrames.length >= 1, 'the WebSocket page uses a WebSocket');
    assert.ok(polled.length > 0 && polled.every((u) => u.includes('transport=polling')), `polling page never tried WebSocket: ${polled.filter((u) => !u.includes('transport=polling'))}`);

    // Cross-node chat both ways (the pages sit on different nodes).
    await send(ws.page, 'hello from the websocket page');
    await waitForMessage(poll.page, 'hello from the websocket page');
    await send(poll.page, 'hello from the polling page');
    await waitForMessage(ws.page, 'hello from the polling page');
    await ws.page.locator('#member-list [data-name="pollard"]').waitFor();
    await poll.page.locator('#member-list [data-name="sockette"]').waitFor();
    await sleep(1000); // a few more long-poll rounds into the log

    // nginx's access log: every successful request of a polling session reached one node, and
    // the polling page's session made several.
    const before = pollingSessions(await accessLog());
    const pollSids = [...before.keys()];
    assert.ok(pollSids.length >= 1, 'polling sessions in the access log');
    for (const [sid, ups] of before) assert.equal(ups.size, 1, `polling session ${sid} reached ${[...ups]}`);
    const lines = (await accessLog()).filter((l) => l.sid === pollSids[0]);
    assert.ok(lines.length >= 3, `the polling session made ${lines.length} requests`);
    await ws.page.screenshot({ path: path.join(screenshotDir, 'cluster-1-websocket-page.png') });
    await poll.page.screenshot({ path: path.join(screenshotDir, 'cluster-1-polling-page.png') });

    const texts = ['hello from the websocket page', 'hello from the polling page'];
    let round = 0;
    for (const [victimKey, otherKey] of [['poll', 'ws'], ['ws', 'poll']]) {
      round += 1;
      const victim = pages[victimKey];
      const other = pages[otherKey];
      const victimNode = await nodeOf(victim.page);
      const dead = nodes.find((n) => n.name === victimNode);
      assert.ok(dead, `node ${victimNode} is one of ours`);
      const e = await dead.server.kill('SIGKILL');
      assert.equal(e.signal, 'SIGKILL');
      const killedAt = Date.now();
      process.stderr.write(`# round ${round}: killed ${victimNode} (the ${victimKey} page's node)\n`);

      // The victim sends at once (its transport may not know yet): it stays pending and goes out
      // with the same cid after the reconnect. Meanwhile the other page keeps talking.
      const own = `round ${round}: sent by the ${victimKey} page right after the kill`;
      await send(victim.page, own);
      texts.push(own);
      const burst = [];
      for (let i = 0; i < 12; i++) {
        const t = `round ${round}: from the ${otherKey} page #${i}`;
        const at = Date.now();
        await send(other.page, t);
        await waitForMessage(other.page, t); // acked: stored in the room
        burst.push({ t, at });
        texts.push(t);
        await sleep(250);
      }

      await waitConnected(victim.page, 30_000);
      for (const t of texts) await waitForMessage(victim.page, t, 30_000);
      await waitForMessage(other.page, own, 30_000);
      await sleep(1500); // a duplicate would show up by now

      // The page was really offline for a while and messages were committed during that time.
      const gaps = (await offlineIntervals(victim.page)).filter(([from]) => from >= killedAt - 1000);
      assert.ok(gaps.length >= 1, 'the page noticed it lost its node');
      const during = burst.filter(({ at }) => gaps.some(([from, to]) => at >= from && at < to));
      assert.ok(during.length >= 1, `a message was sent while the ${victimKey} page was reconnecting (${JSON.stringify(gaps)})`);
      process.stderr.write(`# round ${round}: offline ${JSON.stringify(gaps.map(([a, b]) => b - a))} ms, ${during.length} sent meanwhile\n`);

      // It came back through nginx to a surviving node, and the cookie follows it there.
      const now = await nodeOf(victim.page);
      assert.notEqual(now, victimNode);
      assert.ok(nodes.some((n) => n.name === now && n !== dead), `${now} is alive`);
      assert.equal(await cookieOf(victim.context), now);
      assert.equal(await victim.page.getAttribute('#status', 'data-state'), 'connected');

      for (const { page } of [ws, poll]) {
        const ids = await renderedIds(page);
        assert.equal(new Set(ids).size, ids.length, `no message id rendered twice: ${ids}`);
        assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'messages in id order');
        for (const t of texts) assert.equal(await messageWithText(page, t).count(), 1, `${t} exactly once`);
        assert.equal(await page.locator('#message-list li.pending').count(), 0, 'nothing left pending');
      }
      assert.deepEqual(await renderedIds(ws.page), await renderedIds(poll.page), 'both pages show the same messages');

      // As the user sees it right after coming back (member lists may still show the dead node's
      // connection: the bound below).
      await victim.page.screenshot({ path: path.join(screenshotDir, `cluster-${round + 1}-${victimKey}-page-reconnected.png`) });

      // The dead node's connection leaves every member list and the reconnected user is in it:
      // both pages list exactly the two users, settled within 15 s of the kill (documented bound
      // 10 s, plus slack for a loaded CI machine). The time is when the list last became right.
      const settled = [];
      for (const { page } of [ws, poll]) {
        await page.waitForFunction(() => window.__membersRight(), null, { timeout: Math.max(1000, killedAt + 15_000 - Date.now()) })
          .catch(async () => {
            const shown = await page.evaluate(() => `${document.getElementById('member-list').innerText.replace(/\n/g, ' | ')} (${document.getElementById('room-sub').textContent})`);
            assert.fail(`member list 15 s after the kill: ${shown}`);
          });
        settled.push(Math.max(0, (await membersRightSince(page)) - killedAt));
      }
      process.stderr.write(`# round ${round}: member lists right ${settled.join(' / ')} ms after the kill (ws / poll page)\n`);
      for (const ms of settled) assert.ok(ms <= 15_000, `member list settled ${ms} ms after the kill`);
      await victim.page.screenshot({ path: path.join(screenshotDir, `cluster-${round + 1}-${victimKey}-page-settled.png`) });
      await other.page.screenshot({ path: path.join(screenshotDir, `cluster-${round + 1}-${otherKey}-page-settled.png`) });
    }

    // Polling stickiness held for every session, the ones after the failovers included.
    const sessions = pollingSessions(await accessLog());
    assert.ok(sessions.size > pollSids.length, 'the polling page opened a new session after its node died');
    for (const [sid, ups] of sessions) assert.equal(ups.size, 1, `polling session ${sid} reached ${[...ups]}`);
    assert.equal(polled.filter((u) => !u.includes('transport=polling')).length, 0, 'the polling page stayed on polling');
    for (const { problems } of [ws, poll]) assert.deepEqual(problems.dialogs, []);
    // Exceptions in the page (not the 502/400 answers a dead node's requests get) fail the test.
    for (const { problems } of [ws, poll]) {
      assert.deepEqual(problems.errors.filter((e) => !/^(400|502) http|^WebSocket connection to .* failed/.test(e)), []);
    }
  } finally {
    await ws.context.close();
    await poll.context.close();
  }
});
