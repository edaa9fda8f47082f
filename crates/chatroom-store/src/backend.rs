//! The seam between the writer/readers and the SQL: one trait, implemented by the memory, SQLite
//! and PostgreSQL backends. Native `async fn`-style methods (no `dyn`): the writer task is generic
//! over the backend, and [`crate::Store`] dispatches reads through the [`AnyBackend`] enum, so
//! the server sees one non-generic type.

use crate::memory::MemoryBackend;
use crate::postgres::PgBackend;
use crate::sqlite::SqliteBackend;
use crate::{Page, StoreError};
use chatroom_core::{Message, MessageId, NewMessage};
use std::future::Future;
use std::sync::Arc;

/// One stored request of a batch: the message now in the store (the original one for a
/// duplicate) and whether it was a duplicate.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub message: Arc<Message>,
    pub duplicate: bool,
}

/// Which page of a room's history to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Window {
    /// The newest messages.
    Latest,
    /// The newest messages with id < the given one.
    Before(MessageId),
    /// The oldest messages with id > the given one.
    Since(MessageId),
}

/// What a storage engine must do. Everything is `Send` so the writer can run on any worker.
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    /// Stores `batch` in ONE transaction, in order; each request's result, in the same order.
    /// A request whose (room, cid) is already stored (earlier, or earlier in this batch) is
    /// answered with the stored message and `duplicate: true`. All or nothing: on `Err`, nothing
    /// of the batch is stored.
    fn insert_batch(
        &self,
        batch: &[NewMessage],
    ) -> impl Future<Output = Result<Vec<Stored>, StoreError>> + Send;

    /// Up to `limit` messages of `room` in `window`, oldest first, and whether more lie beyond.
    fn page(
        &self,
        room: &str,
        window: Window,
        limit: u32,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// A cheap round trip to the database.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes the connections (after the writer has finished).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// The backend chosen at `open`, for the read side of [`crate::Store`].
#[derive(Clone)]
pub(crate) enum AnyBackend {
    Memory(MemoryBackend),
    Sqlite(SqliteBackend),
    Postgres(PgBackend),
}

impl Backend for AnyBackend {
    async fn insert_batch(&self, batch: &[NewMessage]) -> Result<Vec<Stored>, StoreError> {
        match self {
            AnyBackend::Memory(b) => b.insert_batch(batch).await,
            AnyBackend::Sqlite(b) => b.insert_batch(batch).await,
            AnyBackend::Postgres(b) => b.insert_batch(batch).await,
        }
    }

    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        match self {
            AnyBackend::Memory(b) => b.page(room, window, limit).await,
            AnyBackend::Sqlite(b) => b.page(room, window, limit).await,
            AnyBackend::Postgres(b) => b.page(room, window, limit).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            AnyBackend::Memory(b) => b.ping().await,
            AnyBackend::Sqlite(b) => b.ping().await,
            AnyBackend::Postgres(b) => b.ping().await,
        }
    }

    async fn close(&self) {
        match self {
            AnyBackend::Memory(b) => b.close().await,
            AnyBackend::Sqlite(b) => b.close().await,
            AnyBackend::Postgres(b) => b.close().await,
        }
    }
}

/// Turns `limit + 1` fetched rows into a page of at most `limit`, oldest first. `rows` come
/// newest first for `Latest`/`Before` and oldest first for `Since`, as the SQL reads them.
pub(crate) fn into_page(mut rows: Vec<Message>, window: Window, limit: u32) -> Page {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if !matches!(window, Window::Since(_)) {
        rows.reverse();
    }
    Page {
        messages: rows,
        more,
    }
}

/// A `messages` row as both SQL backends read it.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    room: String,
    name: String,
    text: String,
    ts: i64,
    cid: Option<String>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: r.id,
            room: r.room,
            name: r.name,
            text: r.text,
            ts: r.ts,
            cid: r.cid,
            from_seed: false,
        }
    }
}

/// SQL shared by SQLite and PostgreSQL (sqlx binds `$N` on both).
pub(crate) mod sql {
    /// Stores one message unless its (room, cid) exists; returns the new id, or no row.
    pub const INSERT: &str = "INSERT INTO messages (room, name, text, ts, cid) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room, cid) DO NOTHING RETURNING id";
    /// The message already stored under (room, cid).
    pub const BY_CID: &str =
        "SELECT id, room, name, text, ts, cid FROM messages WHERE room = $1 AND cid = $2";
    /// Newest first: $1 room, $2 limit.
    pub const LATEST: &str = "SELECT id, room, name, text, ts, cid FROM messages \
         WHERE room = $1 ORDER BY id DESC LIMIT $2";
    /// Newest first below an id: $1 room, $2 before, $3 limit.
    pub const BEFORE: &str = "SELECT id, room, name, text, ts, cid FROM messages \
         WHERE room = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
    /// Oldest first above an id: $1 room, $2 since, $3 limit.
    pub const SINCE: &str = "SELECT id, room, name, text, ts, cid FROM messages \
         WHERE room = $1 AND id > $2 ORDER BY id ASC LIMIT $3";
}
