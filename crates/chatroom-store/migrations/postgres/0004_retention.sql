-- Retention (issue 12). `purged`: per room, the highest message id the purge has removed, so a
-- page whose window reaches below it can say `truncated` (identity values are never reused).
-- `messages_ts`: the age purge finds the oldest messages without scanning the table.
CREATE TABLE purged (
    room    TEXT   PRIMARY KEY,
    through BIGINT NOT NULL
);

CREATE INDEX messages_ts ON messages (ts);
