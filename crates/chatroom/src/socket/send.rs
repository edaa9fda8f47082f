//! `send` `{room, text, cid?}`: decode → domain rules → durable append → ack. Delivery to the
//! room happens in `deliver`, fed by the store after commit, so the ack and the broadcast both
//! follow the commit and every client sees ids in ascending order.

use crate::app::App;
use crate::protocol::{self, SendReq, Sent};
use crate::socket::turn::{Turn, TurnGuard};
use crate::socket::{reply::Reply, session::SessionRef, store_failed};
use chatroom_core::{ChatError, Cid, Limits, NewMessage, RoomName};
use socketioxide::extract::{Extension, SocketRef, State, TryData};

/// Handles `send`.
pub async fn on_send(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let turn = turn.wait().await;
    reply.send(send(&socket, data.ok(), &app, &session, turn).await);
}

async fn send(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
    turn: TurnGuard,
) -> Result<Sent, ChatError> {
    let req: SendReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    let cid = req.cid.as_deref().map(Cid::new).transpose()?;
    if !app.presence().is_member(&room, &socket.id) {
        return Err(ChatError::NotInRoom);
    }
    let message = NewMessage::new(
        room,
        session.name(),
        req.text,
        cid,
        &Limits::default(),
        crate::clock::now_ms(),
    )?;
    session.check_rate()?;
    let committed = app.store.submit(message).await.map_err(store_failed)?;
    drop(turn);
    let appended = committed.await.map_err(store_failed)?;
    Ok(Sent {
        message: (*appended.message).clone(),
    })
}
