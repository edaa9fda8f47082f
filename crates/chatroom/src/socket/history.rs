//! `history` `{room, before?, limit?}`: scroll-back, one page at a time (a `dm:` room only for
//! its two participants).

use crate::protocol::{self, HistoryPage, HistoryReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::store_failed;
use chatroom_core::{ChatError, RoomName};

/// Page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 100;

/// Handles `history`.
pub async fn on_history(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(history(cx, data).await);
}

async fn history(
    cx: &Connection,
    data: Option<serde_json::Value>,
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
    // A DM room's outsider learns nothing, not even whether it is in it: `forbidden` first.
    crate::socket::dm::check_access(cx, &room).await?;
    if !cx.app.presence().is_member(&room, &cx.socket.id) {
        return Err(ChatError::NotInRoom);
    }
    cx.session.check_rate(Metered::History)?;
    let page = match req.before {
        Some(before) => cx.app.store.before(&room, before, limit).await,
        None => cx.app.store.latest(&room, limit).await,
    }
    .map_err(store_failed(&cx.app))?;
    Ok(HistoryPage {
        messages: page.messages,
        more: page.more,
        truncated: page.truncated,
    })
}
