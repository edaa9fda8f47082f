//! The delivery policy (issue 4): a client that stops reading is disconnected once its send
//! queue is full — counted and logged, never skipped silently — while everyone else gets every
//! message, and the slow client recovers what it missed with `join` + `since`.

mod common;

use chatroom::config::Config;
use common::{TestServer, http_get, ok};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_recovers_with_since() {
    let mut config = Config::for_tests();
    config.send_queue = 16;
    let server = TestServer::start(config).await;

    // A raw v1 client that completes the handshake, then never reads again.
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    // A small receive buffer stops kernel autotuning from absorbing megabytes first.
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(8192).expect("SO_RCVBUF");
    let stream = tcp.connect(server.addr).await.expect("tcp connect");
    let (mut stalled, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("ws connect");
    stalled.next().await.expect("open packet").expect("frame");
    stalled
        .send(Message::text(r#"40{"name":"stalled"}"#))
        .await
        .expect("connect packet");
    stalled
        .next()
        .await
        .expect("connect answer")
        .expect("frame");

    // Seed `chat message` has no 4000-character limit, so 16 KiB messages fill buffers fast.
    let sender = server.seed().await;
    let reader = server.named("reader").await;
    let big = "x".repeat(16 * 1024);
    let total = 600; // 9.4 MiB: beyond the server's 4 MiB send buffer plus a 16-packet queue
    // Lockstep: the reader keeps up by construction, so only the stalled client falls behind.
    let mut first_id = None;
    for i in 0..total {
        sender
            .emit("chat message", json!(format!("{i} {big}")))
            .expect("emit");
        let message = reader
            .next_event_named("message")
            .await
            .expect("reader gets all");
        let text = message[0]["text"].as_str().expect("text");
        let head: String = text.chars().take(12).collect();
        assert!(
            text.starts_with(&format!("{i} ")),
            "message {i}: got {head:?}"
        );
        first_id.get_or_insert(message[0]["id"].as_i64().expect("id"));
    }

    let mut slow = 0;
    for _ in 0..50 {
        let (_, body) = http_get(server.addr, "/healthz").await;
        let health: serde_json::Value = serde_json::from_str(&body).expect("json");
        slow = health["slow_disconnects"].as_u64().unwrap_or(0);
        if slow > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(slow, 1, "the stalled client was disconnected as slow");
    // Out of delivery's index at once (not only when its disconnect completes): the sender
    // and the reader are the lobby's only members left.
    let mut lobby = 0;
    for _ in 0..50 {
        lobby = server.app.members().count("lobby");
        if lobby == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lobby, 2, "the slow client left every room");
    drop(stalled);

    // Reconnect and recover everything after the first message, exactly once.
    let back = server.named("stalled").await;
    let since = first_id.expect("sent at least one");
    let mut got = Vec::new();
    let mut cursor = since;
    loop {
        let page = ok(&back, "join", json!({"room": "lobby", "since": cursor})).await;
        let messages = page["messages"].as_array().expect("messages").clone();
        cursor = messages
            .last()
            .map_or(cursor, |m| m["id"].as_i64().expect("id"));
        got.extend(messages);
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(got.len(), total - 1);
}
