//! The seam between the writer/readers and the SQL: one trait, implemented by the memory, SQLite
//! and PostgreSQL backends. Native `async fn`-style methods (no `dyn`): the writer task is generic
//! over the backend, and [`crate::Store`] dispatches reads through the [`AnyBackend`] enum, so
//! the server sees one non-generic type.

use crate::memory::MemoryBackend;
use crate::postgres::PgBackend;
use crate::retention::{PurgeReport, RetentionPolicy};
use crate::sqlite::SqliteBackend;
use crate::{Page, StoreError};
use chatroom_core::{Message, MessageId, NewMessage, UserId};
use std::collections::{HashMap, HashSet};
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

    /// The value stored under `name` in `settings`; if there is none, `fresh` is stored first
    /// (insert-if-absent, so concurrent callers on one database all get the first one stored).
    fn setting_or_insert(
        &self,
        name: &str,
        fresh: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// One purge round: removes what `policy` does not keep, at most `batch` rows per
    /// transaction with a pause in between, and records each room's purged-through id.
    fn purge(
        &self,
        policy: &RetentionPolicy,
        batch: u32,
    ) -> impl Future<Output = Result<PurgeReport, StoreError>> + Send;

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

    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self {
            AnyBackend::Memory(b) => b.setting_or_insert(name, fresh).await,
            AnyBackend::Sqlite(b) => b.setting_or_insert(name, fresh).await,
            AnyBackend::Postgres(b) => b.setting_or_insert(name, fresh).await,
        }
    }

    async fn purge(&self, policy: &RetentionPolicy, batch: u32) -> Result<PurgeReport, StoreError> {
        match self {
            AnyBackend::Memory(b) => b.purge(policy, batch).await,
            AnyBackend::Sqlite(b) => b.purge(policy, batch).await,
            AnyBackend::Postgres(b) => b.purge(policy, batch).await,
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
/// `purged`: the room's purged-through id, read AFTER the rows (so a purge between the two
/// reads can only make `truncated` true needlessly, never hide a gap).
pub(crate) fn into_page(
    mut rows: Vec<Message>,
    window: Window,
    limit: u32,
    purged: Option<MessageId>,
) -> Page {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if !matches!(window, Window::Since(_)) {
        rows.reverse();
    }
    Page {
        messages: rows,
        more,
        truncated: crate::retention::truncated(window, more, purged),
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
    user_id: Option<String>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: r.id,
            room: r.room,
            name: r.name,
            ts: r.ts,
            cid: r.cid,
            // Only validated ids are written; one that no longer validates (rules tightened
            // later) is shown without attribution rather than failing the whole page.
            user_id: r.user_id.and_then(|u| UserId::try_from(u).ok()),
            from_seed: false,
            // A moderator's delete leaves the row with empty text (crate::moderation).
            deleted: r.text.is_empty(),
            text: r.text,
        }
    }
}

/// What becomes of one request of a batch, decided before anything is written.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its (room, cid) was stored by an earlier batch: answer with that message.
    Existing(Arc<Message>),
    /// A new row.
    New,
    /// Its (room, cid) repeats the request at this earlier index of the batch, which is `New`.
    Repeat(usize),
}

/// Plans a batch without touching the database: the distinct (room, cid) pairs to look up, then
/// (given what the lookup found) each request's [`Outcome`]. With one writer and the lookup in
/// the same transaction as the insert, no row can appear in between from this process; another
/// process inserting the same (room, cid) or id makes the insert fail on the unique constraint
/// (a data error: the batch is retried one message at a time, and the lookup then finds it).
pub(crate) struct Plan<'a> {
    batch: &'a [NewMessage],
}

impl<'a> Plan<'a> {
    pub(crate) fn new(batch: &'a [NewMessage]) -> Self {
        Plan { batch }
    }

    /// The distinct (room, cid) pairs of the batch, in first-seen order.
    pub(crate) fn keys(&self) -> Vec<(&'a str, &'a str)> {
        let mut seen = HashSet::new();
        self.batch
            .iter()
            .filter_map(|m| Some((m.room.as_str(), m.cid.as_ref()?.as_str())))
            .filter(|k| seen.insert(*k))
            .collect()
    }

    /// Each request's outcome, given the stored messages the lookup of [`Plan::keys`] found.
    pub(crate) fn outcomes(&self, existing: Vec<Message>) -> Vec<Outcome> {
        let stored: HashMap<(String, String), Arc<Message>> = existing
            .into_iter()
            .filter_map(|m| Some(((m.room.clone(), m.cid.clone()?), Arc::new(m))))
            .collect();
        let mut first_new: HashMap<(&str, &str), usize> = HashMap::new();
        let mut out = Vec::with_capacity(self.batch.len());
        for (i, m) in self.batch.iter().enumerate() {
            let Some(key) = m.cid.as_ref().map(|c| (m.room.as_str(), c.as_str())) else {
                out.push(Outcome::New);
                continue;
            };
            if let Some(original) = stored.get(&(key.0.to_owned(), key.1.to_owned())) {
                out.push(Outcome::Existing(Arc::clone(original)));
            } else if let Some(&first) = first_new.get(&key) {
                out.push(Outcome::Repeat(first));
            } else {
                first_new.insert(key, i);
                out.push(Outcome::New);
            }
        }
        out
    }

    /// The answers, given the id of each `New` outcome in batch order (`ids` must have exactly
    /// one per `New`, ascending, so ids follow the order the requests were queued).
    pub(crate) fn answers(&self, outcomes: Vec<Outcome>, ids: &[MessageId]) -> Vec<Stored> {
        let mut ids = ids.iter().copied();
        let mut out: Vec<Stored> = Vec::with_capacity(self.batch.len());
        for (new, outcome) in self.batch.iter().zip(outcomes) {
            let stored = match outcome {
                Outcome::Existing(message) => Stored {
                    message,
                    duplicate: true,
                },
                Outcome::New => {
                    // The backends allocate exactly one id per `New` (they check the count).
                    let id = ids.next().expect("one id per new message");
                    Stored {
                        message: Arc::new(Message::stored(id, new)),
                        duplicate: false,
                    }
                }
                Outcome::Repeat(first) => Stored {
                    // As reading it back would give it: `from_seed` is not stored.
                    message: Arc::new(Message {
                        from_seed: false,
                        ..Message::clone(&out[first].message)
                    }),
                    duplicate: true,
                },
            };
            out.push(stored);
        }
        out
    }
}

/// Number of `New` outcomes (rows to insert).
pub(crate) fn count_new(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::New))
        .count()
}

/// SQL shared by SQLite and PostgreSQL (sqlx binds `$N` on both).
pub(crate) mod sql {
    /// The columns [`super::MessageRow`] reads, in order, for `SELECT`s of `messages m`.
    pub const COLUMNS: &str = "m.id, m.room, m.name, m.text, m.ts, m.cid, m.user_id";
    /// Newest first: $1 room, $2 limit.
    pub const LATEST: &str = "SELECT id, room, name, text, ts, cid, user_id FROM messages \
         WHERE room = $1 ORDER BY id DESC LIMIT $2";
    /// Newest first below an id: $1 room, $2 before, $3 limit.
    pub const BEFORE: &str = "SELECT id, room, name, text, ts, cid, user_id FROM messages \
         WHERE room = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
    /// Oldest first above an id: $1 room, $2 since, $3 limit.
    pub const SINCE: &str = "SELECT id, room, name, text, ts, cid, user_id FROM messages \
         WHERE room = $1 AND id > $2 ORDER BY id ASC LIMIT $3";
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Plan, count_new};
    use chatroom_core::{Cid, Limits, Message, NewMessage, RoomName, UserName};

    fn msg(room: &str, cid: Option<&str>) -> NewMessage {
        NewMessage::new(
            RoomName::new(room).unwrap(),
            UserName::new("a").unwrap(),
            format!("in {room}"),
            cid.map(|c| Cid::new(c).unwrap()),
            &Limits::default(),
            7,
        )
        .unwrap()
    }

    #[test]
    fn plan_dedups_against_store_and_within_batch() {
        let batch = [
            msg("r1", Some("a")), // already stored
            msg("r1", Some("b")), // new
            msg("r2", Some("b")), // new: other room
            msg("r1", Some("b")), // repeat of index 1
            msg("r1", None),      // new: no cid never conflicts
            msg("r1", None),      // new
            msg("r1", Some("a")), // already stored
        ];
        let plan = Plan::new(&batch);
        assert_eq!(plan.keys(), vec![("r1", "a"), ("r1", "b"), ("r2", "b")]);
        let original = Message {
            id: 3,
            text: "original".into(),
            ..Message::stored(3, &batch[0])
        };
        let outcomes = plan.outcomes(vec![original.clone()]);
        assert_eq!(count_new(&outcomes), 4);
        assert!(matches!(outcomes[3], Outcome::Repeat(1)));
        let answers = plan.answers(outcomes, &[10, 11, 12, 13]);
        let got: Vec<(i64, bool)> = answers
            .iter()
            .map(|s| (s.message.id, s.duplicate))
            .collect();
        assert_eq!(
            got,
            [
                (3, true),
                (10, false),
                (11, false),
                (10, true),
                (12, false),
                (13, false),
                (3, true)
            ]
        );
        assert_eq!(*answers[0].message, original);
        assert_eq!(answers[3].message.room, "r1");
        assert_eq!(answers[2].message.room, "r2");
    }
}
