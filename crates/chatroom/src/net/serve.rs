//! The accept loop and HTTP/1.1 serving (hyper's connection builder with upgrades, so the
//! WebSocket upgrade and long-polling both work), in place of `axum::serve`, because the edge
//! needs what that one does not offer: a connection cap checked before any byte is read,
//! a slot that lives as long as the socket, the client address and a per-connection session
//! counter in every request, and separate header-read and idle timeouts.
//!
//! hyper's own `header_read_timeout` starts whenever it waits for a request head — the quiet
//! time between keep-alive requests included — so it would close idle keep-alive connections
//! after the header timeout. It is therefore left off and [`Activity`] tells the two apart:
//! the header timeout runs from a request head's first byte, the idle timeout from the last
//! response (or the accept). Neither runs while a request is served (a long-poll included),
//! and an upgraded WebSocket leaves this loop altogether (Engine.IO's ping watches it).
//!
//! With `--tls-cert`/`--tls-key` each accepted connection first completes a TLS handshake in
//! its own task (never in the accept loop, where one slow client would stall every other),
//! within the header-read timeout; a failed or late handshake is a logged refusal.

use super::listener::{Activity, Connections, Timeout, TrackedIo};
use super::{ClientAddr, HttpConnection};
use crate::config::Config;
use crate::config::limits::TrustedProxies;
use crate::metrics::Metrics;
use crate::refusal;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What the edge needs from the configuration.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Time from a request head's first byte to its end.
    pub header_read_timeout: Duration,
    /// Time a connection may sit between requests (or before its first one).
    pub idle_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trust_proxy: TrustedProxies,
}

impl EdgeSettings {
    /// The edge part of `config`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            trust_proxy: config.trust_proxy.clone(),
        }
    }
}

/// Answer written (best effort, without waiting) to a connection refused at accept.
const REFUSED_RESPONSE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// What the accept loop shares with every connection it starts.
pub struct Edge {
    /// Routes, Socket.IO as the fallback.
    pub router: Router,
    /// Open-connection counters and caps.
    pub connections: Connections,
    /// Timeouts and trusted proxies.
    pub settings: EdgeSettings,
    /// TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// Where refusals are counted.
    pub metrics: Arc<Metrics>,
}

/// Serves on `listener` until `stop` resolves; then awaits `drain` (which gives the answers
/// owed and closes the Socket.IO clients) while still accepting connections — a polling
/// client opens new ones for the requests of its existing session, which carry those
/// answers; new sessions are refused by `net::guard` meanwhile — then stops accepting, asks
/// every HTTP connection to finish its request and close, and returns once they have.
/// Upgraded connections are the caller's to close (`drain`).
pub async fn run(
    listener: TcpListener,
    edge: Edge,
    stop: impl Future<Output = ()>,
    drain: impl Future<Output = ()>,
) {
    let Edge {
        router,
        connections,
        settings,
        tls,
        metrics,
    } = edge;
    let settings = Arc::new(settings);
    let (closing, closing_rx) = watch::channel(false);
    tokio::pin!(stop);
    tokio::pin!(drain);
    let mut stopped = false;
    loop {
        let (stream, peer) = tokio::select! {
            // `stop` first: it must be polled (a signal handler installed) even while
            // connections keep arriving.
            biased;
            () = &mut stop, if !stopped => {
                stopped = true;
                continue;
            }
            () = &mut drain, if stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
        };
        let Some(io) = admit(stream, peer, &connections, &metrics) else {
            continue;
        };
        let task = Connection {
            router: router.clone(),
            settings: settings.clone(),
            closing: closing_rx.clone(),
            peer,
        };
        let activity = io.activity();
        match &tls {
            None => {
                tokio::spawn(task.serve(io, activity));
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(io);
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let deadline = task.settings.header_read_timeout;
                    let why = match tokio::time::timeout(deadline, handshake).await {
                        Ok(Ok(tls_stream)) => return task.serve(tls_stream, activity).await,
                        Ok(Err(error)) => format!("TLS handshake failed: {error}"),
                        Err(_) => format!("TLS handshake not done within {deadline:?}"),
                    };
                    metrics.refused("tls_handshake", "accept");
                    let client = ClientAddr(peer.ip().to_canonical());
                    refusal::refused(Some(client), "tls_handshake", why);
                });
            }
        }
    }
    drop(listener);
    let _ = closing.send(true); // receivers gone = nothing left to close
    drop(closing_rx);
    closing.closed().await;
}

/// Counts the new connection or refuses it (logged, a 503 if the socket takes it at once).
fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    connections: &Connections,
    metrics: &Metrics,
) -> Option<TrackedIo> {
    match connections.try_acquire(peer.ip()) {
        Ok(slot) => {
            // Small chat frames must leave at once: without TCP_NODELAY, Nagle's algorithm
            // and the peer's delayed ACK hold a reply for ~40 ms (Node sets noDelay too).
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
            Some(TrackedIo::new(stream, slot, Arc::new(Activity::default())))
        }
        Err(why) => {
            metrics.refused("too_many_connections", "accept");
            refusal::refused(
                Some(ClientAddr(peer.ip().to_canonical())),
                "too_many_connections",
                why,
            );
            let _ = stream.try_write(REFUSED_RESPONSE); // best effort: closing anyway
            None
        }
    }
}

/// Per-connection accept errors are the client's; others (out of file descriptors) are
/// the process's, and retrying at once would spin.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct Connection {
    router: Router,
    settings: Arc<EdgeSettings>,
    closing: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl Connection {
    /// Serves HTTP on `io` (a counted socket, or TLS over one); `activity` is the counted
    /// socket's, which sees the bytes whatever is layered on it.
    async fn serve<I>(mut self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http = HttpConnection::new(self.peer);
        let (router, settings, peer) = (self.router, self.settings.clone(), self.peer);
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                let busy = activity.request();
                detach_head(&mut req);
                let client = ClientAddr::resolve(peer.ip(), req.headers(), &settings.trust_proxy);
                req.extensions_mut().insert(client);
                req.extensions_mut().insert(http.clone());
                let router = router.clone();
                async move {
                    let response = router.oneshot(req).await;
                    drop(busy);
                    response
                }
            })
        };
        let mut builder = http1::Builder::new();
        // Our own timeouts below; hyper's would also cut idle keep-alive connections.
        builder.timer(TokioTimer::new()).header_read_timeout(None);
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        let watchdog = watchdog(&activity, &self.settings);
        tokio::pin!(watchdog);
        let mut closing = *self.closing.borrow();
        if closing {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, %peer, "HTTP connection ended with an error");
                    }
                    break;
                }
                changed = self.closing.changed(), if !closing => {
                    closing = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
                expired = &mut watchdog => {
                    tracing::debug!(%peer, ?expired, "closing HTTP connection: timed out");
                    break;
                }
            }
        }
    }
}

/// Replaces the request's URI and header values by copies of their own.
///
/// hyper parses a request head in place: the URI and every header value are slices of the
/// connection's 8 KiB read buffer, and any one of them keeps the whole buffer allocated.
/// engineioxide keeps the request parts for the life of an Engine.IO session (with axum's
/// `OriginalUri`, a clone of the URI, among their extensions), so without these copies every
/// WebSocket kept its read buffer long after the upgrade — the largest single cost of an idle
/// connection (docs/BENCHMARKS.md, "Where an idle connection's bytes go"). The copies cost a few
/// hundred bytes per request, made before any layer (axum's router included) clones them.
fn detach_head<B>(req: &mut axum::http::Request<B>) {
    if let Ok(uri) = req.uri().to_string().parse() {
        *req.uri_mut() = uri;
    }
    for value in req.headers_mut().values_mut() {
        // `from_bytes` copies; a value it refuses (hyper accepted it) stays as it is.
        if let Ok(mut owned) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
            owned.set_sensitive(value.is_sensitive());
            *value = owned;
        }
    }
}

/// Resolves when the connection has waited too long for a request head or a next request.
async fn watchdog(activity: &Activity, settings: &EdgeSettings) -> Timeout {
    loop {
        let deadline = activity.deadline(settings.header_read_timeout, settings.idle_timeout);
        match deadline {
            None => activity.changed().await,
            Some((at, kind)) if at <= tokio::time::Instant::now() => return kind,
            Some((at, _)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = activity.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::detach_head;
    use axum::body::Bytes;
    use axum::http::{HeaderValue, Request, Uri};

    /// As hyper builds it: URI and header values are slices of one read buffer.
    fn request_in(head: &Bytes) -> Request<()> {
        let uri = Uri::from_maybe_shared(head.slice(0..29)).expect("uri");
        let mut req = Request::builder().uri(uri).body(()).expect("request");
        let value = HeaderValue::from_maybe_shared(head.slice(30..)).expect("value");
        req.headers_mut().insert("sec-websocket-key", value);
        req
    }

    fn inside(buffer: &Bytes, bytes: &[u8]) -> bool {
        buffer.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn head_no_longer_points_into_the_read_buffer() {
        let head = Bytes::from_static(b"/socket.io/?EIO=4&transport=w dGhlIHNhbXBsZSBub25jZQ==");
        let mut req = request_in(&head);
        let key = |req: &Request<()>| req.headers()["sec-websocket-key"].as_bytes().to_vec();
        assert!(inside(&head, req.uri().path().as_bytes()));
        let before = (req.uri().clone(), key(&req));

        detach_head(&mut req);

        assert_eq!((req.uri().clone(), key(&req)), before, "same request");
        assert!(!inside(&head, req.uri().path().as_bytes()), "URI copied");
        let value = &req.headers()["sec-websocket-key"];
        assert!(!inside(&head, value.as_bytes()), "header value copied");
    }
}
