//! `rooms` `{}`: the rooms that have members now, with their sizes.

use crate::app::App;
use crate::protocol::{RoomInfo, RoomList};
use crate::socket::reply::Reply;
use crate::socket::turn::Turn;
use chatroom_core::ChatError;
use socketioxide::extract::State;

/// Handles `rooms`; the payload is ignored.
pub async fn on_rooms(reply: Reply, State(app): State<App>, turn: Turn) {
    let _turn = turn.wait().await;
    let rooms = app
        .presence()
        .rooms()
        .into_iter()
        .map(|(name, members)| RoomInfo { name, members })
        .collect();
    reply.send(Ok::<_, ChatError>(RoomList { rooms }));
}
