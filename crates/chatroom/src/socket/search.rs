//! `search` `{query, room?, before?, limit?}`: the messages the user may read that contain
//! every term of `query`, newest first, a page at a time (issue 11). Tokenising and the query
//! rules are chatroom-core's (`search`), the index is the store's; this file decides which
//! rooms the user may read and checks the request's shape.

use crate::protocol::{self, SearchReq, SearchResults};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::store_failed;
use chatroom_core::search::{DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT};
use chatroom_core::{ChatError, RoomName, SearchQuery, is_dm_room};
use chatroom_store::SearchScope;

/// Handles `search`.
pub async fn on_search(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(search(cx, data).await);
}

async fn search(
    cx: &Connection,
    data: Option<serde_json::Value>,
) -> Result<SearchResults, ChatError> {
    let req: SearchReq = protocol::decode(data.unwrap_or_default())?;
    let limit = match req.limit {
        None => DEFAULT_SEARCH_LIMIT,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_SEARCH_LIMIT).contains(n))
            .ok_or_else(|| ChatError::BadRequest(format!("limit must be 1-{MAX_SEARCH_LIMIT}")))?,
    };
    if req.before.is_some_and(|id| id < 1) {
        return Err(ChatError::BadRequest(
            "before must be a message id (1 or more)".into(),
        ));
    }
    let room = req.room.as_deref().map(RoomName::new).transpose()?;
    let query = SearchQuery::parse(&req.query)?;
    // Checked after the shape, like `history`: a malformed request costs no token.
    cx.session.check_rate(Metered::Search)?;
    let readable = readable_dm_rooms(cx).await?;
    let scope = match &room {
        Some(room) if is_dm_room(room.as_str()) && !readable.contains(room) => {
            return Err(ChatError::Forbidden);
        }
        Some(room) => SearchScope::Room(room),
        None => SearchScope::Everywhere,
    };
    let page = cx
        .app
        .store
        .search(&query, scope, &readable, req.before, limit)
        .await
        .map_err(store_failed(&cx.app))?;
    Ok(SearchResults {
        results: page.messages,
        more: page.more,
    })
}

/// The direct-message (`dm:`) rooms this connection's user may read: the rooms where their
/// user id is a participant (the store's `dm_members`). The one place search learns about DM
/// membership; every other `dm:` room is left out of results, and naming one as `room` is
/// `forbidden`.
async fn readable_dm_rooms(cx: &Connection) -> Result<Vec<RoomName>, ChatError> {
    let rooms = cx
        .app
        .store
        .dm_rooms_of(&cx.session.user_id)
        .await
        .map_err(store_failed(&cx.app))?;
    // Stored names were valid when written; one that is not can name no readable room.
    Ok(rooms
        .iter()
        .filter_map(|room| RoomName::new(room).ok())
        .collect())
}
