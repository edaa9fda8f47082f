//! The seed protocol of the Node original: `chat message` strings to everyone, sender included,
//! and its bridge to protocol-v1 clients in the lobby.

mod common;

use common::{TestServer, ok};
use serde_json::{Value, json};

#[tokio::test]
async fn chat_message_reaches_every_client_including_sender_byte_for_byte() {
    let server = TestServer::memory().await;
    let (a, b) = (server.seed().await, server.seed().await);
    let text = "你好 <img src=x onerror=alert(1)> 😀 \"quoted\" \\ \u{2028}";
    a.emit("chat message", json!(text)).expect("emit");
    for client in [&a, &b] {
        assert_eq!(
            client.next_event_named("chat message").await.unwrap(),
            [json!(text)]
        );
    }
}

#[tokio::test]
async fn non_string_payloads_get_bad_request_and_are_not_stored() {
    let server = TestServer::memory().await;
    let seed = server.seed().await;
    let v1 = server.named("watcher").await;
    for bad in [
        json!(42),
        json!({"text": "x"}),
        Value::Null,
        json!(["a"]),
        json!(true),
    ] {
        seed.emit("chat message", bad.clone()).expect("emit");
        let error = seed.next_event_named("error").await.expect("error event");
        assert_eq!(error[0]["code"], "bad_request", "{bad}");
    }
    seed.emit("chat message", json!("   ")).expect("emit");
    assert_eq!(
        seed.next_event_named("error").await.unwrap()[0]["code"],
        "empty"
    );
    let history = ok(&v1, "history", json!({"room": "lobby"})).await;
    assert_eq!(history["messages"], json!([]));
    // The connection survived all of it.
    seed.emit("chat message", json!("still here"))
        .expect("emit");
    assert_eq!(
        seed.next_event_named("chat message").await.unwrap(),
        [json!("still here")]
    );
}

#[tokio::test]
async fn seed_and_v1_clients_share_the_lobby() {
    let server = TestServer::memory().await;
    let seed = server.seed().await;
    let alice = server.named("alice").await;
    seed.emit("chat message", json!("from seed")).expect("emit");
    let message = alice.next_event_named("message").await.unwrap();
    assert_eq!(message[0]["text"], "from seed");
    assert_eq!(message[0]["room"], "lobby");
    let guest = message[0]["name"].as_str().expect("name");
    assert!(guest.starts_with("guest-") && guest.len() == 10, "{guest}");
    assert_eq!(
        seed.next_event_named("chat message").await.unwrap(),
        [json!("from seed")]
    );

    ok(&alice, "send", json!({"room": "lobby", "text": "from v1"})).await;
    assert_eq!(
        seed.next_event_named("chat message").await.unwrap(),
        [json!("alice: from v1")]
    );
}

#[tokio::test]
async fn messages_outside_the_lobby_do_not_reach_seed_clients() {
    let server = TestServer::memory().await;
    let seed = server.seed().await;
    let alice = server.named("alice").await;
    ok(&alice, "join", json!({"room": "rust"})).await;
    ok(&alice, "send", json!({"room": "rust", "text": "private"})).await;
    ok(&alice, "send", json!({"room": "lobby", "text": "public"})).await;
    assert_eq!(
        seed.next_event_named("chat message").await.unwrap(),
        [json!("alice: public")]
    );
}

#[tokio::test]
async fn seed_clients_get_and_cause_no_presence_events() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    let seed = server.seed().await;
    let bob = server.named("bob").await;
    ok(&bob, "typing", json!({"room": "lobby", "typing": true})).await;
    // alice hears bob arrive and type; nothing about the seed client.
    let presence = alice.next_event_named("presence").await.unwrap();
    assert_eq!(presence[0]["name"], "bob");
    alice.next_event_named("typing").await.unwrap();
    // The seed client got neither; its first event is the next chat message.
    ok(&bob, "send", json!({"room": "lobby", "text": "hi"})).await;
    let (event, args) = seed.next_event().await.unwrap();
    assert_eq!(
        (event.as_str(), args),
        ("chat message", vec![json!("bob: hi")])
    );
    let members = ok(&alice, "join", json!({"room": "lobby"})).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 3);
}
