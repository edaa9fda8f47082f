-- Changes in the room order (issue 11). An edit, delete, react or unreact is stored as its own
-- row of `messages` (`kind` != 'message', `target` = the message it changes), taking the room's
-- next seq and an id like a message, in the same transaction as the update it causes: so
-- `since`, the cluster relay and its gap filling carry changes as they carry messages. The
-- target row keeps its current state: `text`, `edited` (ms of the last edit), and its
-- reactions in `reactions` (one row per message, emoji and user).
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
ALTER TABLE messages ADD COLUMN target BIGINT NULL;
ALTER TABLE messages ADD COLUMN edited BIGINT NULL;

CREATE TABLE reactions (
    message_id BIGINT NOT NULL,
    emoji      TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    ts         BIGINT NOT NULL,      -- milliseconds since the Unix epoch
    PRIMARY KEY (message_id, emoji, user_id)
);
