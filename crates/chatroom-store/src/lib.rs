//! Message storage for the chat server: one [`Store`] handle over SQLite, PostgreSQL or memory.
//!
//! Writes go through a single writer task that commits waiting appends together ("group
//! commit"): [`Store::append`] returns once its message's transaction has committed, and the
//! writer then publishes every committed batch's new messages, in ascending id order, on the
//! committed feed returned by [`Store::open`]. Within a room, ids increase in commit order
//! (with one process, across rooms too), so a client that saw id N recovers everything after
//! it with [`Store::since`].
//!
//! Reads ([`Store::latest`], [`Store::before`], [`Store::since`]) go through a separate read
//! pool and never wait for the writer (SQLite in WAL mode, PostgreSQL MVCC).
//!
//! Changes (edit, delete, react, unreact) are requests like messages ([`NewMessage::change`]):
//! the writer checks each against its target's state inside the batch's transaction, stores it
//! as a row of its own (`kind` != 'message', `target`, an id and the room's next seq) and applies
//! it to the target (text and `edited`, tombstone, `reactions` rows) in the same transaction.
//! So the feed, [`Store::since`], [`Store::since_seq`] and the cluster relay carry changes in
//! room order like messages; [`Store::latest`] and [`Store::before`] return messages only, in
//! their current state. A change refused for its target's state (gone, deleted, too many
//! reactions) is answered [`StoreError::Refused`] and stores nothing.
//!
//! Database URLs:
//! - `sqlite://path/to/file.db` (relative) or `sqlite:///abs/path.db`: created if missing,
//!   WAL with `synchronous=NORMAL`: an acknowledged message survives `kill -9` of the process
//!   (it is in the WAL file before `append` returns); an OS crash or power loss may lose the
//!   last few transactions.
//! - `sqlite::memory:`: an SQLite database in process memory (tests).
//! - `memory`: no SQL at all, same semantics (tests).
//! - `postgres://USER[:PASSWORD]@HOST:PORT/DB` or `postgresql://...`, any parameter sqlx's
//!   `PgConnectOptions` knows, plus `schema=NAME`: use (and create) that schema instead of
//!   `public` (each test run uses its own).
//!
//! Failure: if a transaction fails (database down), every append of that batch gets `Err`,
//! nothing is published, and the next batch tries again (the pools reconnect). A failure at
//! commit time is ambiguous (the commit may have happened); a client retry with the same `cid`
//! is then answered with the original message. Dropping an `append` future after it was
//! queued does not cancel the write.
//!
//! Per-room order, across processes: every message also has a `seq`, its place in its room
//! (1, 2, 3, … without holes, in commit order), the same whichever server process of a cluster
//! stored it. Several processes on one PostgreSQL database each have their own writer, so an
//! identity value alone no longer says in which order rows committed: a transaction can take
//! id 10, another id 11 and commit first, and a reader that saw 11 would then skip 10 with
//! `since`. The `room_seq` table prevents that. In each batch's transaction, after the
//! de-duplication lookup, the writer adds each room's count of new rows to the room's counter
//! (an upsert, rooms in ascending order) and only then takes the ids:
//! - the upsert keeps the room's counter row locked until commit, so a second process's batch
//!   for that room waits, then continues from the committed counter: seqs follow commit order
//!   and have no holes (a batch that rolls back rolls its counter back too);
//! - the ids are taken while the room is locked, so within a room they too increase in commit
//!   order, and `since`/`before` by id stay exact across processes (ids of different rooms may
//!   still commit out of order, which no per-room read can observe);
//! - every batch locks its rooms in the same (ascending) order, so batches cannot deadlock.
//!
//! SQLite and memory have one writer per database and keep the same counter (a table, a map).
//! [`Store::heads`] reads the counters, so a cluster relay can tell that it missed messages
//! and fill the gap with `since`. Retention deletes messages but never touches the counters.

mod apply;
mod backend;
mod batch;
mod dm;
mod error;
mod memory;
mod moderation;
mod postgres;
mod retention;
pub mod search;
mod sql;
mod sqlite;

pub use dm::{Conversation, DmPeer, MAX_CONVERSATIONS, ReadState, SEEN_WINDOW, UNREAD_CAP};
pub use error::StoreError;
pub use moderation::{AuditEntry, Ban, MAX_AUDIT_PAGE, NewAudit, NewBan};
pub use retention::{
    DEFAULT_PURGE_BATCH, PURGE_LOCK_KEY, PURGE_PAUSE, PurgeReport, RetentionPolicy,
};
pub use search::{SearchPage, SearchScope};

use backend::{Answer, Backend, Window};
use batch::{Command, Counters};
use chatroom_core::{Message, MessageId, NewMessage, RoomName, RoomSeq};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, oneshot};

/// Appends that may wait for the writer before `append` itself waits (backpressure).
const REQUEST_QUEUE: usize = 8192;
/// Length of a secret made by [`Store::secret`], in bytes.
pub const SECRET_BYTES: usize = 32;
/// Committed batches the feed holds before the writer waits for its reader.
pub const FEED_CAPACITY: usize = 1024;

/// The committed feed: each item is one committed batch's new messages, ascending by id.
pub type Feed = mpsc::Receiver<Vec<Committed>>;

/// One newly stored message on the committed feed, with what only live delivery needs.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The message as stored (and as reading it back gives it).
    pub message: Arc<Message>,
    /// Copied from [`NewMessage::from_seed`]: seed clients get the text unchanged. Not stored,
    /// so it travels here rather than on [`Message`].
    pub from_seed: bool,
}

/// A cheap, cloneable handle: a channel to the one writer task, and the read pool.
#[derive(Clone)]
pub struct Store {
    requests: mpsc::Sender<Command>,
    backend: AnyBackend,
    counters: Arc<Counters>,
}

/// The result of [`Store::append`].
#[derive(Debug, Clone)]
pub struct Appended {
    /// The stored message; for a duplicate, the original one. For a change: the change row
    /// (or, for a change that changed nothing, the target).
    pub message: Arc<Message>,
    /// True if (room, cid) was already stored, or a change changed nothing: nothing new was
    /// stored or published.
    pub duplicate: bool,
    /// For a change: its target as it is now (what the client is answered with).
    pub target: Option<Arc<Message>>,
}

/// Part of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The messages (kind 'message'), ascending by id, in their current state.
    pub messages: Vec<Message>,
    /// Change rows ([`Message::change`] set), ascending by id: only [`Store::since`] and
    /// [`Store::since_seq`] return them, interleaved with `messages` in the room's order (the
    /// limit counts both).
    pub changes: Vec<Message>,
    /// The highest id this page covers (message or change); `None` for an empty page. A client
    /// continues a `since` read with it.
    pub through: Option<MessageId>,
    /// Whether more messages lie beyond this page in the direction read (older for
    /// `latest`/`before`, newer for `since`).
    pub more: bool,
    /// Messages this window reached were removed by retention: for `since`, some with an id
    /// above it are gone; for `latest`/`before`, this page ends at the oldest kept message and
    /// older ones existed. False when nothing of the room was ever purged.
    pub truncated: bool,
}

/// What the writer has done since `open` (for tests, metrics and the throughput example).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Transactions that failed (rolled back or timed out).
    pub failed_transactions: u64,
    /// New messages stored.
    pub stored: u64,
    /// Appends answered with an existing message (same room and cid).
    pub duplicates: u64,
}

/// The backend [`Store::open`] chose for the URL; the writer and the read side both go through
/// it.
#[derive(Clone)]
enum AnyBackend {
    Memory(memory::MemoryBackend),
    Sqlite(sqlite::SqliteBackend),
    Postgres(postgres::PgBackend),
}

impl Backend for AnyBackend {
    async fn insert_batch(
        &self,
        batch: &[NewMessage],
        audits: &[(usize, NewAudit)],
    ) -> Result<Vec<Answer>, StoreError> {
        match self {
            Self::Memory(b) => b.insert_batch(batch, audits).await,
            Self::Sqlite(b) => b.insert_batch(batch, audits).await,
            Self::Postgres(b) => b.insert_batch(batch, audits).await,
        }
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        match self {
            Self::Memory(b) => b.message(id).await,
            Self::Sqlite(b) => b.message(id).await,
            Self::Postgres(b) => b.message(id).await,
        }
    }

    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        match self {
            Self::Memory(b) => b.page(room, window, limit).await,
            Self::Sqlite(b) => b.page(room, window, limit).await,
            Self::Postgres(b) => b.page(room, window, limit).await,
        }
    }

    fn indexes_after_commit(&self) -> bool {
        match self {
            Self::Memory(b) => b.indexes_after_commit(),
            Self::Sqlite(b) => b.indexes_after_commit(),
            Self::Postgres(b) => b.indexes_after_commit(),
        }
    }

    async fn index_pending(&self) -> Result<usize, StoreError> {
        match self {
            Self::Memory(b) => b.index_pending().await,
            Self::Sqlite(b) => b.index_pending().await,
            Self::Postgres(b) => b.index_pending().await,
        }
    }

    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self {
            Self::Memory(b) => b.setting_or_insert(name, fresh).await,
            Self::Sqlite(b) => b.setting_or_insert(name, fresh).await,
            Self::Postgres(b) => b.setting_or_insert(name, fresh).await,
        }
    }

    async fn purge(&self, policy: &RetentionPolicy, batch: u32) -> Result<PurgeReport, StoreError> {
        match self {
            Self::Memory(b) => b.purge(policy, batch).await,
            Self::Sqlite(b) => b.purge(policy, batch).await,
            Self::Postgres(b) => b.purge(policy, batch).await,
        }
    }

    async fn heads(&self, rooms: &[&str]) -> Result<Vec<(String, RoomSeq)>, StoreError> {
        match self {
            Self::Memory(b) => b.heads(rooms).await,
            Self::Sqlite(b) => b.heads(rooms).await,
            Self::Postgres(b) => b.heads(rooms).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Memory(b) => b.ping().await,
            Self::Sqlite(b) => b.ping().await,
            Self::Postgres(b) => b.ping().await,
        }
    }

    async fn close(&self) {
        match self {
            Self::Memory(b) => b.close().await,
            Self::Sqlite(b) => b.close().await,
            Self::Postgres(b) => b.close().await,
        }
    }
}

impl Store {
    /// Opens the store at `url` (see the crate docs for the forms), runs the embedded
    /// migrations and starts the writer. Returns the handle and the committed feed.
    ///
    /// An unknown scheme, a bad URL or a database that cannot be reached is an `Err` whose
    /// `Display` is one line naming the database (never its password) and the cause.
    pub async fn open(url: &str) -> Result<(Store, Feed), StoreError> {
        let url = url.trim();
        let backend = if url == "memory" {
            AnyBackend::Memory(memory::MemoryBackend::default())
        } else if url.starts_with("sqlite:") {
            AnyBackend::Sqlite(sqlite::open(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            AnyBackend::Postgres(postgres::open(url).await?)
        } else {
            return Err(StoreError::UnknownScheme {
                url: error::redact(url),
            });
        };
        search::backfill(&backend).await?;
        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (feed_tx, feed) = mpsc::channel(FEED_CAPACITY);
        let counters = Arc::new(Counters::default());
        tokio::spawn(batch::run(
            backend.clone(),
            requests_rx,
            feed_tx,
            Arc::clone(&counters),
        ));
        Ok((
            Store {
                requests,
                backend,
                counters,
            },
            feed,
        ))
    }

    /// Stores one message durably; returns after its transaction has committed (and after the
    /// message was put on the committed feed). If (room, cid) was stored before, returns the
    /// ORIGINAL message with `duplicate: true` and stores nothing.
    pub async fn append(&self, msg: NewMessage) -> Result<Appended, StoreError> {
        self.submit(msg).await?.await
    }

    /// The first half of [`Store::append`]: queues `msg` for the writer and returns once it is
    /// queued, with a future for the commit. Messages queued one after another from one task
    /// get ids in that order — the server uses this to keep each sender's messages in order
    /// while still letting the commit itself overlap with the next message's checks.
    pub async fn submit(
        &self,
        msg: NewMessage,
    ) -> Result<impl Future<Output = Result<Appended, StoreError>> + Send + 'static, StoreError>
    {
        self.submit_audited(msg, None).await
    }

    /// [`Store::append`] of a change that is a moderation action: `audit` is written in the
    /// same transaction, if the change stored a row (a refused change records nothing).
    pub async fn append_audited(
        &self,
        msg: NewMessage,
        audit: NewAudit,
    ) -> Result<Appended, StoreError> {
        self.submit_audited(msg, Some(Box::new(audit))).await?.await
    }

    async fn submit_audited(
        &self,
        msg: NewMessage,
        audit: Option<Box<NewAudit>>,
    ) -> Result<impl Future<Output = Result<Appended, StoreError>> + Send + 'static, StoreError>
    {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Command::Append(msg, audit, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(async move { answer.await.map_err(|_| StoreError::Closed)? })
    }

    /// The message (not a change row) with id `id` in its current state (text, edit mark,
    /// tombstone, reactions), or `None`.
    pub async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.backend.message(id).await
    }

    /// The last `limit` messages of `room`, oldest first; `more`: older ones exist.
    pub async fn latest(&self, room: &RoomName, limit: u32) -> Result<Page, StoreError> {
        self.backend
            .page(room.as_str(), Window::Latest, limit)
            .await
    }

    /// Up to `limit` messages of `room` with id < `before` (the newest of those), oldest first;
    /// `more`: still older ones exist.
    pub async fn before(
        &self,
        room: &RoomName,
        before: MessageId,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.backend
            .page(room.as_str(), Window::Before(before), limit)
            .await
    }

    /// Up to `limit` rows of `room` with id > `since` (the oldest of those), oldest first, split
    /// into messages (current state) and changes; `more`: there are more after them; `through`:
    /// the last row's id.
    pub async fn since(
        &self,
        room: &RoomName,
        since: MessageId,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.backend
            .page(room.as_str(), Window::Since(since), limit)
            .await
    }

    /// Up to `limit` rows of `room` with seq > `since`, oldest first (messages and changes, as
    /// [`Store::since`] splits them); `more`: there are more after them. What a cluster node reads when the relay lost messages (`truncated` is
    /// always false here: the reader sees holes in `seq` itself).
    pub async fn since_seq(
        &self,
        room: &RoomName,
        since: RoomSeq,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.backend
            .page(room.as_str(), Window::SinceSeq(since), limit)
            .await
    }

    /// Each of `rooms`' current sequence head: the seq of its newest message (ascending by
    /// room; rooms never written are absent), read in one query. A cluster relay compares it
    /// with the last seq it delivered to detect a gap, then fills the gap with
    /// [`Store::since`] (ids and seqs agree in order within a room). Retention does not lower
    /// it: a room whose messages were all purged keeps its head.
    pub async fn heads(&self, rooms: &[RoomName]) -> Result<Vec<(String, RoomSeq)>, StoreError> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let mut heads = self.backend.heads(&names).await?;
        // Byte order on every backend (PostgreSQL's ORDER BY follows its collation).
        heads.sort();
        heads.dedup();
        Ok(heads)
    }

    /// The server secret called `name`: [`SECRET_BYTES`] random bytes, created on the first
    /// call and kept in the database's `settings` table, so a restart, and every process on one
    /// PostgreSQL database, get the same value (the first one stored wins a race). With the
    /// `memory` backend it lives as long as the store.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; SECRET_BYTES];
        getrandom::fill(&mut fresh).map_err(|e| StoreError::Random(e.to_string()))?;
        self.backend.setting_or_insert(name, &fresh).await
    }

    /// One purge round under `policy` (see [`RetentionPolicy`]): at most `batch` rows per
    /// transaction, [`PURGE_PAUSE`] between transactions, space returned to the file system on
    /// SQLite (incremental vacuum). On PostgreSQL the round holds the advisory lock
    /// [`PURGE_LOCK_KEY`]; if another process holds it, nothing is done and the report says
    /// `skipped`. A policy that keeps everything returns at once.
    pub async fn purge(
        &self,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> Result<PurgeReport, StoreError> {
        if policy.keeps_everything() {
            return Ok(PurgeReport::default());
        }
        let started = std::time::Instant::now();
        let mut report = self.backend.purge(policy, batch.max(1)).await?;
        report.duration = started.elapsed();
        Ok(report)
    }

    /// Cheap liveness probe: the writer is running and the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        if self.requests.is_closed() {
            return Err(StoreError::Closed);
        }
        self.backend.ping().await
    }

    /// Waits until the search index holds every message committed so far (on SQLite new
    /// messages are indexed shortly after their commit; elsewhere this returns at once).
    pub(crate) async fn index_now(&self) -> Result<(), StoreError> {
        if !self.backend.indexes_after_commit() {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        self.requests
            .send(Command::IndexNow(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)
    }

    /// Finishes the appends queued so far, stops the writer and closes the connections. The
    /// committed feed ends after its last batch. Appends after this return `Closed`.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.requests.send(Command::Close(ack)).await.is_ok() {
            // Err only if the writer is already gone: closed either way.
            let _ = done.await;
        }
    }

    /// Counters of the writer since `open`.
    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            transactions: c.transactions.load(Ordering::Relaxed),
            failed_transactions: c.failed_transactions.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
        }
    }
}
