//! The database each store test runs on: memory, an SQLite file in a temporary directory, or a
//! fresh schema in PostgreSQL (`CHATROOM_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`). PostgreSQL not answering FAILS the test unless
//! `CHATROOM_SKIP_PG=1`: a suite that silently skipped its second engine would prove nothing.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use chatroom_store::Store;
use sqlx::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The three backends, as `test_db` names them.
pub const KINDS: [&str; 3] = ["memory", "sqlite", "postgres"];

/// The SQLite file's name inside [`TestDb::dir`].
pub const SQLITE_FILE: &str = "store.db";

pub fn pg_base_url() -> String {
    std::env::var("CHATROOM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database for one test: its URL and what removes it afterwards.
pub struct TestDb {
    pub url: String,
    /// The SQLite file's directory (SQLite only).
    pub dir: Option<tempfile::TempDir>,
    /// The PostgreSQL schema, dropped with the value (PostgreSQL only).
    pub schema: Option<String>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let url = pg_base_url();
        // Drop runs inside the test's runtime: a thread of its own for the cleanup.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for cleanup");
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("schema not dropped: {e}");
        }
    }
}

/// A fresh database of `kind` ("memory", "sqlite" or "postgres"); `None` only when PostgreSQL
/// is skipped on purpose.
pub async fn test_db(kind: &str) -> Option<TestDb> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    match kind {
        "memory" => Some(TestDb {
            url: "memory".into(),
            dir: None,
            schema: None,
        }),
        "sqlite" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join(SQLITE_FILE).display());
            Some(TestDb {
                url,
                dir: Some(dir),
                schema: None,
            })
        }
        _ => {
            let reachable = tokio::time::timeout(
                Duration::from_secs(5),
                sqlx::PgConnection::connect(&pg_base_url()),
            )
            .await;
            if !matches!(reachable, Ok(Ok(_))) {
                assert_eq!(
                    std::env::var("CHATROOM_SKIP_PG").as_deref(),
                    Ok("1"),
                    "PostgreSQL does not answer at {}",
                    pg_base_url()
                );
                return None;
            }
            // The test binary's name keeps parallel binaries' schemas apart.
            let schema = format!(
                "chatroom_{}_{}_{}",
                env!("CARGO_CRATE_NAME"),
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let sep = if pg_base_url().contains('?') {
                '&'
            } else {
                '?'
            };
            Some(TestDb {
                url: format!("{}{sep}schema={schema}", pg_base_url()),
                dir: None,
                schema: Some(schema),
            })
        }
    }
}

pub async fn open(url: &str) -> Store {
    Store::open(url).await.expect("store opens").0
}
