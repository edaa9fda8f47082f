//! `leave` `{room}`, and the same bookkeeping for every room on disconnect.

use crate::cluster::wire::Change;
use crate::protocol::{self, Done, RoomReq};
use crate::socket::announce;
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::{ChatError, RoomName};

/// Handles `leave`.
pub async fn on_leave(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(leave(cx, data).await);
}

async fn leave(cx: &Connection, data: Option<serde_json::Value>) -> Result<Done, ChatError> {
    let req: RoomReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    if !leave_room(cx, &room) {
        return Err(ChatError::NotInRoom);
    }
    left(cx, &room).await;
    Ok(Done {})
}

/// Takes the connection out of `room` in the presence table (and tells the other nodes);
/// false if it was not there.
pub fn leave_room(cx: &Connection, room: &RoomName) -> bool {
    let mut presence = cx.app.presence();
    let left = presence.leave(room, &cx.socket.id);
    if left {
        cx.app.note(|| Change::Leave {
            sid: cx.socket.id,
            room: room.as_str().to_owned(),
        });
    }
    left
}

/// After the connection left `room` in the presence table: stop its typing, leave the
/// Socket.IO room and tell the others.
pub async fn left(cx: &Connection, room: &RoomName) {
    let name = cx.session.name();
    if cx.session.stop_typing(room, None) {
        announce::typing(cx, room, &name, false).await;
    }
    cx.app.members().leave(&cx.socket, room.as_str());
    if !cx.session.seed {
        announce::presence(cx, room, &name, "leave").await;
    }
}
