//! The single emitter of stored messages. It reads the store's committed feed (batches in id
//! order) and hands each message to every socket in its room, one socket at a time, so that a
//! socket whose send queue is full is known by name: it is disconnected with a logged reason
//! and counted, and recovers with `join` + `since` on reconnect. Nothing is skipped silently.
//! On a cluster node, `cluster::order` reads the feed instead and calls [`deliver`] in room
//! order for messages of every node.
//!
//! The room's sockets come from this node's membership index ([`crate::socket::members`]),
//! which holds each member's session next to its socket, and each wire form is encoded to JSON
//! once per message; what socketioxide still does per socket (the Socket.IO frame around that
//! JSON) its public API gives no way to share while keeping a per-socket result.
//!
//! A change row (edit, delete, reaction; see `crate::changes`) takes the same path and becomes
//! its `edited`/`deleted`/`reaction` event, for v1 members only: the seed page knows none.

use crate::app::App;
use crate::protocol::{CHAT_MESSAGE, out};
use chatroom_core::{LOBBY, Message};
use chatroom_store::Feed;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError, SocketIo};
use std::time::Duration;

/// Runs until the store closes its feed.
pub async fn run(io: SocketIo, app: App, mut feed: Feed) {
    while let Some(batch) = feed.recv().await {
        for committed in &batch {
            deliver(&io, &app, &committed.message, committed.from_seed);
        }
    }
}

/// The wire forms of one stored row, encoded once for all receivers.
struct Encoded {
    /// The v1 event: `message`, or a change's event.
    event: &'static str,
    /// Its payload for v1 clients.
    v1: Box<RawValue>,
    /// `chat message` string for seed clients, for lobby messages only (never for a change),
    /// as JSON already: escaping it once here instead of once per seed socket.
    seed: Option<Box<RawValue>>,
}

fn encode(message: &Message, from_seed: bool) -> Option<Encoded> {
    let (event, v1) = match crate::changes::event(message) {
        Some((event, payload)) => (event, serde_json::value::to_raw_value(&payload)),
        None => (out::MESSAGE, serde_json::value::to_raw_value(message)),
    };
    let v1 = match v1 {
        Ok(v1) => v1,
        Err(error) => {
            tracing::error!(id = message.id, %error, "message not encodable");
            return None;
        }
    };
    if message.change.is_some() {
        return Some(Encoded {
            event,
            v1,
            seed: None,
        });
    }
    let seed = if message.room != LOBBY {
        None
    } else {
        let text = if from_seed {
            serde_json::value::to_raw_value(&message.text)
        } else {
            serde_json::value::to_raw_value(&format!("{}: {}", message.name, message.text))
        };
        match text {
            Ok(text) => Some(text),
            Err(error) => {
                tracing::error!(id = message.id, %error, "message not encodable");
                return None;
            }
        }
    };
    Some(Encoded { event, v1, seed })
}

/// Emits one stored message to this node's sockets in its room (`from_seed`: it was sent
/// with the seed protocol, so seed clients get its text as is).
pub fn deliver(io: &SocketIo, app: &App, message: &Message, from_seed: bool) {
    let Some(encoded) = encode(message, from_seed) else {
        return;
    };
    // The server is closing: its sockets are going, nothing more is delivered.
    if io.of("/").is_none() {
        return;
    }
    let mut delivered = 0;
    // Disconnected after the loop: leaving takes the index's write lock, `each` holds its read
    // lock. Marked slow at once, so no later message reaches them either way.
    let mut slow = Vec::new();
    app.members().each(message.room.as_str(), |member| {
        let seed = member.session.seed;
        let result = match (&encoded.seed, seed) {
            (Some(text), true) => member.socket.emit(CHAT_MESSAGE, text),
            // A change, or a message of another room: nothing the seed page could show.
            (None, true) if message.change.is_some() => return,
            _ => member.socket.emit(encoded.event, &encoded.v1),
        };
        match result {
            Ok(()) => delivered += 1,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                if member.session.mark_slow() {
                    slow.push(member.socket.clone());
                }
            }
            // Disconnecting already; its disconnect handler cleans up.
            Err(SendError::Socket(SocketError::Closed)) => {}
            Err(SendError::Serialize(error)) => {
                tracing::error!(id = message.id, %error, "message not serializable");
            }
        }
    });
    for socket in slow {
        disconnect_slow(app, socket, message);
    }
    app.metrics.messages_delivered.inc_by(delivered);
}

/// How often a slow client's disconnect is retried while its queue is still full.
const DISCONNECT_RETRY: Duration = Duration::from_millis(100);

fn disconnect_slow(app: &App, socket: SocketRef, message: &Message) {
    app.metrics.slow_disconnects.inc();
    tracing::warn!(
        sid = %socket.id,
        room = %message.room,
        id = message.id,
        queue = app.config.send_queue,
        "client too slow: send queue full, disconnecting; it recovers with join+since"
    );
    // No further messages: what it misses from here on it gets back with `since`.
    app.members().leave_all(&socket);
    // socketioxide's disconnect needs one free queue slot for the DISCONNECT packet, so retry
    // until the client drains a little; a client that never reads again is closed by the
    // Engine.IO heartbeat, whose ping cannot be queued either (within one ping interval).
    tokio::spawn(async move {
        while socket.connected() {
            match socket.clone().disconnect() {
                Err(SocketError::InternalChannelFull) => tokio::time::sleep(DISCONNECT_RETRY).await,
                Ok(()) | Err(SocketError::Closed) => break,
            }
        }
    });
}
