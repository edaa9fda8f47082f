-- Moderation (issue 9). `bans`: who may not connect — a user id, a name (compared by its folded
-- key, as names are) or an address — until `until_ms` (NULL: for good); lifting a ban deletes
-- its row, the audit keeps the story. `audit`: every moderation action, by socket or admin
-- API, newest read first. A deleted message stays in `messages` with empty text (a tombstone;
-- no send can store empty text), so ids, `since` and history pages keep their shape.
CREATE TABLE bans (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT    NULL,
    name       TEXT    NULL,         -- as the moderator wrote it, for people to read
    name_key   TEXT    NULL,         -- what is compared (case and width folded)
    ip         TEXT    NULL,
    until_ms   BIGINT  NULL,         -- milliseconds since the Unix epoch; NULL = permanent
    reason     TEXT    NULL,
    actor      TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts     BIGINT  NOT NULL,
    actor  TEXT    NOT NULL,         -- "name (role)" of a moderator, or "admin-api"
    action TEXT    NOT NULL,         -- delete, kick, ban, unban, mute
    target TEXT    NOT NULL,         -- message id, name or address
    reason TEXT    NULL,
    detail TEXT    NULL
);
