//! PostgreSQL backend. The writer task's pool has one connection; reads use a small pool. Both
//! reconnect by themselves when the database comes back after an outage.
//!
//! URL: anything sqlx's `PgConnectOptions` accepts (`postgres://` or `postgresql://`), plus one
//! parameter of our own, `schema=NAME` (ASCII letters, digits, `_`): the schema is created if
//! missing and becomes the connections' only `search_path`, so the table and the migration
//! bookkeeping live there (tests use one schema each). sqlx's own
//! `options=-c%20search_path%3DNAME` works too, but then the schema must already exist.
//!
//! Retention: a purge round runs on one connection of the read pool (never the writer's, so
//! appends do not wait for it; MVCC keeps deletes and inserts apart) holding the session
//! advisory lock ([`PURGE_LOCK_KEY`], hash of the schema): in a cluster one process purges, the
//! others skip their round. That connection is closed after the round, so the lock can never outlive it.
//! Space: deleted rows are reclaimed by autovacuum and reused by new rows (no VACUUM FULL).

use crate::backend::{Answer, Backend, Plan, Target, Window, count_new, into_page, new_rows};
use crate::error::redact;
use crate::retention::{PURGE_LOCK_KEY, PURGE_PAUSE, PurgeReport, RetentionPolicy, Tally};
use crate::sql::{self, MessageRow, ReactionSqlRow};
use crate::{NewAudit, Page, StoreError};
use chatroom_core::{Message, MessageId, NewMessage, RoomSeq, UserId};
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres,
};
use sqlx::{ConnectOptions, Connection};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long `open` waits for the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read or a batch waits for a connection at runtime before failing (`unavailable`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
const READ_CONNECTIONS: u32 = 4;
/// Records a batch's highest purged id of a room: $1 room, $2 id.
const UPSERT_PURGED: &str = "INSERT INTO purged (room, through) VALUES ($1, $2) \
     ON CONFLICT (room) DO UPDATE SET through = GREATEST(purged.through, excluded.through)";

/// A purge batch's `DELETE ... RETURNING room, id`.
type DeleteQuery<'q> = sqlx::query::QueryAs<'q, Postgres, (String, i64), PgArguments>;

/// One purge transaction on `conn`: runs `delete`, records the rooms' purged-through ids,
/// commits. The number of rows removed.
async fn purge_batch(
    conn: &mut PgConnection,
    delete: DeleteQuery<'_>,
    tally: &mut Tally,
) -> Result<usize, StoreError> {
    let mut tx = conn.begin().await?;
    let rows: Vec<(String, i64)> = delete.fetch_all(&mut *tx).await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    // The purged messages' reactions go with them (no foreign key: the writer inserts them).
    let ids: Vec<i64> = rows.iter().map(|(_, id)| *id).collect();
    sqlx::query("DELETE FROM reactions WHERE message_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    for (room, through) in tally.add(&rows) {
        sqlx::query(UPSERT_PURGED)
            .bind(room)
            .bind(through)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// A purge round on `conn`, which holds the purge lock.
async fn purge_locked(
    conn: &mut PgConnection,
    policy: &RetentionPolicy,
    batch: u32,
) -> Result<PurgeReport, StoreError> {
    let mut tally = Tally::default();
    let limit = i64::from(batch);
    if let Some(cutoff) = policy.cutoff_ms() {
        while purge_batch(
            conn,
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
        let rooms: Vec<String> = sqlx::query_scalar(sql::ROOMS).fetch_all(&mut *conn).await?;
        for room in rooms {
            let edge: Option<i64> = sqlx::query_scalar(sql::PER_ROOM_EDGE)
                .bind(&room)
                .bind(keep)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(edge) = edge else {
                continue;
            };
            loop {
                let q = sqlx::query_as(sql::DELETE_PER_ROOM)
                    .bind(room.clone())
                    .bind(edge)
                    .bind(limit);
                let n = purge_batch(conn, q, &mut tally).await?;
                tokio::time::sleep(PURGE_PAUSE).await;
                if n < batch as usize {
                    break;
                }
            }
        }
    }
    Ok(tally.report())
}

/// The writer's pool (one connection) and the read pool.
#[derive(Clone)]
pub(crate) struct PgBackend {
    pub(crate) write: PgPool,
    pub(crate) read: PgPool,
}

/// Connects to `url`, creates the `schema=` schema if one is named, and runs the migrations.
pub(crate) async fn open(url: &str) -> Result<PgBackend, StoreError> {
    let shown = redact(url);
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: shown.clone(),
        reason,
    };
    let (url, schema) = split_schema(url).map_err(invalid)?;
    let mut opts = PgConnectOptions::from_str(&url).map_err(|e| invalid(e.to_string()))?;
    if let Some(schema) = &schema {
        opts = opts.options([("search_path", schema.as_str())]);
    }
    let target = format!(
        "postgres://{}@{}:{}/{}{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or(""),
        schema
            .as_deref()
            .map(|s| format!(" (schema {s})"))
            .unwrap_or_default()
    );
    let connect_err = |e| StoreError::Connect {
        target: target.clone(),
        source: Arc::new(e),
    };

    // A direct connection first: the pool would retry a refused connection until its timeout
    // and then report only "pool timed out".
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, opts.connect())
        .await
        .map_err(|_| {
            connect_err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {CONNECT_TIMEOUT:?}"),
            )))
        })?
        .map_err(connect_err)?;
    if let Some(schema) = &schema {
        // `schema` is validated to [A-Za-z0-9_]+, so quoting it is enough.
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await
            .map_err(connect_err)?;
    }
    conn.close().await.map_err(connect_err)?;

    let write = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(opts.clone())
        .await
        .map_err(connect_err)?;
    sqlx::migrate!("migrations/postgres")
        .run(&write)
        .await
        .map_err(|e| StoreError::Migrate {
            target: target.clone(),
            source: Arc::new(e),
        })?;
    let read = PgPoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(opts);
    Ok(PgBackend { write, read })
}

/// The new rows of a batch, column by column (bound as one array each).
struct Columns<'a> {
    id: Vec<i64>,
    seq: Vec<i64>,
    room: Vec<&'a str>,
    name: Vec<&'a str>,
    text: Vec<&'a str>,
    ts: Vec<i64>,
    cid: Vec<Option<&'a str>>,
    user_id: Vec<Option<&'a str>>,
    kind: Vec<&'a str>,
    target: Vec<Option<i64>>,
    /// The search terms (`chatroom_core::search::index_text`), made into `terms` in SQL.
    terms: Vec<String>,
}

impl Columns<'_> {
    fn with_capacity(n: usize) -> Self {
        Columns {
            id: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            room: Vec::with_capacity(n),
            name: Vec::with_capacity(n),
            text: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            cid: Vec::with_capacity(n),
            user_id: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            target: Vec::with_capacity(n),
            terms: Vec::with_capacity(n),
        }
    }
}

/// Gives `messages` (messages, not change rows) their reactions: one query for all of them.
async fn with_reactions(
    conn: &mut PgConnection,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    let ids: Vec<MessageId> = messages
        .iter()
        .filter(|m| m.change.is_none() && !m.deleted)
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<ReactionSqlRow> = sqlx::query_as(&format!(
        "SELECT {} FROM reactions WHERE message_id = ANY($1)",
        sql::REACTION_COLUMNS
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    sql::attach_reactions(messages, rows);
    Ok(())
}

/// The targets of a batch's changes as they are before it (absent: no such row), locked until
/// the transaction ends (`ids` ascending, so batches of two nodes lock them in one order, and
/// before any `room_seq` row): a change made meanwhile by another node is waited for and then
/// seen, so two nodes cannot both delete, or both add the same reaction.
async fn targets(
    conn: &mut PgConnection,
    ids: &[MessageId],
) -> Result<HashMap<MessageId, Target>, StoreError> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {} FROM messages m WHERE m.id = ANY($1) ORDER BY m.id FOR UPDATE",
        sql::COLUMNS
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let reactions: Vec<ReactionSqlRow> = sqlx::query_as(&format!(
        "SELECT {} FROM reactions WHERE message_id = ANY($1)",
        sql::REACTION_COLUMNS
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(sql::targets(rows, reactions))
}

/// Removes our `schema=NAME` parameter from `url`; returns the rest and the schema.
fn split_schema(url: &str) -> Result<(String, Option<String>), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("schema=") {
            Some(name) => {
                if name.is_empty()
                    || name.len() > 63
                    || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "schema must be 1-63 ASCII letters, digits or '_', got {name:?}"
                    ));
                }
                schema = Some(name.to_owned());
            }
            None => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, schema))
}

impl Backend for PgBackend {
    /// Four statements per batch whatever its size (each column travels as one array), in one
    /// transaction:
    /// 1. look up the batch's (room, cid) pairs (duplicates);
    /// 2. add each room's count of new rows to its `room_seq` counter, rooms in ascending
    ///    order (one upsert; see below), getting each counter's new value;
    /// 3. take one id per new row from the identity sequence;
    /// 4. insert the new rows with those ids and seqs.
    ///
    /// Why this is correct with several processes on one database: the upsert leaves each
    /// room's counter row locked until this transaction ends, so another process's batch for
    /// the same room waits at step 2 and then (READ COMMITTED re-reads the committed row)
    /// continues from our committed value — seqs follow commit order, without holes (a
    /// rolled-back batch rolls its counter back too). Locks are always taken in ascending room
    /// order (the `ORDER BY` feeds the insert row by row in that order), so two batches sharing
    /// rooms cannot deadlock. Ids are taken only after the locks are held, so within a room ids
    /// also increase in commit order, and `since`/`before` by id stay exact across processes.
    /// The ids and seqs are assigned here in batch order, so nothing depends on the order in
    /// which PostgreSQL evaluates `nextval`, inserts rows or returns them. A (room, cid)
    /// inserted meanwhile by another process makes the insert fail on the unique constraint
    /// (then the batch is retried message by message, and the lookup finds it).
    async fn insert_batch(
        &self,
        batch: &[NewMessage],
        audits: &[(usize, NewAudit)],
    ) -> Result<Vec<Answer>, StoreError> {
        let plan = Plan::new(batch);
        let (rooms, cids): (Vec<&str>, Vec<&str>) = plan.keys().into_iter().unzip();
        let mut tx = self.write.begin().await?;
        let existing: Vec<MessageRow> = if rooms.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(&format!(
                "SELECT {} FROM messages m \
                 JOIN UNNEST($1::text[], $2::text[]) AS k(room, cid) \
                 ON m.room = k.room AND m.cid = k.cid",
                sql::COLUMNS
            ))
            .bind(&rooms)
            .bind(&cids)
            .fetch_all(&mut *tx)
            .await?
        };
        let wanted = plan.targets();
        let targets = if wanted.is_empty() {
            HashMap::new()
        } else {
            targets(&mut tx, &wanted).await?
        };
        let outcomes = plan.outcomes(existing.into_iter().map(Message::from).collect(), targets);
        let new = count_new(&outcomes);
        let (seq_rooms, seq_counts): (Vec<&str>, Vec<i64>) =
            plan.new_rooms(&outcomes).into_iter().unzip();
        let heads: Vec<(String, i64)> = if new == 0 {
            Vec::new()
        } else {
            sqlx::query_as(&format!(
                "INSERT INTO room_seq (room, seq) \
                 SELECT room, n FROM UNNEST($1::text[], $2::int8[]) AS b(room, n) \
                 ORDER BY room {}",
                sql::BUMP_ROOM_SEQ_ON_CONFLICT
            ))
            .bind(&seq_rooms)
            .bind(&seq_counts)
            .fetch_all(&mut *tx)
            .await?
        };
        let mut ids: Vec<i64> = if new == 0 {
            Vec::new()
        } else {
            sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('messages', 'id')) \
                 FROM generate_series(1::int8, $1)",
            )
            .bind(new as i64)
            .fetch_all(&mut *tx)
            .await?
        };
        ids.sort_unstable();
        let stored = plan.answers(outcomes, &ids, &heads)?;
        if new > 0 {
            let mut columns = Columns::with_capacity(new);
            for m in new_rows(&stored) {
                columns.id.push(m.id);
                columns.seq.push(m.seq);
                columns.room.push(&m.room);
                columns.name.push(&m.name);
                columns.text.push(&m.text);
                columns.ts.push(m.ts);
                columns.cid.push(m.cid.as_deref());
                columns.user_id.push(m.user_id.as_ref().map(UserId::as_str));
                columns
                    .kind
                    .push(m.change.map_or("message", |c| c.kind.as_str()));
                columns.target.push(m.change.map(|c| c.target));
                // Only messages are searchable (an edit re-indexes its target below).
                columns.terms.push(if m.change.is_none() {
                    chatroom_core::search::index_text(&m.text)
                } else {
                    String::new()
                });
            }
            // The search index (`terms`) in the same statement, so in the same transaction.
            sqlx::query(&format!(
                "INSERT INTO messages (id, seq, room, name, text, ts, cid, user_id, kind, target, terms) \
                 OVERRIDING SYSTEM VALUE \
                 SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, {} \
                 FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], \
                             $5::text[], $6::int8[], $7::text[], $8::text[], \
                             $9::text[], $10::int8[], $11::text[]) \
                      AS r(id, seq, room, name, text, ts, cid, user_id, kind, target, x)",
                crate::search::postgres::terms_of("r.x")
            ))
            .bind(&columns.id)
            .bind(&columns.seq)
            .bind(&columns.room)
            .bind(&columns.name)
            .bind(&columns.text)
            .bind(&columns.ts)
            .bind(&columns.cid)
            .bind(&columns.user_id)
            .bind(&columns.kind)
            .bind(&columns.target)
            .bind(&columns.terms)
            .execute(&mut *tx)
            .await?;
            let changes: Vec<&Message> = new_rows(&stored).filter(|m| m.change.is_some()).collect();
            if !changes.is_empty() {
                crate::apply::on_postgres::apply_changes(&mut tx, &changes).await?;
            }
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

    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let row: Option<MessageRow> = sqlx::query_as(sql::MESSAGE)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        let mut messages: Vec<Message> = row.into_iter().map(Message::from).collect();
        with_reactions(&mut *self.read.acquire().await?, &mut messages).await?;
        Ok(messages.pop())
    }

    /// On the read pool (its connections can write), so it never waits for the writer. Two
    /// processes racing: one insert wins, the other does nothing, both read the winner's value.
    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.read)
        .await?;
        let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(name)
            .fetch_one(&self.read)
            .await?;
        Ok(value)
    }

    async fn purge(&self, policy: &RetentionPolicy, batch: u32) -> Result<PurgeReport, StoreError> {
        let mut conn = self.read.acquire().await?;
        // Closed instead of returned to the pool, even if this future is dropped mid-round:
        // the session, and with it the advisory lock, ends with the round.
        conn.close_on_drop();
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
                .bind(PURGE_LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?;
        if !locked {
            return Ok(PurgeReport {
                skipped: true,
                ..PurgeReport::default()
            });
        }
        let report = purge_locked(&mut conn, policy, batch).await?;
        sqlx::query("SELECT pg_advisory_unlock($1, hashtext(current_schema()))")
            .bind(PURGE_LOCK_KEY)
            .execute(&mut *conn)
            .await?;
        Ok(report)
    }

    async fn heads(&self, rooms: &[&str]) -> Result<Vec<(String, RoomSeq)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT room, seq FROM room_seq WHERE room = ANY($1)")
                .bind(rooms)
                .fetch_all(&self.read)
                .await?,
        )
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

#[cfg(test)]
mod tests {
    use super::split_schema;

    #[test]
    fn schema_parameter_is_split_off() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=t_1&sslmode=disable").unwrap(),
            (
                "postgres://u@h/db?sslmode=disable".into(),
                Some("t_1".into())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db?schema=x").unwrap(),
            ("postgres://u@h/db".into(), Some("x".into()))
        );
        assert_eq!(
            split_schema("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".into(), None)
        );
        assert!(split_schema("postgres://u@h/db?schema=a;drop").is_err());
        assert!(split_schema("postgres://u@h/db?schema=").is_err());
    }
}
