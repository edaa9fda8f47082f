//! The search contract (issue 11) on every backend: memory (a scan), an SQLite file (FTS5) and
//! PostgreSQL (tsvector + GIN; a fresh schema per test in `CHATROOM_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`; PostgreSQL not answering FAILS the test unless
//! `CHATROOM_SKIP_PG=1`). Plus: messages stored before migration 0009 are indexed at open, and
//! the re-index/un-index functions an edit or delete transaction calls.

use chatroom_core::{
    Change, ChangeKind, Limits, Message, NewMessage, RoomName, SearchQuery, UserName,
};
use chatroom_store::{SearchPage, SearchScope, Store};
use sqlx::Connection;
use std::str::FromStr;

mod common;
use common::{open, pg_base_url, test_db};

fn room(name: &str) -> RoomName {
    RoomName::new(name).expect("room")
}

fn msg(room_name: &str, text: &str) -> NewMessage {
    NewMessage::new(
        room(room_name),
        UserName::new("tester").expect("name"),
        text.to_owned(),
        None,
        &Limits::default(),
        1_700_000_000_000,
    )
    .expect("message")
}

/// Stores `texts` in `room_name` one by one; their ids.
async fn seed(store: &Store, room_name: &str, texts: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for text in texts {
        ids.push(
            store
                .append(msg(room_name, text))
                .await
                .expect("append")
                .message
                .id,
        );
    }
    ids
}

async fn find(store: &Store, query: &str, scope: SearchScope<'_>) -> SearchPage {
    let query = SearchQuery::parse(query).expect("query");
    store
        .search(&query, scope, &[], None, 50)
        .await
        .expect("search")
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

use common::KINDS;

macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        $( mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() { super::$test(super::KINDS[0]).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$test(super::KINDS[1]).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$test(super::KINDS[2]).await }
        } )*
    };
}

on_every_backend!(
    words_and_chinese,
    pagination_newest_first,
    room_scope_and_dm_rooms,
    deleted_messages_are_not_found,
    edits_are_found_by_their_new_text_only,
    frequent_and_rare_terms_page_alike,
);

async fn words_and_chinese(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    seed(
        &store,
        "lobby",
        &[
            "欢迎来到技术讨论区",
            "Deploy finished 🎉",
            "the deploy FAILED again",
            "Rust语言很好用",
            "技 术 apart",
        ],
    )
    .await;
    seed(&store, "other", &["another deploy, in another room"]).await;
    let all = SearchScope::Everywhere;
    // 技术 inside 技术讨论区 (bigrams), not the two characters apart.
    assert_eq!(
        texts(&find(&store, "技术", all).await.messages),
        ["欢迎来到技术讨论区"]
    );
    assert_eq!(
        texts(&find(&store, "讨论区", all).await.messages),
        ["欢迎来到技术讨论区"]
    );
    // Case-insensitive, newest first, across rooms.
    assert_eq!(
        texts(&find(&store, "DEPLOY", all).await.messages),
        [
            "another deploy, in another room",
            "the deploy FAILED again",
            "Deploy finished 🎉"
        ]
    );
    // Every term must match.
    assert_eq!(
        texts(&find(&store, "deploy failed", all).await.messages),
        ["the deploy FAILED again"]
    );
    assert_eq!(
        texts(&find(&store, "rust 好用", all).await.messages),
        ["Rust语言很好用"]
    );
    assert!(find(&store, "deploy 技术", all).await.messages.is_empty());
    assert!(find(&store, "nowhere", all).await.messages.is_empty());
    // Part of a word is not a word.
    assert!(find(&store, "dep", all).await.messages.is_empty());
    store.close().await;
}

async fn pagination_newest_first(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let mut texts_in = Vec::new();
    for i in 0..25 {
        texts_in.push(format!("match number {i}"));
        texts_in.push(format!("noise {i}"));
    }
    let refs: Vec<&str> = texts_in.iter().map(String::as_str).collect();
    let ids = seed(&store, "lobby", &refs).await;
    let matching: Vec<i64> = ids.iter().copied().step_by(2).rev().collect();
    let query = SearchQuery::parse("Match").expect("query");
    let mut got = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = store
            .search(&query, SearchScope::Everywhere, &[], before, 10)
            .await
            .expect("search");
        pages += 1;
        assert!(page.messages.len() <= 10);
        got.extend(page.messages.iter().map(|m| m.id));
        if !page.more {
            assert_eq!(page.messages.len(), 5);
            break;
        }
        assert_eq!(page.messages.len(), 10);
        before = page.messages.last().map(|m| m.id);
    }
    assert_eq!(pages, 3);
    assert_eq!(got, matching);
    // `before` excludes its own id; limit 1 says there is more.
    let page = store
        .search(&query, SearchScope::Everywhere, &[], Some(matching[0]), 1)
        .await
        .expect("search");
    assert_eq!(page.messages[0].id, matching[1]);
    assert!(page.more);
    store.close().await;
}

async fn room_scope_and_dm_rooms(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let dm_mine = "dm:0123456789abcdef0123456789abcdef";
    let dm_other = "dm:fedcba9876543210fedcba9876543210";
    seed(&store, "lobby", &["secret plan lobby"]).await;
    seed(&store, "ops", &["secret plan ops"]).await;
    seed(&store, dm_mine, &["secret plan mine"]).await;
    seed(&store, dm_other, &["secret plan theirs"]).await;
    seed(&store, "DM:notreserved", &["secret plan upper"]).await;
    let query = SearchQuery::parse("secret plan").expect("query");
    let (ops, mine, other) = (room("ops"), room(dm_mine), room(dm_other));
    let search = async |scope, readable: &[RoomName]| {
        let page = store
            .search(&query, scope, readable, None, 50)
            .await
            .expect("search");
        let mut t: Vec<String> = page.messages.into_iter().map(|m| m.text).collect();
        t.sort();
        t
    };
    // No DM readable: every DM room left out (only the exact lowercase prefix is reserved).
    assert_eq!(
        search(SearchScope::Everywhere, &[]).await,
        ["secret plan lobby", "secret plan ops", "secret plan upper"]
    );
    assert_eq!(
        search(SearchScope::Everywhere, &[room(dm_mine)]).await,
        [
            "secret plan lobby",
            "secret plan mine",
            "secret plan ops",
            "secret plan upper"
        ]
    );
    assert_eq!(
        search(SearchScope::Room(&ops), &[]).await,
        ["secret plan ops"]
    );
    assert!(
        search(SearchScope::Room(&other), &[room(dm_mine)])
            .await
            .is_empty()
    );
    assert_eq!(
        search(SearchScope::Room(&mine), &[room(dm_mine)]).await,
        ["secret plan mine"]
    );
    store.close().await;
}

async fn deleted_messages_are_not_found(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let ids = seed(&store, "lobby", &["remove me please", "keep me please"]).await;
    store
        .append(change(ChangeKind::Delete, ids[0], ""))
        .await
        .expect("delete");
    let page = find(&store, "please", SearchScope::Everywhere).await;
    assert_eq!(texts(&page.messages), ["keep me please"]);
    assert!(
        find(&store, "remove", SearchScope::Everywhere)
            .await
            .messages
            .is_empty()
    );
    store.close().await;
}

/// A change (`kind`) of message `target` in the lobby, `text` as `NewMessage::change` wants it.
fn change(kind: ChangeKind, target: i64, text: &str) -> NewMessage {
    NewMessage::change(
        RoomName::new("lobby").expect("room"),
        UserName::new("mod").expect("name"),
        Change { kind, target },
        text.into(),
        &Limits::default(),
        2,
    )
    .expect("change")
}

async fn edits_are_found_by_their_new_text_only(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let ids = seed(&store, "lobby", &["teh typo 技术讨论区", "unrelated"]).await;
    store
        .append(change(ChangeKind::Edit, ids[0], "the fix 讨论"))
        .await
        .expect("edit");
    let page = find(&store, "fix", SearchScope::Everywhere).await;
    assert_eq!(texts(&page.messages), ["the fix 讨论"]);
    for gone in ["teh", "技术"] {
        assert!(
            find(&store, gone, SearchScope::Everywhere)
                .await
                .messages
                .is_empty(),
            "{gone} was edited away"
        );
    }
    // A reaction's emoji is not a message: nothing new to find, the message still is.
    store
        .append(change(ChangeKind::React, ids[1], "👍").by(chatroom_core::UserId::random([7; 16])))
        .await
        .expect("react");
    assert_eq!(
        texts(
            &find(&store, "unrelated", SearchScope::Everywhere)
                .await
                .messages
        ),
        ["unrelated"]
    );
    store.close().await;
}

/// A term with more matches than PostgreSQL's probe cap (its backwards walk) and one with few
/// (its sorted index matches) answer in the same shape: newest first, paged by `before`.
async fn frequent_and_rare_terms_page_alike(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let texts: Vec<String> = (0..600)
        .map(|i| {
            if i % 100 == 7 {
                format!("common rare {i}")
            } else {
                format!("common {i}")
            }
        })
        .collect();
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ids = seed(&store, "lobby", &text_refs).await;
    let newest_first = |pick: &dyn Fn(usize) -> bool| -> Vec<i64> {
        ids.iter()
            .enumerate()
            .rev()
            .filter(|(i, _)| pick(*i))
            .map(|(_, id)| *id)
            .collect()
    };
    let common = find(&store, "common", SearchScope::Everywhere).await;
    assert_eq!(
        common.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        newest_first(&|_| true)[..50].to_vec()
    );
    assert!(common.more);
    let rare = find(&store, "rare common", SearchScope::Everywhere).await;
    assert_eq!(
        rare.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        newest_first(&|i| i % 100 == 7)
    );
    assert!(!rare.more);
    store.close().await;
}

// ---------------------------------------------------------------- SQL-only cases

/// The migrations in `dir` up to and including `last` (a database from before search).
async fn migrations_until(dir: &str, last: i64) -> sqlx::migrate::Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.expect("migrations");
    let kept: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= last)
        .cloned()
        .collect();
    migrator.migrations = kept.into();
    migrator
}

/// Old rows as an older server wrote them (no index); one tombstone among them.
const OLD_ROWS: &str = "INSERT INTO messages (room, name, text, ts, seq) VALUES \
    ('lobby', 'old', 'old 技术讨论区 message', 1, 1), \
    ('lobby', 'old', '', 1, 2), \
    ('lobby', 'old', 'another old message', 1, 3)";
/// Their room's counter.
const OLD_HEAD: &str = "INSERT INTO room_seq (room, seq) VALUES ('lobby', 3)";

async fn old_messages_are_indexed_at_open(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    if let Some(dir) = &db.dir {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
            .expect("url")
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts)
            .await
            .expect("connect");
        migrations_until("migrations/sqlite", 8)
            .await
            .run(&mut conn)
            .await
            .expect("migrate");
        sqlx::query(OLD_ROWS)
            .execute(&mut conn)
            .await
            .expect("rows");
        sqlx::query(OLD_HEAD)
            .execute(&mut conn)
            .await
            .expect("head");
        conn.close().await.expect("close");
        assert!(dir.path().join(common::SQLITE_FILE).exists());
    } else {
        let schema = db.schema.as_deref().expect("schema");
        let mut conn = sqlx::PgConnection::connect(&pg_base_url())
            .await
            .expect("connect");
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(&mut conn)
            .await
            .expect("schema");
        sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut conn)
            .await
            .expect("path");
        migrations_until("migrations/postgres", 8)
            .await
            .run(&mut conn)
            .await
            .expect("migrate");
        sqlx::query(OLD_ROWS)
            .execute(&mut conn)
            .await
            .expect("rows");
        sqlx::query(OLD_HEAD)
            .execute(&mut conn)
            .await
            .expect("head");
        conn.close().await.expect("close");
    }
    let store = open(&db.url).await;
    seed(&store, "lobby", &["a new message"]).await;
    assert_eq!(
        texts(
            &find(&store, "message", SearchScope::Everywhere)
                .await
                .messages
        ),
        [
            "a new message",
            "another old message",
            "old 技术讨论区 message"
        ]
    );
    assert_eq!(
        texts(&find(&store, "技术", SearchScope::Everywhere).await.messages),
        ["old 技术讨论区 message"]
    );
    store.close().await;
    // A second open has nothing left to do and finds the same.
    let store = open(&db.url).await;
    assert_eq!(
        find(&store, "message", SearchScope::Everywhere)
            .await
            .messages
            .len(),
        3
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_old_messages_are_indexed_at_open() {
    old_messages_are_indexed_at_open("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_old_messages_are_indexed_at_open() {
    old_messages_are_indexed_at_open("postgres").await;
}

/// What an edit's and a delete's transaction do: change the text, re-index (or un-index) in
/// the same transaction; search then finds the new text only.
async fn reindex_and_unindex(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let ids = seed(&store, "lobby", &["first draft", "doomed words"]).await;
    store.close().await;
    if db.dir.is_some() {
        let mut conn = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("connect");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("UPDATE messages SET text = 'final 技术 version' WHERE id = $1")
            .bind(ids[0])
            .execute(&mut *tx)
            .await
            .expect("edit");
        chatroom_store::search::sqlite::reindex(&mut tx, ids[0], "final 技术 version")
            .await
            .expect("reindex");
        chatroom_store::search::sqlite::unindex(&mut tx, ids[1])
            .await
            .expect("unindex");
        tx.commit().await.expect("commit");
        conn.close().await.expect("close");
    } else {
        let mut conn = sqlx::PgConnection::connect(&pg_base_url())
            .await
            .expect("connect");
        let schema = db.schema.as_deref().expect("schema");
        sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut conn)
            .await
            .expect("path");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("UPDATE messages SET text = 'final 技术 version' WHERE id = $1")
            .bind(ids[0])
            .execute(&mut *tx)
            .await
            .expect("edit");
        chatroom_store::search::postgres::reindex(&mut tx, ids[0], "final 技术 version")
            .await
            .expect("reindex");
        chatroom_store::search::postgres::unindex(&mut tx, ids[1])
            .await
            .expect("unindex");
        tx.commit().await.expect("commit");
        conn.close().await.expect("close");
    }
    let store = open(&db.url).await;
    let all = SearchScope::Everywhere;
    assert!(find(&store, "draft", all).await.messages.is_empty());
    assert_eq!(
        texts(&find(&store, "技术 final", all).await.messages),
        ["final 技术 version"]
    );
    // Un-indexed although its text is still there: the index, not the filter, left it out.
    assert!(find(&store, "doomed", all).await.messages.is_empty());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reindex_and_unindex() {
    reindex_and_unindex("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reindex_and_unindex() {
    reindex_and_unindex("postgres").await;
}

/// The SQLite search index's mark: the highest message id it has caught up with.
async fn index_mark(url: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    let mark = sqlx::query_scalar("SELECT indexed_through FROM search_progress")
        .fetch_one(&mut conn)
        .await
        .expect("mark");
    conn.close().await.expect("close");
    mark
}

/// SQLite indexes new messages after their commit (migration 0010). Rows a crash left
/// committed but not indexed (above `search_progress.indexed_through`) are indexed at open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_left_unindexed_by_a_crash_are_indexed_at_open() {
    let Some(db) = test_db("sqlite").await else {
        return;
    };
    let store = open(&db.url).await;
    let ids = seed(&store, "lobby", &["indexed before the crash"]).await;
    store.close().await;
    // What a writer killed between a commit and its catch-up leaves behind.
    let mut conn = sqlx::SqliteConnection::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query(
        "INSERT INTO messages (id, room, name, text, ts, seq) VALUES \
         ($1 + 1, 'lobby', 'x', 'committed 技术讨论区 crash', 1, 2), \
         ($1 + 2, 'lobby', 'x', 'committed too crash', 1, 3)",
    )
    .bind(ids[0])
    .execute(&mut conn)
    .await
    .expect("rows");
    sqlx::query("UPDATE room_seq SET seq = 3 WHERE room = 'lobby'")
        .execute(&mut conn)
        .await
        .expect("head");
    conn.close().await.expect("close");
    assert_eq!(
        index_mark(&db.url).await,
        ids[0],
        "the clean close caught the index up"
    );

    let store = open(&db.url).await;
    // Caught up by `open` itself, before any search asks.
    assert_eq!(index_mark(&db.url).await, ids[0] + 2);
    assert_eq!(
        texts(
            &find(&store, "crash", SearchScope::Everywhere)
                .await
                .messages
        ),
        [
            "committed too crash",
            "committed 技术讨论区 crash",
            "indexed before the crash"
        ]
    );
    assert_eq!(
        texts(&find(&store, "技术", SearchScope::Everywhere).await.messages),
        ["committed 技术讨论区 crash"]
    );
    store.close().await;
}

/// An edit or delete arriving before the writer's catch-up (well inside its 1 s): the index
/// ends with one entry per message, holding the new text, and the mark caught up; a search right
/// after a send finds it (read-your-writes), also while the catch-up is still due.
async fn change_right_after_send(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let ids = seed(&store, "lobby", &["alpha draft", "bravo doomed"]).await;
    store
        .append(change(ChangeKind::Edit, ids[0], "alpha final"))
        .await
        .expect("edit");
    store
        .append(change(ChangeKind::Delete, ids[1], ""))
        .await
        .expect("delete");
    let fresh = seed(&store, "lobby", &["charlie alpha fresh"]).await;
    let page = find(&store, "alpha", SearchScope::Everywhere).await;
    assert_eq!(
        page.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        [fresh[0], ids[0]],
        "each message once, newest first"
    );
    assert_eq!(
        texts(&page.messages),
        ["charlie alpha fresh", "alpha final"]
    );
    assert!(
        find(&store, "draft", SearchScope::Everywhere)
            .await
            .messages
            .is_empty()
    );
    assert!(
        find(&store, "bravo", SearchScope::Everywhere)
            .await
            .messages
            .is_empty()
    );
    if db.dir.is_some() {
        // The index itself, not the search's join: one entry per message, mark caught up.
        let mut conn = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("connect");
        let entries: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM message_search WHERE message_search MATCH 'alpha' ORDER BY rowid",
        )
        .fetch_all(&mut conn)
        .await
        .expect("entries");
        assert_eq!(entries, [ids[0], fresh[0]]);
        conn.close().await.expect("close");
        assert_eq!(index_mark(&db.url).await, fresh[0]);
    }
    store.close().await;
}

on_every_backend!(change_right_after_send);
