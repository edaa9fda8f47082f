//! SQLite backend. One write connection (owned by the writer task through a one-connection pool)
//! and a small read-only pool; WAL lets readers run while the writer commits.
//!
//! Durability: `journal_mode=WAL` with `synchronous=NORMAL`. A commit has been written to the WAL
//! file (handed to the OS) before `append` returns, so an acknowledged message survives `kill -9`
//! of the process; only an OS crash or power loss can lose the last transactions (fsync happens
//! at checkpoints). `busy_timeout` covers other processes touching the file.

use crate::backend::{Backend, MessageRow, Stored, Window, into_page, sql};
use crate::error::redact;
use crate::{Page, StoreError};
use chatroom_core::{Message, NewMessage};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CONNECTIONS: u32 = 4;

/// The write pool (one connection) and the read pool.
#[derive(Clone)]
pub(crate) struct SqliteBackend {
    write: SqlitePool,
    read: SqlitePool,
}

/// Opens (creating if missing) the database at `url` and runs the migrations.
pub(crate) async fn open(url: &str) -> Result<SqliteBackend, StoreError> {
    let target = redact(url);
    let base = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: target.clone(),
        reason: e.to_string(),
    })?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let connect_err = |e| StoreError::Connect {
        target: target.clone(),
        source: Arc::new(e),
    };

    let write_opts = base
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT);
    // One connection, kept forever: it is the writer's, and for `sqlite::memory:` it also keeps
    // the database alive.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(write_opts)
        .await
        .map_err(connect_err)?;
    sqlx::migrate!("migrations/sqlite")
        .run(&write)
        .await
        .map_err(|e| StoreError::Migrate {
            target: target.clone(),
            source: Arc::new(e),
        })?;

    let read = if in_memory {
        // A shared-cache memory database has no WAL; reads share the write connection.
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(base.read_only(true).busy_timeout(BUSY_TIMEOUT))
            .await
            .map_err(connect_err)?
    };
    Ok(SqliteBackend { write, read })
}

impl Backend for SqliteBackend {
    async fn insert_batch(&self, batch: &[NewMessage]) -> Result<Vec<Stored>, StoreError> {
        let mut tx = self.write.begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        for new in batch {
            let cid = new.cid.as_ref().map(|c| c.as_str());
            let id: Option<i64> = sqlx::query_scalar(sql::INSERT)
                .bind(new.room.as_str())
                .bind(new.name.as_str())
                .bind(new.text.as_str())
                .bind(new.ts)
                .bind(cid)
                .fetch_optional(&mut *tx)
                .await?;
            out.push(match id {
                Some(id) => Stored {
                    message: Arc::new(Message::stored(id, new)),
                    duplicate: false,
                },
                None => {
                    let row: MessageRow = sqlx::query_as(sql::BY_CID)
                        .bind(new.room.as_str())
                        .bind(cid)
                        .fetch_one(&mut *tx)
                        .await?;
                    Stored {
                        message: Arc::new(row.into()),
                        duplicate: true,
                    }
                }
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        let fetch = i64::from(limit) + 1;
        let query = match window {
            Window::Latest => sqlx::query_as(sql::LATEST).bind(room).bind(fetch),
            Window::Before(id) => sqlx::query_as(sql::BEFORE).bind(room).bind(id).bind(fetch),
            Window::Since(id) => sqlx::query_as(sql::SINCE).bind(room).bind(id).bind(fetch),
        };
        let rows: Vec<MessageRow> = query.fetch_all(&self.read).await?;
        Ok(into_page(
            rows.into_iter().map(Message::from).collect(),
            window,
            limit,
        ))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}
