//! Direct messages and read positions (issue 11): who takes part in each DM room, and how far
//! each user has read in each room. Kept beside the message writer, like moderation: these are
//! small writes of their own (opening a conversation, moving a read position) that must never
//! wait behind a group commit — on PostgreSQL they use the read pool (whose connections can
//! write), on SQLite the one write connection between two batches.
//!
//! A DM room's name is computed from its two user ids (`chatroom_core::dm_room`); the store only
//! records the pair, so the server can tell a participant from anyone else and list a user's
//! conversations. A read position is a message id; it only ever moves forward, and never past
//! the room's newest row, so a client cannot hide messages it has not seen yet from itself.
//!
//! Unread counts: the reader's messages after its position, not its own, not deleted, and only
//! rows that are messages ([`crate::sql::ORDINARY`], [`ordinary`]: the one place the change
//! rows of migration 0007 are left out). Counts stop at [`UNREAD_CAP`]: a room nobody has read
//! for a year costs one bounded index range, not a scan of its history.

use crate::{AnyBackend, Store, StoreError};
use chatroom_core::mention::mentions;
use chatroom_core::{Message, MessageId, RoomName, UserId, UserName};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Unread counts (and the mentions among them) stop here; a client shows `999+`.
pub const UNREAD_CAP: u32 = 1000;
/// Most conversations [`Store::conversations`] returns (the newest by activity).
pub const MAX_CONVERSATIONS: usize = 100;
/// [`Store::seen_user`] looks for a sender among this many newest message ids: a bounded range
/// of the primary key, because an index on the sender would slow every send.
pub const SEEN_WINDOW: i64 = 100_000;

/// One participant of a DM room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmPeer {
    /// Their user id.
    pub user_id: UserId,
    /// Their name when the conversation was last opened by either side.
    pub name: String,
}

/// Where a user stands in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The stored read position (a message id); `None` if the user never sent one.
    pub read: Option<MessageId>,
    /// Messages after it, not the user's own, not deleted (at most [`UNREAD_CAP`]).
    pub unread: u32,
    /// How many of those mention the user (`chatroom_core::mention`).
    pub mentions: u32,
}

/// One of a user's DM conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The DM room.
    pub room: String,
    /// The other participant.
    pub with: DmPeer,
    /// The newest message of the room, if any.
    pub last: Option<Message>,
    /// The user's read position and counts in it.
    pub state: ReadState,
}

/// Whether a stored row is a message (not a change row of migration 0007): the memory
/// backend's twin of [`crate::sql::ORDINARY`].
fn ordinary(message: &Message) -> bool {
    message.change.is_none()
}

/// Whether `message` counts as unread for `reader` after position `after`.
fn unread_for(message: &Message, reader: &UserId, after: MessageId) -> bool {
    message.id > after
        && ordinary(message)
        && !message.deleted
        && message.user_id.as_ref() != Some(reader)
}

/// The memory backend's two tables.
#[derive(Debug, Default)]
pub(crate) struct MemoryTables {
    /// room → (user id → name).
    members: BTreeMap<String, BTreeMap<String, String>>,
    /// (user id, room) → message id.
    reads: HashMap<(String, String), MessageId>,
}

/// Shared handle to [`MemoryTables`], one per memory store.
pub(crate) type SharedTables = Arc<Mutex<MemoryTables>>;

fn lock(tables: &SharedTables) -> MutexGuard<'_, MemoryTables> {
    // Every change below is one insert: a panic cannot leave half of one.
    tables.lock().unwrap_or_else(|p| p.into_inner())
}

/// A stored user id that no longer validates (rules tightened later) is skipped, not fatal.
fn peer(user_id: String, name: String) -> Option<DmPeer> {
    Some(DmPeer {
        user_id: UserId::try_from(user_id).ok()?,
        name,
    })
}

/// SQL shared by SQLite and PostgreSQL (`$N` binds on both).
mod sql {
    use super::UNREAD_CAP;
    use crate::sql::ORDINARY;
    use std::sync::LazyLock;

    pub const UPSERT_MEMBER: &str = "INSERT INTO dm_members (room, user_id, name) \
        VALUES ($1, $2, $3) ON CONFLICT (room, user_id) DO UPDATE SET name = excluded.name";
    pub const COUNT_MEMBERS: &str = "SELECT count(*) FROM dm_members WHERE room = $1";
    pub const MEMBERS: &str =
        "SELECT user_id, name FROM dm_members WHERE room = $1 ORDER BY user_id";
    pub const ROOMS_OF: &str = "SELECT room FROM dm_members WHERE user_id = $1 ORDER BY room";
    pub const NAME_IN_DM: &str = "SELECT name FROM dm_members WHERE user_id = $1 LIMIT 1";
    /// $1 user, $2 how many of the newest ids to look through.
    pub const NAME_AS_SENDER: &str = "SELECT name FROM messages \
        WHERE id > (SELECT max(id) FROM messages) - $2 AND user_id = $1 \
        ORDER BY id DESC LIMIT 1";
    pub const READ_POSITION: &str =
        "SELECT message_id FROM read_positions WHERE user_id = $1 AND room = $2";
    /// The room's newest row of any kind: how far a read position may go.
    pub const HEAD_ID: &str = "SELECT max(id) FROM messages WHERE room = $1";
    /// Only forward: $1 user, $2 room, $3 id; the stored id after.
    pub const MARK_READ: &str = "INSERT INTO read_positions (user_id, room, message_id) \
        VALUES ($1, $2, $3) ON CONFLICT (user_id, room) DO UPDATE SET message_id = \
        CASE WHEN excluded.message_id > read_positions.message_id \
        THEN excluded.message_id ELSE read_positions.message_id END \
        RETURNING message_id";

    /// Unread rows of room $1 after id $2 for user $3.
    fn unread_rows() -> String {
        format!(
            "room = $1 AND id > $2 AND (user_id IS NULL OR user_id <> $3) AND text <> '' \
             AND {ORDINARY}"
        )
    }

    /// How many unread rows, up to the cap: $1 room, $2 after, $3 user.
    pub static COUNT_UNREAD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT count(*) FROM (SELECT 1 FROM messages WHERE {} LIMIT {UNREAD_CAP}) AS u",
            unread_rows()
        )
    });
    /// Of the newest [`UNREAD_CAP`] unread rows, the texts with an `@` (mention candidates;
    /// the rule itself is Rust's): $1 room, $2 after, $3 user. Bounded like the count, so a
    /// room without `@` in a million messages is not read through to its first one.
    pub static UNREAD_WITH_AT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT text FROM (SELECT text FROM messages WHERE {} \
               ORDER BY id DESC LIMIT {UNREAD_CAP}) AS u \
             WHERE text LIKE '%@%'",
            unread_rows()
        )
    });
    /// A user's conversations: room, the other's id and name, the newest message's id.
    pub static CONVERSATIONS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT o.room, o.user_id, o.name, \
               (SELECT m.id FROM messages m WHERE m.room = o.room AND {ORDINARY} \
                ORDER BY m.id DESC LIMIT 1) AS last_id \
             FROM dm_members me JOIN dm_members o ON o.room = me.room AND o.user_id <> me.user_id \
             WHERE me.user_id = $1"
        )
    });
}

/// The same code for both SQL engines (their pool and connection types differ, the SQL and the
/// steps do not).
macro_rules! sql_engine {
    ($module:ident, $Conn:ty, $Pool:ty) => {
        mod $module {
            use super::{DmPeer, ReadState, UNREAD_CAP, peer, sql};
            use crate::StoreError;
            use chatroom_core::mention::mentions;
            use chatroom_core::{MessageId, UserId};
            use sqlx::Connection as _;

            pub(super) async fn open_dm(
                conn: &mut $Conn,
                room: &str,
                a: &DmPeer,
                b: &DmPeer,
            ) -> Result<bool, StoreError> {
                let mut tx = conn.begin().await?;
                let before: i64 = sqlx::query_scalar(sql::COUNT_MEMBERS)
                    .bind(room)
                    .fetch_one(&mut *tx)
                    .await?;
                for p in [a, b] {
                    sqlx::query(sql::UPSERT_MEMBER)
                        .bind(room)
                        .bind(p.user_id.as_str())
                        .bind(&p.name)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(before == 0)
            }

            pub(super) async fn members(
                pool: &$Pool,
                room: &str,
            ) -> Result<Vec<DmPeer>, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(sql::MEMBERS)
                    .bind(room)
                    .fetch_all(pool)
                    .await?;
                Ok(rows.into_iter().filter_map(|(u, n)| peer(u, n)).collect())
            }

            pub(super) async fn rooms_of(
                pool: &$Pool,
                user: &UserId,
            ) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar(sql::ROOMS_OF)
                    .bind(user.as_str())
                    .fetch_all(pool)
                    .await?)
            }

            pub(super) async fn seen(
                pool: &$Pool,
                user: &UserId,
            ) -> Result<Option<String>, StoreError> {
                let in_dm: Option<String> = sqlx::query_scalar(sql::NAME_IN_DM)
                    .bind(user.as_str())
                    .fetch_optional(pool)
                    .await?;
                if in_dm.is_some() {
                    return Ok(in_dm);
                }
                Ok(sqlx::query_scalar(sql::NAME_AS_SENDER)
                    .bind(user.as_str())
                    .bind(super::SEEN_WINDOW)
                    .fetch_optional(pool)
                    .await?)
            }

            pub(super) async fn read_position(
                pool: &$Pool,
                user: &UserId,
                room: &str,
            ) -> Result<Option<MessageId>, StoreError> {
                Ok(sqlx::query_scalar(sql::READ_POSITION)
                    .bind(user.as_str())
                    .bind(room)
                    .fetch_optional(pool)
                    .await?)
            }

            pub(super) async fn mark_read(
                conn: &mut $Conn,
                user: &UserId,
                room: &str,
                id: MessageId,
            ) -> Result<Option<MessageId>, StoreError> {
                let head: Option<MessageId> = sqlx::query_scalar(sql::HEAD_ID)
                    .bind(room)
                    .fetch_one(&mut *conn)
                    .await?;
                let Some(head) = head else {
                    // Nothing to have read: keep whatever is stored.
                    return Ok(sqlx::query_scalar(sql::READ_POSITION)
                        .bind(user.as_str())
                        .bind(room)
                        .fetch_optional(&mut *conn)
                        .await?);
                };
                Ok(Some(
                    sqlx::query_scalar(sql::MARK_READ)
                        .bind(user.as_str())
                        .bind(room)
                        .bind(id.min(head))
                        .fetch_one(&mut *conn)
                        .await?,
                ))
            }

            pub(super) async fn state(
                pool: &$Pool,
                user: &UserId,
                name: &str,
                room: &str,
                read: Option<MessageId>,
            ) -> Result<ReadState, StoreError> {
                let after = read.unwrap_or(0);
                let unread: i64 = sqlx::query_scalar(sql::COUNT_UNREAD.as_str())
                    .bind(room)
                    .bind(after)
                    .bind(user.as_str())
                    .fetch_one(pool)
                    .await?;
                let mut count = 0u32;
                if unread > 0 {
                    let texts: Vec<String> = sqlx::query_scalar(sql::UNREAD_WITH_AT.as_str())
                        .bind(room)
                        .bind(after)
                        .bind(user.as_str())
                        .fetch_all(pool)
                        .await?;
                    count = texts.iter().filter(|t| mentions(t, name)).count() as u32;
                }
                Ok(ReadState {
                    read,
                    unread: u32::try_from(unread).unwrap_or(UNREAD_CAP),
                    mentions: count,
                })
            }

            /// (room, other participant, newest message id) of each of `user`'s DMs.
            pub(super) async fn conversations(
                pool: &$Pool,
                user: &UserId,
            ) -> Result<Vec<(String, DmPeer, Option<MessageId>)>, StoreError> {
                let rows: Vec<(String, String, String, Option<i64>)> =
                    sqlx::query_as(sql::CONVERSATIONS.as_str())
                        .bind(user.as_str())
                        .fetch_all(pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(room, u, n, last)| Some((room, peer(u, n)?, last)))
                    .collect())
            }
        }
    };
}

sql_engine!(on_sqlite, sqlx::SqliteConnection, sqlx::SqlitePool);
sql_engine!(on_postgres, sqlx::PgConnection, sqlx::PgPool);

impl Store {
    /// Records `a` and `b` as the participants of DM room `room` (refreshing their names);
    /// true if the conversation is new (nobody was recorded in the room before).
    pub async fn open_dm(
        &self,
        room: &RoomName,
        a: &DmPeer,
        b: &DmPeer,
    ) -> Result<bool, StoreError> {
        let room = room.as_str();
        match &self.backend {
            AnyBackend::Memory(m) => {
                let mut tables = lock(&m.dm);
                let members = tables.members.entry(room.to_owned()).or_default();
                let new = members.is_empty();
                for p in [a, b] {
                    members.insert(p.user_id.as_str().to_owned(), p.name.clone());
                }
                Ok(new)
            }
            AnyBackend::Sqlite(s) => {
                s.write(async |conn| on_sqlite::open_dm(conn, room, a, b).await)
                    .await
            }
            AnyBackend::Postgres(p) => {
                let mut conn = p.read.acquire().await?;
                on_postgres::open_dm(&mut conn, room, a, b).await
            }
        }
    }

    /// The participants of DM room `room`, by user id; empty if no such conversation exists.
    pub async fn dm_members(&self, room: &RoomName) -> Result<Vec<DmPeer>, StoreError> {
        let room = room.as_str();
        match &self.backend {
            AnyBackend::Memory(m) => Ok(lock(&m.dm)
                .members
                .get(room)
                .into_iter()
                .flatten()
                .filter_map(|(u, n)| peer(u.clone(), n.clone()))
                .collect()),
            AnyBackend::Sqlite(s) => on_sqlite::members(&s.read, room).await,
            AnyBackend::Postgres(p) => on_postgres::members(&p.read, room).await,
        }
    }

    /// Whether `user` takes part in DM room `room`.
    pub async fn is_dm_member(&self, room: &RoomName, user: &UserId) -> Result<bool, StoreError> {
        Ok(self
            .dm_members(room)
            .await?
            .iter()
            .any(|p| &p.user_id == user))
    }

    /// The DM rooms `user` takes part in, by name (what search may read besides public rooms).
    pub async fn dm_rooms_of(&self, user: &UserId) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            AnyBackend::Memory(m) => Ok(lock(&m.dm)
                .members
                .iter()
                .filter(|(_, members)| members.contains_key(user.as_str()))
                .map(|(room, _)| room.clone())
                .collect()),
            AnyBackend::Sqlite(s) => on_sqlite::rooms_of(&s.read, user).await,
            AnyBackend::Postgres(p) => on_postgres::rooms_of(&p.read, user).await,
        }
    }

    /// A name `user` was known by, if the store has seen that user: as a DM participant, or
    /// else as the sender of one of the newest [`SEEN_WINDOW`] messages (the newest one's name).
    /// `None`: not seen.
    pub async fn seen_user(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        match &self.backend {
            AnyBackend::Memory(m) => {
                let in_dm = lock(&m.dm)
                    .members
                    .values()
                    .find_map(|members| members.get(user.as_str()).cloned());
                Ok(in_dm.or_else(|| m.last_name_of(user, SEEN_WINDOW)))
            }
            AnyBackend::Sqlite(s) => on_sqlite::seen(&s.read, user).await,
            AnyBackend::Postgres(p) => on_postgres::seen(&p.read, user).await,
        }
    }

    /// `user`'s stored read position in `room`, if any.
    pub async fn read_position(
        &self,
        user: &UserId,
        room: &RoomName,
    ) -> Result<Option<MessageId>, StoreError> {
        let room = room.as_str();
        match &self.backend {
            AnyBackend::Memory(m) => Ok(lock(&m.dm)
                .reads
                .get(&(user.as_str().to_owned(), room.to_owned()))
                .copied()),
            AnyBackend::Sqlite(s) => on_sqlite::read_position(&s.read, user, room).await,
            AnyBackend::Postgres(p) => on_postgres::read_position(&p.read, user, room).await,
        }
    }

    /// Moves `user`'s read position in `room` to `id` — only forward, and never past the room's
    /// newest row; returns the stored position after (`None`: the room has no messages and
    /// nothing was stored before).
    pub async fn mark_read(
        &self,
        user: &UserId,
        room: &RoomName,
        id: MessageId,
    ) -> Result<Option<MessageId>, StoreError> {
        let room = room.as_str();
        match &self.backend {
            AnyBackend::Memory(m) => {
                let head = m.room_messages(room).last().map(|last| last.id);
                let mut tables = lock(&m.dm);
                let key = (user.as_str().to_owned(), room.to_owned());
                let Some(head) = head else {
                    return Ok(tables.reads.get(&key).copied());
                };
                let stored = tables.reads.entry(key).or_insert(MessageId::MIN);
                *stored = (*stored).max(id.min(head));
                Ok(Some(*stored))
            }
            AnyBackend::Sqlite(s) => {
                s.write(async |conn| on_sqlite::mark_read(conn, user, room, id).await)
                    .await
            }
            AnyBackend::Postgres(p) => {
                let mut conn = p.read.acquire().await?;
                on_postgres::mark_read(&mut conn, user, room, id).await
            }
        }
    }

    /// Where `user` (named `name` now, for mentions) stands in `room`: the stored position and
    /// the unread and mention counts after it (everything counts if it has none).
    pub async fn read_state(
        &self,
        user: &UserId,
        name: &UserName,
        room: &RoomName,
    ) -> Result<ReadState, StoreError> {
        let read = self.read_position(user, room).await?;
        self.state_after(user, name, room.as_str(), read).await
    }

    async fn state_after(
        &self,
        user: &UserId,
        name: &UserName,
        room: &str,
        read: Option<MessageId>,
    ) -> Result<ReadState, StoreError> {
        let name = name.as_str();
        match &self.backend {
            AnyBackend::Memory(m) => {
                let after = read.unwrap_or(0);
                let all = m.room_messages(room);
                let unread: Vec<&Message> = all
                    .iter()
                    .map(|m| m.as_ref())
                    .filter(|m| unread_for(m, user, after))
                    .collect();
                let counted = unread.len().min(UNREAD_CAP as usize);
                let mention_count = unread
                    .iter()
                    .rev()
                    .take(UNREAD_CAP as usize)
                    .filter(|m| mentions(&m.text, name))
                    .count();
                Ok(ReadState {
                    read,
                    unread: counted as u32,
                    mentions: mention_count as u32,
                })
            }
            AnyBackend::Sqlite(s) => on_sqlite::state(&s.read, user, name, room, read).await,
            AnyBackend::Postgres(p) => on_postgres::state(&p.read, user, name, room, read).await,
        }
    }

    /// `user`'s DM conversations (named `name` now, for mentions), newest activity first (those
    /// without messages last, by room), at most [`MAX_CONVERSATIONS`].
    pub async fn conversations(
        &self,
        user: &UserId,
        name: &UserName,
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut rows: Vec<(String, DmPeer, Option<MessageId>)> = match &self.backend {
            AnyBackend::Memory(m) => {
                let rooms: Vec<(String, DmPeer)> = lock(&m.dm)
                    .members
                    .iter()
                    .filter(|(_, members)| members.contains_key(user.as_str()))
                    .filter_map(|(room, members)| {
                        let (u, n) = members.iter().find(|(u, _)| *u != user.as_str())?;
                        Some((room.clone(), peer(u.clone(), n.clone())?))
                    })
                    .collect();
                rooms
                    .into_iter()
                    .map(|(room, with)| {
                        let last = m
                            .room_messages(&room)
                            .iter()
                            .rev()
                            .find(|m| ordinary(m))
                            .map(|m| m.id);
                        (room, with, last)
                    })
                    .collect()
            }
            AnyBackend::Sqlite(s) => on_sqlite::conversations(&s.read, user).await?,
            AnyBackend::Postgres(p) => on_postgres::conversations(&p.read, user).await?,
        };
        // Newest activity first; `None` (no message yet) sorts after every id.
        rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(MAX_CONVERSATIONS);
        let mut out = Vec::with_capacity(rows.len());
        for (room, with, last_id) in rows {
            let last = match last_id {
                Some(id) => self.message(id).await?,
                None => None,
            };
            let room_name = RoomName::new(&room).map_err(|_| bad_row(&room))?;
            let state = self.read_state(user, name, &room_name).await?;
            out.push(Conversation {
                room,
                with,
                last,
                state,
            });
        }
        Ok(out)
    }
}

/// A stored DM room name that is not a valid room name (only written from valid ones).
fn bad_row(room: &str) -> StoreError {
    sqlx::Error::Protocol(format!("dm_members holds an invalid room name {room:?}")).into()
}
