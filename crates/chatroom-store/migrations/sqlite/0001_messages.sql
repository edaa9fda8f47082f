-- Messages, in storage order. AUTOINCREMENT: ids are never reused, even after deletes, so they
-- keep increasing across restarts (clients recover with `since` on them).
CREATE TABLE messages (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT    NOT NULL,
    name TEXT    NOT NULL,
    text TEXT    NOT NULL,
    ts   BIGINT  NOT NULL,           -- milliseconds since the Unix epoch
    cid  TEXT    NULL,               -- client id for de-duplication; NULLs never conflict
    CONSTRAINT messages_room_cid UNIQUE (room, cid)
);

CREATE INDEX messages_room_id ON messages (room, id);
