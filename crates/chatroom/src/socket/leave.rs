//! `leave` `{room}`, and the same bookkeeping for every room on disconnect.

use crate::app::App;
use crate::protocol::{self, Done, RoomReq};
use crate::socket::turn::Turn;
use crate::socket::{announce, reply::Reply, session::SessionRef};
use chatroom_core::{ChatError, RoomName};
use socketioxide::extract::{Extension, SocketRef, State, TryData};

/// Handles `leave`.
pub async fn on_leave(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let _turn = turn.wait().await;
    reply.send(leave(&socket, data.ok(), &app, &session).await);
}

async fn leave(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
) -> Result<Done, ChatError> {
    let req: RoomReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    if !app.presence().leave(&room, &socket.id) {
        return Err(ChatError::NotInRoom);
    }
    left(socket, &room, session).await;
    Ok(Done {})
}

/// After `socket` left `room` in the presence table: stop its typing, leave the Socket.IO room
/// and tell the others.
pub async fn left(socket: &SocketRef, room: &RoomName, session: &SessionRef) {
    let name = session.name();
    if session.stop_typing(room, None) {
        announce::typing(socket, room, &name, false).await;
    }
    socket.leave(room.as_str().to_owned());
    if !session.seed {
        announce::presence(socket, room, &name, "leave").await;
    }
}
