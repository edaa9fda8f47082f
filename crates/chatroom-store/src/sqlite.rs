//! SQLite backend. One write connection (owned by the writer task through a one-connection pool)
//! and a small read-only pool; WAL lets readers run while the writer commits.
//!
//! Durability: `journal_mode=WAL` with `synchronous=NORMAL`. A commit has been written to the WAL
//! file (handed to the OS) before `append` returns, so an acknowledged message survives `kill -9`
//! of the process; only an OS crash or power loss can lose the last transactions (fsync happens
//! at checkpoints). `busy_timeout` covers other processes touching the file.
//!
//! Retention: new databases are created with `auto_vacuum=INCREMENTAL`, and the purge runs
//! `PRAGMA incremental_vacuum(N)` after each batch, so the file shrinks as messages go. A
//! database created before that (auto_vacuum NONE) keeps its size (freed pages are reused by
//! new messages) until the operator converts it once, offline:
//! `sqlite3 chatroom.db 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM;'` — a VACUUM rewrites the
//! whole file, which is why the server never does it by itself. Purge batches use the writer's
//! one connection, so they take turns with append batches; no lock is needed because one
//! process owns the file's writes (a second server on the same file is not supported).

use crate::backend::{Answer, Backend, Plan, Target, Window, count_new, into_page, new_rows};
use crate::error::redact;
use crate::retention::{PURGE_PAUSE, PurgeReport, RetentionPolicy, Tally};
use crate::sql::{self, MessageRow, ReactionSqlRow};
use crate::{NewAudit, Page, StoreError};
use chatroom_core::{Message, MessageId, NewMessage, RoomSeq, UserId};
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Acquire, QueryBuilder};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CONNECTIONS: u32 = 4;
/// SQLite's limit on bound parameters per statement (since 3.32).
const SQLITE_MAX_PARAMS: usize = 32766;
/// Pages returned to the file system after each purge batch (4 MB at 4 KB pages: more than a
/// batch of 1000 messages frees).
const VACUUM_PAGES: u32 = 1000;
/// Records a batch's highest purged id of a room: $1 room, $2 id.
const UPSERT_PURGED: &str = "INSERT INTO purged (room, through) VALUES ($1, $2) \
     ON CONFLICT (room) DO UPDATE SET through = max(through, excluded.through)";

/// A purge batch's `DELETE ... RETURNING room, id`.
type DeleteQuery<'q> = sqlx::query::QueryAs<'q, Sqlite, (String, i64), SqliteArguments<'q>>;

/// The write pool (one connection) and the read pool.
#[derive(Clone)]
pub(crate) struct SqliteBackend {
    write: SqlitePool,
    pub(crate) read: SqlitePool,
    /// `sqlite::memory:`: its one connection is the database and must never be closed.
    in_memory: bool,
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
        // Takes effect when the file is created (see the module docs for older files).
        .auto_vacuum(SqliteAutoVacuum::Incremental)
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
    Ok(SqliteBackend {
        write,
        read,
        in_memory,
    })
}

impl SqliteBackend {
    /// Runs one write transaction on the writer connection. If it fails, the connection is
    /// closed and the pool opens a fresh one for the next write.
    ///
    /// Why: on `SQLITE_FULL` (and other I/O errors) SQLite may roll the transaction back by
    /// itself; sqlx's own ROLLBACK then fails and it keeps counting one open transaction, so its
    /// next `begin` is a SAVEPOINT that opens a real transaction, and a later failure leaves that
    /// transaction open for good: every following "commit" only released a savepoint, acks went
    /// out, and nothing reached the database (found by the soak with the disk filled and freed
    /// again; `tests/contract.rs` `sqlite_writer_recovers_after_the_disk_was_full`).
    pub(crate) async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.write.acquire().await?;
        let result = work(&mut conn).await;
        if result.is_err() && !self.in_memory {
            // Closing can only fail on a connection that is broken already.
            let _ = conn.close().await;
        }
        result
    }
}

impl SqliteBackend {
    /// One purge transaction on the writer's connection: runs `delete`, records the rooms'
    /// purged-through ids, commits, then returns freed pages to the file system. The number
    /// of rows removed.
    async fn purge_batch(
        &self,
        delete: DeleteQuery<'_>,
        tally: &mut Tally,
    ) -> Result<usize, StoreError> {
        let mut tx = self.write.begin().await?;
        let rows: Vec<(String, i64)> = delete.fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        // The purged messages' reactions go with them (no foreign key: change rows and
        // reactions are written by the one writer, and a purge must not wait on cascades).
        for chunk in rows.chunks(SQLITE_MAX_PARAMS) {
            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM reactions WHERE message_id IN (");
            let mut list = q.separated(", ");
            for (_, id) in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            q.build().persistent(false).execute(&mut *tx).await?;
        }
        for (room, through) in tally.add(&rows) {
            sqlx::query(UPSERT_PURGED)
                .bind(room)
                .bind(through)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<i64> = rows.iter().map(|(_, id)| *id).collect();
        crate::search::sqlite::unindex_many(&mut tx, &ids).await?;
        tx.commit().await?;
        // A no-op on a database without auto_vacuum=INCREMENTAL.
        sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            .execute(&self.write)
            .await?;
        Ok(rows.len())
    }
}

/// Stored rows indexed per transaction by [`SqliteBackend::index_pending`].
const INDEX_CHUNK: i64 = 5000;

impl Backend for SqliteBackend {
    fn indexes_after_commit(&self) -> bool {
        true
    }

    /// Catches the search index up with the stored messages, [`INDEX_CHUNK`] rows per
    /// transaction on the writer's connection; how many rows it looked at.
    async fn index_pending(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self
                .write(async |conn| {
                    let mut tx = conn.begin().await?;
                    let n = crate::search::sqlite::index_pending(&mut tx, INDEX_CHUNK).await?;
                    tx.commit().await?;
                    Ok(n)
                })
                .await?;
            total += n;
            if n < INDEX_CHUNK as usize {
                return Ok(total);
            }
        }
    }

    /// A few statements per batch: look up the batch's (room, cid) pairs, add each room's count
    /// of new rows to its `room_seq` counter (upsert returning the new value), read the next
    /// free id, insert the new rows with explicit ids (multi-row VALUES, chunked under SQLite's bind
    /// limit). Ids are assigned here, in batch order, so nothing depends on the order in which
    /// SQLite inserts rows or returns them. That is safe because this writer is the only one in
    /// the process, and against other processes too: a row they insert after our read makes
    /// our insert fail (WAL refuses to write from an outdated snapshot, and an id or (room, cid)
    /// taken meanwhile violates a unique constraint), never store under a wrong id.
    async fn insert_batch(
        &self,
        batch: &[NewMessage],
        audits: &[(usize, NewAudit)],
    ) -> Result<Vec<Answer>, StoreError> {
        self.write(async |conn| insert_batch(conn, batch, audits).await)
            .await
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let row: Option<MessageRow> = sqlx::query_as(sql::MESSAGE)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        let mut messages: Vec<Message> = row.into_iter().map(Message::from).collect();
        with_reactions(&mut *self.read.acquire().await?, &mut messages).await?;
        Ok(messages.pop())
    }

    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        let fetch = i64::from(limit) + 1;
        let query = match window {
            Window::Latest => sqlx::query_as(sql::LATEST).bind(room).bind(fetch),
            Window::Before(id) => sqlx::query_as(sql::BEFORE).bind(room).bind(id).bind(fetch),
            Window::Since(id) => sqlx::query_as(sql::SINCE).bind(room).bind(id).bind(fetch),
            Window::SinceSeq(seq) => sqlx::query_as(sql::SINCE_SEQ)
                .bind(room)
                .bind(seq)
                .bind(fetch),
        };
        let rows: Vec<MessageRow> = query.fetch_all(&self.read).await?;
        let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
        with_reactions(&mut *self.read.acquire().await?, &mut messages).await?;
        let purged: Option<i64> = sqlx::query_scalar(sql::PURGED_THROUGH)
            .bind(room)
            .fetch_optional(&self.read)
            .await?;
        Ok(into_page(messages, window, limit, purged))
    }

    /// On the write connection: the read pool is read-only (this waits for a running batch).
    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .execute(&mut *tx)
            .await?;
            let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(value)
        })
        .await
    }

    async fn purge(&self, policy: &RetentionPolicy, batch: u32) -> Result<PurgeReport, StoreError> {
        let mut tally = Tally::default();
        let limit = i64::from(batch);
        if let Some(cutoff) = policy.cutoff_ms() {
            while self
                .purge_batch(
                    sqlx::query_as(sql::DELETE_OLD).bind(cutoff).bind(limit),
                    &mut tally,
                )
                .await?
                >= batch as usize
            {
                tokio::time::sleep(PURGE_PAUSE).await;
            }
        }
        if let Some(keep) = policy.per_room {
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let rooms: Vec<String> = sqlx::query_scalar(sql::ROOMS).fetch_all(&self.read).await?;
            for room in rooms {
                let edge: Option<i64> = sqlx::query_scalar(sql::PER_ROOM_EDGE)
                    .bind(&room)
                    .bind(keep)
                    .fetch_optional(&self.read)
                    .await?;
                let Some(edge) = edge else {
                    continue;
                };
                loop {
                    let q = sqlx::query_as(sql::DELETE_PER_ROOM)
                        .bind(room.as_str())
                        .bind(edge)
                        .bind(limit);
                    let n = self.purge_batch(q, &mut tally).await?;
                    tokio::time::sleep(PURGE_PAUSE).await;
                    if n < batch as usize {
                        break;
                    }
                }
            }
        }
        Ok(tally.report())
    }

    async fn heads(&self, rooms: &[&str]) -> Result<Vec<(String, RoomSeq)>, StoreError> {
        let mut out = Vec::new();
        // One query unless a caller asks for more rooms than SQLite binds in one statement.
        for chunk in rooms.chunks(SQLITE_MAX_PARAMS) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT room, seq FROM room_seq WHERE room IN (");
            let mut list = q.separated(", ");
            for room in chunk {
                list.push_bind(*room);
            }
            q.push(")");
            let rows: Vec<(String, RoomSeq)> = q
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.read)
                .await?;
            out.extend(rows);
        }
        Ok(out)
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

/// The rows `select` (a statement ending in `IN (`) finds for `ids`, one statement per
/// [`SQLITE_MAX_PARAMS`] ids.
async fn fetch_in<T>(
    conn: &mut sqlx::SqliteConnection,
    select: &str,
    ids: &[MessageId],
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(SQLITE_MAX_PARAMS) {
        let mut q = QueryBuilder::<Sqlite>::new(select);
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        out.extend(
            q.build_query_as::<T>()
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(out)
}

/// The reactions of a list of messages: `SELECT ... WHERE message_id IN (`.
fn reactions_of() -> String {
    format!(
        "SELECT {} FROM reactions WHERE message_id IN (",
        sql::REACTION_COLUMNS
    )
}

/// Gives `messages` (messages, not change rows) their reactions: one query for all of them.
async fn with_reactions(
    conn: &mut sqlx::SqliteConnection,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    let ids: Vec<MessageId> = messages
        .iter()
        .filter(|m| m.change.is_none() && !m.deleted)
        .map(|m| m.id)
        .collect();
    let rows: Vec<ReactionSqlRow> = fetch_in(conn, &reactions_of(), &ids).await?;
    sql::attach_reactions(messages, rows);
    Ok(())
}

/// The targets of a batch's changes as they are before it (absent: no such row).
async fn targets(
    conn: &mut sqlx::SqliteConnection,
    ids: &[MessageId],
) -> Result<HashMap<MessageId, Target>, StoreError> {
    let found: Vec<MessageRow> = fetch_in(
        &mut *conn,
        &format!("SELECT {} FROM messages m WHERE m.id IN (", sql::COLUMNS),
        ids,
    )
    .await?;
    let rows: Vec<ReactionSqlRow> = fetch_in(&mut *conn, &reactions_of(), ids).await?;
    Ok(sql::targets(found, rows))
}

async fn insert_batch(
    conn: &mut sqlx::SqliteConnection,
    batch: &[NewMessage],
    audits: &[(usize, NewAudit)],
) -> Result<Vec<Answer>, StoreError> {
    let plan = Plan::new(batch);
    let mut tx = conn.begin().await?;
    let mut existing = Vec::new();
    for keys in plan.keys().chunks(SQLITE_MAX_PARAMS / 2) {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {} FROM messages m JOIN (", sql::COLUMNS));
        q.push_values(keys, |mut row, (room, cid)| {
            row.push_bind(*room).push_bind(*cid);
        });
        q.push(") AS k ON m.room = k.column1 AND m.cid = k.column2");
        let rows: Vec<MessageRow> = q
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        existing.extend(rows.into_iter().map(Message::from));
    }
    let targets = if plan.targets().is_empty() {
        HashMap::new()
    } else {
        targets(&mut tx, &plan.targets()).await?
    };
    let outcomes = plan.outcomes(existing, targets);
    let new = count_new(&outcomes);
    let mut heads: Vec<(String, i64)> = Vec::new();
    for rooms in plan.new_rooms(&outcomes).chunks(SQLITE_MAX_PARAMS / 2) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO room_seq (room, seq) ");
        q.push_values(rooms, |mut row, (room, count)| {
            row.push_bind(*room).push_bind(*count);
        });
        q.push(" ");
        q.push(sql::BUMP_ROOM_SEQ_ON_CONFLICT);
        let rows: Vec<(String, i64)> = q
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        heads.extend(rows);
    }
    let ids: Vec<i64> = if new == 0 {
        Vec::new()
    } else {
        // AUTOINCREMENT's next id: past both the largest id ever used and the largest now.
        let last: i64 = sqlx::query_scalar(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), \
                        COALESCE((SELECT max(id) FROM messages), 0))",
        )
        .fetch_one(&mut *tx)
        .await?;
        (1..=new as i64).map(|k| last + k).collect()
    };
    let stored = plan.answers(outcomes, &ids, &heads)?;
    let rows: Vec<&Message> = new_rows(&stored).collect();
    for chunk in rows.chunks(SQLITE_MAX_PARAMS / 10) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, seq, room, name, text, ts, cid, user_id, kind, target) ",
        );
        q.push_values(chunk, |mut row, m| {
            row.push_bind(m.id)
                .push_bind(m.seq)
                .push_bind(m.room.as_str())
                .push_bind(m.name.as_str())
                .push_bind(m.text.as_str())
                .push_bind(m.ts)
                .push_bind(m.cid.as_deref())
                .push_bind(m.user_id.as_ref().map(UserId::as_str))
                .push_bind(m.change.map_or("message", |c| c.kind.as_str()))
                .push_bind(m.change.map(|c| c.target));
        });
        q.build().persistent(false).execute(&mut *tx).await?;
    }
    // New messages enter the search index after the commit (`SqliteBackend::index_pending`).
    // An edit or delete re-indexes its target here; everything stored before it enters the
    // index first, so the target has exactly one entry (the catch-up would add a second).
    let changes: Vec<&Message> = rows.into_iter().filter(|m| m.change.is_some()).collect();
    if crate::search::index_work(&changes).next().is_some() {
        crate::search::sqlite::index_pending(&mut tx, i64::MAX).await?;
    }
    if !changes.is_empty() {
        crate::apply::on_sqlite::apply_changes(&mut tx, &changes).await?;
    }
    for (at, audit) in audits {
        if matches!(stored.get(*at), Some(Ok(s)) if !s.duplicate) {
            sqlx::query(crate::moderation::sql::INSERT_AUDIT)
                .bind(audit.ts)
                .bind(&audit.actor)
                .bind(&audit.action)
                .bind(&audit.target)
                .bind(&audit.reason)
                .bind(&audit.detail)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(stored)
}
