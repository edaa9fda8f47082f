//! Test harness: a real server on an ephemeral loopback port, in-process (mini-redis style), and
//! a tiny HTTP GET. The guard shuts the server down when dropped.

#![allow(dead_code)] // each test file uses a different part of the harness

use chatroom::Server;
use chatroom::config::Config;
use chatroom_bench::Client;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A running server; dropping it stops the server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with `config` (its address is replaced by 127.0.0.1:0).
    pub async fn start(mut config: Config) -> TestServer {
        config.addr = "127.0.0.1:0".parse().expect("valid address");
        let listener = TcpListener::bind(config.addr).await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let server = Server::build(config).await.expect("server builds");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await; // a dropped sender also means stop
            };
            server.serve(listener, shutdown).await.expect("server runs");
        });
        TestServer {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A server with the in-memory store and no rate limit.
    pub async fn memory() -> TestServer {
        Self::start(Config::for_tests()).await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A v1 client named `name`.
    pub async fn named(&self, name: &str) -> Client {
        let client = Client::connect(&self.url(), Some(json!({ "name": name })))
            .await
            .expect("v1 client connects");
        let welcome = client.next_event_named("welcome").await.expect("welcome");
        assert_eq!(welcome[0]["name"], name.trim());
        client
    }

    /// A seed-protocol client (no name).
    pub async fn seed(&self) -> Client {
        let client = Client::connect(&self.url(), None)
            .await
            .expect("seed client connects");
        client.next_event_named("welcome").await.expect("welcome");
        client
    }

    /// Stops the server and waits for it to finish draining.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task ends cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `GET path` over HTTP/1.0: (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The next `presence` event about `room`, skipping others (e.g. lobby arrivals).
pub async fn presence_in(client: &Client, room: &str) -> Value {
    loop {
        let event = client.next_event_named("presence").await.expect("presence");
        if event[0]["room"] == room {
            return event[0].clone();
        }
    }
}

/// `emit_with_ack` that must succeed with `ok: true`.
pub async fn ok(client: &Client, event: &str, data: Value) -> Value {
    let answer = client
        .emit_with_ack(event, data.clone())
        .await
        .expect("ack");
    assert_eq!(answer["ok"], true, "{event} {data} → {answer}");
    answer
}

/// `emit_with_ack` that must fail with `code`.
pub async fn fails(client: &Client, event: &str, data: Value, code: &str) -> Value {
    let answer = client
        .emit_with_ack(event, data.clone())
        .await
        .expect("ack");
    assert_eq!(answer["ok"], false, "{event} {data} → {answer}");
    assert_eq!(answer["error"]["code"], code, "{event} {data} → {answer}");
    answer
}

/// A fresh database for one test; dropping it removes the tempdir or the PostgreSQL schema.
/// PostgreSQL is `CHATROOM_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`); a
/// test fails if it does not answer, unless `CHATROOM_SKIP_PG=1` (then it is skipped).
pub struct TestDb {
    /// The store URL to give `--db`.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        TestDb {
            url: format!("sqlite://{}", dir.path().join("chat.db").display()),
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A new schema (named after `tag`, the process and a counter) on the test PostgreSQL.
    pub async fn postgres(tag: &str) -> Option<TestDb> {
        use sqlx::Connection;
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let admin = std::env::var("CHATROOM_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin),
        )
        .await;
        if !matches!(probe, Ok(Ok(_))) {
            if std::env::var("CHATROOM_SKIP_PG").as_deref() == Ok("1") {
                eprintln!("SKIPPED: PostgreSQL at {admin} does not answer");
                return None;
            }
            panic!("PostgreSQL at {admin} does not answer; CHATROOM_SKIP_PG=1 skips");
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 1_000_000);
        let name = format!(
            "chatroom_{tag}_{}_{stamp}_{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let sep = if admin.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{admin}{sep}schema={name}"),
            _dir: None,
            schema: Some((admin, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        use sqlx::Connection;
        let Some((admin, name)) = self.schema.take() else {
            return;
        };
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for cleanup");
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&sql).execute(&mut conn).await?;
                conn.close().await
            })
        });
        if !matches!(cleanup.join(), Ok(Ok(()))) {
            eprintln!("could not drop schema {}", self.url);
        }
    }
}
