//! A cluster in one process (issue 8): three servers on one PostgreSQL schema and one Redis
//! channel prefix, clients spread over them. Room order and exactly-once delivery with every
//! node sending at once, presence and typing across nodes, a node leaving, and a relay that
//! loses messages (its subscriptions killed in Redis mid-traffic) repaired from the store
//! without any client reconnecting. Redis is `CHATROOM_TEST_REDIS` (default
//! `redis://127.0.0.1:6379`) or, for the test that kills connections, a private
//! `redis-server` on a free port. The process-level cases (kill -9, Redis restart, nginx) are
//! in interop/.

mod common;

use chatroom::config::Config;
use chatroom::config::cluster::ClusterConfig;
use chatroom_bench::Client;
use common::{TestDb, TestServer, ok, presence_in};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

fn redis_url() -> String {
    std::env::var("CHATROOM_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `n` nodes on `db` and `redis` with a prefix of their own.
async fn nodes(db: &TestDb, redis: &str, n: usize) -> Vec<TestServer> {
    nodes_with(db, redis, n, Config::for_tests).await
}

/// `n` nodes whose settings start from `base()`.
async fn nodes_with(
    db: &TestDb,
    redis: &str,
    n: usize,
    base: impl Fn() -> Config,
) -> Vec<TestServer> {
    let prefix = format!("t{}_{}", std::process::id(), fastrand::u32(..));
    let mut servers = Vec::new();
    for i in 0..n {
        let mut config = base();
        config.db = db.url.clone();
        config.cluster = Some(ClusterConfig {
            redis: redis.to_owned(),
            prefix: prefix.clone(),
            node: format!("n{i}"),
        });
        servers.push(TestServer::start(config).await);
    }
    // Each node learns the others from their first heartbeat.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    servers
}

/// The next `count` `message` events in `room`.
async fn messages(client: &Client, room: &str, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < count {
        let event = client.next_event_named("message").await.expect("message");
        if event[0]["room"] == room {
            got.push(event[0].clone());
        }
    }
    got
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect()
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

/// Everyone sends `per_client` messages into `room` at once; returns the acked ids.
async fn send_all(clients: &[Client], room: &str, per_client: usize) -> HashSet<i64> {
    let sends = clients.iter().enumerate().map(|(c, client)| async move {
        let mut acked = Vec::new();
        for i in 0..per_client {
            let answer = ok(
                client,
                "send",
                json!({"room": room, "text": format!("c{c} m{i}"), "cid": format!("c{c}-{i}")}),
            )
            .await;
            acked.push(answer["message"]["id"].as_i64().expect("acked id"));
        }
        acked
    });
    futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_client_gets_every_message_once_in_room_order() {
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes(&db, &redis_url(), 3).await;
    let mut clients = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let client = server.named(&format!("u{i}")).await;
        ok(&client, "join", json!({"room": "r"})).await;
        clients.push(client);
    }
    let per_client = 30;
    let acked = send_all(&clients, "r", per_client).await;
    let total = per_client * clients.len();
    assert_eq!(acked.len(), total);
    let history = ok(&clients[0], "history", json!({"room": "r", "limit": 100})).await;
    let history: Vec<Value> = history["messages"].as_array().expect("messages").clone();
    assert_eq!(seqs(&history), (1..=total as i64).collect::<Vec<_>>());
    for client in &clients {
        let got = messages(client, "r", total).await;
        assert_eq!(seqs(&got), seqs(&history), "live order = history order");
        assert_eq!(ids(&got), ids(&history));
        assert_eq!(ids(&got).into_iter().collect::<HashSet<_>>(), acked);
    }
    // And nothing more: no duplicates trailing behind.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for client in &clients {
        while let Some((event, data)) = client.try_next_event() {
            assert_ne!(event, "message", "extra message {data:?}");
        }
    }
    // Each node's /metrics counts what it relayed; /readyz names the node and checks Redis.
    for (i, server) in servers.iter().enumerate() {
        let (_, text) = common::http_get(server.addr, "/metrics").await;
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{series} not in\n{text}"))
        };
        let relayed = |direction: &str| {
            value(&format!(
                "chatroom_messages_relayed_total{{direction=\"{direction}\"}}"
            ))
        };
        assert_eq!(relayed("out"), per_client as f64, "node {i}");
        assert_eq!(relayed("in"), (total - per_client) as f64, "node {i}");
        assert_eq!(value("chatroom_messages_stored_total"), per_client as f64);
        let (status, ready) = common::http_get(server.addr, "/readyz").await;
        assert_eq!(status, 200, "{ready}");
        let ready: Value = serde_json::from_str(&ready).expect("json");
        assert_eq!(ready["node"], format!("n{i}"));
        assert_eq!(ready["checks"], json!({"store": "ok", "redis": "ok"}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_presence_and_typing_cross_nodes() {
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes(&db, &redis_url(), 2).await;
    let alice = servers[0].named("alice").await;
    ok(&alice, "join", json!({"room": "r"})).await;
    let bob = servers[1].named("bob").await;
    let joined = ok(&bob, "join", json!({"room": "r"})).await;
    assert_eq!(joined["members"], json!(["alice", "bob"]), "{joined}");
    let seen = presence_in(&alice, "r").await;
    assert_eq!(
        (&seen["action"], &seen["name"]),
        (&json!("join"), &json!("bob"))
    );

    ok(&bob, "typing", json!({"room": "r", "typing": true})).await;
    let typing = alice.next_event_named("typing").await.expect("typing");
    assert_eq!(
        typing[0],
        json!({"room": "r", "name": "bob", "typing": true})
    );

    ok(&bob, "rename", json!({"name": "robert"})).await;
    let renamed = presence_in(&alice, "r").await;
    assert_eq!(renamed["action"], "rename");
    assert_eq!(
        (&renamed["old"], &renamed["name"]),
        (&json!("bob"), &json!("robert"))
    );

    let rooms = ok(&alice, "rooms", json!({})).await;
    let r = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|room| room["name"] == "r")
        .cloned()
        .expect("room r listed");
    assert_eq!(r["members"], 2, "{rooms}");

    ok(&bob, "leave", json!({"room": "r"})).await;
    let left = presence_in(&alice, "r").await;
    assert_eq!(
        (&left["action"], &left["name"]),
        (&json!("leave"), &json!("robert"))
    );

    // A node that stops says goodbye: its members leave at once, not after the timeout.
    ok(&bob, "join", json!({"room": "r"})).await;
    let _ = presence_in(&alice, "r").await;
    let mut servers = servers;
    let second = servers.pop().expect("two nodes");
    drop(bob);
    second.stop().await;
    let gone = tokio::time::timeout(Duration::from_secs(3), presence_in(&alice, "r"))
        .await
        .expect("leave within 3 s of a clean stop");
    assert_eq!(gone["action"], "leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_clients_get_lobby_messages_from_every_node() {
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes(&db, &redis_url(), 2).await;
    let seed = servers[0].seed().await;
    let v1 = servers[1].named("ann").await;
    ok(
        &v1,
        "send",
        json!({"room": "lobby", "text": "hello from n1"}),
    )
    .await;
    let got = seed
        .next_event_named("chat message")
        .await
        .expect("chat message");
    assert_eq!(got[0], "ann: hello from n1");
}

/// A private `redis-server` on a free port, stopped on drop.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (apt install redis-server)");
        PrivateRedis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ready(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis-server did not start");
    }

    /// Closes every subscriber connection: what is published until they resubscribe is lost.
    async fn kill_subscribers(&self) {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut conn)
            .await
            .expect("client kill");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_the_relay_lost_are_filled_from_the_store() {
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let redis = PrivateRedis::start();
    redis.ready().await;
    let servers = nodes(&db, &redis.url(), 2).await;
    let sender = servers[0].named("s").await;
    ok(&sender, "join", json!({"room": "r"})).await;
    let receiver = servers[1].named("r").await;
    ok(&receiver, "join", json!({"room": "r"})).await;
    let total = 200;
    let send = async {
        for i in 0..total {
            ok(
                &sender,
                "send",
                json!({"room": "r", "text": format!("m{i}")}),
            )
            .await;
            if i % 50 == 25 {
                redis.kill_subscribers().await;
            }
        }
    };
    let (_, got) = tokio::join!(send, messages(&receiver, "r", total));
    assert_eq!(seqs(&got), (1..=total as i64).collect::<Vec<_>>());
    assert!(receiver.is_connected(), "recovered without reconnecting");
    let (_, health) = common::http_get(servers[1].addr, "/healthz").await;
    let health: Value = serde_json::from_str(&health).expect("json");
    assert!(
        health["cluster"]["gaps_filled"].as_u64().unwrap_or(0) > 0,
        "the kills lost something that was filled: {health}"
    );
}

/// The next `count` events of `room` that take a place in its order (`message`, `edited`,
/// `deleted`, `reaction`), as (event, seq, payload).
async fn ordered_events(client: &Client, room: &str, count: usize) -> Vec<(String, i64, Value)> {
    let mut got = Vec::new();
    while got.len() < count {
        let (event, data) = client.next_event().await.expect("event");
        if !["message", "edited", "deleted", "reaction"].contains(&event.as_str())
            || data[0]["room"] != room
        {
            continue;
        }
        let seq = data[0]["seq"].as_i64().expect("seq");
        got.push((event, seq, data[0].clone()));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_reach_every_node_in_room_order() {
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes(&db, &redis_url(), 2).await;
    let alice = servers[0].named("alice").await;
    ok(&alice, "join", json!({"room": "r"})).await;
    let bob = servers[1].named("bob").await;
    ok(&bob, "join", json!({"room": "r"})).await;

    // On node 0: a message, its edit, a reaction; on node 1: a reaction of its own.
    let sent = ok(&alice, "send", json!({"room": "r", "text": "helo"})).await;
    let id = sent["message"]["id"].as_i64().expect("id");
    ok(&alice, "edit", json!({"id": id, "text": "hello"})).await;
    ok(&alice, "react", json!({"id": id, "emoji": "👍"})).await;
    ok(&bob, "react", json!({"id": id, "emoji": "🎉"})).await;

    // Bob, on node 1, gets all of them, the ones made on node 0 included, in seq order.
    let got = ordered_events(&bob, "r", 4).await;
    let shape: Vec<(&str, i64)> = got.iter().map(|(e, s, _)| (e.as_str(), *s)).collect();
    assert_eq!(
        shape,
        [
            ("message", 1),
            ("edited", 2),
            ("reaction", 3),
            ("reaction", 4)
        ]
    );
    assert_eq!(got[1].2["text"], "hello");
    assert_eq!(got[1].2["id"], id);
    assert_eq!(got[2].2["name"], "alice");
    assert_eq!(got[2].2["emoji"], "👍");
    // And alice, on node 0, gets bob's reaction from node 1 after her own changes.
    let mine = ordered_events(&alice, "r", 4).await;
    assert_eq!(
        mine.iter().map(|(_, s, _)| *s).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(mine[3].2["name"], "bob");
    // History on node 1 shows the current state.
    let history = ok(&bob, "history", json!({"room": "r"})).await;
    assert_eq!(history["messages"][0]["text"], "hello");
    assert_eq!(history["messages"][0]["reactions"][1]["emoji"], "🎉");
}

const JWT_SECRET: &str = "cluster tests HS256 secret, 32+ bytes";

/// A client signed in with an HS256 token for `name` in `role`.
async fn signed_in(server: &TestServer, name: &str, role: &str) -> Client {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": format!("sub-{name}"), "name": name, "role": role, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).expect("key"),
    )
    .expect("token");
    let client = Client::connect(&server.url(), Some(json!({ "token": token })))
        .await
        .expect("signed-in client connects");
    client.next_event_named("welcome").await.expect("welcome");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moderation_reaches_every_node() {
    use chatroom::auth::{AuthKind, AuthMode};
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes_with(&db, &redis_url(), 2, || {
        let mut config = Config::for_tests();
        config.auth =
            AuthMode::from_settings(AuthKind::Jwt, Some(JWT_SECRET), None).expect("jwt mode");
        config
    })
    .await;
    let moderator = signed_in(&servers[0], "mod", "moderator").await;
    ok(&moderator, "join", json!({"room": "r"})).await;
    let watcher = signed_in(&servers[1], "watcher", "user").await;
    ok(&watcher, "join", json!({"room": "r"})).await;
    let sent = ok(&watcher, "send", json!({"room": "r", "text": "rude"})).await;
    let id = sent["message"]["id"].as_i64().expect("id");

    // A delete on node 0 reaches the room's members on node 1.
    ok(&moderator, "delete", json!({"id": id})).await;
    loop {
        let (event, data) = watcher.next_event().await.expect("event");
        if event == "deleted" {
            assert_eq!(data[0]["id"], id);
            break;
        }
    }

    // A user connected to node 0 and node 1 is banned on node 0: both connections go.
    let _here = signed_in(&servers[0], "troll", "user").await;
    let there = signed_in(&servers[1], "troll", "user").await;
    ok(&moderator, "ban", json!({"name": "troll", "minutes": 5})).await;
    loop {
        match there.next_event().await {
            Ok((event, _)) if event == "banned" => break,
            Ok(_) => continue,
            Err(error) => panic!("no banned event on node 1: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dm_and_read_notices_reach_every_node() {
    use chatroom::auth::{AuthKind, AuthMode};
    let Some(db) = TestDb::postgres("cl").await else {
        return;
    };
    let servers = nodes_with(&db, &redis_url(), 2, || {
        let mut config = Config::for_tests();
        config.auth =
            AuthMode::from_settings(AuthKind::Jwt, Some(JWT_SECRET), None).expect("jwt mode");
        config
    })
    .await;
    // Bob is connected to node 1 only, and has written once: node 0 knows his id from the store.
    let bob = signed_in(&servers[1], "bob", "user").await;
    ok(&bob, "send", json!({"room": "lobby", "text": "hi"})).await;
    let ann = signed_in(&servers[0], "ann", "user").await;
    let opened = ok(&ann, "dm", json!({"to": "sub-bob"})).await;
    let room = opened["room"].as_str().expect("room").to_owned();
    assert_eq!(opened["with"], json!({"name": "bob", "uid": "sub-bob"}));
    loop {
        let (event, data) = bob.next_event().await.expect("dm event on node 1");
        if event == "dm" {
            assert_eq!(
                data[0],
                json!({"room": room, "with": {"name": "ann", "uid": "sub-ann"}})
            );
            break;
        }
    }

    // Bob's second connection, on node 0, hears of a read position stored through node 1.
    let bob_here = signed_in(&servers[0], "bob", "user").await;
    ok(&bob, "join", json!({"room": room})).await;
    let said = ok(&ann, "join", json!({"room": room})).await;
    assert_eq!(said["unread"], 0);
    let sent = ok(&ann, "send", json!({"room": room, "text": "@bob hello"})).await;
    let id = sent["message"]["id"].as_i64().expect("id");
    ok(&bob, "read", json!({"room": room, "id": id})).await;
    loop {
        let (event, data) = bob_here.next_event().await.expect("read event on node 0");
        if event == "read" {
            assert_eq!(data[0], json!({"room": room, "id": id}));
            break;
        }
    }
}
