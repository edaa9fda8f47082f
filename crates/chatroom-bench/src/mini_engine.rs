//! `mini-engine`: issue 10's engine experiment — a minimal Engine.IO v4 / Socket.IO v5 server
//! over WebSocket with **one task per connection**, so its idle bytes per connection can be
//! measured with the same harness as the real server (`chatroom-bench idle`,
//! `bench/idle-heap.sh`) and compared layer by layer (docs/design/engine.md).
//!
//! It is an experiment, not a server: WebSocket transport only (no long-polling, no upgrade from
//! polling), the default namespace only, no binary packets, no authentication, and the seed
//! chat's one event: `chat message` is broadcast to every connected client (what the Node.js
//! original does with `io.emit`). What it does implement is what an idle or chatting
//! connection costs: the handshake (open packet), ping/pong heartbeats with a timeout, the
//! Socket.IO CONNECT answer, acks (empty), close, and a shared broadcast.
//!
//! One task owns everything of a connection: the WebSocket (reads, and writes of its own
//! answers and of the broadcast), the heartbeat (a single `Sleep` that is either the next ping
//! or the pong deadline) and its place in the broadcast. The broadcast is one
//! `tokio::sync::broadcast` ring shared by all connections: a message is encoded once, and a
//! receiver costs no allocation of its own. A receiver that falls `--queue` messages behind is
//! disconnected and counted (`lagged`), the same policy as the real server's full send queue:
//! never a silent drop.
//!
//! Two ways to reach the WebSocket, to price the HTTP layer: `--http hyper` (hyper's HTTP/1
//! connection with upgrades, as the real server) and `--http raw` (the request head parsed here,
//! the `101` written by hand, tungstenite on the bare `TcpStream`). The handshake runs in a boxed
//! future, so its state (hyper's connection, the head buffer) is freed once the WebSocket is up
//! instead of sizing the task for its whole life.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// How the WebSocket is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpMode {
    /// hyper's HTTP/1 connection with upgrades (what the real server runs).
    Hyper,
    /// The request head parsed here and the 101 written by hand; no hyper at all.
    Raw,
}

/// Settings of the experiment.
#[derive(Debug, Clone)]
pub struct MiniConfig {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    pub addr: SocketAddr,
    /// How the WebSocket is reached.
    pub http: HttpMode,
    /// Engine.IO `pingInterval`.
    pub ping_interval: Duration,
    /// Engine.IO `pingTimeout`.
    pub ping_timeout: Duration,
    /// Broadcast ring size: a client this many messages behind is disconnected.
    pub queue: usize,
    /// tungstenite's read chunk per connection (the real server: 1 KiB).
    pub read_buffer: usize,
    /// Largest message accepted (the real server's default `max_message_bytes`).
    pub max_payload: usize,
}

/// How long a client may take from accept to a finished WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request head the raw mode reads.
const MAX_HEAD: usize = 8 * 1024;

/// Why connections ended, and how many there were; printed as JSON on stderr at exit.
#[derive(Default)]
struct Counters {
    opened: AtomicU64,
    open_now: AtomicU64,
    bad_handshake: AtomicU64,
    client_left: AtomicU64,
    ping_timeout: AtomicU64,
    lagged: AtomicU64,
    io_error: AtomicU64,
    broadcasts: AtomicU64,
}

struct Shared {
    cfg: MiniConfig,
    tx: broadcast::Sender<Utf8Bytes>,
    counters: Counters,
    next_sid: AtomicU64,
    /// Makes session ids of two runs differ (an experiment: not unguessable).
    sid_salt: u64,
}

/// Serves until SIGTERM or Ctrl-C; prints `listening on http://ADDR` on stdout first (the line
/// bench/lib.sh waits for) and the counters on stderr last.
pub async fn serve(cfg: MiniConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(cfg.addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let (tx, _) = broadcast::channel(cfg.queue.max(1));
    let sid_salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let shared = Arc::new(Shared {
        cfg,
        tx,
        counters: Counters::default(),
        next_sid: AtomicU64::new(1),
        sid_salt,
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: retrying at once would spin.
                    eprintln!("mini-engine: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    let c = &shared.counters;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "{}",
        serde_json::json!({
            "mini_engine": {
                "opened": n(&c.opened), "open_now": n(&c.open_now),
                "bad_handshake": n(&c.bad_handshake), "client_left": n(&c.client_left),
                "ping_timeout": n(&c.ping_timeout), "lagged": n(&c.lagged),
                "io_error": n(&c.io_error), "broadcasts": n(&c.broadcasts),
            }
        })
    );
    Ok(())
}

/// A running session, boxed so the connection's task does not carry its size.
type SessionFuture = Pin<Box<dyn Future<Output = End> + Send>>;

/// The one task of a connection: handshake (boxed, freed when done), then the session.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    // Small frames must leave at once (the real server sets it too).
    let _ = stream.set_nodelay(true);
    let c = &shared.counters;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(shared.cfg.read_buffer)
        .max_message_size(Some(shared.cfg.max_payload))
        .max_frame_size(Some(shared.cfg.max_payload));
    // Both phases live on the heap, each only as long as it runs: the boxed handshake (hyper's
    // connection, the head buffer) is freed when it returns the boxed session, so the task
    // itself keeps little more than the timeout's timer (see `sizes` below).
    let handshake: Pin<Box<dyn Future<Output = Option<SessionFuture>> + Send>> =
        match shared.cfg.http {
            HttpMode::Raw => Box::pin(raw_handshake(stream, ws_config, shared.clone())),
            HttpMode::Hyper => Box::pin(hyper_handshake(stream, ws_config, shared.clone())),
        };
    let ended = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Some(session)) => Some(session.await),
        _ => None,
    };
    match ended {
        None => c.bad_handshake.fetch_add(1, Ordering::Relaxed),
        Some(End::Client) => c.client_left.fetch_add(1, Ordering::Relaxed),
        Some(End::PingTimeout) => c.ping_timeout.fetch_add(1, Ordering::Relaxed),
        Some(End::Lagged) => c.lagged.fetch_add(1, Ordering::Relaxed),
        Some(End::Io) => c.io_error.fetch_add(1, Ordering::Relaxed),
    };
}

/// Is this an Engine.IO v4 WebSocket request (`/socket.io/?EIO=4&transport=websocket`)?
fn engine_io_target(path_and_query: &str) -> bool {
    let Some(query) = path_and_query
        .strip_prefix("/socket.io/")
        .and_then(|r| r.strip_prefix('?'))
    else {
        return false;
    };
    let mut eio4 = false;
    let mut websocket = false;
    for pair in query.split('&') {
        match pair {
            "EIO=4" => eio4 = true,
            "transport=websocket" => websocket = true,
            _ => {}
        }
    }
    eio4 && websocket
}

/// Reads the request head on the bare socket, answers `101` (or `400` and gives up).
async fn raw_handshake(
    mut stream: TcpStream,
    config: WebSocketConfig,
    shared: Arc<Shared>,
) -> Option<SessionFuture> {
    let mut head = Vec::with_capacity(1024);
    let end = loop {
        if head.len() >= MAX_HEAD {
            return None;
        }
        if stream.read_buf(&mut head).await.ok()? == 0 {
            return None;
        }
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let accept = std::str::from_utf8(&head[..end])
        .ok()
        .and_then(parse_upgrade_head);
    let Some(accept) = accept else {
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return None;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    stream.write_all(answer.as_bytes()).await.ok()?;
    // A client sends nothing before the 101; if it did, tungstenite gets those bytes first.
    let early = head.split_off(end);
    let ws = if early.is_empty() {
        WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
    } else {
        WebSocketStream::from_partially_read(stream, early, Role::Server, Some(config)).await
    };
    Some(Box::pin(session(ws, shared)))
}

/// The `Sec-WebSocket-Accept` value for a well-formed Engine.IO WebSocket upgrade head.
fn parse_upgrade_head(head: &str) -> Option<String> {
    let mut lines = head.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, target, version) = (request.next()?, request.next()?, request.next()?);
    if method != "GET" || version != "HTTP/1.1" || !engine_io_target(target) {
        return None;
    }
    let mut key = None;
    let mut upgrade = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("sec-websocket-key") {
            key = Some(value);
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade = value.eq_ignore_ascii_case("websocket");
        }
    }
    if !upgrade {
        return None;
    }
    Some(derive_accept_key(key?.as_bytes()))
}

/// hyper's HTTP/1 connection with upgrades: the service answers `101` and hands the upgrade
/// over; once hyper has written it the connection future ends and the upgraded IO is ours.
async fn hyper_handshake(
    stream: TcpStream,
    config: WebSocketConfig,
    shared: Arc<Shared>,
) -> Option<SessionFuture> {
    let slot: Arc<Mutex<Option<OnUpgrade>>> = Arc::default();
    let svc = {
        let slot = slot.clone();
        service_fn(move |mut req: Request<Incoming>| {
            let slot = slot.clone();
            async move {
                let accept = req
                    .uri()
                    .path_and_query()
                    .is_some_and(|pq| engine_io_target(pq.as_str()))
                    .then(|| {
                        let upgrade = req
                            .headers()
                            .get(UPGRADE)
                            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
                        let key = req.headers().get(SEC_WEBSOCKET_KEY)?;
                        upgrade.then(|| derive_accept_key(key.as_bytes()))
                    })
                    .flatten()
                    .and_then(|a| HeaderValue::from_str(&a).ok());
                let mut res = Response::new(Empty::<Bytes>::new());
                match accept {
                    Some(accept) => {
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(hyper::upgrade::on(&mut req));
                        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                        let h = res.headers_mut();
                        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
                        h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
                        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
                    }
                    None => *res.status_mut() = StatusCode::BAD_REQUEST,
                }
                Ok::<_, std::convert::Infallible>(res)
            }
        })
    };
    http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await
        .ok()?;
    let on_upgrade = slot.lock().unwrap_or_else(|e| e.into_inner()).take()?;
    let upgraded = on_upgrade.await.ok()?;
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    Some(Box::pin(session(ws, shared)))
}

/// How a session ended.
enum End {
    Client,
    PingTimeout,
    Lagged,
    Io,
}

/// What one incoming text frame asks of the session.
#[derive(Debug, PartialEq)]
enum Action {
    Nothing,
    /// Send this frame back to this client.
    Reply(String),
    /// The pong we were waiting for.
    Pong,
    /// Socket.IO CONNECT to `/`: answer and join the broadcast.
    Connect,
    /// Broadcast this frame to everyone; answer the ack if one was asked for.
    Broadcast(String, Option<String>),
    /// The client leaves.
    Close,
}

/// Decodes one Engine.IO text packet (and the Socket.IO packet inside a `4`).
fn decode(text: &str) -> Action {
    let Some(kind) = text.as_bytes().first() else {
        return Action::Nothing;
    };
    let rest = &text[1..];
    match kind {
        b'1' => Action::Close,
        // A client's ping (probe): answer in kind.
        b'2' => Action::Reply(format!("3{rest}")),
        b'3' => Action::Pong,
        b'4' => decode_socket_io(rest),
        _ => Action::Nothing,
    }
}

fn decode_socket_io(p: &str) -> Action {
    let Some(kind) = p.as_bytes().first() else {
        return Action::Nothing;
    };
    let rest = &p[1..];
    if rest.starts_with('/') && !rest.starts_with("/,") {
        // Another namespace: this experiment has only `/`.
        return match kind {
            b'0' => {
                let ns = rest.split(',').next().unwrap_or(rest);
                Action::Reply(format!("44{ns},{{\"message\":\"Invalid namespace\"}}"))
            }
            _ => Action::Nothing,
        };
    }
    let rest = rest.strip_prefix("/,").unwrap_or(rest);
    match kind {
        // CONNECT, with or without an auth object (ignored).
        b'0' => Action::Connect,
        b'1' => Action::Close,
        b'2' => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (id, json) = rest.split_at(digits);
            let ack = (!id.is_empty()).then(|| format!("43{id}[]"));
            match serde_json::from_str::<Vec<&RawValue>>(json) {
                Ok(args) if args.first().map(|n| n.get()) == Some("\"chat message\"") => {
                    let msg = args.get(1).map_or("null", |m| m.get());
                    Action::Broadcast(format!("42[\"chat message\",{msg}]"), ack)
                }
                // Another event: nothing to do but the ack.
                Ok(_) => ack.map_or(Action::Nothing, Action::Reply),
                Err(_) => Action::Close,
            }
        }
        _ => Action::Nothing,
    }
}

/// A peer that resets or drops the TCP connection without a close frame has left, like one
/// that closes politely (load generators do that); anything else is an I/O or protocol error.
fn client_left(e: &tokio_tungstenite::tungstenite::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match e {
        Error::ConnectionClosed
        | Error::AlreadyClosed
        | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => true,
        Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// Receives from the broadcast when joined; pending forever before the CONNECT.
async fn next_broadcast(
    rx: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// An Engine.IO session on an open WebSocket: open packet, then frames, heartbeats and the
/// broadcast in one loop until someone leaves.
async fn session<S>(mut ws: WebSocketStream<S>, shared: Arc<Shared>) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cfg = &shared.cfg;
    let c = &shared.counters;
    let sid = format!(
        "{:016x}",
        shared.next_sid.fetch_add(1, Ordering::Relaxed) ^ shared.sid_salt
    );
    let open = format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
        cfg.ping_interval.as_millis(),
        cfg.ping_timeout.as_millis(),
        cfg.max_payload
    );
    if ws.send(Message::text(open)).await.is_err() {
        return End::Io;
    }
    c.opened.fetch_add(1, Ordering::Relaxed);
    c.open_now.fetch_add(1, Ordering::Relaxed);
    let end = run_session(&mut ws, &shared, &sid).await;
    c.open_now.fetch_sub(1, Ordering::Relaxed);
    // Best effort: the peer may be gone already.
    let _ = ws.close(None).await;
    end
}

async fn run_session<S>(ws: &mut WebSocketStream<S>, shared: &Shared, sid: &str) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cfg = &shared.cfg;
    let mut rx: Option<broadcast::Receiver<Utf8Bytes>> = None;
    // One timer for the heartbeat: the next ping, or while one is unanswered, its deadline.
    let timer = tokio::time::sleep(cfg.ping_interval);
    tokio::pin!(timer);
    let mut ping_sent: Option<Instant> = None;
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    // tungstenite answers WebSocket pings itself; binary is not Engine.IO v4 text.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return End::Client,
                    Some(Err(e)) if client_left(&e) => return End::Client,
                    Some(Err(_)) => return End::Io,
                };
                let sent = match decode(text.as_str()) {
                    Action::Nothing => Ok(()),
                    Action::Reply(r) => ws.send(Message::text(r)).await,
                    Action::Pong => {
                        if let Some(at) = ping_sent.take() {
                            timer.as_mut().reset((at + cfg.ping_interval).into());
                        }
                        Ok(())
                    }
                    Action::Connect => {
                        if rx.is_none() {
                            rx = Some(shared.tx.subscribe());
                        }
                        ws.send(Message::text(format!("40{{\"sid\":\"{sid}\"}}"))).await
                    }
                    Action::Broadcast(frame, ack) => {
                        if rx.is_some() {
                            // No receiver (nobody joined) is not an error.
                            let _ = shared.tx.send(Utf8Bytes::from(frame));
                            shared.counters.broadcasts.fetch_add(1, Ordering::Relaxed);
                        }
                        match ack {
                            Some(a) => ws.send(Message::text(a)).await,
                            None => Ok(()),
                        }
                    }
                    Action::Close => return End::Client,
                };
                if sent.is_err() {
                    return End::Io;
                }
            }
            () = &mut timer => {
                if ping_sent.is_some() {
                    return End::PingTimeout;
                }
                if ws.send(Message::text("2")).await.is_err() {
                    return End::Io;
                }
                let now = Instant::now();
                ping_sent = Some(now);
                timer.as_mut().reset((now + cfg.ping_timeout).into());
            }
            got = next_broadcast(&mut rx) => {
                let Ok(first) = got else {
                    // Lagged: this client could not keep up; Closed cannot happen while we serve.
                    return End::Lagged;
                };
                // Everything already waiting leaves in one flush.
                if ws.feed(Message::Text(first)).await.is_err() {
                    return End::Io;
                }
                if let Some(r) = rx.as_mut() {
                    loop {
                        match r.try_recv() {
                            Ok(more) => {
                                if ws.feed(Message::Text(more)).await.is_err() {
                                    return End::Io;
                                }
                            }
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(_) => return End::Lagged,
                        }
                    }
                }
                if ws.flush().await.is_err() {
                    return End::Io;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_io_targets() {
        assert!(engine_io_target("/socket.io/?EIO=4&transport=websocket"));
        assert!(engine_io_target(
            "/socket.io/?transport=websocket&EIO=4&t=x"
        ));
        assert!(!engine_io_target("/socket.io/?EIO=3&transport=websocket"));
        assert!(!engine_io_target("/socket.io/?EIO=4&transport=polling"));
        assert!(!engine_io_target("/other/?EIO=4&transport=websocket"));
    }

    #[test]
    fn upgrade_head() {
        let head = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        // RFC 6455's example key and answer.
        assert_eq!(
            parse_upgrade_head(head).as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(
            parse_upgrade_head(&head.replace("websocket\r\nC", "h2c\r\nC")),
            None
        );
        assert_eq!(parse_upgrade_head(&head.replace("GET", "POST")), None);
    }

    #[test]
    fn packets() {
        assert_eq!(decode("3"), Action::Pong);
        assert_eq!(decode("2probe"), Action::Reply("3probe".into()));
        assert_eq!(decode("40"), Action::Connect);
        assert_eq!(decode("40{\"name\":\"a\"}"), Action::Connect);
        assert_eq!(
            decode("40/admin,"),
            Action::Reply("44/admin,{\"message\":\"Invalid namespace\"}".into())
        );
        assert_eq!(
            decode("42[\"chat message\",\"hi\",1]"),
            Action::Broadcast("42[\"chat message\",\"hi\"]".into(), None)
        );
        assert_eq!(
            decode("4217[\"chat message\",{\"a\":1}]"),
            Action::Broadcast(
                "42[\"chat message\",{\"a\":1}]".into(),
                Some("4317[]".into())
            )
        );
        assert_eq!(decode("425[\"other\"]"), Action::Reply("435[]".into()));
        assert_eq!(decode("42[\"other\"]"), Action::Nothing);
        assert_eq!(decode("42not json"), Action::Close);
        assert_eq!(decode("41"), Action::Close);
        assert_eq!(decode("1"), Action::Close);
    }
}

/// Sizes of what one connection's task holds, for docs/design/engine.md (`cargo test -p
/// chatroom-bench --release mini_engine -- --nocapture` prints them).
#[cfg(test)]
mod sizes {
    use super::*;

    fn ret1<A, F>(_: impl FnOnce(A) -> F) -> usize {
        size_of::<F>()
    }
    fn ret2<A, B, F>(_: impl FnOnce(A, B) -> F) -> usize {
        size_of::<F>()
    }
    fn ret3<A, B, C, F>(_: impl FnOnce(A, B, C) -> F) -> usize {
        size_of::<F>()
    }

    #[test]
    fn connection_task_stays_small() {
        let task = ret2::<TcpStream, Arc<Shared>, _>(connection);
        let hyper_session =
            ret2::<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, Arc<Shared>, _>(session);
        let raw_session = ret2::<WebSocketStream<TcpStream>, Arc<Shared>, _>(session);
        let hyper_hs = ret3::<TcpStream, WebSocketConfig, Arc<Shared>, _>(hyper_handshake);
        let raw_hs = ret3::<TcpStream, WebSocketConfig, Arc<Shared>, _>(raw_handshake);
        let ws_hyper = size_of::<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>>();
        let ws_raw = size_of::<WebSocketStream<TcpStream>>();
        let sleep = size_of::<tokio::time::Sleep>();
        let rx = size_of::<broadcast::Receiver<Utf8Bytes>>();
        let recv = ret1::<&'static mut Option<broadcast::Receiver<Utf8Bytes>>, _>(next_broadcast);
        println!(
            "connection future {task} B; session future: hyper {hyper_session} B, raw {raw_session} B; \
             boxed handshake: hyper {hyper_hs} B, raw {raw_hs} B; WebSocketStream: hyper {ws_hyper} B, \
             raw {ws_raw} B; Sleep {sleep} B; broadcast Receiver {rx} B, recv future {recv} B"
        );
        // Handshake and session are boxed: the task itself is smaller than either, and the
        // session's state (WebSocket, timer, broadcast receiver, the write in progress) is what
        // stays. The figures in docs/design/engine.md are the release build's; a debug build's
        // futures are larger, so only the release build checks them.
        assert!(task < hyper_session.min(raw_session).min(hyper_hs).min(raw_hs));
        if !cfg!(debug_assertions) {
            assert!(task <= 256, "the connection task grew to {task} B");
            assert!(
                hyper_session.max(raw_session) <= 1_536,
                "the session grew to {hyper_session} / {raw_session} B"
            );
        }
    }
}
