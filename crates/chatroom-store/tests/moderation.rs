//! The moderation storage contract (bans, audit trail, tombstones) on every backend: memory, an
//! SQLite file and PostgreSQL (a fresh schema per test in `CHATROOM_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`; PostgreSQL not answering FAILS the test unless
//! `CHATROOM_SKIP_PG=1`). Bans and the audit must survive a reopen, as a server restart.

use chatroom_core::{Change, ChangeKind, ChatError, Cid, Limits, NewMessage, RoomName, UserName};
use chatroom_store::{NewAudit, NewBan, Store, StoreError};

mod common;
use common::{open, test_db};

fn log(action: &str, target: &str) -> NewAudit {
    NewAudit {
        ts: 1_700_000_000_000,
        actor: "mod (moderator)".into(),
        action: action.into(),
        target: target.into(),
        reason: Some(format!("why {action}")),
        detail: None,
    }
}

async fn bans_persist_expire_and_lift(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let now = 1_800_000_000_000;
    let by_name = store
        .ban(
            NewBan {
                name: Some("Eve".into()),
                name_key: Some("eve".into()),
                user_id: Some("u-eve".into()),
                until_ms: Some(now + 60_000),
                reason: Some("spam".into()),
                actor: "mod (moderator)".into(),
                created_ms: now,
                ..NewBan::default()
            },
            log("ban", "Eve"),
        )
        .await
        .expect("ban");
    let by_ip = store
        .ban(
            NewBan {
                ip: Some("203.0.113.9".into()),
                actor: "admin-api".into(),
                created_ms: now,
                ..NewBan::default()
            },
            log("ban", "203.0.113.9"),
        )
        .await
        .expect("ban ip");
    let expired = store
        .ban(
            NewBan {
                name_key: Some("old".into()),
                until_ms: Some(now - 1),
                actor: "admin-api".into(),
                created_ms: now - 10,
                ..NewBan::default()
            },
            log("ban", "old"),
        )
        .await
        .expect("ban expired");
    assert!(by_name.id < by_ip.id && by_ip.id < expired.id);
    let in_force = store.bans(now).await.expect("bans");
    assert_eq!(in_force, vec![by_name.clone(), by_ip.clone()]);
    assert!(store.bans(now + 60_000).await.expect("bans").len() == 1);
    if kind != "memory" {
        // A restart keeps them.
        store.close().await;
        let store = open(&db.url).await;
        assert_eq!(store.bans(now).await.expect("bans"), in_force);
        check_unban(&store, by_name.id, now).await;
        store.close().await;
    } else {
        check_unban(&store, by_name.id, now).await;
    }
}

async fn check_unban(store: &Store, id: i64, now: i64) {
    let lifted = store
        .unban(id, log("unban", &id.to_string()))
        .await
        .expect("unban");
    assert_eq!(lifted.map(|b| b.id), Some(id));
    assert!(
        store
            .unban(id, log("unban", &id.to_string()))
            .await
            .expect("unban again")
            .is_none(),
        "a lifted ban is gone"
    );
    assert!(
        store
            .bans(now)
            .await
            .expect("bans")
            .iter()
            .all(|b| b.id != id)
    );
    // Three bans and one unban recorded; the second unban changed nothing and is not.
    let audit = store.audit_log(None, 100).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["unban", "ban", "ban", "ban"]);
    assert_eq!(audit[3].target, "Eve");
    assert_eq!(audit[3].reason.as_deref(), Some("why ban"));
    assert!(
        audit[3]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("ban ")),
        "{audit:?}"
    );
}

async fn tombstones_and_audit_paging(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let room = RoomName::new("mods").expect("room");
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = NewMessage::new(
            room.clone(),
            UserName::new("ann").expect("name"),
            format!("m{i}"),
            Some(Cid::new(&format!("c{i}")).expect("cid")),
            &Limits::default(),
            1_700_000_000_000 + i,
        )
        .expect("message");
        ids.push(store.append(new).await.expect("append").message.id);
    }
    // A moderator's delete is a change row written with its audit entry (one transaction).
    let delete = |target| {
        NewMessage::change(
            room.clone(),
            UserName::new("mod").expect("name"),
            Change {
                kind: ChangeKind::Delete,
                target,
            },
            String::new(),
            &Limits::default(),
            1_700_000_000_100,
        )
        .expect("delete")
    };
    let gone = store
        .append_audited(delete(ids[1]), log("delete", &ids[1].to_string()))
        .await
        .expect("tombstone");
    let gone = gone.target.expect("the tombstone");
    assert!(gone.deleted);
    assert_eq!(gone.text, "");
    assert_eq!((gone.id, gone.room.as_str()), (ids[1], "mods"));
    assert_eq!(gone.name, "ann");
    // Nothing to delete: refused, and nothing recorded.
    let missing = store
        .append_audited(delete(ids[2] + 1000), log("delete", "nothing"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::Refused(ChatError::NotFound(_)))),
        "{missing:?}"
    );
    let page = store.latest(&room, 10).await.expect("latest");
    let shown: Vec<(&str, bool)> = page
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.deleted))
        .collect();
    assert_eq!(shown, [("m0", false), ("", true), ("m2", false)]);
    let json = serde_json::to_value(&page.messages[1]).expect("json");
    assert_eq!(json["deleted"], true);
    assert!(serde_json::to_value(&page.messages[0]).expect("json")["deleted"].is_null());
    // A retried send with the deleted message's cid gets the tombstone, not the old text.
    let retry = NewMessage::new(
        room.clone(),
        UserName::new("ann").expect("name"),
        "m1 again".into(),
        Some(Cid::new("c1").expect("cid")),
        &Limits::default(),
        1,
    )
    .expect("message");
    let again = store.append(retry).await.expect("append");
    assert!(again.duplicate && again.message.deleted, "{again:?}");

    for i in 0..5 {
        store
            .record(log("kick", &format!("user{i}")))
            .await
            .expect("record");
    }
    let first = store.audit_log(None, 3).await.expect("audit");
    let targets: Vec<&str> = first.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["user4", "user3", "user2"]);
    let rest = store
        .audit_log(Some(first[2].id), 100)
        .await
        .expect("audit");
    let targets: Vec<&str> = rest.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["user1", "user0", ids[1].to_string().as_str()]);
    store.close().await;
}

macro_rules! on_every_backend {
    ($($test:ident),*) => {
        $(mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() { super::$test("memory").await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$test("sqlite").await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$test("postgres").await }
        })*
    };
}

on_every_backend!(bans_persist_expire_and_lift, tombstones_and_audit_paging);
