//! `rooms` `{after?}`: the rooms that have members now, with their sizes, a page at a time
//! (by name), so the answer stays small however many rooms exist.

use crate::protocol::{self, RoomInfo, RoomList, RoomsReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use chatroom_core::ChatError;

/// Rooms per answer; `more: true` says to ask again with `after` = the last name.
pub const ROOMS_PAGE: usize = 100;

/// Handles `rooms`.
pub async fn on_rooms(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(rooms(cx, data));
}

fn rooms(cx: &Connection, data: Option<serde_json::Value>) -> Result<RoomList, ChatError> {
    // The seed-era page sends no payload; absent or null is the first page.
    let req: RoomsReq = match data {
        None | Some(serde_json::Value::Null) => RoomsReq::default(),
        Some(value) => protocol::decode(value)?,
    };
    cx.session.check_rate(Metered::Rooms)?;
    let (page, more) = cx
        .app
        .presence()
        .rooms_after(req.after.as_deref(), ROOMS_PAGE);
    Ok(RoomList {
        rooms: page
            .into_iter()
            .map(|(name, members)| RoomInfo { name, members })
            .collect(),
        more,
    })
}
