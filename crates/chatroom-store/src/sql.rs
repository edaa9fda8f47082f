//! The SQL that SQLite and PostgreSQL share (sqlx binds `$N` on both), and the `messages` row
//! both read, in one place: a change to the schema or to a read then happens once, and the two
//! engines cannot drift apart. Engine-specific statements stay in their backend modules.

use crate::backend::Target;
use chatroom_core::change::ReactionRow;
use chatroom_core::{Change, ChangeKind, Message, MessageId, UserId};
use std::collections::HashMap;

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
    kind: String,
    target: Option<i64>,
    edited: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        // A change row names its kind and target; a row whose kind this build does not know
        // (or without a target) reads as a message rather than failing the page.
        let change = ChangeKind::parse(&r.kind)
            .zip(r.target)
            .map(|(kind, target)| Change { kind, target });
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
            deleted: change.is_none() && r.text.is_empty(),
            text: r.text,
            edited: r.edited,
            // Read from `reactions` by the page that returns the message.
            reactions: Vec::new(),
            change,
        }
    }
}

// Which rows count for conversations and read positions (src/dm.rs).

/// The `messages` rows that are messages, as opposed to the change rows (edits, deletes,
/// reactions) of migration 0007: the one condition every unread count and "last message" of
/// src/dm.rs goes through (`crate::dm::ordinary` is the memory backend's twin).
pub const ORDINARY: &str = "kind = 'message'";

// Reads of a room's history.

/// The columns [`MessageRow`] reads, in order, for `SELECT`s of `messages m`.
pub const COLUMNS: &str =
    "m.id, m.seq, m.room, m.name, m.text, m.ts, m.cid, m.user_id, m.kind, m.target, m.edited";
/// Newest messages first (no change rows): $1 room, $2 limit.
pub const LATEST: &str = "SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, edited \
     FROM messages WHERE room = $1 AND kind = 'message' ORDER BY id DESC LIMIT $2";
/// Newest messages first below an id (no change rows): $1 room, $2 before, $3 limit.
pub const BEFORE: &str = "SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, edited \
     FROM messages WHERE room = $1 AND id < $2 AND kind = 'message' ORDER BY id DESC LIMIT $3";
/// Oldest first above an id, messages and changes: $1 room, $2 since, $3 limit.
pub const SINCE: &str = "SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, edited \
     FROM messages WHERE room = $1 AND id > $2 ORDER BY id ASC LIMIT $3";
/// Oldest first above a seq (the unique (room, seq) index), messages and changes: $1 room,
/// $2 seq, $3 limit.
pub const SINCE_SEQ: &str = "SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, \
     edited FROM messages WHERE room = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";
/// One message (not a change row): $1 id.
pub const MESSAGE: &str = "SELECT id, seq, room, name, text, ts, cid, user_id, kind, target, \
     edited FROM messages WHERE id = $1 AND kind = 'message'";

// Changes, applied to their target in the transaction that stores the change row.

/// An edit: $1 id, $2 text, $3 edited (ms).
pub const EDIT: &str = "UPDATE messages SET text = $2, edited = $3 WHERE id = $1";
/// A delete: the tombstone (empty text, which no `send` can store, no edit mark): $1 id.
pub const TOMBSTONE: &str = "UPDATE messages SET text = '', edited = NULL WHERE id = $1";
/// A delete takes the reactions with it: $1 id.
pub const CLEAR_REACTIONS: &str = "DELETE FROM reactions WHERE message_id = $1";
/// A reaction: $1 id, $2 emoji, $3 user id, $4 name, $5 ts.
pub const REACT: &str = "INSERT INTO reactions (message_id, emoji, user_id, name, ts) \
     VALUES ($1, $2, $3, $4, $5)";
/// A reaction taken back: $1 id, $2 emoji, $3 user id.
pub const UNREACT: &str =
    "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3";

/// A `reactions` row as both SQL backends read it (with the message it belongs to).
#[derive(sqlx::FromRow)]
pub(crate) struct ReactionSqlRow {
    pub message_id: i64,
    emoji: String,
    user_id: String,
    name: String,
    ts: i64,
}

impl From<ReactionSqlRow> for ReactionRow {
    fn from(r: ReactionSqlRow) -> Self {
        ReactionRow {
            emoji: r.emoji,
            user_id: r.user_id,
            name: r.name,
            ts: r.ts,
        }
    }
}

/// The columns [`ReactionSqlRow`] reads, for `SELECT`s of `reactions`.
pub const REACTION_COLUMNS: &str = "message_id, emoji, user_id, name, ts";

/// Reaction rows (any order, any messages) grouped by message id.
fn by_message(rows: Vec<ReactionSqlRow>) -> HashMap<i64, Vec<ReactionRow>> {
    let mut grouped: HashMap<i64, Vec<ReactionRow>> = HashMap::new();
    for row in rows {
        grouped.entry(row.message_id).or_default().push(row.into());
    }
    grouped
}

/// Gives each of `messages` its reactions out of `rows` (any order, any messages).
pub(crate) fn attach_reactions(messages: &mut [Message], rows: Vec<ReactionSqlRow>) {
    if rows.is_empty() {
        return;
    }
    let by_message = by_message(rows);
    for m in messages {
        if let Some(rows) = by_message.get(&m.id) {
            m.reactions = chatroom_core::change::fold_reactions(rows);
        }
    }
}

/// The targets of a batch's changes, by id: each `found` message with its rows of `reactions`.
pub(crate) fn targets(
    found: Vec<MessageRow>,
    reactions: Vec<ReactionSqlRow>,
) -> HashMap<MessageId, Target> {
    let mut reactions = by_message(reactions);
    found
        .into_iter()
        .map(Message::from)
        .map(|m| {
            let rows = reactions.remove(&m.id).unwrap_or_default();
            (m.id, Target::new(m, rows))
        })
        .collect()
}

/// Adds to a room's sequence counter (the new rows' count as `seq`) and returns the new
/// value; followed by `RETURNING room, seq`. The conflicting row stays locked until commit.
pub const BUMP_ROOM_SEQ_ON_CONFLICT: &str =
    "ON CONFLICT (room) DO UPDATE SET seq = room_seq.seq + excluded.seq RETURNING room, seq";

/// Which `messages m` rows search may return: messages (not change rows), not deleted (a
/// tombstone has empty text). The one place this rule lives for every SQL engine; the memory
/// backend's twin is `search::searchable`.
pub const SEARCHABLE: &str = "m.text <> '' AND m.kind = 'message'";

// Retention (never touches `room_seq`: a purge must not renumber or reuse a room's order).

/// Every room with messages, one index seek per room (loose index scan): $none.
pub const ROOMS: &str = "WITH RECURSIVE r(room) AS ( \
       SELECT min(room) FROM messages \
       UNION ALL \
       SELECT (SELECT min(m.room) FROM messages m WHERE m.room > r.room) FROM r \
       WHERE r.room IS NOT NULL) \
     SELECT room FROM r WHERE room IS NOT NULL";
/// The newest id of room $1 that is NOT kept when keeping $2 messages. Messages, not rows: a
/// message's edits and reactions (change rows, newer than it) must not push it out; the change
/// rows at or below the edge go with it.
pub const PER_ROOM_EDGE: &str = "SELECT id FROM messages WHERE room = $1 AND kind = 'message' \
     ORDER BY id DESC LIMIT 1 OFFSET $2";
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
