/*!
 * chatroom browser Socket.IO client (our own; not socket.io-client).
 *
 * Why this file exists: the chat page must work offline from the public internet, with no CDN and
 * no build step, so the server serves this one file at GET /socket.io/socket.io.js. It is written
 * from the wire protocols (Engine.IO v4 + Socket.IO v5) and exposes the subset of the
 * socket.io-client 4.x API that pages use: the global `io(url?, opts?)`.
 *
 * Supported
 *   - io() → the page's origin; io(url) → another origin; io(opts). The path of `url` is the
 *     namespace (as in socket.io-client); one namespace per io() call (default "/").
 *     Every io() call opens its own connection (like `forceNew: true`; no multiplexing).
 *   - Options: auth (object, or function(cb) called before every connect), transports
 *     (default ["websocket", "polling"]), reconnection (true), reconnectionDelay (1000),
 *     reconnectionDelayMax (5000), randomizationFactor (0.5), reconnectionAttempts (Infinity),
 *     timeout (20000 ms, per transport try and for the namespace CONNECT), path ("/socket.io"),
 *     autoConnect (true), query (object or "a=b&c=d" string, added to every request),
 *     ackTimeout (default timeout for emits with an ack), withCredentials (polling, cross-origin).
 *   - Socket: on/once/off/listeners/removeAllListeners, onAny/prependAny/offAny,
 *     emit(ev, ...args, ack?), emitWithAck, timeout(ms).emit(..., (err, ...res) => {}),
 *     volatile.emit, send, compress (no-op), connect()/open(), disconnect()/close(),
 *     connected/disconnected/active/id/auth/io.
 *   - Events: connect, disconnect(reason, details) with reasons "io server disconnect",
 *     "io client disconnect", "transport close", "transport error", "ping timeout", "parse error";
 *     connect_error(Error): err.message is the server's message for a refused connection
 *     (CONNECT_ERROR packet; then NO automatic reconnect — call socket.connect() after fixing e.g.
 *     socket.auth), or "websocket error" / "xhr poll error" / "timeout" for a failed attempt
 *     (those are retried with backoff).
 *   - socket.io (manager): on("open"|"error"|"close"|"ping"|"reconnect_attempt"|"reconnect"|
 *     "reconnect_error"|"reconnect_failed"), reconnection(bool?), and
 *     socket.io.engine.transport.name ("websocket" | "polling") while open.
 *   - Reconnection with exponential backoff and jitter; emits made while disconnected are kept in
 *     order (sendBuffer) and sent right after the next connect, before the "connect" event fires.
 *   - Transports: WebSocket first; if it fails before the Engine.IO handshake (refused upgrade,
 *     proxy, timeout), HTTP long-polling is tried at once (fetch; payload packets separated by
 *     \x1e; one GET and one POST in flight; POST bodies split at the server's maxPayload). A
 *     connection that only worked through the fallback keeps that order for its reconnects.
 *   - Heartbeat: answers every server ping ("2" → "3"); no ping within pingInterval + pingTimeout
 *     closes the connection with "ping timeout" and reconnects.
 *
 * Not supported (documented on purpose)
 *   - Binary payloads (ArrayBuffer/Blob attachments, packet types 5/6, polling "b" packets):
 *     JSON only. Incoming binary packets are ignored with a console warning.
 *   - The polling → WebSocket upgrade (a connection stays on the transport it opened with),
 *     multiplexing several namespaces over one connection, connection state recovery,
 *     `retries`, extraHeaders, parser/transport options, closeOnBeforeunload.
 *
 * Plain ES2017, one IIFE, no dependencies. Uses only WebSocket, fetch, AbortController, URL,
 * setTimeout/clearTimeout and console from the host (`window`).
 */
(function (root) {
  "use strict";

  // ---------------------------------------------------------------------------------------------
  // Small event emitter (local listeners only).
  // ---------------------------------------------------------------------------------------------

  class Emitter {
    constructor() {
      /** @type {Map<string, Function[]>} */
      this._listeners = new Map();
    }

    /** Adds `fn` for event `ev`. */
    on(ev, fn) {
      const list = this._listeners.get(ev) || [];
      list.push(fn);
      this._listeners.set(ev, list);
      return this;
    }

    /** Adds `fn` for the next `ev` only. */
    once(ev, fn) {
      const wrapper = (...args) => {
        this.off(ev, wrapper);
        fn.apply(this, args);
      };
      wrapper.fn = fn;
      return this.on(ev, wrapper);
    }

    /** off() removes everything, off(ev) all listeners of ev, off(ev, fn) that listener. */
    off(ev, fn) {
      if (ev === undefined) {
        this._listeners.clear();
      } else if (fn === undefined) {
        this._listeners.delete(ev);
      } else {
        const list = this._listeners.get(ev);
        if (list) {
          const i = list.findIndex((l) => l === fn || l.fn === fn);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) this._listeners.delete(ev);
        }
      }
      return this;
    }

    /** Listeners of `ev` (a copy). */
    listeners(ev) {
      return (this._listeners.get(ev) || []).slice();
    }

    /** True if `ev` has listeners. */
    hasListeners(ev) {
      return this.listeners(ev).length > 0;
    }

    /** Calls the local listeners of `ev` (never sends anything). */
    _fire(ev, ...args) {
      for (const fn of this.listeners(ev)) fn.apply(this, args);
      return this;
    }
  }
  Emitter.prototype.addEventListener = Emitter.prototype.on;
  Emitter.prototype.removeListener = Emitter.prototype.off;
  Emitter.prototype.removeEventListener = Emitter.prototype.off;
  Emitter.prototype.removeAllListeners = Emitter.prototype.off;

  // ---------------------------------------------------------------------------------------------
  // Packet codecs.
  // Engine.IO v4 text packet: one type digit + data. Socket.IO v5 packet (carried in an Engine.IO
  // "message"): type digit, then "/nsp," unless nsp is "/", then an optional ack id, then JSON.
  // ---------------------------------------------------------------------------------------------

  const EIO_OPEN = "0";
  const EIO_CLOSE = "1";
  const EIO_PING = "2";
  const EIO_PONG = "3";
  const EIO_MESSAGE = "4";
  const EIO_NOOP = "6";
  const RECORD_SEPARATOR = "\x1e";

  const SIO_CONNECT = 0;
  const SIO_DISCONNECT = 1;
  const SIO_EVENT = 2;
  const SIO_ACK = 3;
  const SIO_CONNECT_ERROR = 4;
  const SIO_BINARY_EVENT = 5;
  const SIO_BINARY_ACK = 6;

  /** Encodes a Socket.IO packet {type, nsp, id?, data?} as text. */
  function encodeSio(packet) {
    let out = String(packet.type);
    if (packet.nsp && packet.nsp !== "/") out += packet.nsp + ",";
    if (packet.id !== undefined) out += String(packet.id);
    if (packet.data !== undefined) out += JSON.stringify(packet.data);
    return out;
  }

  /** Decodes a Socket.IO text packet; throws on malformed input. */
  function decodeSio(text) {
    const type = Number(text.charAt(0));
    if (!(type >= 0 && type <= 6) || text.length === 0) throw new Error("bad packet type");
    let i = 1;
    if (type === SIO_BINARY_EVENT || type === SIO_BINARY_ACK) {
      return { type: type, nsp: "/" }; // attachments are not supported; caller ignores these
    }
    let nsp = "/";
    if (text.charAt(i) === "/") {
      const comma = text.indexOf(",", i);
      const end = comma < 0 ? text.length : comma;
      nsp = text.slice(i, end);
      i = comma < 0 ? end : end + 1;
    }
    let idText = "";
    while (i < text.length && text.charAt(i) >= "0" && text.charAt(i) <= "9") {
      idText += text.charAt(i);
      i++;
    }
    const packet = { type: type, nsp: nsp };
    if (idText) packet.id = Number(idText);
    if (i < text.length) packet.data = JSON.parse(text.slice(i));
    const ok =
      type === SIO_EVENT
        ? Array.isArray(packet.data) && packet.data.length > 0
        : type === SIO_ACK
        ? Array.isArray(packet.data) && packet.id !== undefined
        : type === SIO_CONNECT
        ? packet.data === undefined || (packet.data !== null && typeof packet.data === "object")
        : type === SIO_DISCONNECT
        ? packet.data === undefined
        : true; // CONNECT_ERROR: object (v5) or string (older servers)
    if (!ok) throw new Error("bad packet payload");
    return packet;
  }

  /** UTF-8 byte length of a string (for the polling maxPayload split). */
  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c < 0xdc00) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  /** Query string from an object or string (undefined/null values skipped). */
  function queryString(q) {
    if (!q) return "";
    if (typeof q === "string") return q.replace(/^[?&]/, "");
    return Object.keys(q)
      .filter((k) => q[k] !== undefined && q[k] !== null)
      .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(String(q[k])))
      .join("&");
  }

  // ---------------------------------------------------------------------------------------------
  // Transports. Each has open(), send(texts[]), close(), and calls the hooks set by the Engine:
  // onpacket(text) for every Engine.IO packet and onclose(reason, error) once when it dies.
  // ---------------------------------------------------------------------------------------------

  /** One WebSocket carrying one Engine.IO packet per text frame. */
  class WebSocketTransport {
    constructor(engine) {
      this.name = "websocket";
      this.engine = engine;
      this.ws = null;
      this.closed = false;
      this.onpacket = null;
      this.onclose = null;
    }

    open() {
      const url = this.engine.url("websocket").replace(/^http/, "ws");
      let ws;
      try {
        ws = new root.WebSocket(url);
      } catch (e) {
        setTimeout(() => this._die("transport error", new Error("websocket error")), 0);
        return;
      }
      this.ws = ws;
      let errored = false;
      ws.onmessage = (ev) => {
        if (this.closed) return;
        if (typeof ev.data !== "string") {
          warnBinary();
          return;
        }
        this.onpacket(ev.data);
      };
      ws.onerror = () => {
        errored = true;
      };
      ws.onclose = () => {
        this._die(
          errored ? "transport error" : "transport close",
          new Error(errored ? "websocket error" : "websocket connection closed")
        );
      };
    }

    send(texts) {
      if (this.closed || !this.ws || this.ws.readyState !== 1) return;
      for (const t of texts) this.ws.send(t);
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      if (this.ws) {
        try {
          this.ws.close();
        } catch (e) {
          /* already closing */
        }
      }
    }

    _die(reason, err) {
      if (this.closed) return;
      this.closed = true;
      this.onclose(reason, err);
    }
  }

  /** HTTP long-polling: one GET waiting for packets, one POST at a time sending them. */
  class PollingTransport {
    constructor(engine) {
      this.name = "polling";
      this.engine = engine;
      this.closed = false;
      this.queue = [];
      this.writing = false;
      this.getAbort = new root.AbortController();
      this.onpacket = null;
      this.onclose = null;
    }

    open() {
      this._poll();
    }

    _request(method, body, signal) {
      const init = {
        method: method,
        credentials: this.engine.opts.withCredentials ? "include" : "same-origin",
      };
      if (signal) init.signal = signal;
      if (body !== undefined) {
        init.body = body;
        init.headers = { "content-type": "text/plain;charset=UTF-8" };
      }
      return root.fetch(this.engine.url("polling"), init).then((res) => {
        if (!res.ok) throw new Error("xhr poll error");
        return res.text();
      });
    }

    _poll() {
      if (this.closed) return;
      this._request("GET", undefined, this.getAbort.signal).then(
        (text) => {
          if (this.closed) return;
          for (const packet of text.split(RECORD_SEPARATOR)) {
            if (this.closed) return;
            if (packet.charAt(0) === "b") {
              warnBinary();
              continue;
            }
            this.onpacket(packet);
          }
          if (!this.closed) this._poll();
        },
        () => this._die("transport error", new Error("xhr poll error"))
      );
    }

    send(texts) {
      if (this.closed) return;
      this.queue.push(...texts);
      this._flush();
    }

    _flush() {
      if (this.writing || this.queue.length === 0) return;
      // Take as many packets as fit in the server's maxPayload (always at least one).
      const max = this.engine.maxPayload;
      let size = utf8Length(this.queue[0]);
      let n = 1;
      while (n < this.queue.length) {
        const next = size + 1 + utf8Length(this.queue[n]);
        if (max && next > max) break;
        size = next;
        n++;
      }
      const batch = this.queue.splice(0, n);
      this.writing = true;
      this._request("POST", batch.join(RECORD_SEPARATOR)).then(
        () => {
          this.writing = false;
          this._flush();
          // After a notifying close, the pending GET is left to the server (which answers it as
          // it closes the session) until the last POST is through; then it is dropped.
          if (this.closed && !this.writing) this.getAbort.abort();
        },
        () => {
          this.writing = false;
          this.queue = [];
          if (this.closed) this.getAbort.abort();
          this._die("transport error", new Error("xhr post error"));
        }
      );
    }

    /**
     * Stops polling. With `notify`, what is still queued (e.g. the Socket.IO DISCONNECT) and an
     * Engine.IO close packet are posted, so the server frees the session at once.
     */
    close(notify) {
      if (this.closed) return;
      this.closed = true;
      if (notify && this.engine.sid) {
        this.queue.push(EIO_CLOSE);
        this._flush();
      } else {
        this.queue = [];
        this.getAbort.abort();
      }
    }

    _die(reason, err) {
      if (this.closed) return;
      this.closed = true;
      this.queue = [];
      this.getAbort.abort();
      this.onclose(reason, err);
    }
  }

  let warnedBinary = false;
  function warnBinary() {
    if (warnedBinary) return;
    warnedBinary = true;
    if (root.console) root.console.warn("socket.io.js: binary packets are not supported; ignored");
  }

  // ---------------------------------------------------------------------------------------------
  // Engine: one Engine.IO session. Tries the transports in order until one completes the
  // handshake (the "0{sid,...}" open packet), then runs the heartbeat.
  // Hooks: onopen(), onmessage(text), onerror(err) if it never opened, onclose(reason, err).
  // ---------------------------------------------------------------------------------------------

  class Engine {
    constructor(base, opts, transports) {
      this.base = base; // "http(s)://host:port"
      this.opts = opts;
      this.transports = transports;
      this.index = 0;
      this.state = "opening";
      this.sid = null;
      this.maxPayload = 0;
      this.transport = null;
      this.openTimer = null;
      this.pingTimer = null;
      this.pingTimeoutMs = 0;
      this.requestCount = 0;
    }

    /** URL of this session for a transport (polling adds a cache-busting `t`). */
    url(transport) {
      let q = "EIO=4&transport=" + transport;
      if (this.sid) q += "&sid=" + encodeURIComponent(this.sid);
      const extra = queryString(this.opts.query);
      if (extra) q += "&" + extra;
      if (transport === "polling") q += "&t=" + Date.now().toString(36) + (this.requestCount++).toString(36);
      return this.base + this.opts.path + "?" + q;
    }

    open() {
      this._try();
    }

    _try() {
      const name = this.transports[this.index];
      const t = name === "polling" ? new PollingTransport(this) : new WebSocketTransport(this);
      this.transport = t;
      t.onpacket = (text) => {
        if (t === this.transport) this._onPacket(text);
      };
      t.onclose = (reason, err) => {
        if (t === this.transport) this._onTransportClose(reason, err);
      };
      clearTimeout(this.openTimer);
      this.openTimer = setTimeout(() => {
        if (this.state !== "opening" || t !== this.transport) return;
        t.close();
        this._onTransportClose("transport error", new Error("timeout"));
      }, this.opts.timeout);
      t.open();
    }

    _onTransportClose(reason, err) {
      if (this.state === "closed") return;
      if (this.state === "opening") {
        clearTimeout(this.openTimer);
        if (this.index + 1 < this.transports.length) {
          this.index++;
          this._try();
          return;
        }
        this.state = "closed";
        this.onerror(err);
        return;
      }
      this._close(reason, err);
    }

    _onPacket(text) {
      if (this.state === "closed") return;
      const type = text.charAt(0);
      const data = text.slice(1);
      if (this.state === "opening") {
        if (type !== EIO_OPEN) return; // nothing else is meaningful before the handshake
        let hs;
        try {
          hs = JSON.parse(data);
        } catch (e) {
          hs = null;
        }
        if (!hs || typeof hs.sid !== "string") {
          this.transport.close();
          this._onTransportClose("parse error", new Error("parse error"));
          return;
        }
        clearTimeout(this.openTimer);
        this.sid = hs.sid;
        this.maxPayload = hs.maxPayload || 0;
        this.pingTimeoutMs = (hs.pingInterval || 25000) + (hs.pingTimeout || 20000);
        this.state = "open";
        this._resetPingTimer();
        this.onopen();
        return;
      }
      switch (type) {
        case EIO_PING:
          this._resetPingTimer();
          this.transport.send([EIO_PONG]);
          if (this.onping) this.onping();
          break;
        case EIO_MESSAGE:
          this.onmessage(data);
          break;
        case EIO_CLOSE:
          this.transport.close();
          this._close("transport close", new Error("server closed the connection"));
          break;
        case EIO_NOOP:
        default:
          break; // noop, pong, upgrade: nothing to do
      }
    }

    _resetPingTimer() {
      clearTimeout(this.pingTimer);
      this.pingTimer = setTimeout(() => {
        this.transport.close();
        this._close("ping timeout", new Error("no ping from the server"));
      }, this.pingTimeoutMs);
    }

    /** Sends Socket.IO packets (texts) as Engine.IO messages. */
    send(texts) {
      if (this.state !== "open") return false;
      this.transport.send(texts.map((t) => EIO_MESSAGE + t));
      return true;
    }

    /** Client-side close: no hooks are called. */
    close() {
      if (this.state === "closed") return;
      this.state = "closed";
      clearTimeout(this.openTimer);
      clearTimeout(this.pingTimer);
      if (this.transport) this.transport.close(true);
    }

    _close(reason, err) {
      if (this.state === "closed") return;
      this.state = "closed";
      clearTimeout(this.openTimer);
      clearTimeout(this.pingTimer);
      this.onclose(reason, err);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Manager (socket.io): owns the current Engine and the reconnection loop of one Socket.
  // ---------------------------------------------------------------------------------------------

  class Manager extends Emitter {
    constructor(base, opts) {
      super();
      this.base = base;
      this.opts = opts;
      this.engine = null; // the open Engine (or the one opening)
      this.state = "closed"; // "closed" | "opening" | "open"
      this.socket = null;
      this.attempts = 0;
      this.reconnecting = false;
      this.skipReconnect = false;
      this.reconnectTimer = null;
      this.transportOrder = opts.transports.slice();
    }

    /** Gets or sets the `reconnection` option. */
    reconnection(v) {
      if (v === undefined) return this.opts.reconnection;
      this.opts.reconnection = !!v;
      if (!v) this._stopReconnecting();
      return this;
    }

    /** Opens an Engine.IO session unless one is open or opening. */
    open() {
      if (this.state !== "closed") return this;
      this.skipReconnect = false;
      this.state = "opening";
      const engine = new Engine(this.base, this.opts, this.transportOrder);
      this.engine = engine;
      engine.onopen = () => {
        if (engine !== this.engine) return;
        this.state = "open";
        // Keep a transport that only worked as a fallback first for later reconnects.
        if (engine.index > 0) {
          const name = engine.transports[engine.index];
          this.transportOrder = [name].concat(this.transportOrder.filter((n) => n !== name));
        }
        this._fire("open");
        if (this.reconnecting) {
          const attempt = this.attempts;
          this.reconnecting = false;
          this.attempts = 0;
          this._fire("reconnect", attempt);
        } else {
          this.attempts = 0;
        }
        if (this.socket) this.socket._onOpen();
      };
      engine.onping = () => this._fire("ping");
      engine.onmessage = (text) => {
        if (engine === this.engine && this.socket) this.socket._onData(text);
      };
      engine.onerror = (err) => {
        if (engine !== this.engine) return;
        this.engine = null;
        this.state = "closed";
        this._openFailed(err);
      };
      engine.onclose = (reason, err) => {
        if (engine !== this.engine) return;
        this.engine = null;
        this.state = "closed";
        this._fire("close", reason, err);
        if (this.socket) this.socket._onClose(reason, err);
        this._reconnect();
      };
      engine.open();
      return this;
    }

    /** Closes the session on the client's behalf and stops reconnecting. */
    close() {
      this._stopReconnecting();
      this.skipReconnect = true;
      if (this.engine) this.engine.close();
      this.engine = null;
      this.state = "closed";
    }

    /** A failure after open that must be retried (e.g. no CONNECT answer in time). */
    _abort(err) {
      const engine = this.engine;
      if (!engine) return;
      this.engine = null;
      this.state = "closed";
      engine.close();
      this._openFailed(err);
    }

    /** An attempt failed: tell the socket (connect_error) and schedule the next one. */
    _openFailed(err) {
      this._fire("error", err);
      if (this.socket) this.socket._onConnectFailed(err);
      if (this.reconnecting) {
        this.reconnecting = false;
        this._fire("reconnect_error", err);
      }
      this._reconnect();
    }

    _send(texts) {
      return this.state === "open" && this.engine ? this.engine.send(texts) : false;
    }

    _stopReconnecting() {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.reconnecting = false;
    }

    /** Next backoff delay: delay · 2^attempts, ± randomizationFactor, capped at delayMax. */
    _delay() {
      const o = this.opts;
      const exp = Math.min(this.attempts, 30);
      let ms = Math.min(o.reconnectionDelay * Math.pow(2, exp), o.reconnectionDelayMax);
      const r = Math.min(Math.max(o.randomizationFactor, 0), 1);
      if (r > 0) ms = ms * (1 + r * (2 * Math.random() - 1));
      return Math.max(0, Math.floor(Math.min(ms, o.reconnectionDelayMax)));
    }

    _reconnect() {
      if (this.reconnecting || this.skipReconnect || !this.opts.reconnection) return;
      if (this.attempts >= this.opts.reconnectionAttempts) {
        this.attempts = 0;
        this._fire("reconnect_failed");
        return;
      }
      const delay = this._delay();
      this.attempts++;
      this.reconnecting = true;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.skipReconnect || !this.reconnecting) return;
        this._fire("reconnect_attempt", this.attempts);
        if (this.skipReconnect || !this.reconnecting) return; // a listener gave up
        this.open();
      }, delay);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Socket: the page-facing object (one namespace).
  // ---------------------------------------------------------------------------------------------

  const RESERVED = new Set([
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
  ]);

  class Socket extends Emitter {
    constructor(manager, nsp, opts) {
      super();
      /** The manager (socket.io in socket.io-client). */
      this.io = manager;
      this.nsp = nsp;
      this.opts = opts;
      /** Sent in the CONNECT packet; may be replaced before a (re)connect. */
      this.auth = opts.auth;
      this.id = undefined;
      this.connected = false;
      this.sendBuffer = [];
      this.receiveBuffer = [];
      this.acks = new Map();
      this.ids = 0;
      this.flags = {};
      this._active = false;
      this._anyListeners = [];
      this._connectTimer = null;
      manager.socket = this;
    }

    /** True when not connected. */
    get disconnected() {
      return !this.connected;
    }

    /** True while the socket wants to be connected (it will reconnect on its own). */
    get active() {
      return this._active;
    }

    /** Flag: the next emit is dropped if not connected right now. */
    get volatile() {
      this.flags.volatile = true;
      return this;
    }

    /** Opens the connection (again); no-op when connected. */
    connect() {
      if (this.connected) return this;
      this._active = true;
      if (this.io.state === "open") this._onOpen();
      else if (!this.io.reconnecting) this.io.open();
      return this;
    }

    open() {
      return this.connect();
    }

    /** Leaves the namespace, closes the connection, stops reconnecting. */
    disconnect() {
      const wasConnected = this.connected;
      if (wasConnected) this.io._send([encodeSio({ type: SIO_DISCONNECT, nsp: this.nsp })]);
      this._destroy();
      if (wasConnected) this._onClose("io client disconnect");
      return this;
    }

    close() {
      return this.disconnect();
    }

    /** Same as emit("message", ...args). */
    send(...args) {
      return this.emit("message", ...args);
    }

    /** Accepted for API compatibility; does nothing. */
    compress() {
      return this;
    }

    /** Flag: the next emit's ack callback gets (err, ...args), err after `ms` without answer. */
    timeout(ms) {
      this.flags.timeout = ms;
      return this;
    }

    /**
     * Sends event `ev` with JSON-serialisable args. A function as the last argument is the ack
     * callback. While disconnected the packet is buffered (unless volatile) and sent in order after
     * the next connect.
     */
    emit(ev, ...args) {
      if (RESERVED.has(ev)) throw new Error('"' + String(ev) + '" is a reserved event name');
      const flags = this.flags;
      this.flags = {};
      const packet = { type: SIO_EVENT, nsp: this.nsp, data: [ev].concat(args) };
      if (typeof args[args.length - 1] === "function") {
        const id = this.ids++;
        const ack = packet.data.pop();
        packet.id = id;
        this._registerAck(id, ack, flags.timeout !== undefined ? flags.timeout : this.opts.ackTimeout);
      }
      if (this.connected) {
        this.io._send([encodeSio(packet)]);
      } else if (!flags.volatile) {
        this.sendBuffer.push(packet);
      }
      return this;
    }

    /** emit() returning a Promise of the ack's first argument (rejects on timeout if set). */
    emitWithAck(ev, ...args) {
      const withErr = this.flags.timeout !== undefined || this.opts.ackTimeout !== undefined;
      return new Promise((resolve, reject) => {
        args.push((a, b) => {
          if (!withErr) resolve(a);
          else if (a) reject(a);
          else resolve(b);
        });
        this.emit(ev, ...args);
      });
    }

    /** Calls `fn(event, ...args)` for every incoming event. */
    onAny(fn) {
      this._anyListeners.push(fn);
      return this;
    }

    prependAny(fn) {
      this._anyListeners.unshift(fn);
      return this;
    }

    offAny(fn) {
      if (fn === undefined) this._anyListeners = [];
      else this._anyListeners = this._anyListeners.filter((l) => l !== fn);
      return this;
    }

    listenersAny() {
      return this._anyListeners.slice();
    }

    _registerAck(id, ack, timeout) {
      if (timeout === undefined) {
        this.acks.set(id, ack);
        return;
      }
      const timer = setTimeout(() => {
        this.acks.delete(id);
        this.sendBuffer = this.sendBuffer.filter((p) => p.id !== id);
        ack.call(this, new Error("operation has timed out"));
      }, timeout);
      const fn = (...a) => {
        clearTimeout(timer);
        ack.apply(this, [null].concat(a));
      };
      fn.withError = true;
      fn.cancel = () => clearTimeout(timer);
      this.acks.set(id, fn);
    }

    // --- driven by the Manager ---

    _onOpen() {
      if (!this._active) return;
      const sendConnect = (data) => {
        const packet = { type: SIO_CONNECT, nsp: this.nsp };
        if (data !== undefined && data !== null) packet.data = data;
        this.io._send([encodeSio(packet)]);
        clearTimeout(this._connectTimer);
        this._connectTimer = setTimeout(() => {
          if (!this.connected) this.io._abort(new Error("timeout"));
        }, this.opts.timeout);
      };
      if (typeof this.auth === "function") this.auth(sendConnect);
      else sendConnect(this.auth);
    }

    _onData(text) {
      let packet;
      try {
        packet = decodeSio(text);
      } catch (e) {
        // A garbled packet means we can no longer trust the stream: reconnect.
        const engine = this.io.engine;
        if (engine) {
          engine.transport.close();
          engine._close("parse error", e);
        }
        return;
      }
      if (packet.type === SIO_BINARY_EVENT || packet.type === SIO_BINARY_ACK) {
        warnBinary();
        return;
      }
      if (packet.nsp !== this.nsp) return;
      switch (packet.type) {
        case SIO_CONNECT:
          this._onConnect(packet.data && packet.data.sid);
          break;
        case SIO_CONNECT_ERROR: {
          clearTimeout(this._connectTimer);
          const d = packet.data;
          const message = d && typeof d === "object" ? d.message : d;
          const err = new Error(message === undefined ? "connect error" : String(message));
          if (d && typeof d === "object" && d.data !== undefined) err.data = d.data;
          this._destroy(); // refused by the server: no automatic reconnect
          this._fire("connect_error", err);
          break;
        }
        case SIO_EVENT: {
          const args = packet.data.slice();
          if (packet.id !== undefined) args.push(this._ackFor(packet.id));
          if (this.connected) this._dispatch(args);
          else this.receiveBuffer.push(args);
          break;
        }
        case SIO_ACK: {
          const fn = this.acks.get(packet.id);
          if (fn) {
            this.acks.delete(packet.id);
            fn.apply(this, packet.data);
          }
          break;
        }
        case SIO_DISCONNECT:
          this._destroy();
          this._onClose("io server disconnect");
          break;
        default:
          break;
      }
    }

    _ackFor(id) {
      let sent = false;
      return (...args) => {
        if (sent) return;
        sent = true;
        this.io._send([encodeSio({ type: SIO_ACK, nsp: this.nsp, id: id, data: args })]);
      };
    }

    _dispatch(args) {
      for (const fn of this._anyListeners.slice()) fn.apply(this, args);
      this._fire.apply(this, args);
    }

    _onConnect(sid) {
      clearTimeout(this._connectTimer);
      if (this.connected) return;
      this.id = sid;
      this.connected = true;
      const received = this.receiveBuffer;
      this.receiveBuffer = [];
      for (const args of received) this._dispatch(args);
      const buffered = this.sendBuffer;
      this.sendBuffer = [];
      if (buffered.length) this.io._send(buffered.map(encodeSio));
      this._fire("connect");
    }

    _onConnectFailed(err) {
      if (!this.connected) this._fire("connect_error", err);
    }

    _onClose(reason, details) {
      clearTimeout(this._connectTimer);
      this.receiveBuffer = [];
      if (!this.connected) {
        // The engine closed before the namespace CONNECT was answered.
        if (reason !== "io client disconnect" && reason !== "io server disconnect") {
          this._fire("connect_error", details || new Error(reason));
        }
        return;
      }
      this.connected = false;
      this.id = undefined;
      this._fire("disconnect", reason, details);
      // Acks of packets already sent will never come; those with a timeout are told now.
      const buffered = new Set(this.sendBuffer.map((p) => p.id));
      for (const [id, fn] of Array.from(this.acks)) {
        if (buffered.has(id)) continue;
        this.acks.delete(id);
        if (fn.withError) {
          fn.cancel();
          fn.call(this, new Error("socket has been disconnected"));
        }
      }
    }

    _destroy() {
      clearTimeout(this._connectTimer);
      this._active = false;
      this.io.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // io(url?, opts?)
  // ---------------------------------------------------------------------------------------------

  const DEFAULTS = {
    path: "/socket.io",
    transports: ["websocket", "polling"],
    reconnection: true,
    reconnectionAttempts: Infinity,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
    timeout: 20000,
    autoConnect: true,
    query: undefined,
    auth: undefined,
    ackTimeout: undefined,
    withCredentials: false,
  };

  /**
   * Creates a Socket connected to `url` (default: the page's origin). The URL's path is the
   * namespace ("/" if none); its query string is added to the Engine.IO requests.
   */
  function io(url, opts) {
    if (url !== null && typeof url === "object") {
      opts = url;
      url = undefined;
    }
    const o = Object.assign({}, DEFAULTS);
    for (const k of Object.keys(opts || {})) if (opts[k] !== undefined) o[k] = opts[k];
    const loc = root.location;
    const here = loc && loc.href ? loc.href : "http://localhost/";
    const parsed = new URL(url === undefined || url === null || url === "" ? "/" : String(url), here);
    if (parsed.protocol === "ws:") parsed.protocol = "http:";
    if (parsed.protocol === "wss:") parsed.protocol = "https:";
    const base = parsed.protocol + "//" + parsed.host;
    const nsp = parsed.pathname && parsed.pathname !== "" ? parsed.pathname.replace(/\/$/, "") || "/" : "/";
    const urlQuery = parsed.search.replace(/^\?/, "");
    if (urlQuery) {
      const extra = queryString(o.query);
      o.query = extra ? urlQuery + "&" + extra : urlQuery;
    }
    o.path = String(o.path).replace(/\/$/, "") + "/";
    let transports = (o.transports || DEFAULTS.transports).filter(
      (t) => t === "websocket" || t === "polling"
    );
    if (!root.WebSocket) transports = transports.filter((t) => t !== "websocket");
    if (transports.length === 0) transports = ["polling"];
    o.transports = transports;
    o.reconnectionAttempts = o.reconnectionAttempts === undefined ? Infinity : o.reconnectionAttempts;

    const manager = new Manager(base, o);
    const socket = new Socket(manager, nsp, o);
    if (o.autoConnect) socket.connect();
    return socket;
  }

  io.connect = io;
  io.protocol = 5;
  io.Socket = Socket;
  io.Manager = Manager;

  root.io = io;
})(typeof window !== "undefined" ? window : globalThis);
