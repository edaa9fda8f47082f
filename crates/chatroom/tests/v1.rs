//! Protocol v1 through a real Socket.IO client: every event, the error codes, idempotent sends,
//! history paging and `since` recovery. (The interop suites repeat this with the official
//! clients and both SQL stores.)

mod common;

use chatroom::config::{Config, RateLimit};
use common::{TestServer, fails, http_get, ok, presence_in};
use serde_json::json;
use std::num::NonZeroU32;

#[tokio::test]
async fn handshake_refuses_invalid_names() {
    let server = TestServer::memory().await;
    for auth in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": 42}),
        json!({"name": "a\u{0007}b"}),
        json!({"name": "x".repeat(33)}),
    ] {
        let refused = chatroom_bench::Client::connect(&server.url(), Some(auth.clone())).await;
        match refused {
            Err(chatroom_bench::ClientError::ConnectRefused(payload)) => {
                assert_eq!(payload["message"], "invalid_name", "{auth}");
            }
            other => panic!("{auth}: expected refusal, got {:?}", other.map(|_| ())),
        }
    }
    let trimmed = server.named("  bob ").await;
    drop(trimmed);
}

#[tokio::test]
async fn join_send_history_and_presence() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    let bob = server.named("bob").await;
    let joined = ok(&alice, "join", json!({"room": "技术"})).await;
    assert_eq!(joined["members"], json!(["alice"]));
    assert_eq!(joined["more"], false);
    ok(&bob, "join", json!({"room": "技术"})).await;
    let presence = presence_in(&alice, "技术").await;
    assert_eq!(
        presence,
        json!({"room": "技术", "name": "bob", "action": "join"})
    );

    let sent = ok(
        &alice,
        "send",
        json!({"room": "技术", "text": "hi", "cid": "c1"}),
    )
    .await;
    let message = &sent["message"];
    assert_eq!(message["cid"], "c1");
    for client in [&alice, &bob] {
        assert_eq!(
            client.next_event_named("message").await.unwrap()[0],
            *message
        );
    }
    for i in 0..60 {
        ok(
            &bob,
            "send",
            json!({"room": "技术", "text": format!("m{i}")}),
        )
        .await;
    }
    let page = ok(&alice, "history", json!({"room": "技术", "limit": 10})).await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 10);
    assert_eq!(messages[9]["text"], "m59");
    assert_eq!(page["more"], true);
    let before = messages[0]["id"].clone();
    let older = ok(
        &alice,
        "history",
        json!({"room": "技术", "before": before, "limit": 100}),
    )
    .await;
    assert_eq!(older["messages"].as_array().unwrap().len(), 51);
    assert_eq!(older["more"], false);

    let since = ok(
        &alice,
        "join",
        json!({"room": "技术", "since": message["id"]}),
    )
    .await;
    let missed = since["messages"].as_array().unwrap();
    assert_eq!(missed.len(), 60);
    assert_eq!(missed[0]["text"], "m0");

    ok(&bob, "leave", json!({"room": "技术"})).await;
    let presence = presence_in(&alice, "技术").await;
    assert_eq!(presence["action"], "leave");
    fails(
        &bob,
        "send",
        json!({"room": "技术", "text": "x"}),
        "not_in_room",
    )
    .await;
}

#[tokio::test]
async fn a_repeated_cid_acks_the_original_and_stores_once() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    let first = ok(
        &alice,
        "send",
        json!({"room": "lobby", "text": "once", "cid": "k"}),
    )
    .await;
    let again = ok(
        &alice,
        "send",
        json!({"room": "lobby", "text": "once", "cid": "k"}),
    )
    .await;
    assert_eq!(first["message"], again["message"]);
    let history = ok(&alice, "history", json!({"room": "lobby"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_error_code_of_the_request_rules() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    fails(&alice, "join", json!("lobby"), "bad_request").await;
    fails(&alice, "join", json!({"room": 5}), "bad_request").await;
    fails(&alice, "join", json!({"room": "a b"}), "invalid_room").await;
    fails(
        &alice,
        "join",
        json!({"room": "x".repeat(65)}),
        "invalid_room",
    )
    .await;
    fails(
        &alice,
        "send",
        json!({"room": "elsewhere", "text": "x"}),
        "not_in_room",
    )
    .await;
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": " \n"}),
        "empty",
    )
    .await;
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "😀".repeat(4001)}),
        "too_long",
    )
    .await;
    ok(
        &alice,
        "send",
        json!({"room": "lobby", "text": "😀".repeat(4000)}),
    )
    .await;
    fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "x", "cid": ""}),
        "bad_request",
    )
    .await;
    fails(
        &alice,
        "history",
        json!({"room": "lobby", "limit": 0}),
        "bad_request",
    )
    .await;
    fails(
        &alice,
        "history",
        json!({"room": "lobby", "limit": 101}),
        "bad_request",
    )
    .await;
    fails(&alice, "history", json!({"room": "nope"}), "not_in_room").await;
    fails(
        &alice,
        "typing",
        json!({"room": "lobby", "typing": "yes"}),
        "bad_request",
    )
    .await;
    fails(&alice, "leave", json!({"room": "nope"}), "not_in_room").await;
    fails(&alice, "rename", json!({"name": "  "}), "invalid_name").await;
    fails(&alice, "rename", json!({"name": 7}), "invalid_name").await;
    let renamed = ok(&alice, "rename", json!({"name": " carol "})).await;
    assert_eq!(renamed["name"], "carol");
    let rooms = ok(&alice, "rooms", json!({})).await;
    assert_eq!(rooms["rooms"], json!([{"name": "lobby", "members": 1}]));
    // Without an ack callback, a failure arrives as an `error` event.
    alice
        .emit("send", json!({"room": "lobby", "text": ""}))
        .unwrap();
    assert_eq!(
        alice.next_event_named("error").await.unwrap()[0]["code"],
        "empty"
    );
}

#[tokio::test]
async fn rate_limited_sends_carry_retry_ms_and_are_not_stored() {
    let mut config = Config::for_tests();
    config.rate_limit = Some(RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    });
    let server = TestServer::start(config).await;
    let alice = server.named("alice").await;
    for i in 0..3 {
        ok(
            &alice,
            "send",
            json!({"room": "lobby", "text": format!("ok{i}")}),
        )
        .await;
    }
    let refused = fails(
        &alice,
        "send",
        json!({"room": "lobby", "text": "nope"}),
        "rate_limited",
    )
    .await;
    let retry_ms = refused["error"]["retry_ms"].as_u64().expect("retry_ms");
    assert!((1..=1000).contains(&retry_ms), "{retry_ms}");
    let history = ok(&alice, "history", json!({"room": "lobby"})).await;
    let texts: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("ok0"), json!("ok1"), json!("ok2")]);
    tokio::time::sleep(std::time::Duration::from_millis(retry_ms)).await;
    ok(&alice, "send", json!({"room": "lobby", "text": "later"})).await;
}

#[tokio::test]
async fn typing_is_relayed_and_expires() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    let bob = server.named("bob").await;
    ok(&alice, "typing", json!({"room": "lobby", "typing": true})).await;
    let typing = bob.next_event_named("typing").await.unwrap();
    assert_eq!(
        typing[0],
        json!({"room": "lobby", "name": "alice", "typing": true})
    );
    let started = std::time::Instant::now();
    let expired = bob.next_event_named("typing").await.unwrap();
    assert_eq!(expired[0]["typing"], false);
    let waited = started.elapsed();
    assert!(
        waited >= chatroom::socket::typing::TYPING_TTL - std::time::Duration::from_millis(500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn http_routes() {
    let server = TestServer::memory().await;
    let (status, body) = http_get(server.addr, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("技术讨论区"));
    let (status, body) = http_get(server.addr, "/socket.io/socket.io.js").await;
    assert_eq!(status, 200);
    assert!(body.len() > 1000, "client script is served");
    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("healthz is JSON");
    assert!(health["tasks"].as_u64().is_some_and(|n| n > 0), "{body}");
    assert!(health["open_fds"].as_u64().is_some_and(|n| n > 0), "{body}");
    assert_eq!(health["presence_connections"], 0, "{body}");
    let (status, _) = http_get(server.addr, "/nope").await;
    assert_eq!(status, 404);
}

/// An event sent the moment the connection is accepted is handled, in order, never dropped
/// (socketioxide registers handlers in a spawned task; ours are registered in the handshake).
#[tokio::test]
async fn events_right_after_connect_are_answered() {
    let server = TestServer::memory().await;
    for i in 0..50 {
        let client =
            chatroom_bench::Client::connect(&server.url(), Some(json!({"name": format!("n{i}")})))
                .await
                .expect("connects");
        let sent = client
            .emit_with_ack(
                "send",
                json!({"room": "lobby", "text": format!("first {i}")}),
            )
            .await
            .expect("ack");
        assert_eq!(sent["ok"], true, "{sent}");
    }
}
