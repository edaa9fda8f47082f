//! `typing` `{room, typing}`: relayed to the room's other members; a `true` expires by itself
//! after [`TYPING_TTL`] so a client that vanishes mid-sentence does not type forever. The
//! expiry comes back through the connection's queue, so it is ordered with its events.

use crate::protocol::{self, Done, TypingReq};
use crate::socket::announce;
use crate::socket::inbox::{Connection, Job};
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use chatroom_core::{ChatError, RoomName};
use std::time::Duration;

/// How long a `typing: true` lasts without a refresh.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Handles `typing`.
pub async fn on_typing(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(typing(cx, data).await);
}

async fn typing(cx: &Connection, data: Option<serde_json::Value>) -> Result<Done, ChatError> {
    let req: TypingReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    if !cx.app.presence().is_member(&room, &cx.socket.id) {
        return Err(ChatError::NotInRoom);
    }
    cx.session.check_rate(Metered::Typing)?;
    let name = cx.session.name();
    if req.typing {
        let generation = cx.session.start_typing(&room);
        announce::typing(cx, &room, &name, true).await;
        let inbox = cx.inbox.clone();
        tokio::spawn(async move {
            tokio::time::sleep(TYPING_TTL).await;
            inbox.push(Job::TypingExpired { room, generation });
        });
    } else if cx.session.stop_typing(&room, None) {
        announce::typing(cx, &room, &name, false).await;
    }
    Ok(Done {})
}

/// A `typing: true` ran out: announce the stop unless a newer `typing` replaced it.
pub async fn expired(cx: &Connection, room: RoomName, generation: u64) {
    if cx.session.stop_typing(&room, Some(generation)) {
        announce::typing(cx, &room, &cx.session.name(), false).await;
    }
}
