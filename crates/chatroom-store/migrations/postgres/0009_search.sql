-- Search (issue 11). `messages.terms`: the message's terms as chatroom-core's tokeniser makes
-- them (`search::index_text`: lowercase words, CJK bigrams), stored as a tsvector built with
-- `array_to_tsvector(string_to_array(terms, ' '))`: each term becomes one lexeme verbatim, the
-- same as the 'simple' configuration would keep it (no stemming, no stop words), but without
-- PostgreSQL's parser splitting or classifying our terms a second time. Queries are
-- `'term' & 'term'` tsqueries of the same terms. Written in the same transaction as the
-- message; NULL for a tombstone. GIN: finds the messages holding every term of a query.
ALTER TABLE messages ADD COLUMN terms tsvector NULL;

CREATE INDEX messages_terms ON messages USING GIN (terms);

-- Messages stored before this migration are indexed when the store opens (the tokeniser is
-- Rust, not SQL): `through` is the highest id not yet indexed; the row goes when all are.
CREATE TABLE search_backfill (
    through BIGINT NOT NULL
);

INSERT INTO search_backfill (through) SELECT max(id) FROM messages HAVING count(*) > 0;
