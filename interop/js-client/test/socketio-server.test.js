// Our browser client (crates/chatroom/web/client/socket.io.js) against the real npm socket.io 4.8
// server, over WebSocket, long-polling and the automatic WebSocket → polling fallback.
"use strict";

const { test, describe, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  loadClient,
  plain,
  startSioServer,
  startSilentServer,
  once,
  until,
  sleep,
  FAST,
} = require("../lib/helpers");

// Everything a test opens is closed after it, even when it fails.
const cleanups = [];
function track(x) {
  cleanups.push(x);
  return x;
}
afterEach(async () => {
  while (cleanups.length) {
    const x = cleanups.pop();
    try {
      if (typeof x.disconnect === "function") x.disconnect();
      else await x.close();
    } catch (e) {
      /* best effort */
    }
  }
});

/** A server with the handlers the basic tests use; records what it saw. */
async function echoServer(options = {}, extra) {
  const seen = { auth: [], events: [], disconnects: [], sockets: [] };
  const srv = await startSioServer({
    options,
    setup(io, httpServer) {
      io.on("connection", (socket) => {
        seen.auth.push(socket.handshake.auth);
        seen.sockets.push(socket);
        socket.on("echo", (...args) => socket.emit("echoed", ...args));
        socket.on("add", (a, b, ack) => ack(a + b));
        socket.on("record", (v) => seen.events.push(v));
        socket.on("silent", () => {});
        socket.on("ask-me", async (ack) => {
          const answer = await socket.emitWithAck("question", "6*7?");
          ack(answer);
        });
        socket.on("disconnect", (reason) => seen.disconnects.push(reason));
      });
      if (extra) extra(io, httpServer);
    },
  });
  track(srv);
  return { srv, seen };
}

const TRANSPORTS = [
  { label: "default (websocket first)", transports: undefined, expect: "websocket" },
  { label: "websocket only", transports: ["websocket"], expect: "websocket" },
  { label: "polling only", transports: ["polling"], expect: "polling" },
];

for (const { label, transports, expect } of TRANSPORTS) {
  describe(`basics over ${label}`, () => {
    test("connects, passes auth, emits and receives", async () => {
      const { srv, seen } = await echoServer();
      const io = loadClient(srv.url + "/page");
      const socket = track(io({ transports, auth: { name: "alice" } }));
      assert.equal(socket.connected, false);
      await once(socket, "connect");
      assert.equal(socket.connected, true);
      assert.equal(socket.disconnected, false);
      assert.equal(socket.io.engine.transport.name, expect);
      assert.deepEqual(plain(seen.auth), [{ name: "alice" }]);
      assert.equal(socket.id, seen.sockets[0].id);

      const payload = { text: "héllo 👋 \u001e", n: [1, 2.5, null, true], nested: { a: "" } };
      const got = once(socket, "echoed");
      socket.emit("echo", payload, "second", 3);
      assert.deepStrictEqual(plain(await got), [payload, "second", 3]);
    });

    test("acks in both directions", async () => {
      const { srv } = await echoServer();
      const io = loadClient(srv.url);
      const socket = track(io({ transports }));
      socket.on("question", (q, ack) => {
        assert.equal(q, "6*7?");
        ack(42);
      });
      await once(socket, "connect");
      const sum = await new Promise((resolve) => socket.emit("add", 2, 3, resolve));
      assert.equal(sum, 5);
      assert.equal(await socket.emitWithAck("add", 10, 20), 30);
      // server → client ack, relayed back through a client → server ack
      assert.equal(await socket.emitWithAck("ask-me"), 42);
      // timeout(ms): the server never answers "silent"
      const err = await new Promise((resolve) => socket.timeout(100).emit("silent", resolve));
      assert.match(err.message, /timed out/);
      await assert.rejects(socket.timeout(100).emitWithAck("silent"), /timed out/);
      const [e2, v2] = await new Promise((resolve) =>
        socket.timeout(2000).emit("add", 1, 1, (...a) => resolve(a))
      );
      assert.equal(e2, null);
      assert.equal(v2, 2);
    });

    test("disconnect() closes with 'io client disconnect' and does not reconnect", async () => {
      const { srv, seen } = await echoServer();
      const io = loadClient(srv.url);
      const socket = track(io({ transports, ...FAST }));
      await once(socket, "connect");
      const gone = once(socket, "disconnect");
      socket.disconnect();
      const [reason] = await gone;
      assert.equal(reason, "io client disconnect");
      assert.equal(socket.connected, false);
      assert.equal(socket.id, undefined);
      await until(() => seen.disconnects.length === 1, 3000, "server-side disconnect");
      assert.equal(seen.disconnects[0], "client namespace disconnect");
      await sleep(400);
      assert.equal(seen.auth.length, 1, "no reconnection after disconnect()");
      // connect() brings it back
      socket.connect();
      await once(socket, "connect");
      assert.equal(seen.auth.length, 2);
    });

    test("emits while disconnected are buffered and delivered in order after reconnect", async () => {
      const { srv, seen } = await echoServer();
      const io = loadClient(srv.url);
      const socket = track(io({ transports, autoConnect: false, ...FAST }));
      socket.emit("record", "before-connect-1");
      socket.emit("record", "before-connect-2");
      socket.connect();
      await once(socket, "connect");
      await until(() => seen.events.length === 2, 3000, "pre-connect emits");

      // server drops the transport: the client sees "transport close" and reconnects
      const gone = once(socket, "disconnect");
      seen.sockets[0].conn.close();
      const [reason] = await gone;
      assert.equal(reason, "transport close");
      for (let i = 0; i < 5; i++) socket.emit("record", `offline-${i}`);
      const acked = new Promise((resolve) => socket.emit("add", 20, 22, resolve));
      socket.volatile.emit("record", "volatile-dropped");
      await once(socket, "connect");
      assert.equal(await acked, 42);
      await until(() => seen.events.length === 7, 3000, "buffered emits");
      assert.deepEqual(seen.events, [
        "before-connect-1",
        "before-connect-2",
        "offline-0",
        "offline-1",
        "offline-2",
        "offline-3",
        "offline-4",
      ]);
      assert.equal(seen.auth.length, 2);
    });

    test("server-side disconnect gives 'io server disconnect' and no reconnection", async () => {
      const { srv, seen } = await echoServer();
      const io = loadClient(srv.url);
      const socket = track(io({ transports, ...FAST }));
      await once(socket, "connect");
      const gone = once(socket, "disconnect");
      seen.sockets[0].disconnect(); // (true) would leave engine.io's 30 s polling close timer in this process
      assert.equal((await gone)[0], "io server disconnect");
      assert.equal(socket.active, false);
      await sleep(400);
      assert.equal(seen.auth.length, 1);
    });

    test("answers heartbeats: stays connected across many ping intervals", async () => {
      const { srv, seen } = await echoServer({ pingInterval: 100, pingTimeout: 300 });
      const io = loadClient(srv.url);
      const socket = track(io({ transports, ...FAST }));
      let pings = 0;
      socket.io.on("ping", () => pings++);
      let disconnects = 0;
      socket.on("disconnect", () => disconnects++);
      await once(socket, "connect");
      await sleep(900);
      assert.equal(disconnects, 0);
      assert.ok(pings >= 5, `got ${pings} pings`);
      assert.equal(seen.auth.length, 1);
      assert.equal(await socket.emitWithAck("add", 1, 2), 3);
    });
  });
}

describe("handshake", () => {
  test("auth as a function, read at every connect", async () => {
    const { srv, seen } = await echoServer();
    const io = loadClient(srv.url);
    let n = 0;
    const socket = track(io({ auth: (cb) => cb({ name: `user-${++n}` }), ...FAST }));
    await once(socket, "connect");
    seen.sockets[0].conn.close();
    await once(socket, "disconnect");
    await once(socket, "connect");
    assert.deepEqual(plain(seen.auth), [{ name: "user-1" }, { name: "user-2" }]);
  });

  test("connect_error carries the server's message; no automatic reconnect", async () => {
    let attempts = 0;
    const { srv } = await echoServer({}, (io) => {
      io.use((socket, next) => {
        attempts++;
        const name = socket.handshake.auth && socket.handshake.auth.name;
        if (typeof name === "string" && name.trim()) return next();
        const err = new Error("invalid_name");
        err.data = { code: "invalid_name" };
        next(err);
      });
    });
    for (const transports of [["websocket"], ["polling"]]) {
      attempts = 0;
      const io = loadClient(srv.url);
      const socket = track(io({ transports, auth: { name: "  " }, ...FAST }));
      let reconnectAttempts = 0;
      socket.io.on("reconnect_attempt", () => reconnectAttempts++);
      const [err] = await once(socket, "connect_error");
      assert.equal(err.message, "invalid_name");
      assert.deepEqual(plain(err.data), { code: "invalid_name" });
      assert.equal(socket.connected, false);
      assert.equal(socket.active, false);
      await sleep(400);
      assert.equal(attempts, 1, "refused connection is not retried");
      assert.equal(reconnectAttempts, 0);
      // fixing auth and calling connect() works
      socket.auth = { name: "bob" };
      socket.connect();
      await once(socket, "connect");
      assert.equal(attempts, 2);
    }
  });

  test("io() uses the page origin; io(url) another origin; io(opts)", async () => {
    const { srv } = await echoServer();
    const { srv: other } = await echoServer();
    const io = loadClient(srv.url + "/some/page?x=1");
    const a = track(io());
    const b = track(io(other.url, { transports: ["polling"] }));
    const c = track(io({ auth: { name: "x" } }));
    await Promise.all([once(a, "connect"), once(b, "connect"), once(c, "connect")]);
    assert.equal(srv.io.of("/").sockets.size, 2);
    assert.equal(other.io.of("/").sockets.size, 1);
  });

  test("query option and url query reach the server", async () => {
    const { srv } = await echoServer();
    const queries = [];
    srv.io.on("connection", (s) => queries.push(s.handshake.query));
    const io = loadClient(srv.url);
    const s = track(io(srv.url + "/?fromUrl=1", { query: { token: "a b" }, transports: ["polling"] }));
    await once(s, "connect");
    assert.equal(queries[0].fromUrl, "1");
    assert.equal(queries[0].token, "a b");
  });

  test("a namespace in the url path is used", async () => {
    const { srv } = await echoServer({}, (io) => {
      io.of("/admin").on("connection", (socket) => {
        socket.on("who", (ack) => ack(socket.nsp.name));
      });
    });
    const io = loadClient(srv.url);
    const s = track(io(srv.url + "/admin"));
    await once(s, "connect");
    assert.equal(await s.emitWithAck("who"), "/admin");
  });

  test("reserved event names cannot be emitted", async () => {
    const io = loadClient("http://127.0.0.1:9");
    const s = io({ autoConnect: false });
    assert.throws(() => s.emit("connect"), /reserved/);
    assert.throws(() => s.emit("disconnect"), /reserved/);
  });
});

describe("fallback from websocket to polling", () => {
  test("server without websocket transport: client falls back and keeps working", async () => {
    const { srv, seen } = await echoServer({ transports: ["polling"] });
    const io = loadClient(srv.url);
    const socket = track(io({ ...FAST }));
    await once(socket, "connect");
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.equal(await socket.emitWithAck("add", 4, 5), 9);
    const got = once(socket, "echoed");
    socket.emit("echo", "via polling");
    assert.deepEqual(plain(await got), ["via polling"]);
    assert.equal(seen.auth.length, 1);
  });

  test("a proxy that refuses upgrades: fallback, remembered for reconnects", async () => {
    let upgrades = 0;
    const { srv, seen } = await echoServer({}, (io, httpServer) => {
      // socket.io attached its own "upgrade" listener; replace it with a refusing "proxy"
      httpServer.removeAllListeners("upgrade");
      httpServer.on("upgrade", (req, sock) => {
        upgrades++;
        sock.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
      });
    });
    const io = loadClient(srv.url);
    const socket = track(io({ ...FAST }));
    await once(socket, "connect");
    assert.equal(upgrades, 1);
    assert.equal(socket.io.engine.transport.name, "polling");
    // a reconnect goes straight to polling
    seen.sockets[0].conn.close();
    await once(socket, "disconnect");
    await once(socket, "connect");
    assert.equal(upgrades, 1, "websocket not retried after a successful fallback");
    assert.equal(await socket.emitWithAck("add", 1, 1), 2);
  });

  test("a proxy that destroys upgrade sockets: fallback", async () => {
    const { srv } = await echoServer({}, (io, httpServer) => {
      httpServer.removeAllListeners("upgrade");
      httpServer.on("upgrade", (req, sock) => sock.destroy());
    });
    const io = loadClient(srv.url);
    const socket = track(io({ ...FAST }));
    await once(socket, "connect");
    assert.equal(socket.io.engine.transport.name, "polling");
  });

  test("a proxy that leaves the upgrade hanging: fallback after `timeout`", async () => {
    const hung = [];
    const { srv } = await echoServer({}, (io, httpServer) => {
      httpServer.removeAllListeners("upgrade");
      httpServer.on("upgrade", (req, sock) => hung.push(sock)); // never answered
    });
    track({ close: async () => hung.forEach((s) => s.destroy()) });
    const io = loadClient(srv.url);
    const t0 = Date.now();
    const socket = track(io({ timeout: 300, ...FAST }));
    await once(socket, "connect");
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.ok(Date.now() - t0 >= 290, "waited for the websocket timeout");
    assert.equal(hung.length, 1);
  });

  test("transports: ['websocket'] forces websocket (no fallback): connect_error, retries", async () => {
    const { srv } = await echoServer({ transports: ["polling"] });
    const io = loadClient(srv.url);
    const socket = track(io({ transports: ["websocket"], ...FAST }));
    const [err] = await once(socket, "connect_error");
    assert.equal(err.message, "websocket error");
    await once(socket.io, "reconnect_attempt");
    assert.equal(socket.active, true);
  });
});

describe("reconnection", () => {
  for (const transports of [["websocket"], ["polling"], undefined]) {
    test(`reconnects after the server restarts (${transports || "default"})`, async () => {
      const seenEvents = [];
      const setup = (io) =>
        io.on("connection", (socket) => {
          socket.on("record", (v) => seenEvents.push(v));
          socket.on("add", (a, b, ack) => ack(a + b));
        });
      const first = await startSioServer({ setup });
      const port = first.port;
      const io = loadClient(first.url);
      const socket = track(io({ transports, ...FAST }));
      const events = [];
      for (const ev of ["reconnect_attempt", "reconnect", "reconnect_error"]) {
        socket.io.on(ev, () => events.push(ev));
      }
      await once(socket, "connect");

      const gone = once(socket, "disconnect");
      await first.close();
      const [reason] = await gone;
      assert.ok(["transport close", "transport error"].includes(reason), reason);
      socket.emit("record", "while-down-1");
      socket.emit("record", "while-down-2");
      await until(() => events.includes("reconnect_error"), 5000, "a failed reconnect attempt");

      const second = track(await startSioServer({ port, setup }));
      await once(socket, "connect", 5000);
      assert.ok(events.includes("reconnect_attempt"));
      assert.ok(events.includes("reconnect"));
      await until(() => seenEvents.length === 2, 3000, "buffered emits");
      assert.deepEqual(seenEvents, ["while-down-1", "while-down-2"]);
      assert.equal(await socket.emitWithAck("add", 2, 2), 4);
      assert.equal(second.io.of("/").sockets.size, 1);
    });
  }

  test("disconnect() during reconnection stops it", async () => {
    const first = await startSioServer();
    const port = first.port;
    const io = loadClient(first.url);
    const socket = track(io({ ...FAST }));
    await once(socket, "connect");
    await first.close();
    await once(socket.io, "reconnect_attempt");
    socket.disconnect();
    let connects = 0;
    const second = track(await startSioServer({ port }));
    second.io.on("connection", () => connects++);
    await sleep(600);
    assert.equal(connects, 0);
    assert.equal(socket.connected, false);
  });

  test("reconnectionAttempts bounds the retries (reconnect_failed)", async () => {
    const srv = await startSioServer();
    const url = srv.url;
    await srv.close();
    const io = loadClient(url);
    const socket = track(io({ reconnectionAttempts: 2, ...FAST }));
    let errors = 0;
    socket.on("connect_error", () => errors++);
    await once(socket.io, "reconnect_failed", 5000);
    assert.equal(errors, 3); // the first try and two reconnection attempts
  });

  test("backoff grows towards reconnectionDelayMax", async () => {
    const srv = await startSioServer();
    const url = srv.url;
    await srv.close();
    const io = loadClient(url);
    const socket = track(
      io({ reconnectionDelay: 20, reconnectionDelayMax: 160, randomizationFactor: 0, reconnectionAttempts: 5 })
    );
    const times = [];
    socket.on("connect_error", () => times.push(Date.now()));
    await once(socket.io, "reconnect_failed", 5000);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 20, 40, 80, 160, 160 (plus time to fail each attempt)
    assert.ok(gaps[0] >= 15 && gaps[0] < 120, `gaps ${gaps}`);
    assert.ok(gaps[3] >= 150, `gaps ${gaps}`);
    assert.ok(gaps[4] >= 150 && gaps[4] < 700, `gaps ${gaps}`);
  });

  test("no ping within pingInterval + pingTimeout → 'ping timeout', then reconnects", async () => {
    const silent = track(await startSilentServer({ pingInterval: 100, pingTimeout: 100 }));
    const io = loadClient(silent.url);
    const socket = track(io({ transports: ["websocket"], ...FAST }));
    await once(socket, "connect");
    const t0 = Date.now();
    const [reason] = await once(socket, "disconnect", 3000);
    const waited = Date.now() - t0;
    assert.equal(reason, "ping timeout");
    assert.ok(waited >= 150 && waited < 2000, `detected after ${waited} ms`);
    await once(socket, "connect", 3000);
    assert.equal(silent.connections(), 2);
  });
});

describe("polling specifics", () => {
  test("a large buffered burst is split at the server's maxPayload", async () => {
    const { srv, seen } = await echoServer({ maxHttpBufferSize: 50_000 });
    const io = loadClient(srv.url);
    const socket = track(io({ transports: ["polling"], autoConnect: false }));
    const chunk = "é".repeat(4000); // 8000 bytes in UTF-8
    for (let i = 0; i < 40; i++) socket.emit("record", `${i}:${chunk}`);
    socket.connect();
    await once(socket, "connect");
    await until(() => seen.events.length === 40, 5000, "40 large messages");
    assert.deepEqual(
      seen.events.map((e) => Number(e.split(":")[0])),
      Array.from({ length: 40 }, (_, i) => i)
    );
    assert.equal(seen.disconnects.length, 0);
  });
});
