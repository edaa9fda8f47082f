// Starting a cluster member (issue 8), through the real binary's command line: `--redis` (or
// CHATROOM_REDIS) with an SQLite or memory store is a usage error — one line on stderr, exit 2;
// a Redis that cannot be reached at start is a clear line and a non-zero exit; `--node-name`
// shows in `/healthz` and `/readyz` as "node".
'use strict';

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BIN, PG_BASE, startServer, rand } = require('../lib/harness');
const { freePort, getJson, dropSchema, HARNESS_CHECK, SHARED_REDIS } = require('../lib/cluster');

/** Runs the binary to its exit (killed after `ms`); returns { code, signal, stdout, stderr, cwd }. */
function run(args, { env = {}, ms = 30000 } = {}) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroom-cli-'));
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      const files = fs.readdirSync(cwd);
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, files });
    });
  });
}

function lines(s) {
  return s.split('\n').filter((l) => l.trim() !== '');
}

describe('cluster command line', { skip: HARNESS_CHECK && 'needs a binary with --redis' }, () => {
  for (const [what, args, env] of [
    ['--redis with --db sqlite://FILE', ['--db', 'sqlite://x.db', '--redis', SHARED_REDIS], {}],
    ['--redis with the default store (SQLite)', ['--redis', SHARED_REDIS], {}],
    ['--redis with the memory store', ['--db', 'memory', '--redis', SHARED_REDIS], {}],
    ['CHATROOM_REDIS with --db sqlite://FILE', ['--db', 'sqlite://x.db'], { CHATROOM_REDIS: SHARED_REDIS }],
  ]) {
    test(`${what}: one line on stderr, exit 2, nothing created`, async () => {
      const res = await run(['--host', '127.0.0.1', '--port', '0', ...args], { env });
      assert.equal(res.code, 2, `exit code (stderr: ${res.stderr})`);
      const l = lines(res.stderr);
      assert.equal(l.length, 1, `exactly one line on stderr, got:\n${res.stderr}`);
      assert.match(l[0], /redis/i, 'the line names the --redis setting');
      assert.match(l[0], /postgres/i, 'and says it needs PostgreSQL');
      assert.doesNotMatch(res.stderr, /panicked|RUST_BACKTRACE/);
      assert.doesNotMatch(res.stdout, /listening on/);
      assert.deepEqual(res.files, [], 'no database file was created');
    });
  }

  test('unreachable Redis at start: non-zero exit with a line that says so', async () => {
    const port = await freePort();
    const schema = `cl_${rand(12)}`;
    try {
      const res = await run(
        ['--host', '127.0.0.1', '--port', '0', '--db', `${PG_BASE}?schema=${schema}`, '--redis', `redis://127.0.0.1:${port}`],
        { ms: 60000 },
      );
      assert.equal(res.signal, null, `exited by itself within 60 s (stderr: ${res.stderr.slice(-2000)})`);
      assert.notEqual(res.code, 0, 'non-zero exit');
      assert.doesNotMatch(res.stdout, /listening on/, 'never listened');
      assert.doesNotMatch(res.stderr, /panicked/);
      const last = lines(res.stderr).at(-1) || '';
      assert.match(last, /redis/i, `last stderr line names Redis: ${last}`);
      assert.match(last, new RegExp(`127\\.0\\.0\\.1:${port}|${port}`), `and where it was looked for: ${last}`);
    } finally {
      await dropSchema(schema).catch(() => {});
    }
  });

  for (const route of ['healthz', 'readyz']) {
  test(`--node-name and CHATROOM_NODE_NAME appear in /${route} as "node"`, async () => {
    const schema = `cl_${rand(12)}`;
    const name = `nodename-${rand(6)}`;
    const srv = await startServer({
      db: `${PG_BASE}?schema=${schema}`,
      args: ['--redis', SHARED_REDIS, '--redis-prefix', `t${rand(10)}`, '--node-name', name],
    });
    try {
      const h = await getJson(`${srv.url}/${route}`);
      assert.equal(h.status, 200, `/${route}: ${JSON.stringify(h)}`);
      assert.equal(h.json.node, name, `/${route}: ${JSON.stringify(h.json)}`);
      // CHATROOM_NODE_NAME does the same.
      const envName = `envname-${rand(6)}`;
      const srv2 = await startServer({
        db: `${PG_BASE}?schema=${schema}`,
        args: ['--redis', SHARED_REDIS, '--redis-prefix', `t${rand(10)}`],
        env: { CHATROOM_NODE_NAME: envName },
      });
      try {
        assert.equal((await getJson(`${srv2.url}/${route}`)).json?.node, envName);
      } finally {
        assert.equal((await srv2.stop()).code, 0);
      }
    } finally {
      assert.equal((await srv.stop()).code, 0, `exit code after SIGTERM\n${srv.logs()}`);
      await dropSchema(schema).catch(() => {});
    }
  });
  }
});
