//! Issue 7, the network edge, through real sockets: slowloris and idle connections are closed,
//! WebSocket chats are not; connection caps (total, per address) refuse the extra connection
//! while a bystander chats on; handshake rate and sessions per HTTP connection answer 429;
//! foreign Origins get 403; X-Forwarded-For counts only from a trusted proxy; every page and
//! asset carries the browser safety headers; socket handlers can read the client address.

mod common;

use chatroom::config::Config;
use chatroom::config::RateLimit;
use chatroom::net::ClientAddr;
use chatroom_bench::Client;
use common::{TestServer, ok};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

fn short_timeouts(header: u64, idle: u64) -> Config {
    let mut config = Config::for_tests();
    config.header_read_timeout = Duration::from_millis(header);
    config.idle_timeout = Duration::from_millis(idle);
    config
}

fn rate(per_second: u32, burst: u32) -> RateLimit {
    RateLimit {
        per_second: NonZeroU32::new(per_second).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

/// Connects to `addr` from the loopback address `from` (e.g. 127.0.0.2: another client).
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{from}:0").parse().unwrap())
        .expect("bind a loopback source");
    socket.connect(addr).await.expect("connect")
}

/// Waits until the server closes `stream` (EOF or reset); returns how long that took, or
/// `None` if it was still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // e.g. an error response before the close
        }
    }
}

/// One HTTP/1.1 response: status, lower-cased headers, body (Content-Length framed).
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn read_response(stream: &mut TcpStream) -> Response {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("read body");
        assert!(n > 0, "closed mid-body");
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned();
    Response {
        status,
        headers,
        body,
    }
}

/// Sends `GET path` with `headers` over `stream` (keep-alive) and reads the answer.
async fn get_on(stream: &mut TcpStream, path: &str, headers: &[(&str, &str)]) -> Response {
    let host = stream.peer_addr().unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(stream).await
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    get_on(&mut stream, path, headers).await
}

#[tokio::test]
async fn slowloris_is_closed_after_the_header_timeout() {
    let server = TestServer::start(short_timeouts(500, 10_000)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let trickle = async {
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(&[*byte]).await.is_err() {
                return start.elapsed();
            }
            if start.elapsed() > Duration::from_secs(5) {
                return start.elapsed();
            }
        }
        unreachable!()
    };
    let cut = trickle.await;
    assert!(cut < Duration::from_secs(3), "still open after {cut:?}");
    assert!(
        cut >= Duration::from_millis(400),
        "closed too early: {cut:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed() {
    let server = TestServer::start(short_timeouts(10_000, 500)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let cut = closed_within(&mut stream, Duration::from_secs(5)).await;
    let cut = cut.expect("idle connection still open after 5 s");
    assert!(cut >= Duration::from_millis(400), "{cut:?}");
}

#[tokio::test]
async fn keep_alive_waits_for_the_idle_timeout_not_the_header_timeout() {
    let server = TestServer::start(short_timeouts(300, 1500)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/healthz", &[]).await.status, 200);
    // quiet for longer than the header timeout: still open for the next request
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get_on(&mut stream, "/healthz", &[]).await.status, 200);
    let cut = closed_within(&mut stream, Duration::from_secs(5)).await;
    let cut = cut.expect("keep-alive connection still open after 5 s idle");
    assert!(cut >= Duration::from_millis(1200), "{cut:?}");
}

#[tokio::test]
async fn an_idle_websocket_chat_outlives_the_http_timeouts() {
    let server = TestServer::start(short_timeouts(300, 300)).await;
    let alice = server.named("alice").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(alice.is_connected());
    ok(&alice, "history", json!({"room": "lobby"})).await;
}

#[tokio::test]
async fn the_total_connection_cap_refuses_the_extra_connection() {
    let mut config = Config::for_tests();
    config.max_connections = Some(3);
    let server = TestServer::start(config).await;
    let bystander = server.named("bystander").await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let cut = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert!(cut.is_some(), "the connection over the cap was kept open");
    ok(&bystander, "history", json!({"room": "lobby"})).await;
    drop(idle.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(server.addr).await.unwrap();
    let health = get_on(&mut again, "/healthz", &[]).await;
    assert_eq!(
        health.status, 200,
        "a slot came back when a connection closed"
    );
    assert_eq!(health.json()["connections"], 3, "{}", health.body);
    assert_eq!(health.json()["max_connections"], 3);
}

#[tokio::test]
async fn the_per_address_cap_refuses_that_address_only() {
    let mut config = Config::for_tests();
    config.limits.connections_per_ip = Some(2);
    let server = TestServer::start(config).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(connect_from("127.0.0.2", server.addr).await);
    }
    let mut extra = connect_from("127.0.0.2", server.addr).await;
    let cut = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert!(
        cut.is_some(),
        "the third connection from one address was kept open"
    );
    // another address is not affected, and a chat from it works
    let bystander = server.named("bystander").await;
    ok(&bystander, "history", json!({"room": "lobby"})).await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = connect_from("127.0.0.2", server.addr).await;
    assert_eq!(get_on(&mut again, "/healthz", &[]).await.status, 200);
}

#[tokio::test]
async fn handshakes_per_address_are_rate_limited() {
    let mut config = Config::for_tests();
    config.limits.handshakes_per_ip = Some(rate(1, 2));
    let server = TestServer::start(config).await;
    for _ in 0..2 {
        assert_eq!(get(server.addr, HANDSHAKE, &[]).await.status, 200);
    }
    let refused = get(server.addr, HANDSHAKE, &[]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "rate_limited");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // requests of an existing session are not handshakes; other pages are not limited
    assert_eq!(get(server.addr, "/healthz", &[]).await.status, 200);
}

#[tokio::test]
async fn sessions_per_http_connection_are_capped() {
    let mut config = Config::for_tests();
    config.limits.sessions_per_http_connection = Some(3);
    let server = TestServer::start(config).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        assert_eq!(get_on(&mut stream, HANDSHAKE, &[]).await.status, 200);
    }
    let refused = get_on(&mut stream, HANDSHAKE, &[]).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "too_many_sessions");
    // a new connection starts from zero
    assert_eq!(get(server.addr, HANDSHAKE, &[]).await.status, 200);
}

fn websocket_upgrade(origin: Option<&str>) -> Vec<(&str, &str)> {
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    if let Some(origin) = origin {
        headers.push(("Origin", origin));
    }
    headers
}

#[tokio::test]
async fn foreign_origins_are_refused_on_polling_and_websocket() {
    let mut config = Config::for_tests();
    config.allowed_origins = "https://chat.example.com".parse().unwrap();
    let server = TestServer::start(config).await;
    let same = server.url();
    const WS: &str = "/socket.io/?EIO=4&transport=websocket";
    let evil = get(server.addr, HANDSHAKE, &[("Origin", "http://evil.example")]).await;
    assert_eq!(evil.status, 403);
    assert_eq!(evil.json()["code"], "origin_not_allowed");
    let evil_ws = get(
        server.addr,
        WS,
        &websocket_upgrade(Some("http://evil.example")),
    )
    .await;
    assert_eq!(evil_ws.status, 403);
    let null = get(server.addr, HANDSHAKE, &[("Origin", "null")]).await;
    assert_eq!(null.status, 403);
    for origin in [Some(same.as_str()), Some("https://chat.example.com"), None] {
        let headers: Vec<_> = origin.map(|o| ("Origin", o)).into_iter().collect();
        assert_eq!(
            get(server.addr, HANDSHAKE, &headers).await.status,
            200,
            "{origin:?}"
        );
        assert_eq!(
            get(server.addr, WS, &websocket_upgrade(origin))
                .await
                .status,
            101,
            "{origin:?}"
        );
    }
    // our client script is an ordinary asset a page on another site may load
    let js = get(
        server.addr,
        "/socket.io/socket.io.js",
        &[("Origin", "http://evil.example")],
    )
    .await;
    assert_eq!(js.status, 200);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let mut config = Config::for_tests();
    config.limits.handshakes_per_ip = Some(rate(1, 1));
    config.trust_proxy = "127.0.0.1".parse().unwrap();
    let server = TestServer::start(config).await;
    let from = |ip| [("X-Forwarded-For", ip)];
    // via the trusted proxy (127.0.0.1): each forwarded address has its own budget
    assert_eq!(
        get(server.addr, HANDSHAKE, &from("10.1.1.1")).await.status,
        200
    );
    assert_eq!(
        get(server.addr, HANDSHAKE, &from("10.1.1.1")).await.status,
        429
    );
    assert_eq!(
        get(server.addr, HANDSHAKE, &from("10.2.2.2")).await.status,
        200
    );
    // a client-written entry left of the proxy's does not help
    let forged = from("10.9.9.9, 10.1.1.1");
    assert_eq!(get(server.addr, HANDSHAKE, &forged).await.status, 429);
    // from an untrusted peer the header is ignored: the peer's address is what counts
    let untrusted = |headers: &'static [(&'static str, &'static str)]| async move {
        let mut stream = connect_from("127.0.0.2", server.addr).await;
        get_on(&mut stream, HANDSHAKE, headers).await.status
    };
    assert_eq!(untrusted(&[("X-Forwarded-For", "10.3.3.3")]).await, 200);
    assert_eq!(untrusted(&[("X-Forwarded-For", "10.4.4.4")]).await, 429);
}

#[tokio::test]
async fn pages_and_assets_carry_the_browser_safety_headers() {
    let server = TestServer::memory().await;
    for path in [
        "/",
        "/app/chat.js",
        "/app/main.js",
        "/app/views/messages.js",
        "/app/chat.css",
        "/socket.io/socket.io.js",
        "/healthz",
    ] {
        let r = get(server.addr, path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
    }
}

#[tokio::test]
async fn socket_handlers_see_the_client_address() {
    use chatroom::config::limits::TrustedProxies;
    use chatroom::net::listener::Connections;
    use chatroom::net::serve::{Edge, EdgeSettings, run};
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;

    let (svc, io) = SocketIo::new_svc();
    io.ns("/", async |socket: SocketRef| {
        let addr = socket.req_parts().extensions.get::<ClientAddr>().copied();
        let _ = socket.emit("addr", &addr.map(|a| a.to_string()));
    });
    let router = axum::Router::new().fallback_service(svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = EdgeSettings {
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        trust_proxy: TrustedProxies::default(),
    };
    let connections = Connections::new(100, None, TrustedProxies::default());
    let stop = std::future::pending::<()>();
    let edge = Edge {
        router,
        connections,
        settings,
        tls: None,
        metrics: std::sync::Arc::new(chatroom::metrics::Metrics::new()),
    };
    let served = tokio::spawn(run(listener, edge, stop, async {}));
    let client = Client::connect(&format!("http://{addr}"), None)
        .await
        .unwrap();
    let seen = client.next_event_named("addr").await.unwrap();
    assert_eq!(seen[0], "127.0.0.1");
    served.abort();
}
