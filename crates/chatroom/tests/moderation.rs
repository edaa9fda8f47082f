//! Sign-in and moderation in-process (memory store), through a real Socket.IO client: the fast
//! `cargo test` check of what the interop suites (interop/node `auth.test.js`,
//! `moderation.test.js`) cover on SQLite and PostgreSQL — JWT sign-in and its refusals, a plain
//! user's `forbidden`, delete with its `deleted` event and tombstone, ban with the refused
//! reconnect, mute, and the admin API's 401.

mod common;

use chatroom::auth::{AuthKind, AuthMode};
use chatroom::config::Config;
use chatroom_bench::{Client, ClientError};
use common::{TestServer, fails, http_get, ok};
use serde_json::{Value, json};

const SECRET: &str = "in-process tests HS256 secret, 32+ bytes";

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An HS256 token minted here, as a sign-in service would.
fn token(name: &str, role: &str, exp: u64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": format!("sub-{name}"), "name": name, "role": role, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("token")
}

async fn server() -> TestServer {
    let mut config = Config::for_tests();
    config.auth = AuthMode::from_settings(AuthKind::Jwt, Some(SECRET), None).expect("jwt mode");
    config.admin_token = Some(AuthMode::admin_token("an admin token of 16+").expect("token"));
    TestServer::start(config).await
}

async fn signed_in(server: &TestServer, name: &str, role: &str) -> (Client, Value) {
    let client = Client::connect(
        &server.url(),
        Some(json!({"token": token(name, role, now_s() + 600)})),
    )
    .await
    .expect("signed-in client connects");
    let welcome = client.next_event_named("welcome").await.expect("welcome");
    (client, welcome[0].clone())
}

async fn refused(server: &TestServer, auth: Value) -> String {
    match Client::connect(&server.url(), Some(auth.clone())).await {
        Err(ClientError::ConnectRefused(payload)) => {
            payload["message"].as_str().expect("message").to_owned()
        }
        other => panic!("{auth}: expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn jwt_sign_in_and_refusals() {
    let server = server().await;
    let (_ann, welcome) = signed_in(&server, "Ann", "moderator").await;
    assert_eq!(welcome["name"], "Ann");
    assert_eq!(welcome["user_id"], "sub-Ann");
    assert_eq!(welcome["role"], "moderator");
    assert!(welcome.get("identity").is_none());
    assert_eq!(refused(&server, json!({"name": "x"})).await, "unauthorized");
    assert_eq!(
        refused(&server, json!({"token": "a.b.c"})).await,
        "unauthorized"
    );
    assert_eq!(
        refused(&server, json!({"token": token("Old", "user", now_s() - 1)})).await,
        "token_expired"
    );
}

#[tokio::test]
async fn users_are_forbidden_moderators_delete_and_ban() {
    let server = server().await;
    let (mona, _) = signed_in(&server, "Mona", "moderator").await;
    let (bea, _) = signed_in(&server, "Bea", "user").await;
    for c in [&mona, &bea] {
        ok(c, "join", json!({"room": "r"})).await;
    }
    let sent = ok(&bea, "send", json!({"room": "r", "text": "oops"})).await;
    let id = sent["message"]["id"].clone();
    // Bea may delete her own messages, not someone else's.
    let monas = ok(&mona, "send", json!({"room": "r", "text": "mine"})).await;
    fails(
        &bea,
        "delete",
        json!({"id": monas["message"]["id"]}),
        "forbidden",
    )
    .await;
    fails(&bea, "ban", json!({"name": "Mona"}), "forbidden").await;
    fails(
        &bea,
        "mute",
        json!({"name": "Mona", "minutes": 1}),
        "forbidden",
    )
    .await;
    fails(&bea, "kick", json!({"name": "Mona"}), "forbidden").await;

    let deleted = ok(&mona, "delete", json!({"id": id})).await;
    assert_eq!(deleted["message"]["deleted"], true);
    assert_eq!(deleted["message"]["text"], "");
    let event = bea.next_event_named("deleted").await.expect("deleted");
    assert_eq!(event[0]["id"], id);
    assert_eq!(event[0]["room"], "r");
    assert_eq!(event[0]["by"], "Mona");
    let history = ok(&bea, "history", json!({"room": "r"})).await;
    assert_eq!(history["messages"][0]["deleted"], true);
    assert_eq!(history["messages"][1]["deleted"], json!(null));

    ok(
        &mona,
        "mute",
        json!({"name": "Bea", "room": "r", "minutes": 1}),
    )
    .await;
    let muted = fails(&bea, "send", json!({"room": "r", "text": "hi"}), "muted").await;
    let retry = muted["error"]["retry_ms"].as_u64().expect("retry_ms");
    assert!((50_000..=60_000).contains(&retry), "{muted}");

    let banned = ok(
        &mona,
        "ban",
        json!({"name": "Bea", "minutes": 5, "reason": "r"}),
    )
    .await;
    assert_eq!(banned["kicked"], 1);
    let notice = bea.next_event_named("banned").await.expect("banned event");
    assert_eq!(notice[0]["reason"], "r");
    let again = refused(
        &server,
        json!({"token": token("Bea", "user", now_s() + 600)}),
    )
    .await;
    assert!(again.starts_with("banned until 20"), "{again}");
}

#[tokio::test]
async fn admin_api_needs_the_token() {
    let server = server().await;
    let (status, body) = http_get(server.addr, "/api/admin/bans").await;
    assert_eq!(status, 401, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
}
