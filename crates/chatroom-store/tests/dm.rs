//! The direct-message and read-position contract (issue 11) on every backend: memory, an SQLite
//! file and PostgreSQL (a fresh schema per test in `CHATROOM_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`; PostgreSQL not answering FAILS the test unless
//! `CHATROOM_SKIP_PG=1`). Participants and read positions must survive a reopen, as a server
//! restart; counts leave out the reader's own and deleted messages.

use chatroom_core::{Change, ChangeKind, Limits, NewMessage, RoomName, UserId, UserName, dm_room};
use chatroom_store::{DmPeer, NewAudit, ReadState, Store, UNREAD_CAP};

mod common;
use common::{open, test_db};

fn uid(n: u8) -> UserId {
    UserId::random([n; 16])
}

fn peer(n: u8, name: &str) -> DmPeer {
    DmPeer {
        user_id: uid(n),
        name: name.into(),
    }
}

fn name(n: &str) -> UserName {
    UserName::new(n).expect("name")
}

/// Stores `text` in `room` from user `from` (named `sender`); its id.
async fn say(store: &Store, room: &RoomName, sender: &str, from: &UserId, text: &str) -> i64 {
    let new = NewMessage::new(
        room.clone(),
        name(sender),
        text.into(),
        None,
        &Limits::default(),
        1_700_000_000_000,
    )
    .expect("message")
    .by(from.clone());
    store.append(new).await.expect("append").message.id
}

async fn dm_open_is_idempotent_and_private(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let (ann, bob, eve) = (peer(1, "Ann"), peer(2, "Bob"), peer(3, "Eve"));
    let room = dm_room(&ann.user_id, &bob.user_id);
    assert!(store.dm_members(&room).await.unwrap().is_empty());
    assert!(!store.is_dm_member(&room, &ann.user_id).await.unwrap());

    assert!(store.open_dm(&room, &ann, &bob).await.unwrap(), "new");
    assert!(!store.open_dm(&room, &bob, &ann).await.unwrap(), "again");
    let mut members = store.dm_members(&room).await.unwrap();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(members, [ann.clone(), bob.clone()]);
    assert!(store.is_dm_member(&room, &ann.user_id).await.unwrap());
    assert!(store.is_dm_member(&room, &bob.user_id).await.unwrap());
    assert!(!store.is_dm_member(&room, &eve.user_id).await.unwrap());

    // Opening again refreshes the names.
    let renamed = peer(2, "Robert");
    assert!(!store.open_dm(&room, &ann, &renamed).await.unwrap());
    let members = store.dm_members(&room).await.unwrap();
    assert!(members.contains(&renamed), "{members:?}");

    let other = dm_room(&ann.user_id, &eve.user_id);
    assert!(store.open_dm(&other, &eve, &ann).await.unwrap());
    let mut rooms = store.dm_rooms_of(&ann.user_id).await.unwrap();
    rooms.sort();
    let mut want = vec![room.to_string(), other.to_string()];
    want.sort();
    assert_eq!(rooms, want);
    assert_eq!(
        store.dm_rooms_of(&bob.user_id).await.unwrap(),
        [room.to_string()]
    );
    assert!(store.dm_rooms_of(&uid(9)).await.unwrap().is_empty());

    // A restart keeps them.
    store.close().await;
    if kind != "memory" {
        let store = open(&db.url).await;
        assert!(store.is_dm_member(&room, &bob.user_id).await.unwrap());
        assert!(!store.open_dm(&room, &ann, &bob).await.unwrap());
        store.close().await;
    }
}

async fn seen_users(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let lobby = RoomName::lobby();
    assert_eq!(store.seen_user(&uid(1)).await.unwrap(), None);
    say(&store, &lobby, "Ann", &uid(1), "hello").await;
    say(&store, &lobby, "Ann B", &uid(1), "renamed").await;
    say(&store, &lobby, "Bob", &uid(2), "hi").await;
    assert_eq!(
        store.seen_user(&uid(1)).await.unwrap().as_deref(),
        Some("Ann B"),
        "the newest message's name"
    );
    assert_eq!(store.seen_user(&uid(3)).await.unwrap(), None);
    let room = dm_room(&uid(3), &uid(4));
    store
        .open_dm(&room, &peer(3, "Cy"), &peer(4, "Di"))
        .await
        .unwrap();
    assert_eq!(
        store.seen_user(&uid(3)).await.unwrap().as_deref(),
        Some("Cy")
    );
    assert_eq!(store.seen_user(&uid(5)).await.unwrap(), None);
    store.close().await;
}

async fn read_positions_move_forward_only(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let r = RoomName::new("reading").unwrap();
    let (ann, bob) = (uid(1), uid(2));
    // Nothing to have read in an empty room: nothing stored.
    assert_eq!(store.mark_read(&ann, &r, 5).await.unwrap(), None);
    assert_eq!(store.read_position(&ann, &r).await.unwrap(), None);

    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(say(&store, &r, "Bob", &bob, &format!("m{i}")).await);
    }
    assert_eq!(
        store.mark_read(&ann, &r, ids[1]).await.unwrap(),
        Some(ids[1])
    );
    assert_eq!(
        store.mark_read(&ann, &r, ids[0]).await.unwrap(),
        Some(ids[1]),
        "backwards is answered with the stored position"
    );
    assert_eq!(store.read_position(&ann, &r).await.unwrap(), Some(ids[1]));
    // Past the newest message: clamped to it.
    assert_eq!(
        store.mark_read(&ann, &r, i64::MAX).await.unwrap(),
        Some(ids[3])
    );
    // Per user and per room.
    assert_eq!(store.read_position(&bob, &r).await.unwrap(), None);
    let elsewhere = RoomName::new("elsewhere").unwrap();
    assert_eq!(store.read_position(&ann, &elsewhere).await.unwrap(), None);

    store.close().await;
    if kind != "memory" {
        let store = open(&db.url).await;
        assert_eq!(store.read_position(&ann, &r).await.unwrap(), Some(ids[3]));
        store.close().await;
    }
}

async fn unread_and_mentions_count_what_others_wrote(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let r = RoomName::new("counting").unwrap();
    let (ann, bob) = (uid(1), uid(2));
    let me = name("Ann Lee");
    assert_eq!(
        store.read_state(&ann, &me, &r).await.unwrap(),
        ReadState::default()
    );
    let first = say(&store, &r, "Bob", &bob, "hello @ann lee!").await;
    say(&store, &r, "Ann Lee", &ann, "my own @Ann Lee never counts").await;
    say(&store, &r, "Bob", &bob, "no mention of @annie").await;
    let doomed = say(&store, &r, "Bob", &bob, "@Ann Lee deleted later").await;
    say(&store, &r, "Bob", &bob, "@ANN LEE, again").await;
    let log = NewAudit {
        ts: 1,
        actor: "mod (moderator)".into(),
        action: "delete".into(),
        target: doomed.to_string(),
        reason: None,
        detail: None,
    };
    let delete = NewMessage::change(
        r.clone(),
        name("mod"),
        Change {
            kind: ChangeKind::Delete,
            target: doomed,
        },
        String::new(),
        &Limits::default(),
        1_700_000_000_001,
    )
    .expect("delete change");
    store.append_audited(delete, log).await.expect("deleted");

    // No position: every other message counts.
    assert_eq!(
        store.read_state(&ann, &me, &r).await.unwrap(),
        ReadState {
            read: None,
            unread: 3,
            mentions: 2
        }
    );
    // Bob's own messages never count for Bob; Ann's one does, and mentions nobody called Bob.
    assert_eq!(
        store.read_state(&bob, &name("Bob"), &r).await.unwrap(),
        ReadState {
            read: None,
            unread: 1,
            mentions: 0
        }
    );
    store.mark_read(&ann, &r, first).await.unwrap();
    assert_eq!(
        store.read_state(&ann, &me, &r).await.unwrap(),
        ReadState {
            read: Some(first),
            unread: 2,
            mentions: 1
        }
    );
    store.close().await;
}

async fn unread_counts_stop_at_the_cap(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let r = RoomName::new("busy").unwrap();
    let bob = uid(2);
    // A mention older than the newest UNREAD_CAP unread messages is not looked at.
    say(&store, &r, "Bob", &bob, "@ann long ago").await;
    let sends: Vec<_> = (0..UNREAD_CAP + 5)
        .map(|i| {
            let store = store.clone();
            let r = r.clone();
            let bob = bob.clone();
            tokio::spawn(async move { say(&store, &r, "Bob", &bob, &format!("plain {i}")).await })
        })
        .collect();
    for send in sends {
        send.await.expect("send task");
    }
    let ann = name("ann");
    let state = store.read_state(&uid(1), &ann, &r).await.unwrap();
    assert_eq!((state.unread, state.mentions), (UNREAD_CAP, 0));
    for i in 0..3 {
        say(&store, &r, "Bob", &bob, &format!("@ann new {i}")).await;
    }
    let state = store.read_state(&uid(1), &ann, &r).await.unwrap();
    assert_eq!((state.unread, state.mentions), (UNREAD_CAP, 3));
    store.close().await;
}

async fn conversations_newest_first_with_counts(kind: &str) {
    let Some(db) = test_db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let (ann, bob, cy, di) = (peer(1, "Ann"), peer(2, "Bob"), peer(3, "Cy"), peer(4, "Di"));
    let with_bob = dm_room(&ann.user_id, &bob.user_id);
    let with_cy = dm_room(&ann.user_id, &cy.user_id);
    let with_di = dm_room(&ann.user_id, &di.user_id);
    let not_ann = dm_room(&bob.user_id, &cy.user_id);
    for (room, a, b) in [
        (&with_bob, &ann, &bob),
        (&with_cy, &cy, &ann),
        (&with_di, &ann, &di),
        (&not_ann, &bob, &cy),
    ] {
        assert!(store.open_dm(room, a, b).await.unwrap());
    }
    let me = name("Ann");
    assert!(store.conversations(&uid(9), &me).await.unwrap().is_empty());

    say(&store, &with_cy, "Cy", &cy.user_id, "hi @ann").await;
    let bob_first = say(&store, &with_bob, "Bob", &bob.user_id, "one").await;
    say(&store, &with_bob, "Bob", &bob.user_id, "two @Ann.").await;
    let last_bob = say(&store, &with_bob, "Ann", &ann.user_id, "mine").await;
    say(&store, &not_ann, "Bob", &bob.user_id, "private").await;
    store
        .mark_read(&ann.user_id, &with_bob, bob_first)
        .await
        .unwrap();

    let list = store.conversations(&ann.user_id, &me).await.unwrap();
    let rooms: Vec<&str> = list.iter().map(|c| c.room.as_str()).collect();
    assert_eq!(
        rooms,
        [with_bob.as_str(), with_cy.as_str(), with_di.as_str()],
        "newest activity first, the silent one last; never a DM of others"
    );
    assert_eq!(list[0].with, bob);
    assert_eq!(list[0].last.as_ref().map(|m| m.id), Some(last_bob));
    assert_eq!(list[0].last.as_ref().map(|m| m.text.as_str()), Some("mine"));
    assert_eq!(
        list[0].state,
        ReadState {
            read: Some(bob_first),
            unread: 1,
            mentions: 1
        }
    );
    assert_eq!(list[1].with, cy);
    assert_eq!(
        list[1].state,
        ReadState {
            read: None,
            unread: 1,
            mentions: 1
        }
    );
    assert_eq!(list[2].with, di);
    assert_eq!(list[2].last, None);
    assert_eq!(list[2].state, ReadState::default());

    // Bob sees the same room from his side.
    let bobs = store
        .conversations(&bob.user_id, &name("Bob"))
        .await
        .unwrap();
    let bob_rooms: Vec<&str> = bobs.iter().map(|c| c.room.as_str()).collect();
    assert_eq!(bob_rooms, [not_ann.as_str(), with_bob.as_str()]);
    assert_eq!(bobs[1].with, ann);
    assert_eq!(bobs[1].state.unread, 1, "Ann's message only");
    store.close().await;
}

macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test("memory").await } )* }
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test("postgres").await } )* }
    };
}

on_every_backend!(
    dm_open_is_idempotent_and_private,
    seen_users,
    read_positions_move_forward_only,
    unread_and_mentions_count_what_others_wrote,
    unread_counts_stop_at_the_cap,
    conversations_newest_first_with_counts,
);
