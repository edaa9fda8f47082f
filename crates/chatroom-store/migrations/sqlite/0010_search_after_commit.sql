-- New messages enter the search index after their commit, in larger transactions of their own
-- (issue 11: an FTS5 insert inside every group commit cost about 20% of durable send
-- throughput). `indexed_through` is the highest message id the index has caught up with; rows
-- above it are indexed by the writer within about a second, before any edit or delete
-- touches them, before a search reads the index, and at open after a crash.
-- Everything stored so far was indexed inside its own transaction (or is left to the backfill
-- of migration 0009), so the index starts caught up.
CREATE TABLE search_progress (
    indexed_through BIGINT NOT NULL
);

INSERT INTO search_progress (indexed_through)
SELECT COALESCE(max(id), 0) FROM messages;
