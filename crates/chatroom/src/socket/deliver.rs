//! The single emitter of stored messages. It reads the store's committed feed (batches in id
//! order) and hands each message to every socket in its room, one socket at a time, so that a
//! socket whose send queue is full is known by name: it is disconnected with a logged reason
//! and counted, and recovers with `join` + `since` on reconnect. Nothing is skipped silently.

use crate::app::{App, Stats};
use crate::protocol::{CHAT_MESSAGE, out};
use crate::socket::session::SessionRef;
use chatroom_core::{LOBBY, Message};
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError, SocketIo};
use std::sync::Arc;
use tokio::sync::mpsc::Receiver;

/// Runs until the store closes its feed.
pub async fn run(io: SocketIo, app: App, mut feed: Receiver<Vec<Arc<Message>>>) {
    while let Some(batch) = feed.recv().await {
        for message in &batch {
            deliver(&io, &app, message);
        }
    }
}

/// The two wire forms of one message, encoded once for all receivers.
struct Encoded {
    /// `message` payload for v1 clients.
    v1: Box<RawValue>,
    /// `chat message` string for seed clients, for lobby messages only.
    seed: Option<String>,
}

fn encode(message: &Message) -> Option<Encoded> {
    let v1 = match serde_json::value::to_raw_value(message) {
        Ok(v1) => v1,
        Err(error) => {
            tracing::error!(id = message.id, %error, "message not encodable");
            return None;
        }
    };
    let seed = (message.room == LOBBY).then(|| {
        if message.from_seed {
            message.text.clone()
        } else {
            format!("{}: {}", message.name, message.text)
        }
    });
    Some(Encoded { v1, seed })
}

fn deliver(io: &SocketIo, app: &App, message: &Message) {
    let Some(encoded) = encode(message) else {
        return;
    };
    let sockets = io.to(message.room.clone()).sockets();
    let mut delivered = 0;
    for socket in sockets {
        let seed = socket
            .extensions
            .get::<SessionRef>()
            .is_some_and(|session| session.seed);
        let result = match (&encoded.seed, seed) {
            (Some(text), true) => socket.emit(CHAT_MESSAGE, text),
            _ => socket.emit(out::MESSAGE, &encoded.v1),
        };
        match result {
            Ok(()) => delivered += 1,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                disconnect_slow(app, socket, message);
            }
            // Disconnecting already; its disconnect handler cleans up.
            Err(SendError::Socket(SocketError::Closed)) => {}
            Err(SendError::Serialize(error)) => {
                tracing::error!(id = message.id, %error, "message not serializable");
            }
        }
    }
    Stats::add(&app.stats.deliveries, delivered);
}

fn disconnect_slow(app: &App, socket: SocketRef, message: &Message) {
    Stats::add(&app.stats.slow_disconnects, 1);
    tracing::warn!(
        sid = %socket.id,
        room = %message.room,
        id = message.id,
        queue = app.config.send_queue,
        "client too slow: send queue full, disconnecting; it recovers with join+since"
    );
    if let Err(error) = socket.disconnect() {
        tracing::debug!(%error, "slow client already gone");
    }
}
