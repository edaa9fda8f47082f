// A TCP proxy the tests can cut and restore, to put an outage between the server and
// PostgreSQL without touching the shared database (which other suites and people use).
'use strict';

const net = require('node:net');

/**
 * Listens on 127.0.0.1:<free port> and forwards to `targetHost:targetPort`. `cut('reset')`
 * resets every connection and refuses new ones (a crashed database); `cut('blackhole')` keeps
 * connections open but drops every byte (a network partition). `restore()` forwards again,
 * resetting the connections whose bytes were dropped.
 */
async function startProxy(targetHost, targetPort) {
  const pairs = new Set();
  let mode = null;
  const server = net.createServer((c) => {
    if (mode === 'reset') {
      c.destroy();
      return;
    }
    const up = net.connect(targetPort, targetHost);
    const pair = { c, up, dirty: false };
    pairs.add(pair);
    const close = () => {
      c.destroy();
      up.destroy();
      pairs.delete(pair);
    };
    for (const s of [c, up]) {
      s.on('error', close);
      s.on('close', close);
    }
    // A side that has ended (its peer closed first) takes no more writes: writing to it
    // would raise ERR_STREAM_WRITE_AFTER_END outside any test (seen once in CI).
    const forward = (to, d) => {
      if (mode) pair.dirty = true;
      else if (to.writable) to.write(d);
    };
    c.on('data', (d) => forward(up, d));
    up.on('data', (d) => forward(c, d));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const destroy = (pred) => {
    for (const p of [...pairs]) {
      if (!pred(p)) continue;
      p.c.destroy();
      p.up.destroy();
      pairs.delete(p);
    }
  };
  return {
    port: server.address().port,
    cut(how) {
      mode = how;
      if (how === 'reset') destroy(() => true);
      else for (const p of pairs) p.dirty = true;
    },
    restore() {
      mode = null;
      destroy((p) => p.dirty);
    },
    close() {
      destroy(() => true);
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { startProxy };
