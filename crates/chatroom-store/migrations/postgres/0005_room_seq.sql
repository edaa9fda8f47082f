-- Per-room order for a cluster (issue 8): several server processes write to one database, so
-- ids no longer say in which order rows committed. Each room has a counter in `room_seq`; a
-- batch adds its count to the counter with an upsert whose row lock is held until commit, so
-- the next writer of that room waits and continues from the committed value: `messages.seq`
-- is 1, 2, 3, … per room, without holes, in commit order. Retention never touches `room_seq`.
CREATE TABLE room_seq (
    room TEXT   PRIMARY KEY,
    seq  BIGINT NOT NULL
);

ALTER TABLE messages ADD COLUMN seq BIGINT;

-- Messages stored so far: numbered per room in id order (one writer stored them, so id order
-- was commit order).
UPDATE messages m SET seq = n.seq
FROM (SELECT id, row_number() OVER (PARTITION BY room ORDER BY id) AS seq FROM messages) n
WHERE m.id = n.id;

ALTER TABLE messages ALTER COLUMN seq SET NOT NULL;
ALTER TABLE messages ADD CONSTRAINT messages_room_seq UNIQUE (room, seq);

INSERT INTO room_seq (room, seq) SELECT room, max(seq) FROM messages GROUP BY room;
