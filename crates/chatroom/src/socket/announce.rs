//! Ephemeral room events (`presence`, `typing`) to a room's v1 members. Seed clients (the Node
//! original's page) neither send nor understand these, so they are left out both ways: they
//! sit in [`SEED_ROOM`], which every broadcast here excepts, and their own arrival and departure
//! are not announced — a thousand seed clients connecting would otherwise cost a million
//! presence packets for nothing. They are not stored and
//! carry no ids; a client that misses one because its queue is full is being disconnected by
//! the delivery policy (see `deliver`) anyway, so a failure here is logged, not retried.

use crate::protocol::{Presence, Typing, out};
use chatroom_core::{RoomName, UserName};
use socketioxide::BroadcastError;
use socketioxide::extract::SocketRef;

/// Socket.IO room holding every seed-protocol client.
pub const SEED_ROOM: &str = "\u{0}seed";

/// `presence` join/leave to the others in `room`.
pub async fn presence(socket: &SocketRef, room: &RoomName, name: &UserName, action: &'static str) {
    let payload = Presence {
        room: room.as_str(),
        name: name.as_str(),
        action,
        old: None,
    };
    let result = socket
        .to(room.as_str().to_owned())
        .except(SEED_ROOM)
        .emit(out::PRESENCE, &payload)
        .await;
    log_failure(result, out::PRESENCE);
}

/// `presence` rename to everyone in `room`, the renamed client included.
pub async fn rename(socket: &SocketRef, room: &RoomName, name: &UserName, old: &UserName) {
    let payload = Presence {
        room: room.as_str(),
        name: name.as_str(),
        action: "rename",
        old: Some(old.as_str()),
    };
    // `except` turns a socket's operator into a broadcast that skips the socket itself, so
    // the renamed client is told directly.
    let result = socket
        .to(room.as_str().to_owned())
        .except(SEED_ROOM)
        .emit(out::PRESENCE, &payload)
        .await;
    log_failure(result, out::PRESENCE);
    if let Err(error) = socket.emit(out::PRESENCE, &payload) {
        tracing::debug!(%error, "rename presence not sent to the renamed client");
    }
}

/// `typing` to the others in `room`.
pub async fn typing(socket: &SocketRef, room: &RoomName, name: &UserName, typing: bool) {
    let payload = Typing {
        room: room.as_str(),
        name: name.as_str(),
        typing,
    };
    let result = socket
        .to(room.as_str().to_owned())
        .except(SEED_ROOM)
        .emit(out::TYPING, &payload)
        .await;
    log_failure(result, out::TYPING);
}

fn log_failure(result: Result<(), BroadcastError>, event: &str) {
    if let Err(error) = result {
        tracing::debug!(event, %error, "room event not delivered to every member");
    }
}
