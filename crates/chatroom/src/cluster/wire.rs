//! What nodes say to each other on the Redis channel, as JSON. One channel per cluster
//! (`{prefix}:bus`): Redis keeps each publisher's order on it, which the presence versions
//! below and the room order of messages rely on; every node reads everything and keeps what
//! concerns its own sockets.

use chatroom_core::Message;
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;
use std::sync::Arc;

/// One message on the bus. `node` is the sender's name, `epoch` the sender process's random
/// start id (a node restarted under the same name is a new member set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Sender's node name.
    pub node: String,
    /// Sender process's start id.
    pub epoch: u64,
    /// What it says.
    #[serde(flatten)]
    pub body: Body,
}

/// The kinds of bus messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Body {
    /// Messages the sender committed, in its feed order.
    Messages {
        /// Each message and whether it came from a seed (`chat message`) client.
        items: Vec<Relayed>,
    },
    /// A change of the sender's membership; `ver` counts the sender's changes (1, 2, …).
    Presence {
        /// The sender's membership version after this change.
        ver: u64,
        /// The change.
        change: Change,
    },
    /// Someone on the sender started or stopped typing.
    Typing {
        /// Room.
        room: String,
        /// Display name.
        name: String,
        /// Started (true) or stopped.
        typing: bool,
    },
    /// The sender is alive; its membership is at `ver`.
    Beat {
        /// Current membership version.
        ver: u64,
    },
    /// The sender wants the full membership of `of` (every node if `None`).
    SyncRequest {
        /// Node asked, or everyone.
        of: Option<String>,
    },
    /// The sender's whole membership at `ver`.
    Snapshot {
        /// Membership version it reflects.
        ver: u64,
        /// Every member connection.
        members: Vec<Member>,
    },
    /// The sender is shutting down: drop its members now.
    Bye,
    /// A moderation action's effect (delete, kick, ban, unban, mute), for this node's
    /// connections too; it is already stored.
    Moderation {
        /// What to do.
        effect: crate::moderation::Effect,
    },
}

/// A relayed message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relayed {
    /// The stored message.
    pub message: Arc<Message>,
    /// Sent with the seed protocol (its lobby text goes to seed clients as is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seed: bool,
}

/// One membership change of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// `sid` (named `name`) joined `room`.
    Join {
        /// Connection.
        sid: Sid,
        /// Room.
        room: String,
        /// Display name.
        name: String,
        /// A seed client: counted, never announced.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        seed: bool,
    },
    /// `sid` left `room`.
    Leave {
        /// Connection.
        sid: Sid,
        /// Room.
        room: String,
    },
    /// `sid` left every room (disconnected).
    Gone {
        /// Connection.
        sid: Sid,
    },
    /// `sid` is now called `name` in all its rooms.
    Rename {
        /// Connection.
        sid: Sid,
        /// New name.
        name: String,
    },
}

/// One member connection in a [`Body::Snapshot`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Member {
    /// Connection.
    pub sid: Sid,
    /// Display name.
    pub name: String,
    /// Its rooms.
    pub rooms: Vec<String>,
    /// A seed client.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let sid = Sid::new();
        let e = Envelope {
            node: "a".into(),
            epoch: 7,
            body: Body::Presence {
                ver: 3,
                change: Change::Join {
                    sid,
                    room: "r".into(),
                    name: "n".into(),
                    seed: false,
                },
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(r#""t":"presence""#), "{text}");
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert!(matches!(
            back.body,
            Body::Presence { ver: 3, change: Change::Join { sid: s, .. } } if s == sid
        ));
    }
}
