//! Changes of stored messages — edit, delete, react, unreact — on the server side: storing one
//! (`socket/edit.rs`, `socket/delete.rs`, `socket/react.rs` and the moderators' delete in
//! [`crate::moderation`] all go through [`store`]), and turning a stored change row into the
//! event clients get (`edited`, `deleted`, `reaction`), live ([`crate::socket::deliver`]) and
//! in a `join {room, since}` answer ([`event`]). One place, so both paths send the same payload.
//!
//! A change is a row in the room's order (see chatroom-store): checked against its target and
//! applied in the writer's transaction, published on the committed feed after commit, relayed
//! to the other nodes of a cluster by seq like a message.

use crate::app::App;
use crate::socket::store_failed;
use chatroom_core::{
    Change, ChangeKind, ChatError, Limits, Message, MessageId, NewMessage, RoomName, UserId,
    UserName,
};
use chatroom_store::{NewAudit, StoreError};
use serde_json::json;

/// Server → client events of changes.
pub mod events {
    /// A message's new text: `{id, room, text, edited, seq, change, name, uid}`.
    pub const EDITED: &str = "edited";
    /// A message became a tombstone: `{id, room, seq, change, by}`.
    pub const DELETED: &str = "deleted";
    /// A reaction given or taken back: `{id, room, emoji, name, uid, added, seq, change}`.
    pub const REACTION: &str = "reaction";
}

/// Who makes a change: the name and user id stored on its row.
pub struct Author {
    /// Display name now (`by` of a `deleted`, `name` of the others).
    pub name: UserName,
    /// User id (`None`: the admin API).
    pub user_id: Option<UserId>,
}

/// Message `id` in its current state; `not_found` if there is none, or it is a tombstone.
pub async fn target(app: &App, id: MessageId) -> Result<Message, ChatError> {
    match app.store.message(id).await {
        Ok(Some(message)) if !message.deleted => Ok(message),
        Ok(_) => Err(ChatError::NotFound("message")),
        Err(error) => Err(store_failed(app)(error)),
    }
}

/// Stores change `kind` of `target` (read with [`target`]) by `author`, with `text` (an edit's
/// new text, a reaction's emoji; checked here) and, for a moderation action, its audit entry
/// (same transaction). Answers with the target as it is after the change (for a reaction given
/// twice or taken back when not given: as it is, nothing stored). A refusal the store finds
/// (deleted meanwhile, too many reactions) comes back as its own error.
pub async fn store(
    app: &App,
    target: &Message,
    author: Author,
    kind: ChangeKind,
    text: String,
    audit: Option<NewAudit>,
) -> Result<Message, ChatError> {
    let room = RoomName::new(&target.room).map_err(|_| ChatError::NotFound("message"))?;
    let mut new = NewMessage::change(
        room,
        author.name,
        Change {
            kind,
            target: target.id,
        },
        text,
        &Limits::default(),
        crate::clock::now_ms(),
    )?;
    new.user_id = author.user_id;
    let appended = match audit {
        Some(audit) => app.store.append_audited(new, audit).await,
        None => app.store.append(new).await,
    };
    match appended {
        Ok(appended) => Ok(appended
            .target
            .map_or_else(|| target.clone(), |t| Message::clone(&t))),
        Err(StoreError::Refused(refusal)) => Err(refusal),
        Err(error) => Err(store_failed(app)(error)),
    }
}

/// The event a stored change row becomes (`None` for a message): its name and payload. `id` is
/// the target, `change` the row's own id (usable as `since`), `seq` its place in the room.
pub fn event(row: &Message) -> Option<(&'static str, serde_json::Value)> {
    let change = row.change?;
    let uid = row.user_id.as_ref().map(UserId::as_str);
    Some(match change.kind {
        ChangeKind::Edit => (
            events::EDITED,
            json!({
                "id": change.target, "room": row.room, "text": row.text, "edited": row.ts,
                "seq": row.seq, "change": row.id, "name": row.name, "uid": uid,
            }),
        ),
        ChangeKind::Delete => (
            events::DELETED,
            json!({
                "id": change.target, "room": row.room, "seq": row.seq, "change": row.id,
                "by": row.name,
            }),
        ),
        ChangeKind::React | ChangeKind::Unreact => (
            events::REACTION,
            json!({
                "id": change.target, "room": row.room, "emoji": row.text, "name": row.name,
                "uid": uid, "added": change.kind == ChangeKind::React, "seq": row.seq,
                "change": row.id,
            }),
        ),
    })
}

/// A change row as an entry of a `join {room, since}` answer's `changes`: `{event, ...payload}`.
pub fn recovered(row: &Message) -> Option<serde_json::Value> {
    let (name, mut payload) = event(row)?;
    if let Some(fields) = payload.as_object_mut() {
        fields.insert("event".into(), name.into());
    }
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ChangeKind, text: &str) -> Message {
        let new = NewMessage::change(
            RoomName::new("r").unwrap(),
            UserName::new("ann").unwrap(),
            Change { kind, target: 7 },
            text.into(),
            &Limits::default(),
            1000,
        )
        .unwrap()
        .by(UserId::random([1; 16]));
        Message::stored(9, 4, &new)
    }

    #[test]
    fn change_rows_become_their_events() {
        let (name, edited) = event(&row(ChangeKind::Edit, "new")).unwrap();
        assert_eq!(name, "edited");
        assert_eq!(edited["id"], 7);
        assert_eq!(edited["change"], 9);
        assert_eq!(edited["seq"], 4);
        assert_eq!(edited["edited"], 1000);
        assert_eq!(edited["text"], "new");
        assert_eq!(edited["uid"], UserId::random([1; 16]).as_str());
        let (name, deleted) = event(&row(ChangeKind::Delete, "")).unwrap();
        assert_eq!((name, &deleted["by"]), ("deleted", &json!("ann")));
        let (name, gone) = event(&row(ChangeKind::Unreact, "👍")).unwrap();
        assert_eq!(
            (name, &gone["added"], &gone["emoji"]),
            ("reaction", &json!(false), &json!("👍"))
        );
        let entry = recovered(&row(ChangeKind::React, "👍")).unwrap();
        assert_eq!(
            (&entry["event"], &entry["added"]),
            (&json!("reaction"), &json!(true))
        );
    }

    #[test]
    fn messages_are_no_change() {
        let new = NewMessage::new(
            RoomName::new("r").unwrap(),
            UserName::new("ann").unwrap(),
            "hi".into(),
            None,
            &Limits::default(),
            1,
        )
        .unwrap();
        assert!(event(&Message::stored(1, 1, &new)).is_none());
    }
}
