//! `history` `{room, before?, limit?}`: scroll-back, one page at a time.

use crate::app::App;
use crate::protocol::{self, HistoryPage, HistoryReq};
use crate::socket::turn::{Turn, TurnGuard};
use crate::socket::{reply::Reply, store_failed};
use chatroom_core::{ChatError, RoomName};
use socketioxide::extract::{SocketRef, State, TryData};

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 100;

/// Handles `history`.
pub async fn on_history(
    socket: SocketRef,
    TryData(data): TryData<serde_json::Value>,
    reply: Reply,
    State(app): State<App>,
    turn: Turn,
) {
    let turn = turn.wait().await;
    reply.send(history(&socket, data.ok(), &app, turn).await);
}

async fn history(
    socket: &SocketRef,
    data: Option<serde_json::Value>,
    app: &App,
    turn: TurnGuard,
) -> Result<HistoryPage, ChatError> {
    let req: HistoryReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    let limit = match req.limit {
        None => DEFAULT_LIMIT,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ChatError::BadRequest(format!("limit must be 1-{MAX_LIMIT}")))?,
    };
    if !app.presence().is_member(&room, &socket.id) {
        return Err(ChatError::NotInRoom);
    }
    drop(turn);
    let page = match req.before {
        Some(before) => app.store.before(&room, before, limit).await,
        None => app.store.latest(&room, limit).await,
    }
    .map_err(store_failed)?;
    Ok(HistoryPage {
        messages: page.messages,
        more: page.more,
    })
}
