//! Message search (issue 11): [`Store::search`], and the per-engine index maintenance that every
//! transaction changing a message's text must run in that same transaction.
//!
//! The index holds chatroom-core's terms (`chatroom_core::search::tokens`), never the engines'
//! own word splitting: on SQLite an FTS5 table `message_search` (rowid = message id, the terms
//! space-separated, `ascii` tokenizer), on PostgreSQL the tsvector column `messages.terms`
//! (GIN) built with `array_to_tsvector`. A query is the AND of its terms on both. The memory
//! backend scans with the same tokeniser. Migration 0009 describes the tables.
//!
//! Where the index is kept:
//! - new messages on PostgreSQL: the writer's batch insert (`PgBackend::insert_batch`), same
//!   row, same transaction;
//! - new messages on SQLite: AFTER the commit, by the writer between batches
//!   ([`sqlite::index_pending`], migration 0010's `search_progress` mark), at most about 1 s
//!   or 10,000 rows behind. An FTS5 insert inside every group commit cost about 20% of durable
//!   send throughput (docs/BENCHMARKS.md); in transactions of thousands of rows it costs a
//!   fraction of that. Nobody sees the lag: a search first asks the writer to catch up
//!   (`Store::index_now`), an edit or delete catches up inside its own transaction before it
//!   re-indexes its target, and `open` catches up what a crash left behind;
//! - moderator delete (tombstone): [`sqlite::unindex`] / [`postgres::unindex`] in
//!   `moderation::tombstone`'s transaction;
//! - retention: the SQLite purge batch removes the purged ids' entries (PostgreSQL's column
//!   goes with its row);
//! - edit and author delete (issue 11, another branch): call [`sqlite::reindex`] /
//!   [`postgres::reindex`] (edit) or `unindex` (delete) inside that transaction;
//! - messages stored before migration 0009: [`backfill`] at open.

use crate::backend::Backend;
use crate::{AnyBackend, Store, StoreError};
use chatroom_core::search::index_text;
use chatroom_core::{Message, MessageId, RoomName, SearchQuery};

/// Rooms whose names start with this are direct conversations: searched only when listed as
/// readable by the caller.
pub use chatroom_core::dm::DM_PREFIX;

/// Messages indexed per transaction by [`backfill`].
const BACKFILL_CHUNK: i64 = 5000;

/// Where to search.
#[derive(Debug, Clone, Copy)]
pub enum SearchScope<'a> {
    /// One room. A `dm:` room not in `readable_dms` gives no results.
    Room(&'a RoomName),
    /// Every room except the `dm:` rooms not in `readable_dms`.
    Everywhere,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// Matching messages, newest (highest id) first.
    pub messages: Vec<Message>,
    /// More matches lie below the last one (ask again with `before` = its id).
    pub more: bool,
}

/// Which messages search returns, on the memory backend: the same rule as
/// [`crate::sql::SEARCHABLE`] (keep the two together).
pub(crate) fn searchable(m: &Message) -> bool {
    !m.deleted && m.change.is_none()
}

impl Store {
    /// Up to `limit` messages matching every term of `query`, newest first, with an id below
    /// `before` (if given), in `scope`; `readable_dms`: the `dm:` rooms the caller may read
    /// (every other `dm:` room is left out, also when named as the scope). Deleted messages
    /// (tombstones) are never returned.
    pub async fn search(
        &self,
        query: &SearchQuery,
        scope: SearchScope<'_>,
        readable_dms: &[RoomName],
        before: Option<MessageId>,
        limit: u32,
    ) -> Result<SearchPage, StoreError> {
        if let SearchScope::Room(room) = scope
            && room.as_str().starts_with(DM_PREFIX)
            && !readable_dms.contains(room)
        {
            return Ok(SearchPage {
                messages: Vec::new(),
                more: false,
            });
        }
        // Read-your-writes: every message acknowledged before this search is findable.
        self.index_now().await?;
        let before = before.unwrap_or(MessageId::MAX);
        let fetch = limit.max(1);
        let rows = match &self.backend {
            AnyBackend::Memory(b) => b.search(query, scope, readable_dms, before, fetch),
            AnyBackend::Sqlite(b) => {
                sqlite::search(&b.read, query, scope, readable_dms, before, fetch).await?
            }
            AnyBackend::Postgres(b) => {
                postgres::search(&b.read, query, scope, readable_dms, before, fetch).await?
            }
        };
        Ok(into_page(rows, fetch))
    }
}

/// `limit + 1` rows, newest first, into a page of at most `limit`.
pub(crate) fn into_page(mut rows: Vec<Message>, limit: u32) -> SearchPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    SearchPage {
        messages: rows,
        more,
    }
}

/// Indexes the messages stored before migration 0009 (recorded in `search_backfill`), from the
/// newest down, [`BACKFILL_CHUNK`] per transaction; a no-op once done. Runs in `open`, before
/// the writer starts, so no edit can interleave.
pub(crate) async fn backfill(backend: &AnyBackend) -> Result<(), StoreError> {
    let mut total = 0usize;
    loop {
        let n = match backend {
            AnyBackend::Memory(_) => 0,
            AnyBackend::Sqlite(b) => {
                b.write(async |conn| sqlite::backfill_chunk(conn).await)
                    .await?
            }
            AnyBackend::Postgres(b) => {
                let mut conn = b.write.acquire().await?;
                postgres::backfill_chunk(&mut conn).await?
            }
        };
        if n == 0 {
            break;
        }
        total += n;
    }
    if total > 0 {
        tracing::info!(messages = total, "search index: older messages indexed");
    }
    // Messages committed but not yet indexed when the last process stopped (a crash).
    let caught_up = backend.index_pending().await?;
    if caught_up > 0 {
        tracing::info!(
            rows = caught_up,
            "search index: caught up after the last stop"
        );
    }
    Ok(())
}

/// `backfill_chunk(conn)` for one engine: indexes one chunk of the messages stored before
/// migration 0009 with `$index(conn, &[(id, text)])`, in a transaction of its own; how many it
/// read. The mark only moves down (another process backfilling the same PostgreSQL database at
/// once moves it too).
macro_rules! backfill_chunk_with {
    ($Conn:ty, $index:ident) => {
        pub(crate) async fn backfill_chunk(conn: &mut $Conn) -> Result<usize, StoreError> {
            let mut tx = conn.begin().await?;
            let through: Option<i64> = sqlx::query_scalar("SELECT through FROM search_backfill")
                .fetch_optional(&mut *tx)
                .await?;
            let Some(through) = through else {
                return Ok(0);
            };
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, text FROM messages WHERE id <= $1 AND text <> '' \
                 ORDER BY id DESC LIMIT $2",
            )
            .bind(through)
            .bind(crate::search::BACKFILL_CHUNK)
            .fetch_all(&mut *tx)
            .await?;
            match rows.last() {
                None => {
                    sqlx::query("DELETE FROM search_backfill")
                        .execute(&mut *tx)
                        .await?;
                }
                Some((lowest, _)) => {
                    let rows: Vec<(i64, &str)> =
                        rows.iter().map(|(i, t)| (*i, t.as_str())).collect();
                    $index(&mut tx, &rows).await?;
                    sqlx::query(
                        "UPDATE search_backfill SET through = \
                         CASE WHEN through > $1 THEN $1 ELSE through END",
                    )
                    .bind(lowest - 1)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(rows.len())
        }
    };
}

/// The FTS5 side.
/// What the index must do for one stored change: an edit re-indexes its target with the new
/// text, a delete un-indexes it; reactions change no text.
pub(crate) enum IndexWork<'a> {
    Reindex(MessageId, &'a str),
    Unindex(MessageId),
}

/// The index work of a batch's stored change rows, in order (both SQL backends call this
/// inside the change's transaction, so the index never disagrees with the text).
pub(crate) fn index_work<'a>(changes: &'a [&'a Message]) -> impl Iterator<Item = IndexWork<'a>> {
    changes.iter().filter_map(|row| {
        let change = row.change?;
        match change.kind {
            chatroom_core::ChangeKind::Edit => {
                Some(IndexWork::Reindex(change.target, row.text.as_str()))
            }
            chatroom_core::ChangeKind::Delete => Some(IndexWork::Unindex(change.target)),
            chatroom_core::ChangeKind::React | chatroom_core::ChangeKind::Unreact => None,
        }
    })
}

pub mod sqlite {
    use super::{DM_PREFIX, SearchScope, index_text};
    use crate::StoreError;
    use crate::sql::{self, MessageRow};
    use chatroom_core::{Message, MessageId, RoomName, SearchQuery};
    use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
    use sqlx::{Connection as _, QueryBuilder};

    /// Indexes `rows` (new messages; `(id, text)`) on `conn`, inside the caller's transaction.
    /// Messages without terms (only emoji, say) get no entry.
    pub(crate) async fn index_new(
        conn: &mut SqliteConnection,
        rows: &[(MessageId, &str)],
    ) -> Result<(), StoreError> {
        let entries: Vec<(MessageId, String)> = rows
            .iter()
            .map(|(id, text)| (*id, index_text(text)))
            .filter(|(_, terms)| !terms.is_empty())
            .collect();
        // Two binds a row, far under SQLite's limit of 32766.
        for chunk in entries.chunks(8000) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO message_search (rowid, terms) ");
            q.push_values(chunk, |mut row, (id, terms)| {
                row.push_bind(*id).push_bind(terms.as_str());
            });
            q.build().persistent(false).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Indexes up to `limit` stored rows above `search_progress.indexed_through` (messages
    /// with text; change rows and tombstones are skipped) and moves the mark past them, inside
    /// the caller's transaction; how many rows it looked at (fewer than `limit`: caught up).
    /// New messages are indexed this way after their commit, never inside it (see the module
    /// docs): one FTS5 transaction per few thousand rows instead of one per group commit.
    pub(crate) async fn index_pending(
        conn: &mut SqliteConnection,
        limit: i64,
    ) -> Result<usize, StoreError> {
        let through: i64 = sqlx::query_scalar("SELECT indexed_through FROM search_progress")
            .fetch_one(&mut *conn)
            .await?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, kind, text FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(through)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let Some((last, _, _)) = rows.last() else {
            return Ok(0);
        };
        // The same rule as `sql::SEARCHABLE`.
        let entries: Vec<(i64, &str)> = rows
            .iter()
            .filter(|(_, kind, text)| kind == "message" && !text.is_empty())
            .map(|(id, _, text)| (*id, text.as_str()))
            .collect();
        index_new(&mut *conn, &entries).await?;
        sqlx::query("UPDATE search_progress SET indexed_through = $1")
            .bind(last)
            .execute(&mut *conn)
            .await?;
        Ok(rows.len())
    }

    /// Re-indexes message `id` with its new `text` (an edit). Call inside the transaction
    /// that updates the text.
    pub async fn reindex(
        conn: &mut SqliteConnection,
        id: MessageId,
        text: &str,
    ) -> Result<(), StoreError> {
        unindex(&mut *conn, id).await?;
        index_new(conn, &[(id, text)]).await
    }

    /// Removes message `id` from the index (a delete). Call inside the transaction that
    /// makes the tombstone. Removing an id that has no entry does nothing.
    pub async fn unindex(conn: &mut SqliteConnection, id: MessageId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM message_search WHERE rowid = $1")
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Removes the entries of purged messages (retention), inside the purge's transaction.
    pub(crate) async fn unindex_many(
        conn: &mut SqliteConnection,
        ids: &[MessageId],
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(30000) {
            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM message_search WHERE rowid IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            q.build().persistent(false).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The FTS5 query for `query`: each term as a quoted string, side by side (AND). Terms are
    /// letters, digits and marks only, so they need no escaping; doubling `"` keeps it safe
    /// should that ever change.
    fn fts_query(query: &SearchQuery) -> String {
        query
            .terms()
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Up to `limit + 1` matches with id < `before`, newest first. FTS5 walks the terms'
    /// posting lists by descending rowid and stops after `limit + 1` rows that pass the join's
    /// filters. `CROSS JOIN` makes SQLite keep that order of the loops: left to choose, it took
    /// (apparently) the room's messages as the outer loop for a room-scoped search, probing the
    /// index per message: 676 ms for a frequent word in one room over 1,000,000 messages, 14 ms
    /// with `CROSS JOIN` (docs/BENCHMARKS.md, search).
    pub(crate) async fn search(
        read: &SqlitePool,
        query: &SearchQuery,
        scope: SearchScope<'_>,
        readable_dms: &[RoomName],
        before: MessageId,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM message_search CROSS JOIN messages m ON m.id = message_search.rowid \
             WHERE message_search MATCH ",
            sql::COLUMNS
        ));
        q.push_bind(fts_query(query));
        q.push(" AND message_search.rowid < ");
        q.push_bind(before);
        q.push(format!(" AND {} AND ", sql::SEARCHABLE));
        match scope {
            SearchScope::Room(room) => {
                q.push("m.room = ");
                q.push_bind(room.as_str());
            }
            SearchScope::Everywhere => {
                q.push(format!("(substr(m.room, 1, 3) <> '{DM_PREFIX}'"));
                if !readable_dms.is_empty() {
                    q.push(" OR m.room IN (");
                    let mut list = q.separated(", ");
                    for room in readable_dms.iter().take(30000) {
                        list.push_bind(room.as_str());
                    }
                    q.push(")");
                }
                q.push(")");
            }
        }
        q.push(" ORDER BY message_search.rowid DESC LIMIT ");
        q.push_bind(i64::from(limit) + 1);
        let rows: Vec<MessageRow> = q.build_query_as().persistent(false).fetch_all(read).await?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    backfill_chunk_with!(SqliteConnection, index_new);
}

/// The tsvector side.
pub mod postgres {
    use super::{DM_PREFIX, SearchScope, index_text};
    use crate::StoreError;
    use crate::sql::{self, MessageRow};
    use chatroom_core::{Message, MessageId, RoomName, SearchQuery};
    use sqlx::Connection as _;
    use sqlx::postgres::{PgConnection, PgPool};

    /// The tsvector of index text `$N` (terms separated by single spaces): one lexeme per
    /// term, verbatim. Used by the batch insert, [`reindex`] and the backfill.
    pub(crate) fn terms_of(param: &str) -> String {
        format!("array_to_tsvector(string_to_array({param}, ' '))")
    }

    /// Re-indexes message `id` with its new `text` (an edit). Call inside the transaction
    /// that updates the text (or set `terms` in that same UPDATE with the same expression).
    pub async fn reindex(
        conn: &mut PgConnection,
        id: MessageId,
        text: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE messages SET terms = {} WHERE id = $1",
            terms_of("$2")
        ))
        .bind(id)
        .bind(index_text(text))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Removes message `id` from the index (a delete). Call inside the transaction that
    /// makes the tombstone.
    pub async fn unindex(conn: &mut PgConnection, id: MessageId) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET terms = NULL WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The tsquery for `query`: each term quoted (taken verbatim, no parsing), joined with
    /// `&`. Terms are letters, digits and marks only; doubling `'` and `\` keeps it safe
    /// should that ever change.
    fn ts_query(query: &SearchQuery) -> String {
        query
            .terms()
            .iter()
            .map(|t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// Index matches below which a search sorts the matches instead of walking the table
    /// newest first (see [`search`]).
    const SELECTIVE_BELOW: i64 = 500;

    /// Up to `limit + 1` matches with id < `before`, newest first.
    pub(crate) async fn search(
        read: &PgPool,
        query: &SearchQuery,
        scope: SearchScope<'_>,
        readable_dms: &[RoomName],
        before: MessageId,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let room_filter = match scope {
            SearchScope::Room(_) => "m.room = $3".to_owned(),
            SearchScope::Everywhere => {
                format!("(substr(m.room, 1, 3) <> '{DM_PREFIX}' OR m.room = ANY($3))")
            }
        };
        let terms = ts_query(query);
        // Which plan. For `ORDER BY id DESC LIMIT n` the planner walks the primary key
        // backwards, testing each row, whenever it believes the query matches often; for a
        // term it has no statistics on (a rare word, or one that never occurs) it guesses
        // hundreds of matches, so such a search read the whole table (0.5 s at 1,000,000
        // messages). A probe counts the index's matches first, up to a cap (answered by the
        // GIN index for a rare term, by the first rows of a scan for a frequent one). Under the
        // cap the matches are sorted (`m.id + 0` cannot follow the primary key, so the planner
        // takes them from the GIN index); at the cap the backwards walk stops early.
        let probe: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM messages WHERE terms @@ $1::tsquery LIMIT $2) AS p",
        )
        .bind(&terms)
        .bind(SELECTIVE_BELOW)
        .fetch_one(read)
        .await?;
        let order = if probe < SELECTIVE_BELOW {
            "m.id + 0"
        } else {
            "m.id"
        };
        let statement = format!(
            "SELECT {} FROM messages m \
             WHERE m.terms @@ $1::tsquery AND m.id < $2 AND {} AND {room_filter} \
             ORDER BY {order} DESC LIMIT $4",
            sql::COLUMNS,
            sql::SEARCHABLE
        );
        let q = sqlx::query_as(&statement).bind(terms).bind(before);
        let q = match scope {
            SearchScope::Room(room) => q.bind(room.as_str()),
            SearchScope::Everywhere => q.bind(
                readable_dms
                    .iter()
                    .map(RoomName::as_str)
                    .collect::<Vec<_>>(),
            ),
        };
        let rows: Vec<MessageRow> = q.bind(i64::from(limit) + 1).fetch_all(read).await?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    backfill_chunk_with!(PgConnection, index_rows);

    /// Sets the terms of `rows` (`(id, text)`, stored messages) in one statement.
    async fn index_rows(
        conn: &mut PgConnection,
        rows: &[(MessageId, &str)],
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let terms: Vec<String> = rows.iter().map(|(_, text)| index_text(text)).collect();
        sqlx::query(&format!(
            "UPDATE messages SET terms = {} \
             FROM UNNEST($1::int8[], $2::text[]) AS t(id, x) WHERE messages.id = t.id",
            terms_of("t.x")
        ))
        .bind(&ids)
        .bind(&terms)
        .execute(conn)
        .await?;
        Ok(())
    }
}
