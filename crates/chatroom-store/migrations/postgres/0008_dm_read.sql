-- Direct messages and read positions (issue 11). `dm_members`: the two participants of each DM
-- room (`dm:` + hash of their user ids, see chatroom-core `dm`), with the name each had when
-- the conversation was last opened; only they may join or read the room. `read_positions`: per
-- user and room, the id of the last message the user has read (only ever moves forward), so
-- unread counts survive a reload and follow the user to another browser.
CREATE TABLE dm_members (
    room    TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (room, user_id)
);

-- A user's conversations (`conversations`, and the DM rooms search may read).
CREATE INDEX dm_members_user ON dm_members (user_id, room);

CREATE TABLE read_positions (
    user_id    TEXT   NOT NULL,
    room       TEXT   NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room)
);

-- No index on messages.user_id: it would cost every send (measured: 10-25% fewer appends/s on
-- SQLite). `dm {to}` looks for a sender among the newest messages only (src/dm.rs).
