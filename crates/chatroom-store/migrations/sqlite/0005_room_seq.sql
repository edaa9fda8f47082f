-- Per-room order (issue 8), the same as on PostgreSQL: `room_seq` holds each room's counter,
-- `messages.seq` is 1, 2, 3, … per room without holes, in commit order (one writer per file).
-- Retention never touches `room_seq`. SQLite cannot add a NOT NULL column without a default;
-- every insert sets it, and a NULL would fail the read rather than pass as a number.
CREATE TABLE room_seq (
    room TEXT   PRIMARY KEY NOT NULL,
    seq  BIGINT NOT NULL
);

ALTER TABLE messages ADD COLUMN seq BIGINT NULL;

-- Messages stored so far: numbered per room in id order (id order was commit order).
UPDATE messages SET seq = n.seq
FROM (SELECT id, row_number() OVER (PARTITION BY room ORDER BY id) AS seq FROM messages) AS n
WHERE messages.id = n.id;

CREATE UNIQUE INDEX messages_room_seq ON messages (room, seq);

INSERT INTO room_seq (room, seq) SELECT room, max(seq) FROM messages GROUP BY room;
