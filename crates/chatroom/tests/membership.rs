//! Delivery's room index (`socket::members`) against what clients see: a socket gets exactly
//! the messages of the rooms it is in, after a leave, a rejoin, a rename and a disconnect.
//! (The slow-client case is in `slow_consumer.rs`.)

mod common;

use chatroom_bench::Client;
use common::{TestServer, ok};
use serde_json::{Value, json};
use std::time::Duration;

/// The `message` events `client` gets up to and including the one whose text is `until`.
async fn messages_until(client: &Client, until: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let message = client.next_event_named("message").await.expect("message");
        let done = message[0]["text"] == until;
        got.push(message[0].clone());
        if done {
            return got;
        }
    }
}

/// Waits (up to 2 s) for `room` to have `n` local members in delivery's index.
async fn members_become(server: &TestServer, room: &str, n: usize) {
    for _ in 0..100 {
        if server.app.members().count(room) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{room}: {} members, expected {n}",
        server.app.members().count(room)
    );
}

#[tokio::test]
async fn a_socket_gets_exactly_the_messages_of_its_rooms() {
    let server = TestServer::memory().await;
    let alice = server.named("alice").await;
    let bob = server.named("bob").await;
    let carol = server.named("carol").await;
    for client in [&alice, &bob, &carol] {
        ok(client, "join", json!({"room": "r"})).await;
    }
    assert_eq!(server.app.members().count("r"), 3);
    assert_eq!(server.app.members().count("lobby"), 3);

    // After a leave, nothing more from the room: delivery follows the store's order, so the
    // lobby message stored after it would come after it.
    ok(&bob, "leave", json!({"room": "r"})).await;
    assert_eq!(server.app.members().count("r"), 2);
    ok(&alice, "send", json!({"room": "r", "text": "after leave"})).await;
    ok(&alice, "send", json!({"room": "lobby", "text": "marker 1"})).await;
    let got = messages_until(&bob, "marker 1").await;
    assert!(got.iter().all(|m| m["room"] == "lobby"), "{got:?}");

    // Back in (twice: the second join is a no-op) and renamed: each message exactly once.
    ok(&bob, "join", json!({"room": "r"})).await;
    ok(&bob, "join", json!({"room": "r"})).await;
    ok(&bob, "rename", json!({"name": "robert"})).await;
    assert_eq!(server.app.members().count("r"), 3);
    ok(&alice, "send", json!({"room": "r", "text": "after rejoin"})).await;
    ok(&alice, "send", json!({"room": "lobby", "text": "marker 2"})).await;
    let got = messages_until(&bob, "marker 2").await;
    let texts: Vec<&str> = got.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["after rejoin", "marker 2"]);

    // A disconnect takes the socket out of every room.
    carol.close().await;
    members_become(&server, "r", 2).await;
    members_become(&server, "lobby", 2).await;
    ok(&alice, "send", json!({"room": "r", "text": "after carol"})).await;
    let got = messages_until(&bob, "after carol").await;
    assert_eq!(got.len(), 1, "{got:?}");
}
