//! Background upkeep of room membership, once a second:
//! - crowded rooms (see [`crate::socket::announce`]) whose membership changed get one
//!   `presence {room, action: "count", count}` instead of a join or leave per member;
//! - a safety net against ghost members: a connection that is still in some room but whose
//!   socket socketioxide no longer knows, on two sweeps in a row, is removed and announced as
//!   gone (logged as a warning — it means a disconnect was missed somewhere).

use crate::app::App;
use crate::protocol::{Presence, out};
use crate::socket::announce::to_members;
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use std::collections::HashSet;
use std::time::Duration;

/// How often counts go out and ghosts are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Runs until the server stops (the caller aborts it).
pub async fn run(io: SocketIo, app: App) {
    let mut suspects: HashSet<Sid> = HashSet::new();
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        send_counts(&io, &app).await;
        suspects = remove_ghosts(&io, &app, &suspects).await;
    }
}

async fn send_counts(io: &SocketIo, app: &App) {
    for room in app.take_crowd_changes() {
        let count = app.presence().count(&room);
        let payload = Presence {
            room: room.as_str(),
            name: None,
            action: "count",
            old: None,
            count: Some(count),
        };
        to_members(io.to(room.as_str().to_owned()), out::PRESENCE, &payload).await;
    }
}

/// Connections in rooms without a live socket; those already suspected last time are removed.
async fn remove_ghosts(io: &SocketIo, app: &App, suspects: &HashSet<Sid>) -> HashSet<Sid> {
    let missing: HashSet<Sid> = app
        .presence()
        .connections()
        .into_iter()
        .filter(|sid| io.get_socket(*sid).is_none() && !app.is_remote(sid))
        .collect();
    for sid in missing.intersection(suspects) {
        let (rooms, name) = {
            let mut presence = app.presence();
            let name = presence.name_of(sid);
            let rooms = presence.leave_all(sid);
            if !rooms.is_empty() {
                app.note(|| crate::cluster::wire::Change::Gone { sid: *sid });
            }
            (rooms, name)
        };
        tracing::warn!(%sid, rooms = rooms.len(), "removed a member whose connection is gone");
        let Some(name) = name else { continue };
        for room in rooms {
            if app.presence().count(&room)
                >= usize::try_from(app.config.presence_crowd).unwrap_or(usize::MAX)
            {
                app.crowd_changed(&room);
                continue;
            }
            let payload = Presence {
                room: room.as_str(),
                name: Some(name.as_str()),
                action: "leave",
                old: None,
                count: None,
            };
            to_members(io.to(room.as_str().to_owned()), out::PRESENCE, &payload).await;
        }
    }
    missing.difference(suspects).copied().collect()
}
