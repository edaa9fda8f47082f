//! The SQL that SQLite and PostgreSQL share (sqlx binds `$N` on both), and the `messages` row
//! both read, in one place: a change to the schema or to a read then happens once, and the two
//! engines cannot drift apart. Engine-specific statements stay in their backend modules.

use chatroom_core::{Message, UserId};

/// A `messages` row as both SQL backends read it.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: i64,
    seq: i64,
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
            seq: r.seq,
            room: r.room,
            name: r.name,
            ts: r.ts,
            cid: r.cid,
            // Only validated ids are written; one that no longer validates (rules tightened
            // later) is shown without attribution rather than failing the whole page.
            user_id: r.user_id.and_then(|u| UserId::try_from(u).ok()),
            // A moderator's delete leaves the row with empty text (crate::moderation).
            deleted: r.text.is_empty(),
            text: r.text,
        }
    }
}

// Reads of a room's history.

/// The columns [`MessageRow`] reads, in order, for `SELECT`s of `messages m`.
pub const COLUMNS: &str = "m.id, m.seq, m.room, m.name, m.text, m.ts, m.cid, m.user_id";
/// Newest first: $1 room, $2 limit.
pub const LATEST: &str = "SELECT id, seq, room, name, text, ts, cid, user_id FROM messages \
     WHERE room = $1 ORDER BY id DESC LIMIT $2";
/// Newest first below an id: $1 room, $2 before, $3 limit.
pub const BEFORE: &str = "SELECT id, seq, room, name, text, ts, cid, user_id FROM messages \
     WHERE room = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
/// Oldest first above an id: $1 room, $2 since, $3 limit.
pub const SINCE: &str = "SELECT id, seq, room, name, text, ts, cid, user_id FROM messages \
     WHERE room = $1 AND id > $2 ORDER BY id ASC LIMIT $3";
/// Oldest first above a seq (the unique (room, seq) index): $1 room, $2 seq, $3 limit.
pub const SINCE_SEQ: &str = "SELECT id, seq, room, name, text, ts, cid, user_id FROM messages \
     WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";

/// Adds to a room's sequence counter (the new rows' count as `seq`) and returns the new
/// value; followed by `RETURNING room, seq`. The conflicting row stays locked until commit.
pub const BUMP_ROOM_SEQ_ON_CONFLICT: &str =
    "ON CONFLICT (room) DO UPDATE SET seq = room_seq.seq + excluded.seq RETURNING room, seq";

/// Which `messages m` rows search may return: not deleted (a tombstone has empty text). The one
/// place to extend this rule for every SQL engine; the memory backend's twin is
/// `search::searchable`. With the `kind` column of migration 0007 (issue 11, changes as rows)
/// it becomes `m.text <> '' AND m.kind = 'message'`.
pub const SEARCHABLE: &str = "m.text <> ''";

// Retention (never touches `room_seq`: a purge must not renumber or reuse a room's order).

/// Every room with messages, one index seek per room (loose index scan): $none.
pub const ROOMS: &str = "WITH RECURSIVE r(room) AS ( \
       SELECT min(room) FROM messages \
       UNION ALL \
       SELECT (SELECT min(m.room) FROM messages m WHERE m.room > r.room) FROM r \
       WHERE r.room IS NOT NULL) \
     SELECT room FROM r WHERE room IS NOT NULL";
/// The newest id of room $1 that is NOT kept when keeping $2 messages.
pub const PER_ROOM_EDGE: &str =
    "SELECT id FROM messages WHERE room = $1 ORDER BY id DESC LIMIT 1 OFFSET $2";
/// One batch of room $1 with id <= $2, at most $3 rows.
pub const DELETE_PER_ROOM: &str = "DELETE FROM messages WHERE id IN ( \
       SELECT id FROM messages WHERE room = $1 AND id <= $2 ORDER BY id LIMIT $3) \
     RETURNING room, id";
/// One batch of messages with ts < $1, at most $2 rows.
pub const DELETE_OLD: &str = "DELETE FROM messages WHERE id IN ( \
       SELECT id FROM messages WHERE ts < $1 ORDER BY ts LIMIT $2) \
     RETURNING room, id";
/// The room's purged-through id: $1 room.
pub const PURGED_THROUGH: &str = "SELECT through FROM purged WHERE room = $1";
