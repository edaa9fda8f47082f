//! Ephemeral room events (`presence`, `typing`) to a room's v1 members. Seed clients (the Node
//! original's page) neither send nor understand these, so they are left out both ways: they
//! sit in [`SEED_ROOM`], which every broadcast here excepts, and their own arrival and departure
//! are not announced — a thousand seed clients connecting would otherwise cost a million
//! presence packets for nothing. Crowded rooms (more members than `--presence-crowd`) get no
//! per-member join/leave either: [`crate::socket::crowd`] sends them the member count at most
//! once a second instead, so a connection storm costs O(members) packets per second, not per
//! connect (issue 7). These events are not stored and carry no ids; a client that misses one
//! because its queue is full is being disconnected by the delivery policy (see `deliver`)
//! anyway, so a failure here is logged, not retried.

use crate::app::App;
use crate::protocol::{Presence, Typing, out};
use crate::socket::inbox::Connection;
use chatroom_core::{RoomName, UserName};
use serde::Serialize;
use socketioxide::BroadcastError;
use socketioxide::operators::BroadcastOperators;

/// Socket.IO room holding every seed-protocol client.
pub const SEED_ROOM: &str = "\u{0}seed";

/// Whether `room` is too crowded for per-member presence; if so it is queued for a count.
pub fn crowded(app: &App, room: &RoomName) -> bool {
    let count = app.presence().count(room);
    if count > usize::try_from(app.config.presence_crowd).unwrap_or(usize::MAX) {
        app.crowd_changed(room);
        true
    } else {
        false
    }
}

/// The member list a `join` answer carries: every distinct name, or — in a crowded room —
/// the first `--presence-crowd` of them; and the number of connections.
pub fn members(cx: &Connection, room: &RoomName) -> (Vec<String>, usize) {
    let presence = cx.app.presence();
    let mut names = presence.members(room);
    names.truncate(usize::try_from(cx.app.config.presence_crowd).unwrap_or(usize::MAX));
    (names, presence.count(room))
}

/// `presence` join/leave to the others in `room`, or a later count if it is crowded.
pub async fn presence(cx: &Connection, room: &RoomName, name: &UserName, action: &'static str) {
    if crowded(&cx.app, room) {
        return;
    }
    let payload = Presence {
        room: room.as_str(),
        name: Some(name.as_str()),
        action,
        old: None,
        count: None,
    };
    to_members(
        cx.socket.to(room.as_str().to_owned()),
        out::PRESENCE,
        &payload,
    )
    .await;
}

/// `presence` rename to everyone in `room`, the renamed client included.
pub async fn rename(cx: &Connection, room: &RoomName, name: &UserName, old: &UserName) {
    let payload = Presence {
        room: room.as_str(),
        name: Some(name.as_str()),
        action: "rename",
        old: Some(old.as_str()),
        count: None,
    };
    if !crowded(&cx.app, room) {
        // `except` turns a socket's operator into a broadcast that skips the socket itself,
        // so the renamed client is told directly.
        to_members(
            cx.socket.to(room.as_str().to_owned()),
            out::PRESENCE,
            &payload,
        )
        .await;
    }
    if let Err(error) = cx.socket.emit(out::PRESENCE, &payload) {
        tracing::debug!(%error, "rename presence not sent to the renamed client");
    }
}

/// `typing` to the others in `room`.
pub async fn typing(cx: &Connection, room: &RoomName, name: &UserName, typing: bool) {
    if let Some(cluster) = &cx.app.cluster {
        cluster.typing(room, name.as_str(), typing);
    }
    let payload = Typing {
        room: room.as_str(),
        name: name.as_str(),
        typing,
    };
    to_members(
        cx.socket.to(room.as_str().to_owned()),
        out::TYPING,
        &payload,
    )
    .await;
}

/// Emits `event` to the v1 members `to` addresses (a room, from a socket or the server);
/// a member it did not reach is logged.
pub async fn to_members<T: Serialize + ?Sized>(to: BroadcastOperators, event: &str, payload: &T) {
    let result: Result<(), BroadcastError> = to.except(SEED_ROOM).emit(event, payload).await;
    if let Err(error) = result {
        tracing::debug!(event, %error, "room event not delivered to every member");
    }
}
