//! The store contract, one suite run against every backend: memory, SQLite in memory, SQLite
//! file (tempdir) and PostgreSQL (a fresh schema per test in the database named by
//! `CHATROOM_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`). If PostgreSQL does
//! not answer, its tests FAIL unless `CHATROOM_SKIP_PG=1`.
//!
//! Plus backend-specific cases: reopening an SQLite file, a PostgreSQL outage through a TCP
//! proxy the test cuts and restores, and start-up errors.

use chatroom_core::{
    Change, ChangeKind, ChatError, Cid, Limits, Message, NewMessage, RoomName, UserId, UserName,
};
use chatroom_store::{Feed, PurgeReport, RetentionPolicy, Store, StoreError};
use sqlx::Connection;
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------- fixtures

#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    SqliteMemory,
    SqliteFile,
    Postgres,
}

/// A database for one test; dropping it removes the tempdir or the PostgreSQL schema.
struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<PgSchema>,
}

fn pg_base_url() -> String {
    std::env::var("CHATROOM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A uniquely named schema, dropped (with everything in it) on drop.
struct PgSchema {
    admin_url: String,
    name: String,
}

impl PgSchema {
    /// None if PostgreSQL does not answer and `CHATROOM_SKIP_PG=1`; panics if it does not
    /// answer otherwise.
    async fn new() -> Option<PgSchema> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let admin_url = pg_base_url();
        let probe = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await;
        match probe {
            Ok(Ok(conn)) => {
                let _closed = conn.close().await;
            }
            failure => {
                let why = match failure {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer within 5 s".to_owned(),
                };
                if std::env::var("CHATROOM_SKIP_PG").as_deref() == Ok("1") {
                    eprintln!("SKIPPED: PostgreSQL at {admin_url} does not answer: {why}");
                    return None;
                }
                panic!(
                    "PostgreSQL at {admin_url} does not answer: {why}; \
                     set CHATROOM_TEST_PG, or CHATROOM_SKIP_PG=1 to skip the PostgreSQL tests"
                );
            }
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "chatroom_t_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        Some(PgSchema { admin_url, name })
    }

    fn store_url(&self, base: &str) -> String {
        with_param(base, &format!("schema={}", self.name))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.admin_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop runs inside the test's runtime (maybe while unwinding): use a thread of our own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for cleanup");
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query(&sql).execute(&mut conn).await?;
                conn.close().await
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop schema {}: {e}", self.name),
            Err(_) => eprintln!("could not drop schema {}: cleanup panicked", self.name),
        }
    }
}

async fn test_db(kind: Kind) -> Option<TestDb> {
    Some(match kind {
        Kind::Memory => TestDb {
            url: "memory".into(),
            _dir: None,
            _schema: None,
        },
        Kind::SqliteMemory => TestDb {
            url: "sqlite::memory:".into(),
            _dir: None,
            _schema: None,
        },
        Kind::SqliteFile => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("chat.db").display());
            TestDb {
                url,
                _dir: Some(dir),
                _schema: None,
            }
        }
        Kind::Postgres => {
            let schema = PgSchema::new().await?;
            TestDb {
                url: schema.store_url(&pg_base_url()),
                _dir: None,
                _schema: Some(schema),
            }
        }
    })
}

/// Runs `test` against a fresh database of `kind`.
async fn run<F, Fut>(kind: Kind, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = test_db(kind).await else {
        return;
    };
    test(db.url.clone()).await;
}

async fn open(url: &str) -> (Store, Feed) {
    match Store::open(url).await {
        Ok(opened) => opened,
        Err(e) => panic!("open {url}: {e}"),
    }
}

fn msg(room: &str, text: &str, cid: Option<&str>) -> NewMessage {
    NewMessage::new(
        RoomName::new(room).expect("room"),
        UserName::new("tester").expect("name"),
        text.to_owned(),
        cid.map(|c| Cid::new(c).expect("cid")),
        &Limits::default(),
        1_700_000_000_123,
    )
    .expect("message")
}

fn room(name: &str) -> RoomName {
    RoomName::new(name).expect("room")
}

fn ids(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

/// Reads `n` messages off the feed (failing after 10 s), checking each batch ascends.
async fn take_feed(feed: &mut Feed, n: usize) -> Vec<Arc<Message>> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), feed.recv())
            .await
            .unwrap_or_else(|_| panic!("feed: only {} of {n} messages after 10 s", got.len()))
            .expect("feed closed early");
        assert!(!batch.is_empty(), "empty batch on the feed");
        got.extend(batch.into_iter().map(|c| c.message));
    }
    got
}

fn assert_feed_idle(feed: &mut Feed) {
    match feed.try_recv() {
        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {}
        Ok(batch) => panic!("unexpected batch on the feed: {batch:?}"),
        Err(e) => panic!("feed: {e}"),
    }
}

// ---------------------------------------------------------------- the suite

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::run(super::Kind::Memory, super::$test).await } )* }
        mod sqlite_memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::run(super::Kind::SqliteMemory, super::$test).await } )* }
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::run(super::Kind::SqliteFile, super::$test).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::run(super::Kind::Postgres, super::$test).await } )* }
    };
}

suite!(
    ids_ascend_across_rooms,
    messages_round_trip,
    pagination,
    cid_dedup_sequential,
    cid_dedup_concurrent,
    thousand_concurrent_appends_group_commit,
    close_flushes_and_refuses,
    user_id_round_trips,
    user_id_survives_batches_and_dedup,
    secrets_are_stable_and_per_name,
    purge_by_age,
    purge_per_room,
    purge_per_room_counts_messages_not_changes,
    purge_by_age_and_per_room,
    purge_keeps_everything_without_policy,
    appends_during_purge_are_kept,
    seqs_count_per_room_from_one,
    purge_never_renumbers_rooms,
    edits_take_their_place_in_the_room_order,
    deletes_leave_a_tombstone_and_refusals_change_nothing,
    reactions_count_names_and_limits,
    since_recovers_messages_and_changes_in_order,
    concurrent_reactions_in_one_batch,
);

async fn ids_ascend_across_rooms(url: String) {
    let (store, mut feed) = open(&url).await;
    let mut stored = Vec::new();
    for i in 0..12 {
        let r = ["a", "b", "技术"][i % 3];
        let a = store
            .append(msg(r, &format!("m{i}"), None))
            .await
            .expect("append");
        assert!(!a.duplicate);
        stored.push(a.message.id);
    }
    assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
    let fed: Vec<i64> = take_feed(&mut feed, 12)
        .await
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(fed, stored);
    let page = store.latest(&room("b"), 10).await.expect("latest");
    assert_eq!(
        ids(&page.messages),
        [stored[1], stored[4], stored[7], stored[10]]
    );
    assert!(!page.more);
    store.ping().await.expect("ping");
    store.close().await;
}

async fn messages_round_trip(url: String) {
    let (store, mut feed) = open(&url).await;
    let long = "x😀\"'<b>&\u{7}".repeat(10_000);
    // Seed-protocol messages have no text limit (100 KB must arrive intact).
    let mut new = NewMessage::seed(
        UserName::new("李雷 🦀").expect("name"),
        long,
        1_700_000_000_123,
    )
    .expect("message");
    new.cid = Some(Cid::new("c-1").expect("cid"));
    let a = store.append(new.clone()).await.expect("append");
    let page = store.latest(&room("lobby"), 5).await.expect("latest");
    assert_eq!(page.messages.len(), 1);
    let back = &page.messages[0];
    // `from_seed` only steers live delivery: it travels on the feed, next to the message.
    let committed = feed.recv().await.expect("feed");
    assert_eq!(committed.len(), 1);
    assert!(committed[0].from_seed);
    assert_eq!(*committed[0].message, *a.message);
    assert_eq!(back, &Message::stored(a.message.id, 1, &new));
    assert_eq!(back.cid.as_deref(), Some("c-1"));
    assert_eq!(back.ts, 1_700_000_000_123);
    store.close().await;
}

async fn pagination(url: String) {
    let (store, _feed) = open(&url).await;
    let p = room("p");
    let mut all = Vec::new();
    for i in 0..25 {
        all.push(
            store
                .append(msg("p", &format!("p{i}"), None))
                .await
                .expect("append")
                .message
                .id,
        );
        // Other rooms' ids interleave.
        store
            .append(msg("q", &format!("q{i}"), None))
            .await
            .expect("append");
    }
    let check = |page: chatroom_store::Page, want: &[i64], more: bool, what: &str| {
        assert_eq!(ids(&page.messages), want, "{what}");
        assert_eq!(page.more, more, "{what}: more");
        assert!(page.messages.iter().all(|m| m.room == "p"), "{what}: room");
    };
    check(
        store.latest(&p, 10).await.expect("q"),
        &all[15..],
        true,
        "latest 10",
    );
    check(
        store.latest(&p, 25).await.expect("q"),
        &all,
        false,
        "latest 25",
    );
    check(
        store.latest(&p, 100).await.expect("q"),
        &all,
        false,
        "latest 100",
    );
    check(store.latest(&p, 0).await.expect("q"), &[], true, "latest 0");
    check(
        store.before(&p, all[10], 5).await.expect("q"),
        &all[5..10],
        true,
        "before 10",
    );
    check(
        store.before(&p, all[5], 5).await.expect("q"),
        &all[..5],
        false,
        "before 5",
    );
    check(
        store.before(&p, all[3], 5).await.expect("q"),
        &all[..3],
        false,
        "before 3",
    );
    check(
        store.before(&p, all[0], 5).await.expect("q"),
        &[],
        false,
        "before first",
    );
    check(
        store.before(&p, i64::MAX, 3).await.expect("q"),
        &all[22..],
        true,
        "before max",
    );
    check(
        store.since(&p, all[10], 5).await.expect("q"),
        &all[11..16],
        true,
        "since 10",
    );
    check(
        store.since(&p, all[19], 5).await.expect("q"),
        &all[20..],
        false,
        "since 19",
    );
    check(
        store.since(&p, all[24], 5).await.expect("q"),
        &[],
        false,
        "since last",
    );
    check(
        store.since(&p, 0, 100).await.expect("q"),
        &all,
        false,
        "since 0",
    );
    check(
        store.since(&p, 0, 24).await.expect("q"),
        &all[..24],
        true,
        "since 0, 24",
    );
    // An id from another room works as a cursor too.
    let q_mid = store.since(&room("q"), 0, 13).await.expect("q").messages[12].id;
    check(
        store.since(&p, q_mid, 100).await.expect("q"),
        &all[13..],
        false,
        "since q id",
    );
    let empty = store.latest(&room("nobody-here"), 10).await.expect("q");
    assert!(empty.messages.is_empty() && !empty.more);
    store.close().await;
}

async fn cid_dedup_sequential(url: String) {
    let (store, mut feed) = open(&url).await;
    let first = store
        .append(msg("a", "original", Some("c1")))
        .await
        .expect("append");
    assert!(!first.duplicate);
    let again = store
        .append(msg("a", "retry with other text", Some("c1")))
        .await
        .expect("append");
    assert!(again.duplicate);
    assert_eq!(*again.message, *first.message);
    assert_eq!(again.message.text, "original");
    // Same cid in another room is another message; no cid never de-duplicates.
    let other = store
        .append(msg("b", "other room", Some("c1")))
        .await
        .expect("append");
    assert!(!other.duplicate);
    assert!(other.message.id > first.message.id);
    let n1 = store.append(msg("a", "x", None)).await.expect("append");
    let n2 = store.append(msg("a", "x", None)).await.expect("append");
    assert!(!n1.duplicate && !n2.duplicate && n1.message.id != n2.message.id);

    let fed: Vec<i64> = take_feed(&mut feed, 4).await.iter().map(|m| m.id).collect();
    assert_eq!(
        fed,
        [
            first.message.id,
            other.message.id,
            n1.message.id,
            n2.message.id
        ]
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_feed_idle(&mut feed);
    let page = store.latest(&room("a"), 10).await.expect("latest");
    assert_eq!(page.messages.len(), 3);
    let stats = store.stats();
    assert_eq!((stats.stored, stats.duplicates), (4, 1));
    store.close().await;
}

async fn cid_dedup_concurrent(url: String) {
    let (store, mut feed) = open(&url).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append(msg("a", &format!("try {i}"), Some("same")))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task").expect("append"));
    }
    assert_eq!(results.iter().filter(|r| !r.duplicate).count(), 1);
    let id = results[0].message.id;
    assert!(results.iter().all(|r| r.message.id == id));
    let fed = take_feed(&mut feed, 1).await;
    assert_eq!(fed[0].id, id);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_feed_idle(&mut feed);
    let page = store.latest(&room("a"), 100).await.expect("latest");
    assert_eq!(ids(&page.messages), [id]);
    store.close().await;
}

async fn thousand_concurrent_appends_group_commit(url: String) {
    let (store, mut feed) = open(&url).await;
    let reader = tokio::spawn(async move {
        let got = take_feed(&mut feed, 1000).await;
        (got, feed)
    });
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = ["r1", "r2", "r3"][i % 3];
                store
                    .append(msg(r, &format!("n{i}"), Some(&format!("c{i}"))))
                    .await
            })
        })
        .collect();
    let mut acked = HashSet::new();
    for t in tasks {
        let a = t.await.expect("task").expect("append");
        assert!(!a.duplicate);
        assert!(acked.insert(a.message.id), "id {} twice", a.message.id);
    }
    let (fed, mut feed) = reader.await.expect("reader");
    let fed_ids: Vec<i64> = fed.iter().map(|m| m.id).collect();
    assert!(
        fed_ids.windows(2).all(|w| w[0] < w[1]),
        "feed not strictly ascending"
    );
    assert_eq!(fed_ids.iter().copied().collect::<HashSet<_>>(), acked);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_feed_idle(&mut feed);
    let stats = store.stats();
    eprintln!("1000 concurrent appends: {stats:?}");
    assert_eq!(stats.stored, 1000);
    assert!(
        stats.transactions <= 200,
        "group commit: {} transactions for 1000 appends",
        stats.transactions
    );
    let total: usize = {
        let mut n = 0;
        for r in ["r1", "r2", "r3"] {
            n += store
                .since(&room(r), 0, 1000)
                .await
                .expect("since")
                .messages
                .len();
        }
        n
    };
    assert_eq!(total, 1000);
    store.close().await;
}

async fn close_flushes_and_refuses(url: String) {
    let (store, mut feed) = open(&url).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append(msg("a", &format!("{i}"), None)).await })
        })
        .collect();
    // Let them all queue, then close: every queued append is written first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.close().await;
    for t in tasks {
        t.await
            .expect("task")
            .expect("queued before close, so stored");
    }
    let fed = take_feed(&mut feed, 20).await;
    assert_eq!(fed.len(), 20);
    assert!(feed.recv().await.is_none(), "feed ends after close");
    assert!(matches!(
        store.append(msg("a", "late", None)).await,
        Err(StoreError::Closed)
    ));
    assert!(store.ping().await.is_err());
    store.close().await; // twice is fine
}

fn user(n: u8) -> UserId {
    UserId::random([n; 16])
}

async fn user_id_round_trips(url: String) {
    let (store, mut feed) = open(&url).await;
    let alice = user(0xa1);
    let with = store
        .append(msg("u", "signed", Some("c1")).by(alice.clone()))
        .await
        .expect("append");
    assert_eq!(with.message.user_id.as_ref(), Some(&alice));
    let without = store
        .append(msg("u", "anonymous", None))
        .await
        .expect("append");
    assert_eq!(without.message.user_id, None);
    let fed = take_feed(&mut feed, 2).await;
    assert_eq!(fed[0].user_id.as_ref(), Some(&alice));
    assert_eq!(fed[1].user_id, None);

    let latest = store.latest(&room("u"), 10).await.expect("latest");
    let since = store.since(&room("u"), 0, 10).await.expect("since");
    let before = store
        .before(&room("u"), i64::MAX, 10)
        .await
        .expect("before");
    for page in [latest, since, before] {
        let uids: Vec<_> = page.messages.iter().map(|m| m.user_id.clone()).collect();
        assert_eq!(uids, [Some(alice.clone()), None]);
    }
    // A retry answered from the store carries the original sender, not the retrying one.
    let dup = store
        .append(msg("u", "retry", Some("c1")).by(user(0xb2)))
        .await
        .expect("append");
    assert!(dup.duplicate);
    assert_eq!(dup.message.user_id.as_ref(), Some(&alice));
    store.close().await;
}

/// Who sends cid `c{k}` in the batch test: every third cid has no user id.
fn owner_of(k: usize) -> Option<UserId> {
    (!k.is_multiple_of(3)).then(|| user((k % 7) as u8))
}

async fn user_id_survives_batches_and_dedup(url: String) {
    let (store, _feed) = open(&url).await;
    // Many concurrent appends land in few multi-row batches; repeats of a cid within a batch
    // are answered from the batch itself.
    let tasks: Vec<_> = (0..300u16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let k = usize::from(i % 150);
                let mut m = msg("b", &format!("n{i}"), Some(&format!("c{k}")));
                if let Some(owner) = owner_of(k) {
                    m = m.by(owner);
                }
                store.append(m).await
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let a = t.await.expect("task").expect("append");
        assert_eq!(a.message.user_id, owner_of(i % 150), "append {i}");
    }
    let page = store.since(&room("b"), 0, 1000).await.expect("since");
    assert_eq!(page.messages.len(), 150);
    for m in &page.messages {
        let k: usize = m.cid.as_deref().expect("cid")[1..].parse().expect("number");
        assert_eq!(m.user_id, owner_of(k), "{m:?}");
    }
    store.close().await;
}

async fn secrets_are_stable_and_per_name(url: String) {
    let (store, _feed) = open(&url).await;
    let a = store.secret("identity").await.expect("secret");
    assert_eq!(a.len(), chatroom_store::SECRET_BYTES);
    assert_ne!(a, vec![0; a.len()]);
    assert_eq!(store.secret("identity").await.expect("secret"), a);
    let b = store.secret("other").await.expect("secret");
    assert_eq!(b.len(), chatroom_store::SECRET_BYTES);
    assert_ne!(a, b);
    // Concurrent first calls agree.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.secret("raced").await })
        })
        .collect();
    let mut seen = HashSet::new();
    for r in racers {
        seen.insert(r.await.expect("task").expect("secret"));
    }
    assert_eq!(seen.len(), 1);
    store.close().await;
}

// ---------------------------------------------------------------- SQLite file

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("secret.db").display());
    let (store, _feed) = open(&url).await;
    let first = store.secret("identity").await.expect("secret");
    store.close().await;
    drop(store);
    let (store, _feed) = open(&url).await;
    assert_eq!(store.secret("identity").await.expect("secret"), first);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_stores_share_a_secret() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let url = schema.store_url(&pg_base_url());
    let (one, _f1) = open(&url).await;
    let (two, _f2) = open(&url).await;
    let (a, b) = tokio::join!(one.secret("identity"), two.secret("identity"));
    assert_eq!(a.expect("secret"), b.expect("secret"));
    one.close().await;
    two.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_keeps_messages_and_ids_keep_increasing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("sub.db").display());
    let (store, _feed) = open(&url).await;
    let mut last = 0;
    for i in 0..5 {
        last = store
            .append(msg(
                if i % 2 == 0 { "a" } else { "b" },
                "x",
                Some(&format!("k{i}")),
            ))
            .await
            .expect("append")
            .message
            .id;
    }
    store.close().await;
    drop(store);

    let (store, _feed) = open(&url).await;
    let page = store.latest(&room("a"), 10).await.expect("latest");
    assert_eq!(page.messages.len(), 3);
    let next = store.append(msg("b", "after", None)).await.expect("append");
    assert!(next.message.id > last, "{} <= {last}", next.message.id);
    // De-duplication survives the restart too.
    let dup = store
        .append(msg("a", "again", Some("k0")))
        .await
        .expect("append");
    assert!(dup.duplicate);
    assert_eq!(dup.message.text, "x");
    store.close().await;
}

// ---------------------------------------------------------------- PostgreSQL outage

/// A TCP proxy to PostgreSQL that the test can cut (existing connections die, new ones are
/// closed at once) and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let up = Arc::clone(&up);
            let conns = Arc::clone(&conns);
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            // Ends when either side closes or the task is aborted.
                            let _ended =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    conns.lock().expect("conns").push(task);
                }
            }
        });
        Proxy {
            addr,
            up,
            conns,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.conns.lock().expect("conns").drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `url` with its host:port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("url has a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority
        .rfind('@')
        .map_or(String::new(), |at| authority[..=at].to_owned());
    format!("{scheme}://{userinfo}{addr}{tail}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_appends_then_recovers() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let opts: sqlx::postgres::PgConnectOptions = pg_base_url().parse().expect("pg url");
    let target = tokio::net::lookup_host((opts.get_host(), opts.get_port()))
        .await
        .expect("resolve pg host")
        .next()
        .expect("pg address");
    let proxy = Proxy::start(target).await;
    let url = schema.store_url(&via(&pg_base_url(), proxy.addr));
    let (store, mut feed) = open(&url).await;

    let before = store
        .append(msg("a", "before", None))
        .await
        .expect("append while up");
    assert_eq!(take_feed(&mut feed, 1).await[0].id, before.message.id);

    proxy.cut();
    let started = std::time::Instant::now();
    let failed = store.append(msg("a", "during", Some("d1"))).await;
    assert!(
        matches!(failed, Err(StoreError::Db { .. } | StoreError::Timeout(_))),
        "append during outage: {failed:?}"
    );
    eprintln!(
        "append failed after {:?}: {}",
        started.elapsed(),
        failed
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        store.latest(&room("a"), 10).await.is_err(),
        "read during outage"
    );
    assert!(store.ping().await.is_err(), "ping during outage");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_feed_idle(&mut feed);
    assert!(store.stats().failed_transactions >= 1);

    proxy.restore();
    let after = store
        .append(msg("a", "after", Some("d1")))
        .await
        .expect("append after restore");
    assert!(!after.duplicate, "the failed append stored nothing");
    assert!(after.message.id > before.message.id);
    assert_eq!(take_feed(&mut feed, 1).await[0].id, after.message.id);
    let page = store.latest(&room("a"), 10).await.expect("latest");
    assert_eq!(
        page.messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["before", "after"]
    );
    store.ping().await.expect("ping after restore");
    store.close().await;
}

// ---------------------------------------------------------------- start-up errors

async fn open_err(url: &str) -> StoreError {
    match Store::open(url).await {
        Ok(_) => panic!("open {url} should fail"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn unknown_scheme_is_a_clear_error() {
    for url in ["mysql://x/y", "", "chat.db", "redis://127.0.0.1"] {
        let e = open_err(url).await;
        assert!(
            matches!(e, StoreError::UnknownScheme { .. }),
            "{url}: {e:?}"
        );
        let shown = e.to_string();
        assert!(shown.contains("unsupported database URL"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let e = open_err("postgres://postgres@127.0.0.1:5432/test?schema=x;drop").await;
    assert!(matches!(e, StoreError::InvalidUrl { .. }), "{e:?}");
    assert!(e.to_string().contains("schema"), "{e}");
    let e = open_err("postgres://u@127.0.0.1:notaport/db").await;
    assert!(matches!(e, StoreError::InvalidUrl { .. }), "{e:?}");
    let e = open_err("sqlite://x.db?mode=sideways").await;
    assert!(matches!(e, StoreError::InvalidUrl { .. }), "{e:?}");
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    let e = open_err("postgres://someone:hunter2@127.0.0.1:1/test").await;
    assert!(matches!(e, StoreError::Connect { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
    assert!(!shown.contains("hunter2"), "password in error: {shown}");

    let e = open_err("sqlite:///nonexistent-dir-for-chatroom-tests/chat.db").await;
    assert!(matches!(e, StoreError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("nonexistent-dir"), "{e}");
}

// ---------------------------------------------------------------- retention

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("ms fit i64")
}

fn msg_at(room: &str, text: &str, cid: Option<&str>, ts: i64) -> NewMessage {
    NewMessage {
        ts,
        ..msg(room, text, cid)
    }
}

fn days(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n * 86_400))
}

async fn purge(store: &Store, policy: RetentionPolicy, batch: u32) -> PurgeReport {
    let report = store.purge(&policy, batch).await.expect("purge");
    assert!(!report.skipped);
    report
}

/// Appends `texts` to `room` at `ts`, each with cid = its text; their ids.
async fn seed(store: &Store, room: &str, texts: &[&str], ts: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for t in texts {
        let a = store
            .append(msg_at(room, t, Some(t), ts))
            .await
            .expect("append");
        ids.push(a.message.id);
    }
    ids
}

async fn purge_by_age(url: String) {
    let (store, _feed) = open(&url).await;
    let old = now_ms() - 3 * DAY_MS;
    let a_old = seed(&store, "a", &["a1", "a2", "a3"], old).await;
    let b_old = seed(&store, "b", &["b1"], old).await;
    let a_new = seed(&store, "a", &["a4", "a5"], now_ms()).await;
    let c_new = seed(&store, "c", &["c1"], now_ms()).await;
    // Nothing purged yet: never truncated.
    let page = store.since(&room("a"), 0, 10).await.expect("since");
    assert!(!page.truncated && page.messages.len() == 5);

    let policy = RetentionPolicy {
        max_age: days(1),
        per_room: None,
    };
    // Batches of 2: 4 old rows take 2 full batches and an empty one.
    let report = purge(&store, policy, 2).await;
    assert_eq!((report.removed, report.rooms), (4, 2), "{report:?}");
    assert!(report.batches >= 2, "{report:?}");
    assert_eq!(purge(&store, policy, 2).await.removed, 0);

    // What is left keeps its ids.
    let page = store.latest(&room("a"), 10).await.expect("latest");
    assert_eq!(ids(&page.messages), a_new);
    assert!(page.truncated && !page.more);
    let page = store.since(&room("a"), 0, 10).await.expect("since 0");
    assert_eq!(ids(&page.messages), a_new);
    assert!(page.truncated);
    let page = store
        .since(&room("a"), a_old[2], 10)
        .await
        .expect("since last purged");
    assert_eq!(ids(&page.messages), a_new);
    assert!(
        !page.truncated,
        "nothing after the last purged id is missing"
    );
    let page = store
        .before(&room("a"), a_new[1], 10)
        .await
        .expect("before");
    assert_eq!(ids(&page.messages), [a_new[0]]);
    assert!(page.truncated);
    let page = store
        .before(&room("a"), a_new[1], 0)
        .await
        .expect("before, empty");
    assert!(
        page.more && !page.truncated,
        "older kept ones remain: not yet truncated"
    );
    let page = store.latest(&room("b"), 10).await.expect("b");
    assert!(page.messages.is_empty() && page.truncated);
    let page = store
        .since(&room("b"), b_old[0], 10)
        .await
        .expect("b since");
    assert!(!page.truncated);
    // A room that lost nothing is never truncated.
    let page = store.since(&room("c"), 0, 10).await.expect("c");
    assert_eq!(ids(&page.messages), c_new);
    assert!(!page.truncated);

    // cid: a kept message's retry returns the original; ids keep increasing.
    let again = store
        .append(msg_at("a", "other", Some("a4"), now_ms()))
        .await
        .expect("retry");
    assert!(again.duplicate);
    assert_eq!(again.message.id, a_new[0]);
    assert_eq!(again.message.text, "a4");
    let next = store
        .append(msg_at("a", "a6", None, now_ms()))
        .await
        .expect("next");
    assert!(next.message.id > c_new[0]);
    store.close().await;
}

async fn purge_per_room(url: String) {
    let (store, _feed) = open(&url).await;
    let texts: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let a = seed(&store, "a", &texts, now_ms()).await;
    let b = seed(&store, "b", &["b1", "b2"], now_ms()).await;
    let policy = RetentionPolicy {
        max_age: None,
        per_room: Some(4),
    };
    let report = purge(&store, policy, 10).await;
    assert_eq!((report.removed, report.rooms), (21, 1), "{report:?}");
    assert!(report.batches >= 3, "{report:?}");
    let page = store.latest(&room("a"), 50).await.expect("a");
    assert_eq!(ids(&page.messages), a[21..]);
    assert!(page.truncated);
    let page = store.since(&room("a"), a[10], 50).await.expect("a since");
    assert_eq!(ids(&page.messages), a[21..]);
    assert!(page.truncated);
    let page = store
        .since(&room("a"), a[20], 50)
        .await
        .expect("a since edge");
    assert!(!page.truncated);
    let page = store.latest(&room("b"), 50).await.expect("b");
    assert_eq!(ids(&page.messages), b);
    assert!(!page.truncated);
    // A purged message's cid is free again (documented): only kept ones de-duplicate.
    let kept = store
        .append(msg_at("a", "x", Some("m24"), now_ms()))
        .await
        .expect("kept");
    assert!(kept.duplicate && kept.message.id == a[24]);
    store.close().await;
}

/// `--retention-per-room N` keeps the N newest *messages* with their edits and reactions: a
/// busy message's reactions must not push the messages themselves out.
async fn purge_per_room_counts_messages_not_changes(url: String) {
    let (store, _feed) = open(&url).await;
    let mut a = Vec::new();
    for text in ["m0", "m1", "m2", "m3", "m4"] {
        a.push(
            store
                .append(said("a", text, 1))
                .await
                .expect("said")
                .message
                .id,
        );
    }
    for by in 1..=3 {
        store
            .append(change("a", ChangeKind::React, a[4], "👍", by))
            .await
            .expect("react");
    }
    store
        .append(change("a", ChangeKind::Edit, a[3], "m3 edited", 1))
        .await
        .expect("edit");
    let policy = RetentionPolicy {
        max_age: None,
        per_room: Some(2),
    };
    let report = purge(&store, policy, 100).await;
    assert_eq!(report.removed, 3, "m0..m2 and nothing else: {report:?}");
    let page = store.latest(&room("a"), 50).await.expect("a");
    assert_eq!(ids(&page.messages), a[3..]);
    assert_eq!(page.messages[0].text, "m3 edited");
    assert_eq!(page.messages[1].reactions.len(), 1);
    assert_eq!(page.messages[1].reactions[0].count, 3);
    store.close().await;
}

async fn purge_by_age_and_per_room(url: String) {
    let (store, _feed) = open(&url).await;
    let old = seed(&store, "a", &["o1", "o2"], now_ms() - 10 * DAY_MS).await;
    let fresh = seed(&store, "a", &["n1", "n2", "n3", "n4"], now_ms()).await;
    let b = seed(&store, "b", &["b1"], now_ms() - 10 * DAY_MS).await;
    let policy = RetentionPolicy {
        max_age: days(7),
        per_room: Some(3),
    };
    let report = purge(&store, policy, 1000).await;
    assert_eq!((report.removed, report.rooms), (4, 2), "{report:?}");
    let page = store.latest(&room("a"), 50).await.expect("a");
    assert_eq!(ids(&page.messages), fresh[1..]);
    assert!(page.truncated);
    let page = store.since(&room("b"), b[0] - 1, 50).await.expect("b");
    assert!(page.messages.is_empty() && page.truncated);
    assert!(old[1] < fresh[0]);
    store.close().await;
}

async fn purge_keeps_everything_without_policy(url: String) {
    let (store, _feed) = open(&url).await;
    seed(&store, "a", &["x", "y"], 1).await;
    let report = purge(&store, RetentionPolicy::default(), 1000).await;
    assert_eq!(report.removed, 0);
    let page = store.latest(&room("a"), 50).await.expect("a");
    assert_eq!(page.messages.len(), 2);
    assert!(!page.truncated);
    store.close().await;
}

/// Appends acknowledged while a purge of many batches runs are all there afterwards, with
/// their ids, and only the old messages went.
async fn appends_during_purge_are_kept(url: String) {
    let (store, _feed) = open(&url).await;
    let old = now_ms() - 5 * DAY_MS;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2000 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .append(msg_at("r", &format!("old{i}"), None, old))
                .await
        });
    }
    let mut olds = Vec::new();
    while let Some(a) = tasks.join_next().await {
        olds.push(a.expect("task").expect("append").message.id);
    }
    let policy = RetentionPolicy {
        max_age: days(1),
        per_room: None,
    };
    let purger = {
        let store = store.clone();
        tokio::spawn(async move { store.purge(&policy, 50).await })
    };
    let mut acked = Vec::new();
    for i in 0..200 {
        let a = store
            .append(msg_at(
                "r",
                &format!("new{i}"),
                Some(&format!("n{i}")),
                now_ms(),
            ))
            .await
            .expect("append during purge");
        acked.push(a.message.id);
    }
    let report = purger.await.expect("purge task").expect("purge");
    let report = PurgeReport {
        removed: report.removed + store.purge(&policy, 50).await.expect("again").removed,
        ..report
    };
    assert_eq!(report.removed, 2000);
    let page = store.since(&room("r"), 0, 1000).await.expect("since");
    assert_eq!(ids(&page.messages), acked);
    assert!(page.truncated);
    assert!(olds.iter().max() < acked.first());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_purge_returns_space_to_the_file_system() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chat.db");
    let url = format!("sqlite://{}", path.display());
    let (store, _feed) = open(&url).await;
    let text = "x".repeat(2000);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3000 {
        let (store, text) = (store.clone(), text.clone());
        tasks.spawn(async move { store.append(msg_at("big", &text, None, 1)).await });
    }
    while let Some(a) = tasks.join_next().await {
        a.expect("task").expect("append");
    }
    let pages = |url: String| async move {
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        let count: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .expect("page_count");
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut conn)
            .await
            .expect("auto_vacuum");
        (count, mode)
    };
    let (before, mode) = pages(url.clone()).await;
    assert_eq!(
        mode, 2,
        "new databases are created with auto_vacuum=INCREMENTAL"
    );
    let policy = RetentionPolicy {
        max_age: days(1),
        per_room: None,
    };
    assert_eq!(purge(&store, policy, 1000).await.removed, 3000);
    let (after, _) = pages(url.clone()).await;
    assert!(after * 4 < before, "pages {before} -> {after}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_purge_skips_while_another_process_purges() {
    let Some(db) = test_db(Kind::Postgres).await else {
        return;
    };
    let (store, _feed) = open(&db.url).await;
    seed(&store, "a", &["x"], 1).await;
    // Another node of the same store: same database, same schema.
    let schema = db
        .url
        .split("schema=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a schema per test")
        .to_owned();
    let mut other = sqlx::PgConnection::connect(&pg_base_url())
        .await
        .expect("connect");
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(chatroom_store::PURGE_LOCK_KEY)
        .bind(&schema)
        .fetch_one(&mut other)
        .await
        .expect("lock");
    assert!(locked);
    let policy = RetentionPolicy {
        max_age: days(1),
        per_room: None,
    };
    let report = store.purge(&policy, 1000).await.expect("purge");
    assert!(report.skipped && report.removed == 0, "{report:?}");
    assert_eq!(
        store.latest(&room("a"), 5).await.expect("a").messages.len(),
        1
    );
    // Unlock explicitly: a closed connection's backend releases its locks when it exits, which
    // under load can be after the next purge has already tried (and skipped).
    let unlocked: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1, hashtext($2))")
        .bind(chatroom_store::PURGE_LOCK_KEY)
        .bind(&schema)
        .fetch_one(&mut other)
        .await
        .expect("unlock");
    assert!(unlocked);
    other.close().await.expect("close");
    assert_eq!(purge(&store, policy, 1000).await.removed, 1);
    store.close().await;
}

// ---------------------------------------------------------------- per-room order (seq)

/// Every message of `room`, oldest first (paging with `since`).
async fn history(store: &Store, room_name: &str) -> Vec<Message> {
    let mut all: Vec<Message> = Vec::new();
    loop {
        let after = all.last().map_or(0, |m| m.id);
        let page = store
            .since(&room(room_name), after, 1000)
            .await
            .expect("since");
        all.extend(page.messages);
        if !page.more {
            return all;
        }
    }
}

/// Checks `messages` (one room, ascending by id) are numbered 1, 2, 3, … without holes.
fn assert_contiguous(messages: &[Message]) {
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
    let expected: Vec<i64> = (1..=messages.len() as i64).collect();
    assert_eq!(
        seqs,
        expected,
        "seqs of {:?}",
        messages.first().map(|m| &m.room)
    );
    assert!(messages.windows(2).all(|w| w[0].id < w[1].id));
}

fn heads_of(rooms: &[&str]) -> Vec<RoomName> {
    rooms.iter().map(|r| room(r)).collect()
}

async fn seqs_count_per_room_from_one(url: String) {
    let (store, mut feed) = open(&url).await;
    // Concurrent appends, so batches mix rooms and repeat cids within one batch.
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = ["a", "b", "技术"][i % 3];
                let cid = format!("k{}", i % 250); // 50 repeats
                store.append(msg(r, "x", Some(&cid))).await.expect("append")
            })
        })
        .collect();
    let mut appended = Vec::new();
    for t in tasks {
        appended.push(t.await.expect("task"));
    }
    let stored = appended.iter().filter(|a| !a.duplicate).count();
    let fed = take_feed(&mut feed, stored).await;
    for r in ["a", "b", "技术"] {
        let all = history(&store, r).await;
        assert_contiguous(&all);
        // The feed carries the same numbers, in the same order.
        let on_feed: Vec<(i64, i64)> = fed
            .iter()
            .filter(|m| m.room == r)
            .map(|m| (m.id, m.seq))
            .collect();
        let read: Vec<(i64, i64)> = all.iter().map(|m| (m.id, m.seq)).collect();
        assert_eq!(on_feed, read);
    }
    // A duplicate answers with the original, seq included.
    for a in &appended {
        let again = store
            .append(msg(&a.message.room, "retry", a.message.cid.as_deref()))
            .await
            .expect("retry");
        assert!(again.duplicate);
        assert_eq!(again.message.seq, a.message.seq);
        assert_eq!(*again.message, *a.message);
    }
    let counts: Vec<(String, i64)> = ["a", "b", "技术"]
        .iter()
        .map(|r| {
            let n = appended
                .iter()
                .filter(|a| !a.duplicate && a.message.room == *r)
                .count();
            ((*r).to_owned(), n as i64)
        })
        .collect();
    let heads = store
        .heads(&heads_of(&["技术", "never", "b", "a"]))
        .await
        .expect("heads");
    let mut expected = counts.clone();
    expected.sort();
    assert_eq!(heads, expected);
    assert_eq!(store.heads(&[]).await.expect("no rooms"), []);
    store.close().await;

    // Persistent stores keep counting where they were.
    if url == "memory" || url.contains(":memory:") {
        return;
    }
    let (store, _feed) = open(&url).await;
    assert_eq!(
        store
            .heads(&heads_of(&["a", "b", "技术"]))
            .await
            .expect("heads"),
        expected
    );
    let next = store
        .append(msg("b", "after reopen", None))
        .await
        .expect("append");
    let b = counts.iter().find(|(r, _)| r == "b").map_or(0, |(_, n)| *n);
    assert_eq!(next.message.seq, b + 1);
    let fresh = store
        .append(msg("new", "first", None))
        .await
        .expect("append");
    assert_eq!(fresh.message.seq, 1);
    store.close().await;
}

async fn purge_never_renumbers_rooms(url: String) {
    let (store, _feed) = open(&url).await;
    let texts: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    seed(&store, "a", &texts, now_ms() - 10 * DAY_MS).await;
    let report = purge(
        &store,
        RetentionPolicy {
            max_age: days(1),
            per_room: None,
        },
        4,
    )
    .await;
    assert_eq!(report.removed, 10);
    assert!(history(&store, "a").await.is_empty());
    assert_eq!(
        store.heads(&heads_of(&["a"])).await.expect("heads"),
        [("a".to_owned(), 10)]
    );
    let next = store
        .append(msg("a", "after purge", None))
        .await
        .expect("append");
    assert_eq!(next.message.seq, 11);
    store.close().await;
}

/// Two `Store`s on one PostgreSQL schema are two cluster nodes. Many concurrent appends from
/// both into one room (and a second room, so batches lock two rooms and could deadlock if the
/// lock order were not fixed): each room's seqs are exactly 1..N, ids increase with seq, and a
/// reader polling `since(last id seen)` meanwhile never skips a message that commits later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_nodes_share_one_room_order() {
    const PER_NODE: usize = 1500;
    const WRITERS: usize = 40;
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let url = schema.store_url(&pg_base_url());
    let (one, _f1) = open(&url).await;
    let (two, _f2) = open(&url).await;
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let store = one.clone();
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen: Vec<Message> = Vec::new();
            loop {
                // Read the flag before the page: the last round then starts after every commit.
                let finished = done.load(Ordering::SeqCst);
                let after = seen.last().map_or(0, |m| m.id);
                let page = store.since(&room("r"), after, 1000).await.expect("since");
                let more = page.more;
                seen.extend(page.messages);
                if finished && !more {
                    return seen;
                }
            }
        })
    };

    let mut writers = Vec::new();
    for (node, store) in [&one, &two].into_iter().enumerate() {
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for k in (w..PER_NODE).step_by(WRITERS) {
                    let r = if k % 4 == 0 { "s" } else { "r" };
                    let cid = format!("n{node}-{k}");
                    store.append(msg(r, "x", Some(&cid))).await.expect("append");
                }
            }));
        }
    }
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader");

    let all_r = history(&one, "r").await;
    let all_s = history(&two, "s").await;
    assert_eq!(all_r.len() + all_s.len(), 2 * PER_NODE);
    assert_contiguous(&all_r);
    assert_contiguous(&all_s);
    let seen_ids: Vec<i64> = seen.iter().map(|m| m.id).collect();
    assert_eq!(
        seen_ids,
        ids(&all_r),
        "the polling reader skipped or reordered"
    );
    assert_eq!(
        two.heads(&heads_of(&["r", "s"])).await.expect("heads"),
        [
            ("r".to_owned(), all_r.len() as i64),
            ("s".to_owned(), all_s.len() as i64)
        ]
    );
    // Both nodes really wrote, in batches.
    let (s1, s2) = (one.stats(), two.stats());
    assert_eq!((s1.stored, s2.stored), (PER_NODE as u64, PER_NODE as u64));
    assert!(s1.transactions < PER_NODE as u64 && s2.transactions < PER_NODE as u64);
    one.close().await;
    two.close().await;
}

/// A database written before migration 0005 gets its seqs from the backfill: per room, in id
/// order, and the counters continue from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_backfills_seqs() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&schema.admin_url)
        .await
        .expect("admin");
    sqlx::query(&format!("CREATE SCHEMA \"{}\"", schema.name))
        .execute(&mut admin)
        .await
        .expect("schema");
    let opts = sqlx::postgres::PgConnectOptions::from_str(&pg_base_url())
        .expect("url")
        .options([("search_path", schema.name.as_str())]);
    let mut conn = sqlx::PgConnection::connect_with(&opts)
        .await
        .expect("connect");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.expect("migrations");
    let before_seq: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 4)
        .cloned()
        .collect();
    assert_eq!(before_seq.len(), 4);
    migrator.migrations = before_seq.into();
    migrator.run(&mut conn).await.expect("migrate to 0004");
    // Interleaved rooms, and a gap in the ids (as a purge or a rolled-back batch leaves).
    for (room_name, text) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("a", "a3"),
        ("b", "b2"),
    ] {
        sqlx::query("INSERT INTO messages (room, name, text, ts) VALUES ($1, 'old', $2, 1)")
            .bind(room_name)
            .bind(text)
            .execute(&mut conn)
            .await
            .expect("insert");
    }
    sqlx::query("DELETE FROM messages WHERE text = 'a2'")
        .execute(&mut conn)
        .await
        .expect("delete");
    conn.close().await.expect("close");

    let (store, _feed) = open(&schema.store_url(&pg_base_url())).await;
    let a = history(&store, "a").await;
    let b = history(&store, "b").await;
    let texts = |ms: &[Message]| -> Vec<(String, i64)> {
        ms.iter().map(|m| (m.text.clone(), m.seq)).collect()
    };
    assert_eq!(texts(&a), [("a1".to_owned(), 1), ("a3".to_owned(), 2)]);
    assert_eq!(texts(&b), [("b1".to_owned(), 1), ("b2".to_owned(), 2)]);
    assert_eq!(
        store.heads(&heads_of(&["a", "b"])).await.expect("heads"),
        [("a".to_owned(), 2), ("b".to_owned(), 2)]
    );
    let next = store.append(msg("a", "new", None)).await.expect("append");
    assert_eq!(next.message.seq, 3);
    assert!(next.message.id > a[1].id);
    store.close().await;
}

// ---------------------------------------------------------------- changes (issue 11)

/// A change of `target` in `room` by user `by` (named `u{by}`).
fn change(room_name: &str, kind: ChangeKind, target: i64, text: &str, by: u8) -> NewMessage {
    NewMessage::change(
        room(room_name),
        UserName::new(&format!("u{by}")).expect("name"),
        Change { kind, target },
        text.to_owned(),
        &Limits::default(),
        1_700_000_000_500 + i64::from(by),
    )
    .expect("change")
    .by(user(by))
}

fn said(room_name: &str, text: &str, by: u8) -> NewMessage {
    msg(room_name, text, None).by(user(by))
}

async fn refused(store: &Store, new: NewMessage) -> ChatError {
    match store.append(new).await {
        Err(StoreError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn edits_take_their_place_in_the_room_order(url: String) {
    let (store, mut feed) = open(&url).await;
    let m1 = store
        .append(said("r", "first", 1))
        .await
        .expect("m1")
        .message;
    let m2 = store
        .append(said("r", "second", 2))
        .await
        .expect("m2")
        .message;
    let edit = store
        .append(change("r", ChangeKind::Edit, m1.id, "first, fixed", 1))
        .await
        .expect("edit");
    assert!(!edit.duplicate);
    let row = &edit.message;
    assert_eq!((row.seq, row.room.as_str()), (3, "r"));
    assert!(row.id > m2.id);
    assert_eq!(
        row.change,
        Some(Change {
            kind: ChangeKind::Edit,
            target: m1.id
        })
    );
    let after = edit.target.expect("target after");
    assert_eq!((after.id, after.text.as_str()), (m1.id, "first, fixed"));
    assert_eq!(after.edited, Some(row.ts));
    // The feed carries the change row like a message, after the messages, in id order.
    let fed = take_feed(&mut feed, 3).await;
    assert_eq!(
        ids(&fed.iter().map(|m| Message::clone(m)).collect::<Vec<_>>()),
        [m1.id, m2.id, row.id]
    );
    assert_eq!(fed[2].change, row.change);
    // History: messages only, current state.
    let page = store.latest(&room("r"), 10).await.expect("latest");
    assert_eq!(ids(&page.messages), [m1.id, m2.id]);
    assert!(page.changes.is_empty());
    assert_eq!(page.messages[0].text, "first, fixed");
    assert_eq!(page.messages[0].edited, Some(row.ts));
    assert_eq!(page.messages[1].edited, None);
    let json = serde_json::to_value(&page.messages[0]).expect("json");
    assert_eq!(json["edited"], serde_json::json!(row.ts));
    assert!(json.get("change").is_none(), "{json}");
    assert!(
        serde_json::to_value(&page.messages[1])
            .expect("json")
            .get("edited")
            .is_none()
    );
    let before = store
        .before(&room("r"), row.id + 1, 10)
        .await
        .expect("before");
    assert_eq!(ids(&before.messages), [m1.id, m2.id]);
    assert_eq!(
        store.message(m1.id).await.expect("message").map(|m| m.text),
        Some("first, fixed".to_owned())
    );
    // A change row is not a message.
    assert_eq!(store.message(row.id).await.expect("message"), None);
    // Its seq is in the room's head.
    assert_eq!(
        store.heads(&[room("r")]).await.expect("heads"),
        [("r".to_owned(), 3)]
    );
    // Edited again: the newest text wins.
    store
        .append(change("r", ChangeKind::Edit, m1.id, "third try", 1))
        .await
        .expect("edit again");
    let page = store.latest(&room("r"), 10).await.expect("latest");
    assert_eq!(page.messages[0].text, "third try");
    store.close().await;
}

async fn deletes_leave_a_tombstone_and_refusals_change_nothing(url: String) {
    let (store, mut feed) = open(&url).await;
    let m1 = store
        .append(msg("r", "oops", Some("c1")).by(user(1)))
        .await
        .expect("m1")
        .message;
    let other = store
        .append(said("elsewhere", "x", 1))
        .await
        .expect("m2")
        .message;
    store
        .append(change("r", ChangeKind::React, m1.id, "👍", 2))
        .await
        .expect("react");
    take_feed(&mut feed, 3).await;
    let gone = store
        .append(change("r", ChangeKind::Delete, m1.id, "", 1))
        .await
        .expect("delete");
    let tomb = gone.target.expect("tombstone");
    assert!(tomb.deleted && tomb.text.is_empty() && tomb.reactions.is_empty());
    assert_eq!(gone.message.text, "");
    take_feed(&mut feed, 1).await;
    let heads = store.heads(&[room("r")]).await.expect("heads");
    // Refused, each for what the store holds: nothing stored, nothing on the feed.
    let not_found = ChatError::NotFound("message");
    for (kind, text) in [
        (ChangeKind::Edit, "again"),
        (ChangeKind::Delete, ""),
        (ChangeKind::React, "🎉"),
        (ChangeKind::Unreact, "👍"),
    ] {
        assert_eq!(
            refused(&store, change("r", kind, m1.id, text, 1)).await,
            not_found
        );
    }
    assert_eq!(
        refused(&store, change("r", ChangeKind::Edit, m1.id + 1000, "x", 1)).await,
        not_found
    );
    // A change names a message, not a change row, and only in its own room.
    assert_eq!(
        refused(
            &store,
            change("r", ChangeKind::Edit, gone.message.id, "x", 1)
        )
        .await,
        not_found
    );
    assert_eq!(
        refused(&store, change("r", ChangeKind::Edit, other.id, "x", 1)).await,
        not_found
    );
    assert_eq!(store.heads(&[room("r")]).await.expect("heads"), heads);
    assert_feed_idle(&mut feed);
    let page = store.latest(&room("r"), 10).await.expect("latest");
    assert_eq!(page.messages.len(), 1);
    assert!(page.messages[0].deleted && page.messages[0].reactions.is_empty());
    // A retried send with the deleted message's cid gets the tombstone.
    let again = store
        .append(msg("r", "oops", Some("c1")))
        .await
        .expect("retry");
    assert!(again.duplicate && again.message.deleted, "{again:?}");
    store.close().await;
}

async fn reactions_count_names_and_limits(url: String) {
    let (store, _feed) = open(&url).await;
    let m = store.append(said("r", "vote", 1)).await.expect("m").message;
    for (emoji, by) in [("👍", 2), ("🎉", 3), ("👍", 3)] {
        let r = store
            .append(change("r", ChangeKind::React, m.id, emoji, by))
            .await
            .expect("react");
        assert!(!r.duplicate);
    }
    let head = store.heads(&[room("r")]).await.expect("heads");
    assert_eq!(head, [("r".to_owned(), 4)]);
    // The same reaction again, or taking back one never given: answered, nothing stored.
    let again = store
        .append(change("r", ChangeKind::React, m.id, "👍", 2))
        .await
        .expect("again");
    assert!(again.duplicate);
    assert_eq!(again.target.expect("target").reactions[0].count, 2);
    let never = store
        .append(change("r", ChangeKind::Unreact, m.id, "😀", 2))
        .await
        .expect("unreact");
    assert!(never.duplicate);
    assert_eq!(store.heads(&[room("r")]).await.expect("heads"), head);
    let page = store.latest(&room("r"), 10).await.expect("latest");
    let shape: Vec<(String, usize, Vec<String>, Vec<String>)> = page.messages[0]
        .reactions
        .iter()
        .map(|r| (r.emoji.clone(), r.count, r.names.clone(), r.uids.clone()))
        .collect();
    let uid = |n| user(n).as_str().to_owned();
    assert_eq!(
        shape,
        [
            (
                "👍".into(),
                2,
                vec!["u2".into(), "u3".into()],
                vec![uid(2), uid(3)]
            ),
            ("🎉".into(), 1, vec!["u3".into()], vec![uid(3)]),
        ]
    );
    let json = serde_json::to_value(&page.messages[0]).expect("json");
    assert_eq!(json["reactions"][0]["count"], 2);
    assert_eq!(
        json["reactions"][0]["names"],
        serde_json::json!(["u2", "u3"])
    );
    // Taken back: the count drops, an emoji nobody gives any more is gone.
    store
        .append(change("r", ChangeKind::Unreact, m.id, "🎉", 3))
        .await
        .expect("unreact");
    let now = store.message(m.id).await.expect("read").expect("message");
    assert_eq!(now.reactions.len(), 1);
    assert_eq!(now.reactions[0].emoji, "👍");
    // At most 20 different emoji; one already there may still be added.
    let emoji = [
        "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "😉", "😊", "😇", "🥰", "😍",
        "🤩", "😘", "😗", "😚",
    ];
    for e in emoji {
        store
            .append(change("r", ChangeKind::React, m.id, e, 4))
            .await
            .expect("react");
    }
    assert_eq!(
        refused(&store, change("r", ChangeKind::React, m.id, "🥲", 4)).await,
        ChatError::TooManyReactions { max: 20 }
    );
    store
        .append(change("r", ChangeKind::React, m.id, "😀", 5))
        .await
        .expect("an emoji already given");
    let now = store.message(m.id).await.expect("read").expect("message");
    assert_eq!(now.reactions.len(), 20);
    store.close().await;
}

async fn since_recovers_messages_and_changes_in_order(url: String) {
    let (store, _feed) = open(&url).await;
    let m1 = store.append(said("r", "one", 1)).await.expect("m1").message;
    let m2 = store.append(said("r", "two", 2)).await.expect("m2").message;
    let seen = m2.id;
    // What a client away since `seen` missed, in this order:
    let edit = store
        .append(change("r", ChangeKind::Edit, m1.id, "one!", 1))
        .await
        .expect("edit")
        .message;
    let react = store
        .append(change("r", ChangeKind::React, m2.id, "👍", 3))
        .await
        .expect("react")
        .message;
    let m3 = store
        .append(said("r", "three", 3))
        .await
        .expect("m3")
        .message;
    let delete = store
        .append(change("r", ChangeKind::Delete, m2.id, "", 2))
        .await
        .expect("delete")
        .message;
    let page = store.since(&room("r"), seen, 100).await.expect("since");
    assert_eq!(ids(&page.messages), [m3.id]);
    assert_eq!(ids(&page.changes), [edit.id, react.id, delete.id]);
    let kinds: Vec<ChangeKind> = page
        .changes
        .iter()
        .filter_map(|c| c.change.map(|c| c.kind))
        .collect();
    assert_eq!(
        kinds,
        [ChangeKind::Edit, ChangeKind::React, ChangeKind::Delete]
    );
    assert_eq!(page.changes[0].text, "one!");
    assert_eq!(page.changes[1].text, "👍");
    assert_eq!(page.changes[1].user_id, Some(user(3)));
    assert_eq!(page.through, Some(delete.id));
    assert!(!page.more);
    // The limit counts both kinds; continuing from `through` gets the rest exactly.
    let first = store.since(&room("r"), seen, 2).await.expect("since");
    assert!(first.more);
    assert_eq!(ids(&first.changes), [edit.id, react.id]);
    assert!(first.messages.is_empty());
    assert_eq!(first.through, Some(react.id));
    let rest = store.since(&room("r"), react.id, 2).await.expect("since");
    assert_eq!(ids(&rest.messages), [m3.id]);
    assert_eq!(ids(&rest.changes), [delete.id]);
    assert!(!rest.more);
    // Nothing new: an empty page through nothing.
    let none = store.since(&room("r"), delete.id, 10).await.expect("since");
    assert_eq!(
        (none.messages.len(), none.changes.len(), none.through),
        (0, 0, None)
    );
    // Messages in a since answer are in their current state.
    let all = store.since(&room("r"), 0, 100).await.expect("since");
    assert_eq!(all.messages[0].text, "one!");
    assert!(all.messages[1].deleted);
    // The relay's gap filling reads by seq and gets the changes too, in seq order.
    let by_seq = store
        .since_seq(&room("r"), 2, 100)
        .await
        .expect("since_seq");
    let mut seqs: Vec<i64> = by_seq
        .messages
        .iter()
        .chain(&by_seq.changes)
        .map(|m| m.seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [3, 4, 5, 6]);
    assert_eq!(ids(&by_seq.changes), [edit.id, react.id, delete.id]);
    store.close().await;
}

async fn concurrent_reactions_in_one_batch(url: String) {
    let (store, mut feed) = open(&url).await;
    let m = store
        .append(said("r", "party", 1))
        .await
        .expect("m")
        .message;
    take_feed(&mut feed, 1).await;
    // Queued together (one group commit, most likely): every user once, the repeats no-ops.
    let mut commits = Vec::new();
    for by in 0..20u8 {
        let who = by % 10;
        commits.push(
            store
                .submit(change("r", ChangeKind::React, m.id, "🎉", who + 10))
                .await
                .expect("submit"),
        );
    }
    let mut stored = 0;
    for commit in commits {
        if !commit.await.expect("react").duplicate {
            stored += 1;
        }
    }
    assert_eq!(stored, 10);
    let fed = take_feed(&mut feed, 10).await;
    let seqs: Vec<i64> = fed.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (2..=11).collect::<Vec<_>>());
    assert_feed_idle(&mut feed);
    let now = store.message(m.id).await.expect("read").expect("message");
    assert_eq!(now.reactions.len(), 1);
    assert_eq!(now.reactions[0].count, 10);
    store.close().await;
}
