// Our browser client against our own Rust server (the `chatroom` binary, docs/PROTOCOL.md).
// The binary is found through CHATROOM_BIN, else $CARGO_TARGET_DIR/debug/chatroom (CARGO_TARGET_DIR
// defaulting to <repo>/target). Without it these tests are skipped with a log line; the
// socket.io-server tests in the other file always run.
"use strict";

const { test, describe, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { REPO, CLIENT_FILE, loadClient, plain, once, until, sleep, FAST } = require("../lib/helpers");

const BIN =
  process.env.CHATROOM_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, "target"), "debug", "chatroom");
const HAVE_BIN = fs.existsSync(BIN);
if (!HAVE_BIN) {
  console.log(`# SKIP chatroom-server tests: no server binary at ${BIN} (set CHATROOM_BIN or build it)`);
}

/** Starts the chatroom binary; resolves with { url, port, stop() } once it prints its address. */
function startChatroom({ port = 0, db }) {
  const child = spawn(
    BIN,
    ["--host", "127.0.0.1", "--port", String(port), "--db", db, "--rate-limit", "off"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" } }
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chatroom did not print its address in 20 s; stderr:\n${stderr}`));
    }, 20000);
    child.on("error", reject);
    exited.then(({ code }) => reject(new Error(`chatroom exited early (${code}); stderr:\n${stderr}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const url = m[1].replace("0.0.0.0", "127.0.0.1");
        resolve({
          url,
          port: Number(new URL(url).port),
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
            return exited;
          },
        });
      }
    });
  });
}

describe("against the chatroom server", { skip: HAVE_BIN ? false : `no binary at ${BIN}` }, () => {
  let dir;
  let server;
  const sockets = [];
  const track = (s) => (sockets.push(s), s);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "chatroom-js-client-"));
    server = await startChatroom({ db: `sqlite://${path.join(dir, "t.db")}` });
  });
  afterEach(() => {
    while (sockets.length) sockets.pop().disconnect();
  });
  after(async () => {
    if (server) await server.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("serves this client at /socket.io/socket.io.js", async () => {
    const res = await fetch(server.url + "/socket.io/socket.io.js");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") || "", /javascript/);
    const body = await res.text();
    const sha = (t) => require("node:crypto").createHash("sha256").update(t).digest("hex");
    assert.equal(
      sha(body),
      sha(fs.readFileSync(CLIENT_FILE, "utf8")),
      "served client differs from web/client/socket.io.js (stale binary? rebuild)"
    );
  });

  for (const transports of [undefined, ["websocket"], ["polling"]]) {
    const label = transports ? transports.join() : "default";
    test(`v1 client over ${label}: welcome, join, send with ack, message event`, async () => {
      const io = loadClient(server.url + "/");
      const name = `alice-${label}`;
      const socket = track(io({ transports, auth: { name } }));
      const welcome = once(socket, "welcome");
      await once(socket, "connect");
      assert.equal(socket.io.engine.transport.name, transports ? transports[0] : "websocket");
      const [w] = await welcome;
      assert.deepEqual(plain({ name: w.name, rooms: w.rooms }), { name, rooms: ["lobby"] });
      assert.match(w.user_id, /^[0-9a-f]{32}$/);
      assert.ok(w.identity.startsWith(`v1.${w.user_id}.`), w.identity);
      const room = `js-${label}`;
      const joined = await socket.emitWithAck("join", { room });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      assert.deepEqual(plain(joined.members), [name]);
      const delivered = once(socket, "message");
      const ack = await socket.timeout(5000).emitWithAck("send", { room, text: "héllo 👋", cid: `c-${label}` });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const [msg] = await delivered;
      assert.equal(msg.text, "héllo 👋");
      assert.equal(msg.name, name);
      assert.equal(msg.id, ack.message.id);
    });

    test(`seed client over ${label}: guest name and chat message echo`, async () => {
      const io = loadClient(server.url);
      const socket = track(io({ transports }));
      const [welcome] = await once(socket, "welcome");
      assert.match(welcome.name, /^guest-[0-9a-f]{4}$/);
      const echoed = new Promise((resolve) =>
        socket.on("chat message", (m) => m === `seed hi ${label}` && resolve(m))
      );
      socket.emit("chat message", `seed hi ${label}`);
      assert.equal(await echoed, `seed hi ${label}`);
    });
  }

  test("invalid name → connect_error 'invalid_name', no automatic reconnect", async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const io = loadClient(server.url);
      const socket = track(io({ transports, auth: { name: "   " }, ...FAST }));
      let attempts = 0;
      socket.io.on("reconnect_attempt", () => attempts++);
      const [err] = await once(socket, "connect_error");
      assert.equal(err.message, "invalid_name");
      assert.equal(socket.active, false);
      await sleep(400);
      assert.equal(attempts, 0);
      socket.auth = { name: `fixed-${transports[0]}` };
      socket.connect();
      await once(socket, "connect");
    }
  });

  test("disconnect() stops the connection for good", async () => {
    const io = loadClient(server.url);
    const socket = track(io({ auth: { name: "leaver" }, ...FAST }));
    await once(socket, "connect");
    const gone = once(socket, "disconnect");
    socket.disconnect();
    assert.equal((await gone)[0], "io client disconnect");
    let attempts = 0;
    socket.io.on("reconnect_attempt", () => attempts++);
    await sleep(400);
    assert.equal(attempts, 0);
    assert.equal(socket.connected, false);
  });

  for (const transports of [["websocket"], ["polling"]]) {
    test(`reconnects after the server restarts; buffered send lands (${transports})`, async () => {
      const io = loadClient(server.url);
      const socket = track(io({ transports, auth: { name: "bob" }, ...FAST }));
      await once(socket, "connect");
      const room = `restart-${transports}`;
      assert.equal((await socket.emitWithAck("join", { room })).ok, true);

      const gone = once(socket, "disconnect", 10000);
      const port = server.port;
      await server.stop();
      const [reason] = await gone;
      assert.ok(["transport close", "transport error"].includes(reason), reason);
      // emitted while down: buffered, sent right after the reconnect (every client starts in lobby)
      const text = `sent while down ${transports}`;
      const acked = new Promise((resolve) =>
        socket.emit("send", { room: "lobby", text, cid: `down-${transports}` }, resolve)
      );
      const delivered = new Promise((resolve) => socket.on("message", (m) => m.text === text && resolve(m)));
      await once(socket.io, "reconnect_attempt", 5000);
      server = await startChatroom({ port, db: `sqlite://${path.join(dir, "t.db")}` });
      await once(socket, "connect", 10000);
      const ack = await acked;
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal((await delivered).id, ack.message.id);
      assert.equal((await socket.emitWithAck("join", { room })).ok, true);
      const ok = await socket.emitWithAck("send", { room, text: "after", cid: `after-${transports}` });
      assert.equal(ok.ok, true);
    });
  }
});
