//! `leave` `{room}`, and the same bookkeeping for every room on disconnect.

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
    if !cx.app.presence().leave(&room, &cx.socket.id) {
        return Err(ChatError::NotInRoom);
    }
    left(cx, &room).await;
    Ok(Done {})
}

/// After the connection left `room` in the presence table: stop its typing, leave the
/// Socket.IO room and tell the others.
pub async fn left(cx: &Connection, room: &RoomName) {
    let name = cx.session.name();
    if cx.session.stop_typing(room, None) {
        announce::typing(cx, room, &name, false).await;
    }
    cx.socket.leave(room.as_str().to_owned());
    if !cx.session.seed {
        announce::presence(cx, room, &name, "leave").await;
    }
}
