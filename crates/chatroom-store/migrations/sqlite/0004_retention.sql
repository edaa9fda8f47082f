-- Retention (issue 12). `purged`: per room, the highest message id the purge has removed, so a
-- page whose window reaches below it can say `truncated` (ids are never reused: AUTOINCREMENT).
-- `messages_ts`: the age purge finds the oldest messages without scanning the table; ts grows
-- with id, so inserts land at the right edge of this index.
CREATE TABLE purged (
    room    TEXT   PRIMARY KEY NOT NULL,
    through BIGINT NOT NULL
);

CREATE INDEX messages_ts ON messages (ts);
