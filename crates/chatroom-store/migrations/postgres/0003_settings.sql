-- Server-wide values that must outlive a restart, such as the identity-token secret. Written
-- once with insert-if-absent, so every process sharing the database reads the same value.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
