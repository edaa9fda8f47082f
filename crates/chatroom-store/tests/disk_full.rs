//! The SQLite store when its disk fills up and is freed again: writes are refused while it is
//! full, the writer recovers by itself afterwards, and every acknowledged message is really in
//! the database — readable through the store and after reopening the file. The soak found the
//! opposite (acks for messages that never left an open transaction, issue 7), so this runs for
//! real: the database sits on a 2 MiB tmpfs that a filler file fills up (mounting needs root,
//! which CI is; elsewhere the test says why it cannot run and fails).

use chatroom_core::{Limits, NewMessage, RoomName, UserName};
use chatroom_store::Store;
use std::process::Command;

struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "this test needs root to mount a small tmpfs"
        );
        Self(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn message(i: usize) -> NewMessage {
    NewMessage::new(
        RoomName::lobby(),
        UserName::new("filler").unwrap(),
        format!("{i:04} {}", "x".repeat(3000)),
        None,
        &Limits::default(),
        0,
    )
    .unwrap()
}

#[tokio::test]
async fn sqlite_writer_recovers_after_the_disk_was_full() {
    let dir = tempfile::tempdir().unwrap();
    let _tmpfs = Tmpfs::mount(dir.path());
    let db = dir.path().join("chat.db");
    let filler = dir.path().join("filler");
    std::fs::write(&filler, vec![0u8; 1400 * 1024]).unwrap();
    let url = format!("sqlite://{}", db.display());
    let (store, _feed) = Store::open(&url).await.expect("opens");

    let mut acked = Vec::new();
    let mut full = false;
    for i in 0..400 {
        match store.append(message(i)).await {
            Ok(appended) => acked.push(appended.message.id),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the disk never filled ({} acked)", acked.len());
    // Still full: refused again, nothing acknowledged.
    for i in 500..503 {
        if let Ok(appended) = store.append(message(i)).await {
            acked.push(appended.message.id);
        }
    }

    std::fs::remove_file(&filler).unwrap();
    for i in 1000..1020 {
        let appended = store
            .append(message(i))
            .await
            .expect("writes again once there is room");
        acked.push(appended.message.id);
    }

    let stored: Vec<i64> = store
        .since(&RoomName::lobby(), 0, 1000)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id)
        .collect();
    for id in &acked {
        assert!(
            stored.contains(id),
            "acked message {id} is not in the database"
        );
    }
    store.close().await;
    let (reopened, _feed) = Store::open(&url).await.unwrap();
    let page = reopened.since(&RoomName::lobby(), 0, 1000).await.unwrap();
    assert_eq!(page.messages.len(), acked.len(), "after reopening the file");
}
