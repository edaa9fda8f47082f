// Test helpers: load our browser client into a browser-like `vm` context, start real Socket.IO
// servers (npm socket.io 4.8) on loopback, and wait for events with deadlines.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const http = require("node:http");
const vm = require("node:vm");
const { WebSocket, WebSocketServer } = require("ws");
const { Server } = require("socket.io");

const REPO = path.resolve(__dirname, "..", "..", "..");
const CLIENT_FILE = path.join(REPO, "crates", "chatroom", "web", "client", "socket.io.js");
const CLIENT_CODE = fs.readFileSync(CLIENT_FILE, "utf8");

/**
 * Runs the client file in a fresh vm context that has only browser-like globals (no require,
 * process or Buffer) and returns its `io`. `origin` plays the page's location.
 */
function loadClient(origin, extra = {}) {
  const location = new URL(origin);
  const ctx = {
    location,
    WebSocket,
    fetch,
    AbortController,
    URL,
    URLSearchParams,
    setTimeout,
    clearTimeout,
    console,
    ...extra,
  };
  ctx.window = ctx;
  ctx.self = ctx;
  vm.createContext(ctx);
  vm.runInContext(CLIENT_CODE, ctx, { filename: CLIENT_FILE });
  if (typeof ctx.io !== "function") throw new Error("client did not define window.io");
  return ctx.io;
}

/** Values created inside the vm realm, made plain for deepStrictEqual. */
function plain(v) {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/**
 * Starts an HTTP server + socket.io Server on 127.0.0.1. `setup(io, httpServer)` registers
 * handlers. Returns { io, httpServer, port, url, close() }.
 */
async function startSioServer({ port = 0, options = {}, setup } = {}) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);
  if (setup) setup(io, httpServer);
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", resolve);
  });
  const actual = httpServer.address().port;
  return {
    io,
    httpServer,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise((resolve) => {
        io.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}

/** A fake Engine.IO server over WebSocket that completes handshakes but never pings. */
async function startSilentServer({ pingInterval = 100, pingTimeout = 100 } = {}) {
  const httpServer = http.createServer((req, res) => {
    res.writeHead(400);
    res.end();
  });
  const wss = new WebSocketServer({ server: httpServer });
  let connections = 0;
  wss.on("connection", (ws) => {
    connections++;
    const sid = `fake${connections}`;
    ws.send("0" + JSON.stringify({ sid, upgrades: [], pingInterval, pingTimeout, maxPayload: 1e6 }));
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith("40")) ws.send("40" + JSON.stringify({ sid: `sock-${sid}` }));
    });
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const port = httpServer.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}

/** Resolves with the args of the next `event` on `emitter`; rejects after `ms`. */
function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out waiting for "${event}"`));
    }, ms);
    function handler(...args) {
      clearTimeout(timer);
      emitter.off(event, handler);
      resolve(args);
    }
    emitter.on(event, handler);
  });
}

/** Polls `cond` until true; rejects after `ms`. */
async function until(cond, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Fast reconnection settings for tests. */
const FAST = { reconnectionDelay: 50, reconnectionDelayMax: 200, randomizationFactor: 0.2 };

module.exports = {
  REPO,
  CLIENT_FILE,
  loadClient,
  plain,
  startSioServer,
  startSilentServer,
  once,
  until,
  sleep,
  FAST,
};
