//! Operations through the real interface: `/metrics` moving with WebSocket and polling traffic
//! (and an upgrade), `/readyz` ready, store down and draining, and TLS — a handshake with a
//! generated certificate, a Socket.IO session over WSS and over polling on HTTPS, and an
//! accept loop that a stalled handshake does not block.

mod common;

use chatroom::config::{Config, RateLimit};
use common::{TestServer, fails, http_get, ok};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;

/// One HTTP/1.0 request on `stream`: (status, body).
async fn request_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    // A TLS peer may close without close_notify after the response; what was read counts.
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    request_on(stream, method, path, body).await
}

/// The value of the sample `series` (name with labels, as printed) in a metrics text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} not in\n{text}"))
}

async fn metrics(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    body
}

/// A v1 client on HTTP long-polling, connected with `name`: its Engine.IO session id.
async fn polling_client(addr: SocketAddr, name: &str) -> String {
    let (status, open) = http_get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, 200, "{open}");
    let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).expect("open");
    let sid = handshake["sid"].as_str().expect("sid").to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let connect = format!("40{}", json!({ "name": name }));
    let (status, body) = request(addr, "POST", &path, &connect).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, packets) = http_get(addr, &path).await;
    assert_eq!(status, 200);
    // Packets are separated by U+001E; a heartbeat ping may come first.
    assert!(
        packets.split('\u{1e}').any(|p| p.starts_with("40{")),
        "{packets:?}"
    );
    sid
}

/// Upgrades the polling session `sid` to WebSocket (probe, then upgrade packet).
async fn upgrade(addr: SocketAddr, sid: &str) -> impl Sized {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    ws.send(Message::text("2probe")).await.expect("probe");
    let answer = ws.next().await.expect("answer").expect("frame");
    assert_eq!(answer.to_text().ok(), Some("3probe"));
    ws.send(Message::text("5")).await.expect("upgrade");
    ws
}

#[tokio::test]
async fn metrics_move_with_traffic_on_both_transports() {
    let server = TestServer::memory().await;
    let before = metrics(server.addr).await;
    assert_eq!(
        sample(&before, "chatroom_connections{transport=\"websocket\"}"),
        0.0
    );
    assert_eq!(
        sample(&before, "chatroom_connections{transport=\"polling\"}"),
        0.0
    );

    let alice = server.named("alice").await;
    let bob = server.named("bob").await;
    let sid = polling_client(server.addr, "poller").await;
    for i in 0..5 {
        let message = json!({"room": "lobby", "text": format!("m{i}"), "cid": format!("c{i}")});
        ok(&alice, "send", message).await;
    }
    // A retry with the same cid is acked with the original: not stored, not delivered again.
    ok(
        &alice,
        "send",
        json!({"room": "lobby", "text": "m0", "cid": "c0"}),
    )
    .await;
    for _ in 0..5 {
        bob.next_event_named("message").await.expect("delivered");
    }
    let text = metrics(server.addr).await;
    assert_eq!(
        sample(&text, "chatroom_connections{transport=\"websocket\"}"),
        2.0
    );
    assert_eq!(
        sample(&text, "chatroom_connections{transport=\"polling\"}"),
        1.0
    );
    assert_eq!(sample(&text, "chatroom_rooms"), 1.0);
    assert_eq!(sample(&text, "chatroom_messages_stored_total"), 5.0);
    // alice, bob and the poller each get every lobby message.
    assert_eq!(sample(&text, "chatroom_messages_delivered_total"), 15.0);
    assert_eq!(sample(&text, "chatroom_ack_latency_seconds_count"), 6.0);
    assert_eq!(
        sample(&text, "chatroom_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        6.0
    );
    assert!(sample(&text, "chatroom_ack_latency_seconds_sum") > 0.0);
    assert_eq!(
        sample(&text, "chatroom_messages_relayed_total{direction=\"out\"}"),
        0.0
    );
    ok(&alice, "join", json!({"room": "ops"})).await;
    assert_eq!(sample(&metrics(server.addr).await, "chatroom_rooms"), 2.0);

    let _ws = upgrade(server.addr, &sid).await;
    let mut moved = String::new();
    for _ in 0..50 {
        moved = metrics(server.addr).await;
        if sample(&moved, "chatroom_connections{transport=\"polling\"}") == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        sample(&moved, "chatroom_connections{transport=\"polling\"}"),
        0.0
    );
    assert_eq!(
        sample(&moved, "chatroom_connections{transport=\"websocket\"}"),
        3.0
    );

    drop(bob);
    let mut after = String::new();
    for _ in 0..50 {
        after = metrics(server.addr).await;
        if sample(&after, "chatroom_connections{transport=\"websocket\"}") == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        sample(&after, "chatroom_connections{transport=\"websocket\"}"),
        2.0
    );
    // /healthz shows the same counters.
    let (_, health) = http_get(server.addr, "/healthz").await;
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["deliveries"], 15);
}

#[tokio::test]
async fn refusals_are_counted_by_code_and_event() {
    let mut config = Config::for_tests();
    config.rate_limit = Some(RateLimit {
        per_second: NonZeroU32::MIN,
        burst: NonZeroU32::MIN,
    });
    let server = TestServer::start(config).await;
    let alice = server.named("alice").await;
    ok(&alice, "send", json!({"room": "lobby", "text": "1"})).await;
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "2"}),
        "rate_limited",
    )
    .await;
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "3"}),
        "rate_limited",
    )
    .await;
    fails(&alice, "join", json!({"room": ""}), "invalid_room").await;
    fails(&alice, "made up", json!({}), "bad_request").await;
    let text = metrics(server.addr).await;
    let refusals = |code: &str, event: &str| {
        sample(
            &text,
            &format!("chatroom_refusals_total{{code=\"{code}\",event=\"{event}\"}}"),
        )
    };
    assert_eq!(refusals("rate_limited", "send"), 2.0);
    assert_eq!(refusals("invalid_room", "join"), 1.0);
    // A client's made-up event name is not a label value.
    assert_eq!(refusals("bad_request", "other"), 1.0);
    assert!(!text.contains("made up"));
    // Only the accepted send was acked and timed.
    assert_eq!(sample(&text, "chatroom_ack_latency_seconds_count"), 1.0);
}

#[tokio::test]
async fn readyz_follows_the_store_and_the_drain() {
    let server = TestServer::memory().await;
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["checks"], json!({"store": "ok"}), "{body}");

    server.app.store.close().await;
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().unwrap().starts_with("store: "),
        "{body}"
    );
    assert_ne!(body["checks"]["store"], "ok");
    // Liveness stays a different question.
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 503);

    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    server.app.drain.start();
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["reason"], "draining");
    // Events read while draining are answered at once: retry elsewhere.
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "late"}),
        "unavailable",
    )
    .await;
}

#[tokio::test]
async fn readyz_is_503_while_postgresql_is_unreachable() {
    // A PostgreSQL store behind a TCP proxy that the test stops: the real failure mode.
    let target: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let (cut, cut_rx) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = proxy.accept().await else {
                return;
            };
            let mut cut_rx = cut_rx.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut_rx.wait_for(|c| *c) => {}
                }
            });
        }
    });
    let schema = format!("ops_ready_{}", std::process::id());
    let mut config = Config::for_tests();
    config.db =
        format!("postgres://postgres@{proxy_addr}/test?options=-c%20search_path%3D{schema}");
    let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/test")
        .await
        .expect("PostgreSQL answers on 127.0.0.1:5432");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let server = TestServer::start(config).await;
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");

    relay.abort(); // no new connections
    let _ = cut.send(true); // and the open ones are cut
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["reason"].as_str().unwrap().starts_with("store: "),
        "{body}"
    );
    drop(server);
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

/// A self-signed certificate for `localhost` in `dir`: (cert path, key path, DER for clients).
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key, generated.cert.der().to_vec())
}

fn tls_connector(der: Vec<u8>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_stream(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake succeeds")
}

#[tokio::test]
async fn tls_serves_http_polling_and_a_socket_io_session_over_wss() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate(dir.path());
    let mut config = Config::for_tests();
    config.tls = Some(chatroom::tls::TlsFiles { cert, key });
    config.header_read_timeout = Duration::from_secs(2);
    let server = TestServer::start(config).await;
    let connector = tls_connector(der);

    // A client that opens TCP and never starts its handshake does not hold up the others.
    let stalled = TcpStream::connect(server.addr).await.unwrap();
    let (status, body) = request_on(
        tls_stream(&connector, server.addr).await,
        "GET",
        "/healthz",
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Polling over HTTPS: the Engine.IO handshake.
    let (status, open) = request_on(
        tls_stream(&connector, server.addr).await,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(open.starts_with("0{\"sid\""), "{open}");

    // A Socket.IO session over WSS: connect, welcome, a send and its ack.
    let stream = tls_stream(&connector, server.addr).await;
    let (mut ws, _) = tokio_tungstenite::client_async(
        "ws://localhost/socket.io/?EIO=4&transport=websocket",
        stream,
    )
    .await
    .expect("websocket upgrade over TLS");
    let open = ws.next().await.expect("frame").expect("ok frame");
    assert!(
        open.to_text().unwrap_or_default().starts_with("0{"),
        "{open:?}"
    );
    ws.send(Message::text(format!("40{}", json!({"name": "secure"}))))
        .await
        .unwrap();
    // Events only after the namespace CONNECT is answered (the protocol's order).
    loop {
        let frame = ws.next().await.expect("frame").expect("ok frame");
        if frame.to_text().unwrap_or_default().starts_with("40{") {
            break;
        }
    }
    ws.send(Message::text(format!(
        "421{}",
        json!(["send", {"room": "lobby", "text": "over tls"}])
    )))
    .await
    .unwrap();
    let mut saw_welcome = false;
    let ack = loop {
        let frame = ws.next().await.expect("frame").expect("ok frame");
        let Message::Text(text) = frame else { continue };
        if text.starts_with("42[\"welcome\"") {
            saw_welcome = true;
        }
        if let Some(ack) = text.strip_prefix("431") {
            break serde_json::from_str::<Value>(ack).unwrap();
        }
    };
    assert!(saw_welcome);
    assert_eq!(ack[0]["ok"], true, "{ack}");
    assert_eq!(ack[0]["message"]["text"], "over tls");

    // Plain HTTP on the TLS port is a refused handshake, counted.
    let (plain_status, _) = {
        let mut plain = TcpStream::connect(server.addr).await.unwrap();
        plain
            .write_all(b"GET /healthz HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = plain.read_to_end(&mut buf).await;
        (String::from_utf8_lossy(&buf).contains("200 OK"), ())
    };
    assert!(!plain_status);
    drop(stalled); // its handshake deadline (2 s) would have ended it anyway
    let (_, text) = request_on(
        tls_stream(&connector, server.addr).await,
        "GET",
        "/metrics",
        "",
    )
    .await;
    assert!(
        sample(
            &text,
            "chatroom_refusals_total{code=\"tls_handshake\",event=\"accept\"}"
        ) >= 1.0,
        "{text}"
    );
}
