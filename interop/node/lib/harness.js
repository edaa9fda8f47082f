// Test harness shared by the interop suites: starts the real `chatroom` binary on a fresh store
// (SQLite temp dir or a fresh PostgreSQL schema), connects real npm `socket.io-client` clients,
// and closes everything it opened. The wire contract under test is docs/PROTOCOL.md.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const readline = require('node:readline');
const { io } = require('socket.io-client');
const pg = require('pg');

const REPO = path.resolve(__dirname, '..', '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
const BIN = process.env.CHATROOM_BIN || path.join(TARGET, 'debug', 'chatroom');
const PG_BASE = process.env.CHATROOM_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';

/** Both stores, unless CHATROOM_TEST_STORES=sqlite (or =postgres) narrows it. */
function storeKinds() {
  const only = process.env.CHATROOM_TEST_STORES;
  return only ? only.split(',').map((s) => s.trim()) : ['sqlite', 'postgres'];
}

function rand(n = 8) {
  return crypto.randomBytes(n).toString('hex').slice(0, n);
}

function withQuery(base, query) {
  return base + (base.includes('?') ? '&' : '?') + query;
}

/**
 * A fresh store. `pgBase` lets a test point the server at a proxy in front of PostgreSQL while
 * the schema is still created directly.
 */
async function makeStore(kind, { pgBase } = {}) {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroom-interop-'));
    return {
      kind,
      url: `sqlite://${dir}/x.db`,
      async cleanup() {
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (kind === 'postgres') {
    const schema = `t_${rand(12)}`;
    const admin = new pg.Client({ connectionString: PG_BASE });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const serverBase = pgBase || PG_BASE;
    return {
      kind,
      schema,
      url: withQuery(serverBase, `options=-c%20search_path%3D${schema}`),
      async cleanup() {
        const c = new pg.Client({ connectionString: PG_BASE });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      },
    };
  }
  throw new Error(`unknown store kind ${kind}`);
}

/**
 * Starts the server: `--host 127.0.0.1 --port <port|0> --db <url> --rate-limit <rl>`, waits for
 * `listening on http(s)://...` on stdout (`env`: extra environment variables).
 * Returns { url, port, proc, stop(), kill9(), logs() }.
 */
async function startServer({ db, rateLimit = 'off', port = 0, title, args = [], env = {}, timeoutMs = 30000 }) {
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found: ${BIN} (set CHATROOM_BIN)`);
  const argv = ['--host', '127.0.0.1', '--port', String(port), '--db', db, '--rate-limit', rateLimit];
  if (title !== undefined) argv.push('--title', title);
  argv.push(...args);
  const proc = spawn(BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const logLines = [];
  const keep = (line) => {
    logLines.push(line);
    if (logLines.length > 400) logLines.shift();
  };
  readline.createInterface({ input: proc.stderr }).on('line', keep);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not print "listening on" within ${timeoutMs} ms\n${logLines.join('\n')}`));
    }, timeoutMs);
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      keep(`[stdout] ${line}`);
      const m = /^listening on (https?:\/\/\S+)$/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (code ${code}, signal ${signal})\n${logLines.join('\n')}`));
    });
  });
  const portNum = Number(new URL(url).port);
  let done = null;
  return {
    url,
    port: portNum,
    proc,
    db,
    logs: () => logLines.join('\n'),
    exited,
    /** SIGTERM, wait for exit; returns { code, signal }. */
    async stop(ms = 15000) {
      if (done) return done;
      if (proc.exitCode !== null || proc.signalCode !== null) return (done = await exited);
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      done = await exited;
      clearTimeout(t);
      return done;
    },
    async kill9() {
      proc.kill('SIGKILL');
      done = await exited;
      return done;
    },
  };
}

/**
 * Tracks every client a test opens so `closeAll()` can close them (call it in afterEach).
 * `connect()` resolves after the Socket.IO `connect` event and exposes the `welcome` payload.
 */
class Clients {
  constructor() {
    this.sockets = [];
  }

  /** Creates a socket without waiting; `welcome` is captured from the start. */
  open(url, { name, auth, transports = ['websocket'], reconnection = false, ...rest } = {}) {
    const opts = { forceNew: true, reconnection, transports, ...rest };
    if (auth !== undefined) opts.auth = auth;
    else if (name !== undefined) opts.auth = { name };
    const socket = io(url, opts);
    socket.welcome = new Promise((resolve) => socket.once('welcome', resolve));
    this.sockets.push(socket);
    return socket;
  }

  /** Opens and waits for `connect` and `welcome`. Rejects on connect_error. */
  async connect(url, opts = {}, timeoutMs = 10000) {
    const socket = this.open(url, opts);
    await connected(socket, timeoutMs);
    socket.welcomeData = await withTimeout(socket.welcome, timeoutMs, 'welcome');
    return socket;
  }

  closeAll() {
    for (const s of this.sockets) s.close();
    this.sockets = [];
  }
}

function connected(socket, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve(socket);
    const t = setTimeout(() => {
      cleanup();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    const ok = () => {
      cleanup();
      resolve(socket);
    };
    const bad = (err) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(t);
      socket.off('connect', ok);
      socket.off('connect_error', bad);
    };
    socket.on('connect', ok);
    socket.on('connect_error', bad);
  });
}

/** Resolves with the `connect_error` error, rejects if the socket connects instead. */
function connectError(socket, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('neither connect nor connect_error')), timeoutMs);
    socket.once('connect_error', (err) => {
      clearTimeout(t);
      resolve(err);
    });
    socket.once('connect', () => {
      clearTimeout(t);
      reject(new Error('connected, expected connect_error'));
    });
  });
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** Emits with an ack callback; rejects if the ack does not come within `ms`. */
function call(socket, event, payload, ms = 10000) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, payload, (res) => resolve(res))),
    ms,
    `ack of ${event} ${JSON.stringify(payload)?.slice(0, 80)}`,
  );
}

/**
 * Records every `event` a socket receives. `until(pred)` waits for a condition on the list,
 * `waitCount(n)` until n entries are recorded, `find(pred)` for a matching entry.
 */
class Recorder {
  constructor(socket, event) {
    this.items = [];
    this.waiters = [];
    this.event = event;
    socket.on(event, (...args) => {
      this.items.push(args.length === 1 ? args[0] : args);
      this._wake();
    });
  }

  _wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Waits until `pred(items)` holds. */
  until(pred, ms = 10000, what = 'condition') {
    return withTimeout(
      new Promise((resolve) => {
        const check = () => {
          if (pred(this.items)) {
            this.waiters = this.waiters.filter((w) => w !== check);
            resolve(this.items);
            return true;
          }
          return false;
        };
        if (!check()) this.waiters.push(check);
      }),
      ms,
      `${this.event}: ${what} (have ${this.items.length}: ${JSON.stringify(this.items.slice(-3)).slice(0, 300)})`,
    );
  }

  waitCount(n, ms = 10000) {
    return this.until((items) => items.length >= n, ms, `${n} items`);
  }

  /** Waits for the first item matching `pred` and returns it. */
  async find(pred, ms = 10000, what = 'matching item') {
    await this.until((items) => items.some(pred), ms, what);
    return this.items.find(pred);
  }

  clear() {
    this.items = [];
  }
}

/** Asserts an ack/error is a refusal with `code` in the documented `{ code, message }` shape. */
function assertRefused(res, code, what = '') {
  const assert = require('node:assert/strict');
  assert.equal(res?.ok, false, `${what} expected ok:false with ${code}, got ${JSON.stringify(res)}`);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(res.error?.code), `${what} expected ${codes.join('|')}, got ${JSON.stringify(res)}`);
  assert.equal(typeof res.error.message, 'string', `${what} error.message`);
}

/** Asserts an ack is `{ ok: true, ... }`. */
function assertOk(res, what = '') {
  const assert = require('node:assert/strict');
  assert.equal(res?.ok, true, `${what} expected ok:true, got ${JSON.stringify(res)?.slice(0, 500)}`);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A room name unique to this test run. */
function room(prefix = 'r') {
  return `${prefix}-${rand(8)}`;
}


/**
 * One server per `describe`: registers the hooks that open a fresh store of `kind`, start the
 * server with `serverOpts`, close `clients` after each test, and at the end stop the server
 * (asserting exit code 0 on SIGTERM) and drop the store. Returns a stand-in for the running
 * server (`srv.url`, `srv.port`, `srv.logs()`, …) usable once `before` has run.
 */
function useServer(kind, clients, serverOpts = {}) {
  const { before, after, afterEach } = require('node:test');
  const assert = require('node:assert/strict');
  let store;
  let srv;
  before(async () => {
    store = await makeStore(kind);
    srv = await startServer({ db: store.url, ...serverOpts });
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    clients.closeAll();
    if (srv) {
      const { code } = await srv.stop();
      assert.equal(code, 0, `server exit code after SIGTERM\n${srv.logs()}`);
    }
    if (store) await store.cleanup();
  });
  return new Proxy(
    {},
    {
      get(_, key) {
        const value = srv[key];
        return typeof value === 'function' ? value.bind(srv) : value;
      },
    },
  );
}

module.exports = {
  useServer,
  BIN,
  PG_BASE,
  storeKinds,
  makeStore,
  startServer,
  Clients,
  Recorder,
  connected,
  connectError,
  call,
  withTimeout,
  sleep,
  assertRefused,
  assertOk,
  room,
  rand,
};
