//! Issue 7, "Hostile clients": each weakness reproduced through real sockets — raw WebSocket
//! frames where a polite client library would hide the attack — and shown fixed.

mod common;

use chatroom::config::limits::Limits;
use chatroom::config::{Config, RateLimit};
use common::{TestServer, fails, ok};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Engine.IO WebSocket past its open packet.
async fn raw_ws(addr: SocketAddr) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    ws.next().await.expect("open packet").expect("frame");
    ws
}

/// The next text frame that is not an Engine.IO ping.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("open stream")
            .expect("frame");
        if let Message::Text(text) = frame {
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
                continue;
            }
            return text.to_string();
        }
    }
}

#[tokio::test]
async fn r7_connect_then_drop_leaves_no_ghost_members() {
    let server = TestServer::memory().await;
    let watcher = server.named("watcher").await;
    let tries = 300;
    for batch in 0..(tries / 50) {
        let drops = (0..50).map(|i| {
            let addr = server.addr;
            async move {
                let mut ws = raw_ws(addr).await;
                let name = format!("ghost-{batch}-{i}");
                ws.send(Message::text(format!(r#"40{{"name":"{name}"}}"#)))
                    .await
                    .expect("connect packet");
                // Drop the TCP connection at once: no close frame, no DISCONNECT packet.
                drop(ws);
            }
        });
        futures_util::future::join_all(drops).await;
    }
    // Every ghost's join, if announced, is followed by its leave.
    let mut last_action: HashMap<String, String> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    watcher.set_timeout(Duration::from_millis(500));
    while tokio::time::Instant::now() < deadline {
        match watcher.next_event_named("presence").await {
            Ok(event) => {
                let name = event[0]["name"].as_str().unwrap_or_default().to_owned();
                let action = event[0]["action"].as_str().unwrap_or_default().to_owned();
                last_action.insert(name, action);
            }
            Err(_) => break,
        }
    }
    let dangling: Vec<_> = last_action
        .iter()
        .filter(|(_, action)| *action != "leave")
        .collect();
    assert!(dangling.is_empty(), "joins without leaves: {dangling:?}");
    watcher.set_timeout(Duration::from_secs(10));
    let members = ok(&watcher, "join", json!({"room": "lobby"})).await;
    assert_eq!(members["members"], json!(["watcher"]), "ghosts left behind");
    assert_eq!(members["count"], 1);
}

#[tokio::test]
async fn r7_a_client_that_left_the_lobby_cannot_post_there_with_chat_message() {
    let server = TestServer::memory().await;
    let leaver = server.named("leaver").await;
    let reader = server.named("reader").await;
    ok(&leaver, "leave", json!({"room": "lobby"})).await;
    leaver.emit("chat message", json!("still here?")).unwrap();
    let error = leaver.next_event_named("error").await.expect("error event");
    assert_eq!(error[0]["code"], "not_in_room");
    let answer = leaver
        .emit_with_ack("chat message", json!("with an ack"))
        .await
        .expect("ack");
    assert_eq!(answer["error"]["code"], "not_in_room");
    let history = ok(&reader, "history", json!({"room": "lobby"})).await;
    assert_eq!(history["messages"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn r7_unknown_events_are_refused_not_ignored() {
    let server = TestServer::memory().await;
    let client = server.named("curious").await;
    fails(&client, "drop_tables", json!({}), "bad_request").await;
    ok(&client, "rooms", json!({})).await;
}

fn limited() -> Config {
    let mut config = Config::for_tests();
    config.limits = Limits::defaults();
    config
}

#[tokio::test]
async fn r7_history_typing_join_and_rooms_are_rate_limited() {
    let rate = |per_second, burst| {
        Some(RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    };
    let mut config = limited();
    config.limits.history_rate = rate(1, 3);
    config.limits.typing_rate = rate(1, 3);
    config.limits.join_rate = rate(1, 3);
    config.limits.rooms_rate = rate(1, 3);
    let server = TestServer::start(config).await;
    let client = server.named("eager").await;
    for (event, data) in [
        ("history", json!({"room": "lobby"})),
        ("typing", json!({"room": "lobby", "typing": false})),
        ("join", json!({"room": "lobby"})),
        ("rooms", json!({})),
    ] {
        for _ in 0..3 {
            ok(&client, event, data.clone()).await;
        }
        let refused = fails(&client, event, data.clone(), "rate_limited").await;
        let retry_ms = refused["error"]["retry_ms"].as_u64().expect("retry_ms");
        assert!((1..=1000).contains(&retry_ms), "{event}: {retry_ms}");
    }
    // Another connection has its own buckets.
    let other = server.named("calm").await;
    ok(&other, "history", json!({"room": "lobby"})).await;
}

#[tokio::test]
async fn r7_rooms_per_connection_are_capped() {
    let mut config = limited();
    config.limits.rooms_per_connection = Some(3);
    let server = TestServer::start(config).await;
    let client = server.named("joiner").await;
    ok(&client, "join", json!({"room": "a"})).await;
    ok(&client, "join", json!({"room": "b"})).await;
    let refused = fails(&client, "join", json!({"room": "c"}), "too_many_rooms").await;
    assert!(refused["error"]["message"].as_str().unwrap().contains('3'));
    // Re-joining a room it is in is no new room; leaving one makes space.
    ok(&client, "join", json!({"room": "a"})).await;
    ok(&client, "leave", json!({"room": "a"})).await;
    ok(&client, "join", json!({"room": "c"})).await;
}

#[tokio::test]
async fn r7_rooms_answer_is_paged() {
    let server = TestServer::memory().await;
    let client = server.named("many").await;
    for i in 0..150 {
        ok(&client, "join", json!({"room": format!("r{i:03}")})).await;
    }
    let first = ok(&client, "rooms", json!({})).await;
    let rooms = first["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 100);
    assert_eq!(first["more"], true);
    let last = rooms[99]["name"].as_str().unwrap();
    let second = ok(&client, "rooms", json!({"after": last})).await;
    assert_eq!(second["more"], false);
    // 151 rooms in all: the lobby and r000..r149.
    assert_eq!(second["rooms"].as_array().unwrap().len(), 51);
}

#[tokio::test]
async fn r7_crowded_rooms_announce_counts_not_every_join() {
    let mut config = Config::for_tests();
    config.presence_crowd = 3;
    let server = TestServer::start(config).await;
    let watcher = server.named("watcher").await;
    let mut crowd = Vec::new();
    for i in 0..8 {
        crowd.push(server.named(&format!("c{i}")).await);
    }
    // Up to the threshold each join is announced; beyond it, counts at most once a second.
    let mut joins = 0;
    let mut last_count = None;
    watcher.set_timeout(Duration::from_millis(2500));
    while let Ok(event) = watcher.next_event_named("presence").await {
        match event[0]["action"].as_str() {
            Some("join") => joins += 1,
            Some("count") => last_count = event[0]["count"].as_u64(),
            other => panic!("unexpected presence {other:?}"),
        }
        if last_count == Some(9) {
            break;
        }
    }
    assert!(joins <= 2, "{joins} joins announced in a crowded room");
    assert_eq!(last_count, Some(9));
    watcher.set_timeout(Duration::from_secs(10));
    let joined = ok(&watcher, "join", json!({"room": "lobby"})).await;
    assert_eq!(joined["count"], 9);
    assert_eq!(joined["members"].as_array().unwrap().len(), 3);
}

async fn connect_error(addr: SocketAddr, connect_packet: &str) -> Value {
    let mut ws = raw_ws(addr).await;
    ws.send(Message::text(connect_packet.to_owned()))
        .await
        .expect("connect packet");
    let answer = next_text(&mut ws).await;
    let body = answer
        .strip_prefix("44")
        .unwrap_or_else(|| panic!("{connect_packet:.40} → expected connect_error, got {answer}"));
    serde_json::from_str(body).expect("connect_error JSON")
}

#[tokio::test]
async fn r7_malformed_auth_is_refused_not_made_a_guest() {
    let server = TestServer::memory().await;
    let nested = format!("40{}{}", "[".repeat(5000), "]".repeat(5000));
    for packet in [
        r#"40{"name":"#.to_owned(),
        r#"40"just a string""#.to_owned(),
        "40[1,2,3]".to_owned(),
        "40{\"name\":\"ok\"".to_owned(),
        nested,
        format!("40{}", "{\"a\":".repeat(300) + "1" + &"}".repeat(300)),
    ] {
        let refused = connect_error(server.addr, &packet).await;
        assert_eq!(refused["message"], "bad_request", "{packet:.40}");
    }
    let refused = connect_error(server.addr, r#"40{"name":["x"]}"#).await;
    assert_eq!(refused["message"], "invalid_name");
    // No auth at all is still the seed protocol.
    let mut ws = raw_ws(server.addr).await;
    ws.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("40"));
}

async fn refused_with(server: &TestServer, auth: Value) -> String {
    match chatroom_bench::Client::connect(&server.url(), Some(auth.clone())).await {
        Err(chatroom_bench::ClientError::ConnectRefused(payload)) => {
            payload["message"].as_str().unwrap_or_default().to_owned()
        }
        other => panic!("{auth}: expected refusal, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn r7_a_name_is_held_by_one_user_at_a_time() {
    let server = TestServer::memory().await;
    let alice = server.named("Alice").await;
    // Same name after NFKC and case folding: fullwidth, upper case.
    for taken in ["alice", "ALICE", "Ａｌｉｃｅ", " alice "] {
        assert_eq!(
            refused_with(&server, json!({"name": taken})).await,
            "name_taken",
            "{taken}"
        );
    }
    // Invisible and bidirectional-control characters are refused outright.
    for invisible in ["Ali\u{200b}ce", "\u{202e}ecilA", "bob\u{2066}", "\u{3164}"] {
        assert_eq!(
            refused_with(&server, json!({"name": invisible})).await,
            "invalid_name",
            "{invisible:?}"
        );
    }
    let bob = server.named("bob").await;
    fails(&bob, "rename", json!({"name": "ALICE"}), "name_taken").await;
    // A seed client cannot rename itself to someone's name and post as them either.
    let seed = server.seed().await;
    fails(&seed, "rename", json!({"name": "alice"}), "name_taken").await;
    // The name is free again once its holder is gone.
    alice.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    ok(&bob, "rename", json!({"name": "alice"})).await;
}

#[tokio::test]
async fn r7_the_same_user_reconnecting_gets_its_name_back_at_once() {
    let server = TestServer::memory().await;
    let first = chatroom_bench::Client::connect(&server.url(), Some(json!({"name": "carol"})))
        .await
        .unwrap();
    let welcome = first.next_event_named("welcome").await.unwrap()[0].clone();
    let user_id = welcome["user_id"].as_str().unwrap().to_owned();
    let identity = welcome["identity"].as_str().unwrap().to_owned();
    assert_eq!(user_id.len(), 32);
    // The old connection is still open (as if its TCP had not timed out yet): the same
    // identity may hold the name on a new one, another user may not.
    let again = chatroom_bench::Client::connect(
        &server.url(),
        Some(json!({"name": "carol", "identity": identity})),
    )
    .await
    .expect("same user reconnects");
    let welcome = again.next_event_named("welcome").await.unwrap()[0].clone();
    assert_eq!(welcome["user_id"], user_id.as_str());
    assert_eq!(
        refused_with(&server, json!({"name": "carol"})).await,
        "name_taken"
    );
    // Messages carry the user id.
    let sent = ok(&again, "send", json!({"room": "lobby", "text": "hello"})).await;
    assert_eq!(sent["message"]["uid"], user_id.as_str());
    // A forged or altered token is refused.
    let mut forged = identity.clone();
    forged.replace_range(3..4, if &identity[3..4] == "a" { "b" } else { "a" });
    assert_eq!(
        refused_with(&server, json!({"name": "dave", "identity": forged})).await,
        "invalid_identity"
    );
    assert_eq!(
        refused_with(&server, json!({"name": "dave", "identity": "v1.x"})).await,
        "invalid_identity"
    );
    drop(first);
}

/// A raw Socket.IO connect through a "proxy" that forwards for `forwarded_for`; the first
/// Socket.IO packet the server answers.
async fn connect_forwarded(addr: SocketAddr, forwarded_for: &str, name: &str) -> (Ws, String) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    ws.next().await.expect("open packet").expect("frame");
    ws.send(Message::text(format!(r#"40{{"name":"{name}"}}"#)))
        .await
        .unwrap();
    let answer = next_text(&mut ws).await;
    (ws, answer)
}

#[tokio::test]
async fn r7_socketio_connections_per_client_address_are_capped_behind_a_proxy() {
    let mut config = limited();
    config.limits.connections_per_ip = Some(3);
    config.trust_proxy = "127.0.0.1".parse().unwrap();
    let server = TestServer::start(config).await;
    let mut held = Vec::new();
    for i in 0..3 {
        let (ws, answer) = connect_forwarded(server.addr, "203.0.113.7", &format!("u{i}")).await;
        assert!(answer.starts_with("40"), "{answer}");
        held.push(ws);
    }
    let (_, answer) = connect_forwarded(server.addr, "203.0.113.7", "u3").await;
    assert!(answer.contains("too_many_connections"), "{answer}");
    // Another address behind the same proxy is unaffected.
    let (_, answer) = connect_forwarded(server.addr, "198.51.100.2", "other").await;
    assert!(answer.starts_with("40"), "{answer}");
    // A slot comes back when its connection goes, however it goes (here: TCP dropped).
    drop(held.pop());
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, answer) = connect_forwarded(server.addr, "203.0.113.7", "u4").await;
        if answer.starts_with("40") {
            freed = true;
            break;
        }
    }
    assert!(freed, "the dropped connection's slot was never given back");
}

#[tokio::test]
async fn r7_a_session_that_never_sends_connect_is_closed_at_the_deadline() {
    let mut config = Config::for_tests();
    config.connect_timeout = Duration::from_millis(500);
    let server = TestServer::start(config).await;
    let mut ws = raw_ws(server.addr).await;
    let started = tokio::time::Instant::now();
    // Answer pings but never send the Socket.IO CONNECT.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Text(text)) if text.as_str() == "2" => {
                    let _ = ws.send(Message::text("3")).await;
                }
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "still open after 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}
