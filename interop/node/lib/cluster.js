// Cluster harness for the issue-8 suites (interop/node/cluster): starts N nodes of the real
// `chatroom` binary on free ports, all on one fresh PostgreSQL schema and one Redis namespace
// (a unique `--redis-prefix` on the shared Redis, or a private redis-server on a free port for
// the tests that restart Redis — the shared one at 6379 is never restarted), waits until each
// node listens and is ready, kills them (SIGTERM, or SIGKILL for the kill -9 cases) and drops
// the schema. Every node's stderr goes to a log file so a failing run can be read afterwards.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const pg = require('pg');
const { Clients, startServer, rand, sleep, withTimeout, call, PG_BASE } = require('./harness');

const SHARED_REDIS = process.env.CHATROOM_TEST_REDIS || 'redis://127.0.0.1:6379';
const REDIS_SERVER = process.env.REDIS_SERVER_BIN || 'redis-server';
/** Where node logs are kept (one directory per cluster); printed when a cluster is cleaned up. */
const LOG_ROOT = process.env.CHATROOM_CLUSTER_LOGS || path.join(os.tmpdir(), 'chatroom-cluster-logs');
/**
 * Harness self-check only: `CHATROOM_CLUSTER_HARNESS_CHECK=1` starts one node without `--redis`,
 * so the single-node parts of the suites and the harness itself can be exercised against a
 * binary that has no cluster support yet. Tests that need several nodes or Redis skip then.
 */
const HARNESS_CHECK = process.env.CHATROOM_CLUSTER_HARNESS_CHECK === '1';

/** A TCP port nobody listens on right now (bound and released; the window for a race is tiny). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when something accepts TCP connections on host:port and answers a Redis PING. */
async function waitRedis(port, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      let buf = '';
      c.setTimeout(1000, () => c.destroy());
      c.on('connect', () => c.write('PING\r\n'));
      c.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n')) {
          c.destroy();
          resolve(buf.startsWith('+PONG'));
        }
      });
      c.on('error', () => resolve(false));
      c.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis on port ${port} did not answer PING within ${ms} ms`);
    await sleep(50);
  }
}

/**
 * A private redis-server on a free port (no persistence, so a restart loses every subscription
 * and message in flight, as a real crash does). `restart(downMs)` SIGKILLs it, waits `downMs`,
 * and starts a new one on the same port.
 */
async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroom-redis-'));
  let proc = null;
  const launch = async () => {
    proc = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr.on('data', () => {});
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    proc.exitedPromise = exited;
    await Promise.race([
      waitRedis(port),
      exited.then((code) => {
        throw new Error(`redis-server exited at start (code ${code})`);
      }),
    ]);
  };
  const kill = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await proc.exitedPromise;
    }
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start: launch,
    async restart(downMs = 1000) {
      await kill();
      await sleep(downMs);
      await launch();
    },
    async stop() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh PostgreSQL schema name; the server creates it (`?schema=`), `dropSchema` removes it. */
function schemaName() {
  return `cl_${rand(12)}`;
}

async function dropSchema(schema) {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

function withQuery(base, query) {
  return base + (base.includes('?') ? '&' : '?') + query;
}

/** GET url → { status, json }; rejects on connection errors. */
async function getJson(url, ms = 3000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  return { status: res.status, json };
}

/**
 * Waits until the node says it is ready: `/readyz` 200 (store and Redis reachable). A binary
 * without `/readyz` (404) is ready when `/healthz` answers 200.
 */
async function waitReady(url, ms = 20000) {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const r = await getJson(`${url}/readyz`);
      if (r.status === 200) return r.json;
      if (r.status === 404) {
        const h = await getJson(`${url}/healthz`);
        if (h.status === 200) return h.json;
        last = `healthz ${h.status} ${JSON.stringify(h.json)}`;
      } else {
        last = `readyz ${r.status} ${JSON.stringify(r.json)}`;
      }
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${ms} ms: ${last}`);
    await sleep(100);
  }
}

/**
 * Starts a cluster of `n` nodes. Options: `redisUrl` (default the shared Redis), `prefix`
 * (default a unique one), `pgBase` (where the nodes reach PostgreSQL, e.g. through a proxy;
 * the schema is dropped directly), `args` (extra flags for every node).
 *
 * Returns { nodes, node(i), db, prefix, schema, redisUrl, logDir, startNode(i), kill9(i),
 * stop(i), logs(), cleanup() }. `node(i)` is nodes[i % nodes.length], so a test spreads its
 * clients with `cl.node(k)` whatever the node count.
 */
async function startCluster({ n = 3, redisUrl = SHARED_REDIS, prefix, pgBase = PG_BASE, args = [] } = {}) {
  const schema = schemaName();
  prefix = prefix || `t${rand(10)}`;
  const db = withQuery(pgBase, `schema=${schema}`);
  const logDir = path.join(LOG_ROOT, `${new Date().toISOString().replace(/[:.]/g, '-')}-${schema}`);
  fs.mkdirSync(logDir, { recursive: true });
  const count = HARNESS_CHECK ? 1 : n;
  const nodes = new Array(count).fill(null);
  const clusterArgs = HARNESS_CHECK ? [] : ['--redis', redisUrl, '--redis-prefix', prefix];

  const startNode = async (i) => {
    const name = `node${i}-${prefix}`;
    const log = fs.createWriteStream(path.join(logDir, `node${i}.log`), { flags: 'a' });
    const srv = await startServer({
      db,
      args: ['--limits', 'off', ...clusterArgs, ...(HARNESS_CHECK ? [] : ['--node-name', name]), ...args],
    }).catch((e) => {
      log.end(`${e.message}\n`);
      throw e;
    });
    srv.proc.stderr.on('data', (d) => log.write(d));
    srv.proc.on('exit', (code, signal) => log.end(`== exited code=${code} signal=${signal}\n`));
    log.write(`== ${name} listening on ${srv.url}\n`);
    srv.name = name;
    srv.index = i;
    srv.ready = await waitReady(srv.url);
    nodes[i] = srv;
    return srv;
  };

  const cluster = {
    nodes,
    schema,
    prefix,
    db,
    redisUrl,
    logDir,
    node: (i) => nodes[i % nodes.length],
    startNode,
    /** SIGKILL node i (its process cannot say goodbye to Redis or its clients). */
    async kill9(i) {
      return nodes[i].kill9();
    },
    /** SIGTERM node i; returns { code, signal }. */
    async stop(i) {
      return nodes[i].stop();
    },
    /** The kept stderr of every node, labelled, for assertion messages. */
    logs(lines = 60) {
      return nodes
        .filter(Boolean)
        .map((s) => `--- ${s.name} (${s.url}) last ${lines} lines:\n${s.logs().split('\n').slice(-lines).join('\n')}`)
        .join('\n');
    },
    /** Nodes that have not exited. */
    alive() {
      return nodes.filter((s) => s && s.proc.exitCode === null && s.proc.signalCode === null);
    },
    async cleanup() {
      await Promise.all(nodes.filter(Boolean).map((s) => s.stop().catch(() => {})));
      await dropSchema(schema).catch(() => {});
    },
  };
  try {
    // One after another: the first node runs the migrations on the fresh schema.
    await startNode(0);
    await Promise.all(Array.from({ length: count - 1 }, (_, k) => startNode(k + 1)));
  } catch (e) {
    await cluster.cleanup();
    throw new Error(`${e.message}\n(node logs in ${logDir})`);
  }
  return cluster;
}

/** Every message of `room` from history, oldest first (pages back with `before`, 100 at a time). */
async function fullHistory(socket, room) {
  const pages = [];
  let before;
  for (;;) {
    const res = await call(socket, 'history', before === undefined ? { room, limit: 100 } : { room, before, limit: 100 }, 30000);
    if (!res?.ok) throw new Error(`history failed: ${JSON.stringify(res)}`);
    pages.unshift(res.messages);
    if (!res.more || res.messages.length === 0) break;
    before = res.messages[0].id;
  }
  return pages.flat();
}

/** `{id, seq}` of each message: what "the same order" is compared on. */
function order(messages) {
  return messages.map((m) => ({ id: m.id, seq: m.seq }));
}

/** Waits until `pred()` is true, polling every `every` ms; rejects with `what` after `ms`. */
async function eventually(pred, ms, what, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms: ${typeof what === 'function' ? await what() : what}`);
    await sleep(every);
  }
}


/**
 * Emits with an ack; resolves with the ack, or `{ dropped: true }` if the socket disconnects
 * first (a killed node never answers), or `{ timeout: true }` after `ms`.
 */
function callOrDrop(socket, event, payload, ms = 20000) {
  return new Promise((resolve) => {
    if (!socket.connected) return resolve({ dropped: true });
    const done = (v) => {
      clearTimeout(t);
      socket.off('disconnect', onDrop);
      resolve(v);
    };
    const onDrop = () => done({ dropped: true });
    const t = setTimeout(() => done({ timeout: true }), ms);
    socket.on('disconnect', onDrop);
    socket.emit(event, payload, (res) => done(res));
  });
}

/**
 * Steady traffic from one client: `lanes` loops each sending `{room, text: cid, cid}` with a
 * `pauseMs` pause, rooms taken in turn, until `stop()` or the socket drops. Every send has a
 * unique `cid` (`prefix-k`). `acked` maps cid → the acked Message, `unacked` cid → payload of
 * sends that got no ack (dropped with the node), `refused` lists refusals, `acks` the send time
 * and ack latency of each acked send.
 */
function startSender(socket, rooms, prefix, { lanes = 1, pauseMs = 20, max = Infinity } = {}) {
  const s = { acked: new Map(), unacked: new Map(), refused: [], sent: 0, stopped: false, acks: [] };
  let k = 0;
  const lane = async () => {
    while (!s.stopped && k < max) {
      const cid = `${prefix}-${k}`;
      const payload = { room: rooms[k % rooms.length], text: cid, cid };
      k++;
      s.unacked.set(cid, payload);
      s.sent++;
      const t0 = Date.now();
      const res = await callOrDrop(socket, 'send', payload);
      if (res?.ok) {
        s.acks.push({ at: t0, ms: Date.now() - t0 });
        s.acked.set(cid, res.message);
        s.unacked.delete(cid);
      } else if (res?.dropped || res?.timeout) {
        return;
      } else {
        s.unacked.delete(cid);
        s.refused.push({ cid, res });
      }
      if (pauseMs) await sleep(pauseMs);
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  s.done = running;
  s.stop = async () => {
    s.stopped = true;
    await running;
  };
  /** Sends every unacked payload again, same cid, on `sock` (one at a time, in cid order). */
  s.retryUnacked = async (sock) => {
    const cids = [...s.unacked.keys()].sort((a, b) => Number(a.split('-').at(-1)) - Number(b.split('-').at(-1)));
    for (const cid of cids) {
      const res = await callOrDrop(sock, 'send', s.unacked.get(cid));
      if (!res?.ok) throw new Error(`retry of ${cid} failed: ${JSON.stringify(res)}`);
      s.acked.set(cid, res.message);
      s.unacked.delete(cid);
    }
    return cids;
  };
  return s;
}

/**
 * Compares what a client received for a room with the room's history: same ids and seqs in the
 * same order. Returns null when equal, else a short description (counts, first difference,
 * duplicates, missing and extra ids) that fits in an assertion message.
 */
function orderDiff(got, hist) {
  const g = got.map((m) => `${m.id}/${m.seq}`);
  const h = hist.map((m) => `${m.id}/${m.seq}`);
  if (g.length === h.length && g.every((x, i) => x === h[i])) return null;
  const seen = new Map();
  for (const m of got) seen.set(m.id, (seen.get(m.id) || 0) + 1);
  const dups = [...seen].filter(([, c]) => c > 1).map(([id, c]) => `${id}×${c}`);
  const histIds = new Set(hist.map((m) => m.id));
  const missing = hist.filter((m) => !seen.has(m.id)).map((m) => m.id);
  const extra = got.filter((m) => !histIds.has(m.id)).map((m) => m.id);
  let first = 0;
  while (first < g.length && first < h.length && g[first] === h[first]) first++;
  return (
    `received ${g.length}, history ${h.length}; first difference at ${first}: got ${g.slice(first, first + 5).join(',')}` +
    ` expected ${h.slice(first, first + 5).join(',')}; duplicates [${dups.slice(0, 10)}]` +
    ` missing ${missing.length} [${missing.slice(0, 10)}] extra ${extra.length} [${extra.slice(0, 10)}]`
  );
}

/**
 * The room order the contract promises on every node: ids strictly increasing and, on a
 * cluster, `seq` 1, 2, 3, … with no gap (a fresh room). Returns null or the first violation.
 */
function roomOrderViolation(hist) {
  for (let i = 0; i < hist.length; i++) {
    if (i > 0 && !(hist[i - 1].id < hist[i].id)) return `ids not increasing at ${i}: ${hist[i - 1].id}, ${hist[i].id}`;
    if (!HARNESS_CHECK && hist[i].seq !== i + 1) return `seq at ${i} is ${JSON.stringify(hist[i].seq)}, expected ${i + 1}`;
  }
  return null;
}

/** Messages of one room from a Recorder of `message` events. */
function ofRoom(recorder, room) {
  return recorder.items.filter((m) => m.room === room);
}

/**
 * What a client that re-joined with `since` has seen, de-duplicated the way the protocol tells
 * clients to (docs/PROTOCOL.md: a `since` answer and live delivery may overlap right after a
 * `join`; clients drop by `id` what they already have): the join answer, then the live messages
 * newer than its last one. Only that overlap is forgiven — a duplicate anywhere else, or a gap,
 * still shows in `orderDiff`. `overlap` counts what was dropped.
 */
function joinThenLive(joinMessages, live) {
  const last = joinMessages.length ? joinMessages.at(-1).id : -Infinity;
  const inAnswer = new Set(joinMessages.map((m) => m.id));
  const dropped = live.filter((m) => m.id <= last && inAnswer.has(m.id));
  const kept = live.filter((m) => !(m.id <= last && inAnswer.has(m.id)));
  return { messages: [...joinMessages, ...kept], overlap: dropped.length };
}

/**
 * Whether `obj` carries every field of `subset` with the same value. The protocol lets fields
 * be added, never renamed, so payload checks compare the documented fields only.
 */
function hasFields(obj, subset) {
  return obj !== null && typeof obj === 'object' && Object.entries(subset).every(([k, v]) => JSON.stringify(obj[k]) === JSON.stringify(v));
}

const PY_LISTENER = path.resolve(__dirname, '..', '..', 'python', 'cluster', 'listen.py');

/**
 * A python-socketio member of `room` on `url` (interop/python/cluster/listen.py): `messages`
 * fills as they arrive, `joined` resolves with the join answer, `close()` disconnects it.
 */
function pythonListener(url, name, room, transport = 'websocket') {
  const proc = spawn(process.env.PYTHON || 'python3', [PY_LISTENER, url, name, room, transport], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const x = { name, messages: [], disconnects: 0, stderr: '' };
  proc.stderr.on('data', (d) => (x.stderr += d));
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  x.joined = new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const ev = JSON.parse(line);
      if (ev.kind === 'joined') resolve(ev.data);
      else if (ev.kind === 'message') x.messages.push(ev.data);
      else if (ev.kind === 'disconnect') {
        x.disconnects++;
        x.disconnectReasons = [...(x.disconnectReasons || []), ev.data];
      }
    });
    exited.then((code) => reject(new Error(`${name} (python) exited ${code} before joining: ${x.stderr}`)));
  });
  x.close = async () => {
    proc.stdin.end();
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return x;
}

/**
 * `join` until its answer lists exactly `members` (sorted names) and, if given, `count`
 * connections. Presence reaches other nodes through Redis a moment after a join is answered, so
 * a member that joined on another node just now may be missing from the first answer; joining
 * again is harmless (it announces nothing) and shows the list once the nodes agree. Fails after
 * `ms` with the last answer.
 */
async function joinUntilMembers(socket, room, members, { count, ms = 3000 } = {}) {
  let res;
  await eventually(
    async () => {
      res = await call(socket, 'join', { room });
      if (!res?.ok) throw new Error(`join ${room}: ${JSON.stringify(res)}`);
      return JSON.stringify(res.members) === JSON.stringify(members) && (count === undefined || res.count === count);
    },
    ms,
    () => `join ${room}: members ${JSON.stringify(res?.members)} count ${res?.count}, expected ${JSON.stringify(members)} count ${count}`,
  );
  return res;
}

/**
 * The hooks every cluster suite repeats, registered once: a cluster started before the suite
 * (`options` as for `startCluster`, merged with what `setup` returns, so a suite can first start
 * a proxy or a Redis of its own), `clients` closed after each test (then `afterEachTest`), and at
 * the end the clients, `beforeCleanup`, the cluster, `afterCleanup`, in that order. Returns
 * `{ clients, cl }` (`cl` is set once `before` has run).
 */
function useCluster({ options = {}, setup, afterEachTest, beforeCleanup, afterCleanup } = {}) {
  const { before, after, afterEach } = require('node:test');
  const suite = { clients: new Clients(), cl: null };
  before(async () => {
    const extra = setup ? await setup() : {};
    suite.cl = await startCluster({ ...options, ...extra });
  });
  afterEach(async () => {
    suite.clients.closeAll();
    if (afterEachTest) await afterEachTest();
  });
  after(async () => {
    suite.clients.closeAll();
    if (beforeCleanup) await beforeCleanup();
    if (suite.cl) await suite.cl.cleanup();
    if (afterCleanup) await afterCleanup();
  });
  return suite;
}

module.exports = {
  useCluster,
  joinUntilMembers,
  pythonListener,
  hasFields,
  joinThenLive,
  callOrDrop,
  startSender,
  orderDiff,
  roomOrderViolation,
  ofRoom,
  HARNESS_CHECK,
  SHARED_REDIS,
  startCluster,
  startRedis,
  freePort,
  dropSchema,
  getJson,
  waitReady,
  fullHistory,
  order,
  eventually,
  withTimeout,
};
