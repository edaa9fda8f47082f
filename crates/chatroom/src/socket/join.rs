//! `join` `{room, since?}`: membership plus the history a client needs, either the latest page or
//! exactly what it missed since an id (lossless reconnect).

use crate::app::App;
use crate::protocol::{self, JoinReq, Joined};
use crate::socket::turn::{Turn, TurnGuard};
use crate::socket::{announce, reply::Reply, session::SessionRef, store_failed};
use chatroom_core::{ChatError, RoomName};
use socketioxide::extract::{Extension, SocketRef, State, TryData};

/// Messages returned by a plain join.
pub const JOIN_HISTORY: u32 = 50;
/// Most messages returned for `since`; the client pages on with the last id.
pub const SINCE_MAX: u32 = 1000;

/// Handles `join`.
pub async fn on_join(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    Extension(session): Extension<SessionRef>,
    turn: Turn,
) {
    let turn = turn.wait().await;
    reply.send(join(&socket, data.ok(), &app, &session, turn).await);
}

async fn join(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    session: &SessionRef,
    turn: TurnGuard,
) -> Result<Joined, ChatError> {
    let req: JoinReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    let name = session.name();
    // Join before reading, so a message committed meanwhile is delivered live or read here —
    // possibly both (clients de-duplicate by id), never neither.
    let newly = app.presence().join(&room, socket.id, name.clone());
    if newly {
        socket.join(room.as_str().to_owned());
    }
    // Membership is settled; the connection's next event may go while history is read.
    drop(turn);
    let page = match req.since {
        Some(since) => app.store.since(&room, since, SINCE_MAX).await,
        None => app.store.latest(&room, JOIN_HISTORY).await,
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            if newly {
                app.presence().leave(&room, &socket.id);
                socket.leave(room.as_str().to_owned());
            }
            return Err(store_failed(e));
        }
    };
    if newly {
        announce::presence(socket, &room, &name, "join").await;
    }
    Ok(Joined {
        members: app.presence().members(&room),
        room: room.as_str().to_owned(),
        messages: page.messages,
        more: page.more,
    })
}
