//! A minimal Socket.IO v5 / Engine.IO v4 client over WebSocket only.
//!
//! It exists so the load generator and the server's integration tests can talk to a chatroom (or to
//! the Node.js baseline) without a JavaScript runtime. It speaks exactly what those need: the
//! default namespace `/`, text packets, the open/connect handshake with optional `auth`,
//! ping/pong, events, acks in both directions. No polling transport, no binary attachments, no
//! reconnection, no TLS: a test that needs those uses the official clients under `interop/`.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), chatroom_bench::client::ClientError> {
//! use chatroom_bench::client::Client;
//! use serde_json::json;
//!
//! let client = Client::connect("http://127.0.0.1:3000", Some(json!({ "name": "alice" }))).await?;
//! let (event, args) = client.next_event().await?; // ("welcome", [{name, rooms}])
//! let ack = client.emit_with_ack("send", json!({ "room": "lobby", "text": "hi" })).await?;
//! assert_eq!(ack["ok"], true);
//! let message = client.next_event_named("message").await?; // [Message]
//! client.close().await;
//! # let _ = (event, args, message); Ok(()) }
//! ```
//!
//! Every waiting method has a timeout ([`DEFAULT_TIMEOUT`], changed with [`Client::set_timeout`]),
//! so a test never hangs on a lost event: it gets [`ClientError::Timeout`].
//!
//! For load generation, [`ConnectOptions::on_event`] installs a hook that is called on the
//! connection's reader task for every incoming event instead of queueing it, which keeps the
//! per-message cost low and timestamps accurate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long [`Client`] waits for a connection, an ack or an event unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a [`Client`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL could not be turned into a Socket.IO WebSocket URL.
    #[error("invalid url {0:?}: expected http://host:port[/] or ws://host:port/socket.io/?...")]
    InvalidUrl(String),
    /// The WebSocket connection or handshake failed, or the socket broke later.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server sent something this client does not understand at that point.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused the Socket.IO connection (`connect_error`); holds its payload, e.g.
    /// `{"message":"invalid_name"}`.
    #[error("connect_error: {0}")]
    ConnectRefused(Value),
    /// Nothing arrived in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection is closed (by the server, the network or [`Client::close`]).
    #[error("connection closed")]
    Closed,
}

/// A hook that receives every incoming event (`name`, `args`) on the reader task.
///
/// It must be quick: it runs inline with reading the socket. With a hook installed,
/// [`Client::next_event`] never returns an event.
pub type EventHook = Arc<dyn Fn(&str, Vec<Value>) + Send + Sync>;

/// Options for [`Client::connect_with`].
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// The `auth` object of the Socket.IO CONNECT packet (chatroom: `{"name": ...}`).
    pub auth: Option<Value>,
    /// See [`EventHook`]. `None`: events are queued for [`Client::next_event`].
    pub on_event: Option<EventHook>,
    /// Connect/handshake timeout; `None` means [`DEFAULT_TIMEOUT`].
    pub timeout: Option<Duration>,
}

type AckMap = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>;

/// One Socket.IO connection on the default namespace. All methods take `&self`, so a client can
/// be shared (e.g. in an `Arc`) between a task that emits and one that reads events.
pub struct Client {
    out: mpsc::UnboundedSender<Message>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Vec<Value>)>>,
    acks: AckMap,
    next_ack_id: AtomicU64,
    sid: String,
    timeout_ms: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

/// Turns `http://h:p`, `http://h:p/`, `ws://h:p` (or a full `.../socket.io/?...` URL, kept as is)
/// into the Engine.IO v4 WebSocket URL.
pub fn websocket_url(url: &str) -> Result<String, ClientError> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if let Some(r) = url.strip_prefix("ws://") {
        r
    } else {
        return Err(ClientError::InvalidUrl(url.to_owned()));
    };
    if rest.contains("/socket.io/") {
        return Ok(format!("ws://{rest}"));
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(ClientError::InvalidUrl(url.to_owned()));
    }
    Ok(format!("ws://{host}/socket.io/?EIO=4&transport=websocket"))
}

/// A decoded Socket.IO packet (after the Engine.IO `4` message prefix).
#[derive(Debug, PartialEq)]
pub enum Packet {
    /// `0{...}`: the namespace connection was accepted.
    Connect(Value),
    /// `1`: the server disconnected this namespace.
    Disconnect,
    /// `2[id][...]`: an event; `id` set when the server wants an ack.
    Event {
        /// Ack id requested by the sender, if any.
        id: Option<u64>,
        /// Event name (first array element).
        name: String,
        /// The remaining array elements.
        args: Vec<Value>,
    },
    /// `3<id>[...]`: the answer to one of our `emit_with_ack`.
    Ack {
        /// The ack id we sent.
        id: u64,
        /// The ack's arguments.
        args: Vec<Value>,
    },
    /// `4{...}`: the namespace connection was refused.
    ConnectError(Value),
}

/// Parses the Socket.IO part of an Engine.IO message (`"2[\"chat message\",\"hi\"]"`, `"317[...]"`).
/// Only the default namespace is accepted; binary packets are refused.
pub fn parse_packet(s: &str) -> Result<Packet, ClientError> {
    let bad = || ClientError::Protocol(format!("cannot parse socket.io packet {s:?}"));
    let kind = s.chars().next().ok_or_else(bad)?;
    let mut rest = &s[kind.len_utf8()..];
    if rest.starts_with('/') {
        // A namespace: only "/" itself is ours ("/," is never sent for the default one, but allow it).
        let comma = rest.find(',').ok_or_else(bad)?;
        if &rest[..comma] != "/" {
            return Err(ClientError::Protocol(format!(
                "packet for another namespace: {s:?}"
            )));
        }
        rest = &rest[comma + 1..];
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        Some(rest[..digits].parse::<u64>().map_err(|_| bad())?)
    } else {
        None
    };
    let json = &rest[digits..];
    match kind {
        '0' => Ok(Packet::Connect(if json.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(json).map_err(|_| bad())?
        })),
        '1' => Ok(Packet::Disconnect),
        '2' => {
            let mut arr: Vec<Value> = serde_json::from_str(json).map_err(|_| bad())?;
            if arr.is_empty() {
                return Err(bad());
            }
            let name = match arr.remove(0) {
                Value::String(n) => n,
                _ => return Err(bad()),
            };
            Ok(Packet::Event {
                id,
                name,
                args: arr,
            })
        }
        '3' => Ok(Packet::Ack {
            id: id.ok_or_else(bad)?,
            args: serde_json::from_str(json).map_err(|_| bad())?,
        }),
        '4' => Ok(Packet::ConnectError(
            serde_json::from_str(json).map_err(|_| bad())?,
        )),
        '5' | '6' => Err(ClientError::Protocol(format!(
            "binary packets are not supported: {s:?}"
        ))),
        _ => Err(bad()),
    }
}

/// Encodes an EVENT as an Engine.IO text message: `42["event",data]` or `42<id>["event",data]`.
pub fn encode_event(event: &str, data: &Value, ack_id: Option<u64>) -> String {
    let arr = Value::Array(vec![Value::String(event.to_owned()), data.clone()]);
    match ack_id {
        Some(id) => format!("42{id}{arr}"),
        None => format!("42{arr}"),
    }
}

impl Client {
    /// Connects to `url` (`http://127.0.0.1:3000`) with an optional `auth` object and waits for
    /// the Socket.IO CONNECT answer. A refusal is [`ClientError::ConnectRefused`].
    pub async fn connect(url: &str, auth: Option<Value>) -> Result<Client, ClientError> {
        Self::connect_with(
            url,
            ConnectOptions {
                auth,
                ..ConnectOptions::default()
            },
        )
        .await
    }

    /// [`Client::connect`] with all options.
    pub async fn connect_with(url: &str, opts: ConnectOptions) -> Result<Client, ClientError> {
        let limit = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
        match tokio::time::timeout(limit, Self::handshake(url, opts, limit)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(limit)),
        }
    }

    async fn handshake(
        url: &str,
        opts: ConnectOptions,
        limit: Duration,
    ) -> Result<Client, ClientError> {
        let ws_url = websocket_url(url)?;
        // Small buffers: a load test holds tens of thousands of these (the default is 128 KiB each).
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (ws, _resp) =
            tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await?;
        let (mut sink, mut stream) = ws.split();

        // Engine.IO OPEN: 0{"sid":...,"pingInterval":...}
        let open = next_text(&mut stream).await?;
        if !open.starts_with('0') {
            return Err(ClientError::Protocol(format!(
                "expected engine.io open, got {open:?}"
            )));
        }
        let connect = match &opts.auth {
            Some(auth) => format!("40{auth}"),
            None => "40".to_owned(),
        };
        sink.send(Message::text(connect)).await?;
        let sid = loop {
            let text = next_text(&mut stream).await?;
            match text.as_bytes().first() {
                Some(b'2') => sink.send(Message::text("3")).await?,
                Some(b'4') => match parse_packet(&text[1..])? {
                    Packet::Connect(v) => {
                        break v
                            .get("sid")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                    }
                    Packet::ConnectError(v) => return Err(ClientError::ConnectRefused(v)),
                    other => {
                        return Err(ClientError::Protocol(format!(
                            "expected connect, got {other:?}"
                        )));
                    }
                },
                _ => {}
            }
        };

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let acks: AckMap = Arc::default();

        let writer = tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                let closing = matches!(msg, Message::Close(_));
                if sink.feed(msg).await.is_err() {
                    return;
                }
                // Batch whatever else is queued into one flush (one syscall under load).
                while let Ok(more) = out_rx.try_recv() {
                    if sink.feed(more).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() || closing {
                    return;
                }
            }
        });

        let reader = {
            let out = out_tx.clone();
            let acks = acks.clone();
            let hook = opts.on_event.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let text = match msg {
                        Message::Text(t) => t,
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    let text = text.as_str();
                    match text.as_bytes().first() {
                        // Engine.IO ping → pong; a closed writer means the connection is gone.
                        Some(b'2') if out.send(Message::text("3")).is_err() => break,
                        Some(b'2') => {}
                        Some(b'1') => break,
                        Some(b'4') => match parse_packet(&text[1..]) {
                            Ok(Packet::Event { id, name, args }) => {
                                if let Some(id) = id {
                                    // The server asked for an ack: answer with no arguments.
                                    if out.send(Message::text(format!("43{id}[]"))).is_err() {
                                        break;
                                    }
                                }
                                match &hook {
                                    Some(h) => h(&name, args),
                                    None => {
                                        if ev_tx.send((name, args)).is_err() {
                                            break;
                                        }
                                    }
                                }
                            }
                            Ok(Packet::Ack { id, args }) => {
                                let waiter = acks.lock().ok().and_then(|mut m| m.remove(&id));
                                if let Some(w) = waiter {
                                    // The caller may have timed out and gone: nothing to tell.
                                    let _ = w.send(args);
                                }
                            }
                            Ok(Packet::Disconnect) => break,
                            Ok(_) | Err(_) => {}
                        },
                        _ => {}
                    }
                }
                // Dropping ev_tx / the ack senders wakes every waiter with `Closed`.
                if let Ok(mut m) = acks.lock() {
                    m.clear();
                }
            })
        };

        Ok(Client {
            out: out_tx,
            events: tokio::sync::Mutex::new(ev_rx),
            acks,
            next_ack_id: AtomicU64::new(0),
            sid,
            timeout_ms: AtomicU64::new(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)),
            reader,
            writer,
        })
    }

    /// The Socket.IO session id the server gave this connection.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Changes how long [`Client::emit_with_ack`] and [`Client::next_event`] wait.
    pub fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms.store(
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// Sends `event` with one argument `data`, without an ack.
    pub fn emit(&self, event: &str, data: Value) -> Result<(), ClientError> {
        self.send_raw(encode_event(event, &data, None))
    }

    /// Sends an already encoded Engine.IO text message (e.g. `42["chat message","hi"]`).
    /// For load generation and for tests of malformed input.
    pub fn send_raw(&self, text: String) -> Result<(), ClientError> {
        self.out
            .send(Message::text(text))
            .map_err(|_| ClientError::Closed)
    }

    /// Sends `event` with `data` and waits for the ack; returns the ack's first argument
    /// (`Value::Null` if the ack had none).
    pub async fn emit_with_ack(&self, event: &str, data: Value) -> Result<Value, ClientError> {
        let mut args = self.emit_with_ack_args(event, data).await?;
        Ok(if args.is_empty() {
            Value::Null
        } else {
            args.swap_remove(0)
        })
    }

    /// Like [`Client::emit_with_ack`] but returns all of the ack's arguments.
    pub async fn emit_with_ack_args(
        &self,
        event: &str,
        data: Value,
    ) -> Result<Vec<Value>, ClientError> {
        let rx = self.start_ack(event, &data)?;
        let limit = self.timeout();
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(args)) => Ok(args),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout(limit)),
        }
    }

    /// Sends `event` with an ack id and returns the receiver of the ack's arguments without
    /// waiting (no timeout applies: the caller decides). Used by the load generator to keep many
    /// sends in flight.
    pub fn start_ack(
        &self,
        event: &str,
        data: &Value,
    ) -> Result<oneshot::Receiver<Vec<Value>>, ClientError> {
        let id = self.next_ack_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .map_err(|_| ClientError::Closed)?
            .insert(id, tx);
        self.send_raw(encode_event(event, data, Some(id)))?;
        Ok(rx)
    }

    /// Waits for the next incoming event: `(name, args)`.
    pub async fn next_event(&self) -> Result<(String, Vec<Value>), ClientError> {
        let limit = self.timeout();
        let mut rx = self.events.lock().await;
        match tokio::time::timeout(limit, rx.recv()).await {
            Ok(Some(ev)) => Ok(ev),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout(limit)),
        }
    }

    /// Waits for the next event called `name`, skipping others; returns its args.
    pub async fn next_event_named(&self, name: &str) -> Result<Vec<Value>, ClientError> {
        let limit = self.timeout();
        let deadline = tokio::time::Instant::now() + limit;
        let mut rx = self.events.lock().await;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((n, args))) if n == name => return Ok(args),
                Ok(Some(_)) => {}
                Ok(None) => return Err(ClientError::Closed),
                Err(_) => return Err(ClientError::Timeout(limit)),
            }
        }
    }

    /// Returns an event already received, if any, without waiting.
    pub fn try_next_event(&self) -> Option<(String, Vec<Value>)> {
        self.events.try_lock().ok()?.try_recv().ok()
    }

    /// True while the connection's reader is running (the server has not closed it).
    pub fn is_connected(&self) -> bool {
        !self.reader.is_finished()
    }

    /// Sends a Socket.IO DISCONNECT and closes the WebSocket, waiting briefly for it to go out.
    pub async fn close(mut self) {
        // The writer may already be gone (server closed first): then there is nothing to send.
        let _ = self.out.send(Message::text("41"));
        let _ = self.out.send(Message::Close(None));
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.writer).await;
        self.reader.abort();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

async fn next_text<S>(stream: &mut S) -> Result<String, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls() {
        assert_eq!(
            websocket_url("http://127.0.0.1:3000").ok().as_deref(),
            Some("ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket")
        );
        assert_eq!(
            websocket_url("http://127.0.0.1:3000/").ok().as_deref(),
            Some("ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket")
        );
        assert!(websocket_url("https://x").is_err());
        assert!(websocket_url("http://x/a").is_err());
    }

    #[test]
    fn packets() {
        assert_eq!(
            parse_packet(r#"2["chat message","hi"]"#).ok(),
            Some(Packet::Event {
                id: None,
                name: "chat message".into(),
                args: vec![json!("hi")]
            })
        );
        assert_eq!(
            parse_packet(r#"317[{"ok":true}]"#).ok(),
            Some(Packet::Ack {
                id: 17,
                args: vec![json!({"ok": true})]
            })
        );
        assert_eq!(
            parse_packet(r#"25["ping"]"#).ok(),
            Some(Packet::Event {
                id: Some(5),
                name: "ping".into(),
                args: vec![]
            })
        );
        assert_eq!(
            parse_packet(r#"0{"sid":"abc"}"#).ok(),
            Some(Packet::Connect(json!({"sid": "abc"})))
        );
        assert_eq!(
            parse_packet(r#"4{"message":"invalid_name"}"#).ok(),
            Some(Packet::ConnectError(json!({"message": "invalid_name"})))
        );
        assert!(parse_packet(r#"2/admin,["x"]"#).is_err());
        assert!(parse_packet("2[]").is_err());
        assert!(parse_packet("").is_err());
        assert_eq!(
            encode_event("send", &json!({"a": 1}), Some(3)),
            r#"423["send",{"a":1}]"#
        );
        assert_eq!(
            encode_event("chat message", &json!("x"), None),
            r#"42["chat message","x"]"#
        );
    }
}
