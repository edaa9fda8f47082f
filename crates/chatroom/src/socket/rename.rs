//! `rename` `{name}`: a new display name, announced in every room the client is in.

use crate::app::App;
use crate::protocol::{self, RenameReq, Renamed};
use crate::socket::turn::Turn;
use crate::socket::{announce, reply::Reply, session::SessionRef};
use chatroom_core::{ChatError, UserName};
use socketioxide::extract::{Extension, SocketRef, State, TryData};

/// Handles `rename`.
pub async fn on_rename(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let _turn = turn.wait().await;
    reply.send(rename(&socket, data.ok(), &app, &session).await);
}

async fn rename(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
) -> Result<Renamed, ChatError> {
    let req: RenameReq = protocol::decode(data.unwrap_or_default())?;
    let serde_json::Value::String(raw) = req.name else {
        return Err(ChatError::InvalidName);
    };
    let name = UserName::new(&raw)?;
    let old = session.rename(name.clone());
    let rooms = app.presence().rename(&socket.id, &name);
    for room in &rooms {
        announce::rename(socket, room, &name, &old).await;
    }
    Ok(Renamed {
        name: name.as_str().to_owned(),
    })
}
