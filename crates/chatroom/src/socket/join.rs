//! `join` `{room, since?}`: membership plus the history a client needs, either the latest page or
//! exactly what it missed since an id (lossless reconnect).

use crate::protocol::{self, JoinReq, Joined};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::{announce, store_failed};
use chatroom_core::{ChatError, RoomName};

/// Messages returned by a plain join.
pub const JOIN_HISTORY: u32 = 50;
/// Most messages returned for `since`; the client pages on with the last id.
pub const SINCE_MAX: u32 = 1000;

/// Handles `join`.
pub async fn on_join(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(join(cx, data).await);
}

async fn join(cx: &Connection, data: Option<serde_json::Value>) -> Result<Joined, ChatError> {
    let req: JoinReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    cx.session.check_rate(Metered::Join)?;
    let name = cx.session.name();
    let sid = cx.socket.id;
    // Join before reading, so a message committed meanwhile is delivered live or read here —
    // possibly both (clients de-duplicate by id), never neither.
    let newly = {
        let mut presence = cx.app.presence();
        if presence.is_member(&room, &sid) {
            false
        } else {
            if let Some(max) = cx.app.config.limits.rooms_per_connection
                && presence.room_count_of(&sid) >= usize::try_from(max).unwrap_or(usize::MAX)
            {
                return Err(ChatError::TooManyRooms { max });
            }
            presence.join(&room, sid, name.clone())
        }
    };
    if newly {
        cx.socket.join(room.as_str().to_owned());
        announce::presence(cx, &room, &name, "join").await;
    }
    let page = match req.since {
        Some(since) => cx.app.store.since(&room, since, SINCE_MAX).await,
        None => cx.app.store.latest(&room, JOIN_HISTORY).await,
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            if newly && cx.app.presence().leave(&room, &sid) {
                crate::socket::leave::left(cx, &room).await;
            }
            return Err(store_failed(&cx.app)(e));
        }
    };
    let (members, count) = announce::members(cx, &room);
    Ok(Joined {
        members,
        count,
        room: room.as_str().to_owned(),
        messages: page.messages,
        more: page.more,
        truncated: page.truncated,
    })
}
