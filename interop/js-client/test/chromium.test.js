// Our client in a real browser (headless Chromium through playwright-core): the file loads as a
// plain <script>, connects over WebSocket, falls back to polling when upgrades are refused, and
// (when the binary is built) works on a page served by the chatroom server itself.
// Skipped with a log line when /usr/bin/chromium (or CHROMIUM_PATH) is missing.
"use strict";

const { test, describe, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { CLIENT_FILE, REPO, startSioServer } = require("../lib/helpers");

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.log(`# SKIP chromium tests: no browser at ${CHROMIUM}`);

const PAGE = `<!doctype html><meta charset="utf-8"><title>t</title>
<script src="/socket.io/socket.io.js"></script><body>ok</body>`;

/** socket.io server that also serves a page and our client file (like the chatroom server). */
async function pageServer(refuseUpgrades) {
  return startSioServer({
    options: { serveClient: false },
    setup(io, httpServer) {
      httpServer.prependListener("request", (req, res) => {
        if (req.url === "/socket.io/socket.io.js") {
          res.writeHead(200, { "content-type": "application/javascript; charset=utf-8" });
          res.end(fs.readFileSync(CLIENT_FILE));
        } else if (req.url === "/") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
          res.end(PAGE);
        }
      });
      if (refuseUpgrades) {
        httpServer.removeAllListeners("upgrade");
        httpServer.on("upgrade", (req, sock) => sock.destroy());
      }
      io.on("connection", (socket) => {
        socket.on("add", (a, b, ack) => ack(a + b));
        socket.emit("hello", socket.handshake.auth);
      });
    },
  });
}

/** Runs in the page: connect, wait for "hello", do an ack round trip. */
async function roundTrip(page, opts) {
  return page.evaluate(
    (opts) =>
      new Promise((resolve, reject) => {
        const socket = window.io(opts);
        const timer = setTimeout(() => reject(new Error("no round trip in 10 s")), 10000);
        socket.on("connect_error", (e) => console.log("connect_error", e.message));
        socket.on("hello", (auth) => {
          socket.emit("add", 20, 22, (sum) => {
            clearTimeout(timer);
            resolve({ auth, sum, transport: socket.io.engine.transport.name, id: socket.id });
            socket.disconnect();
          });
        });
      }),
    opts
  );
}

describe("in headless Chromium", { skip: HAVE_CHROMIUM ? false : `no browser at ${CHROMIUM}` }, () => {
  let browser;
  before(async () => {
    const { chromium } = require("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });
  after(async () => {
    if (browser) await browser.close();
  });

  async function openPage(url) {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // Offline page: nothing but the server's origin may be requested.
    const origin = new URL(url).origin;
    const foreign = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
    });
    await page.goto(url);
    return { page, errors, foreign };
  }

  test("loads as a plain script and works over websocket", async () => {
    const srv = await pageServer(false);
    try {
      const { page, errors, foreign } = await openPage(srv.url + "/");
      const r = await roundTrip(page, { auth: { name: "chromium" } });
      assert.deepEqual(r.auth, { name: "chromium" });
      assert.equal(r.sum, 42);
      assert.equal(r.transport, "websocket");
      assert.deepEqual(errors, []);
      assert.deepEqual(foreign, []);
      await page.close();
    } finally {
      await srv.close();
    }
  });

  test("falls back to polling when the websocket upgrade is refused", async () => {
    const srv = await pageServer(true);
    try {
      const { page, errors } = await openPage(srv.url + "/");
      const r = await roundTrip(page, {});
      assert.equal(r.sum, 42);
      assert.equal(r.transport, "polling");
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await srv.close();
    }
  });

  const BIN =
    process.env.CHATROOM_BIN ||
    path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, "target"), "debug", "chatroom");
  test("on a page of the chatroom server", { skip: fs.existsSync(BIN) ? false : `no binary at ${BIN}` }, async () => {
    const { spawn } = require("node:child_process");
    const os = require("node:os");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chatroom-js-chromium-"));
    const child = spawn(
      BIN,
      ["--host", "127.0.0.1", "--port", "0", "--db", `sqlite://${path.join(dir, "t.db")}`, "--rate-limit", "off"],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: "warn" } }
    );
    try {
      const url = await new Promise((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("exit", (c) => reject(new Error(`chatroom exited (${c})`)));
      });
      const { page, errors, foreign } = await openPage(url + "/healthz");
      await page.addScriptTag({ url: "/socket.io/socket.io.js" });
      const r = await page.evaluate(
        () =>
          new Promise((resolve, reject) => {
            const socket = window.io({ auth: { name: "browser" } });
            setTimeout(() => reject(new Error("no welcome/ack in 10 s")), 10000);
            socket.on("welcome", (w) => {
              socket.emit("send", { room: "lobby", text: "from chromium" }, (ack) => {
                resolve({ welcome: { name: w.name, rooms: w.rooms }, ok: ack.ok, transport: socket.io.engine.transport.name });
                socket.disconnect();
              });
            });
          })
      );
      assert.deepEqual(r, { welcome: { name: "browser", rooms: ["lobby"] }, ok: true, transport: "websocket" });
      assert.deepEqual(errors, []);
      assert.deepEqual(foreign, []);
      await page.close();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
