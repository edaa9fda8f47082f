//! `typing` `{room, typing}`: relayed to the room's other members; a `true` expires by itself
//! after [`TYPING_TTL`] so a client that vanishes mid-sentence does not type forever.

use crate::app::App;
use crate::protocol::{self, Done, TypingReq};
use crate::socket::turn::Turn;
use crate::socket::{announce, reply::Reply, session::SessionRef};
use chatroom_core::{ChatError, RoomName};
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use std::time::Duration;

/// How long a `typing: true` lasts without a refresh.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Handles `typing`.
pub async fn on_typing(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let _turn = turn.wait().await;
    reply.send(typing(&socket, data.ok(), &app, &session).await);
}

async fn typing(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
) -> Result<Done, ChatError> {
    let req: TypingReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    if !app.presence().is_member(&room, &socket.id) {
        return Err(ChatError::NotInRoom);
    }
    let name = session.name();
    if req.typing {
        let generation = session.start_typing(&room);
        announce::typing(socket, &room, &name, true).await;
        let (socket, session) = (socket.clone(), session.clone());
        tokio::spawn(async move {
            tokio::time::sleep(TYPING_TTL).await;
            if socket.connected() && session.stop_typing(&room, Some(generation)) {
                announce::typing(&socket, &room, &session.name(), false).await;
            }
        });
    } else if session.stop_typing(&room, None) {
        announce::typing(socket, &room, &name, false).await;
    }
    Ok(Done {})
}
