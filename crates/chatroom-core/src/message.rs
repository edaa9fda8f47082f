//! Messages: [`NewMessage`] is a checked request to store one, [`Message`] is one that is stored
//! (it has an id). [`Cid`] is the client-chosen id that makes a retried `send` idempotent.
//! A change (edit, delete, react, unreact) is stored the same way, as a row of its own with
//! [`Message::change`] set (see [`crate::change`]).

use crate::change::{Change, ChangeKind, Reaction, check_emoji};
use crate::{ChatError, RoomName, UserId, UserName};
use serde::{Deserialize, Serialize};

/// Store-assigned message id: increases in storage order, across rooms and restarts; within a
/// room, also in commit order when several server processes share one database.
pub type MessageId = i64;

/// A message's place in its room: 1, 2, 3, … in commit order, no holes, the same on every
/// server process sharing the database.
pub type RoomSeq = i64;

/// Longest client message id, in code points.
pub const MAX_CID_CHARS: usize = 64;

/// Limits applied to protocol-v1 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest `send` text, in Unicode code points.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_chars: 4000,
        }
    }
}

/// A validated client message id (1–64 code points).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Cid(String);

impl Cid {
    /// Checks `raw`; a cid is part of the payload shape, so a bad one is `bad_request`.
    pub fn new(raw: &str) -> Result<Self, ChatError> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_CID_CHARS {
            return Err(ChatError::BadRequest(format!(
                "cid must be 1-{MAX_CID_CHARS} characters"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The cid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message that passed every rule and may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Where it goes.
    pub room: RoomName,
    /// Who sent it.
    pub name: UserName,
    /// What it says; never blank.
    pub text: String,
    /// Client id for de-duplication, if the client gave one.
    pub cid: Option<Cid>,
    /// Milliseconds since the Unix epoch when the server accepted it.
    pub ts: i64,
    /// Sent with the seed protocol's `chat message`: seed clients then get the text unchanged
    /// instead of `"name: text"`. Not stored: the store's committed feed carries it to live
    /// delivery next to the stored [`Message`].
    pub from_seed: bool,
    /// The sender's user id, if known (set with [`NewMessage::by`]); stored with the message.
    pub user_id: Option<UserId>,
    /// Set for a change row ([`NewMessage::change`]): what it does to which message. `None`:
    /// a message.
    pub change: Option<Change>,
}

impl NewMessage {
    /// A protocol-v1 `send`: text must be non-blank and at most `limits.max_text_chars`.
    pub fn new(
        room: RoomName,
        name: UserName,
        text: String,
        cid: Option<Cid>,
        limits: &Limits,
        ts: i64,
    ) -> Result<Self, ChatError> {
        Self::check_text(&text, limits)?;
        Ok(Self {
            room,
            name,
            text,
            cid,
            ts,
            from_seed: false,
            user_id: None,
            change: None,
        })
    }

    /// `empty`, `too_long` or `bad_request` (NUL) for text a v1 `send` or `edit` may not
    /// carry.
    pub fn check_text(text: &str, limits: &Limits) -> Result<(), ChatError> {
        check_not_blank(text)?;
        if text.chars().count() > limits.max_text_chars {
            return Err(ChatError::TooLong {
                max_chars: limits.max_text_chars,
            });
        }
        Ok(())
    }

    /// A change of message `target` (which is in `room`) by `name`: for an edit `text` is the
    /// new text (the `send` rules apply), for a react/unreact the emoji ([`check_emoji`]), for
    /// a delete it is ignored (the row's text is empty). Attribute it with [`NewMessage::by`].
    pub fn change(
        room: RoomName,
        name: UserName,
        change: Change,
        text: String,
        limits: &Limits,
        ts: i64,
    ) -> Result<Self, ChatError> {
        let text = match change.kind {
            ChangeKind::Edit => {
                Self::check_text(&text, limits)?;
                text
            }
            ChangeKind::React | ChangeKind::Unreact => {
                check_emoji(&text)?;
                text
            }
            ChangeKind::Delete => String::new(),
        };
        Ok(Self {
            room,
            name,
            text,
            cid: None,
            ts,
            from_seed: false,
            user_id: None,
            change: Some(change),
        })
    }

    /// A seed-protocol `chat message`: goes to the lobby. Only the transport's size limit applies,
    /// as in the Node original (a 100 KB message must arrive intact); blank text is refused.
    pub fn seed(name: UserName, text: String, ts: i64) -> Result<Self, ChatError> {
        check_not_blank(&text)?;
        Ok(Self {
            room: RoomName::lobby(),
            name,
            text,
            cid: None,
            ts,
            from_seed: true,
            user_id: None,
            change: None,
        })
    }

    /// The same message, attributed to `user`.
    pub fn by(self, user: UserId) -> Self {
        Self {
            user_id: Some(user),
            ..self
        }
    }
}

/// Blank text is `empty`; a NUL character is `bad_request` (PostgreSQL cannot store it, and
/// no chat client means to send one).
fn check_not_blank(text: &str) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        Err(ChatError::Empty)
    } else if text.contains('\0') {
        Err(ChatError::BadRequest(
            "text must not contain NUL characters".into(),
        ))
    } else {
        Ok(())
    }
}

/// A stored message, exactly as clients receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Store-assigned id.
    pub id: MessageId,
    /// Its place in the room's order (1, 2, 3, … with no holes, in commit order).
    pub seq: RoomSeq,
    /// Room it was sent to.
    pub room: String,
    /// Sender's display name at the time.
    pub name: String,
    /// The text, byte-for-byte as sent.
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
    /// The sender's client id, if it gave one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cid: Option<String>,
    /// The sender's user id, if it was known; `"uid"` on the wire.
    #[serde(rename = "uid", skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<UserId>,
    /// Removed by a moderator: a tombstone, stored with empty text (which no `send` can
    /// produce); `"deleted": true` on the wire, absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub deleted: bool,
    /// When its author last edited it, ms since the Unix epoch; absent if never.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub edited: Option<i64>,
    /// Its reactions, by first reaction; absent if none.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub reactions: Vec<Reaction>,
    /// Set on a change row only: what it changes. Change rows never reach clients as a
    /// `message` (they become `edited`/`deleted`/`reaction` events); the field travels between
    /// the store, the feed and the cluster relay.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub change: Option<Change>,
}

impl Message {
    /// The stored form of `new` under `id`, at `seq` in its room.
    pub fn stored(id: MessageId, seq: RoomSeq, new: &NewMessage) -> Self {
        Self {
            id,
            seq,
            room: new.room.as_str().to_owned(),
            name: new.name.as_str().to_owned(),
            text: new.text.clone(),
            ts: new.ts,
            cid: new.cid.as_ref().map(|c| c.as_str().to_owned()),
            user_id: new.user_id.clone(),
            deleted: false,
            edited: None,
            reactions: Vec::new(),
            change: new.change,
        }
    }

    /// What is left of this message after it was deleted: no text, no reactions, no edit
    /// mark, `deleted` set.
    pub fn into_tombstone(self) -> Self {
        Self {
            text: String::new(),
            deleted: true,
            edited: None,
            reactions: Vec::new(),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(text: &str) -> Result<NewMessage, ChatError> {
        NewMessage::new(
            RoomName::lobby(),
            UserName::new("a").unwrap(),
            text.to_owned(),
            None,
            &Limits::default(),
            0,
        )
    }

    #[test]
    fn text_length_counts_code_points() {
        assert!(v1(&"😀".repeat(4000)).is_ok());
        assert_eq!(
            v1(&"😀".repeat(4001)),
            Err(ChatError::TooLong { max_chars: 4000 })
        );
        assert!(v1(&"a".repeat(4000)).is_ok());
    }

    #[test]
    fn blank_text_is_empty() {
        for blank in ["", " ", "\n\t", "\u{3000}"] {
            assert_eq!(v1(blank), Err(ChatError::Empty), "{blank:?}");
        }
        assert_eq!(
            NewMessage::seed(UserName::guest(1), " ".into(), 0),
            Err(ChatError::Empty)
        );
    }

    #[test]
    fn nul_is_refused_everywhere() {
        assert_eq!(v1("a\0b").unwrap_err().code(), "bad_request");
        let seed = NewMessage::seed(UserName::guest(1), "a\0".into(), 0);
        assert_eq!(seed.unwrap_err().code(), "bad_request");
    }

    #[test]
    fn seed_messages_have_no_text_limit_and_go_to_lobby() {
        let big = "x".repeat(100_000);
        let m = NewMessage::seed(UserName::guest(1), big.clone(), 5).unwrap();
        assert_eq!(m.room, RoomName::lobby());
        assert_eq!(m.text, big);
    }

    #[test]
    fn cid_limits() {
        assert!(Cid::new(&"c".repeat(64)).is_ok());
        assert_eq!(Cid::new("").unwrap_err().code(), "bad_request");
        assert_eq!(Cid::new(&"c".repeat(65)).unwrap_err().code(), "bad_request");
    }

    #[test]
    fn message_json_shape() {
        let new = v1("<b>hi</b>").unwrap();
        let json = serde_json::to_value(Message::stored(7, 3, &new)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id":7,"seq":3,"room":"lobby","name":"a","text":"<b>hi</b>","ts":0})
        );
    }

    #[test]
    fn user_id_travels_as_uid() {
        let user = UserId::random([0x11; 16]);
        let new = v1("hi").unwrap().by(user.clone());
        assert_eq!(new.user_id.as_ref(), Some(&user));
        let stored = Message::stored(8, 1, &new);
        assert_eq!(stored.user_id.as_ref(), Some(&user));
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["uid"], serde_json::json!(user.as_str()));
        let back: Message = serde_json::from_value(json).unwrap();
        assert_eq!(back.user_id, Some(user));
        let seed = NewMessage::seed(UserName::guest(1), "x".into(), 0).unwrap();
        assert_eq!(seed.user_id, None);
    }

    fn change(kind: ChangeKind, text: &str) -> Result<NewMessage, ChatError> {
        NewMessage::change(
            RoomName::lobby(),
            UserName::new("a").unwrap(),
            Change { kind, target: 3 },
            text.to_owned(),
            &Limits::default(),
            9,
        )
    }

    #[test]
    fn changes_check_their_text() {
        assert_eq!(change(ChangeKind::Edit, " "), Err(ChatError::Empty));
        assert_eq!(
            change(ChangeKind::Edit, &"x".repeat(4001)),
            Err(ChatError::TooLong { max_chars: 4000 })
        );
        assert_eq!(change(ChangeKind::React, "ab"), Err(ChatError::BadEmoji));
        assert_eq!(change(ChangeKind::Unreact, ""), Err(ChatError::BadEmoji));
        let delete = change(ChangeKind::Delete, "ignored").unwrap();
        assert_eq!(delete.text, "");
        let edit = change(ChangeKind::Edit, "new").unwrap();
        let stored = Message::stored(4, 2, &edit);
        assert_eq!(
            stored.change,
            Some(Change {
                kind: ChangeKind::Edit,
                target: 3
            })
        );
        // The relay carries change rows as JSON: the change survives the trip.
        let back: Message = serde_json::from_value(serde_json::to_value(&stored).unwrap()).unwrap();
        assert_eq!(back, stored);
    }
}
