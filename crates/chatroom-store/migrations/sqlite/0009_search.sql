-- Search (issue 11). `message_search`: an FTS5 index keyed by the message id (its rowid), holding
-- the message's terms as chatroom-core's tokeniser makes them (`search::index_text`: lowercase
-- words, CJK bigrams), separated by single spaces. The `ascii` tokenizer splits on ASCII
-- non-alphanumerics only and passes every other character through unchanged, so FTS5 indexes
-- exactly our terms and never re-splits or re-folds them. Contentless (`content=''`): the text
-- is already in `messages`; `contentless_delete=1` (SQLite 3.43+) lets an edit, a delete or the
-- purge remove a message's entry by id. Written in the same transaction as the message.
CREATE VIRTUAL TABLE message_search USING fts5(
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii'
);

-- Messages stored before this migration are indexed when the store opens (the tokeniser is
-- Rust, not SQL): `through` is the highest id not yet indexed; the row goes when all are.
CREATE TABLE search_backfill (
    through BIGINT NOT NULL
);

INSERT INTO search_backfill (through) SELECT max(id) FROM messages HAVING count(*) > 0;
