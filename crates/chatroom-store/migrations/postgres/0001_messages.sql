-- Messages, in storage order. With one writer, identity values increase in commit order.
CREATE TABLE messages (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room TEXT   NOT NULL,
    name TEXT   NOT NULL,
    text TEXT   NOT NULL,
    ts   BIGINT NOT NULL,            -- milliseconds since the Unix epoch
    cid  TEXT   NULL,                -- client id for de-duplication; NULLs never conflict
    CONSTRAINT messages_room_cid UNIQUE (room, cid)
);

CREATE INDEX messages_room_id ON messages (room, id);
