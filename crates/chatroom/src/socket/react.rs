//! `react {id, emoji}` and `unreact {id, emoji}`: add or take back one's emoji reaction on a
//! message of a room the client is in. Stored as change rows in the room's order (see
//! `crate::changes`), acknowledged after commit with the message and its reactions; the room's
//! v1 members get `reaction` from the committed feed. Giving a reaction twice, or taking back
//! one not given, stores nothing and is answered ok.

use crate::changes::{self, Author};
use crate::protocol::{self, ReactReq, Sent};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use chatroom_core::change::{ChangeKind, check_emoji};
use chatroom_core::{ChatError, RoomName};

/// Handles `react`.
pub async fn on_react(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(react(cx, data, ChangeKind::React).await);
}

/// Handles `unreact`.
pub async fn on_unreact(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(react(cx, data, ChangeKind::Unreact).await);
}

async fn react(
    cx: &Connection,
    data: Option<serde_json::Value>,
    kind: ChangeKind,
) -> Result<Sent, ChatError> {
    let req: ReactReq = protocol::decode(data.unwrap_or_default())?;
    check_emoji(&req.emoji)?;
    cx.session.check_rate(Metered::Message)?;
    let target = changes::target(&cx.app, req.id).await?;
    let room = RoomName::new(&target.room).map_err(|_| ChatError::NotInRoom)?;
    if !cx.app.presence().is_member(&room, &cx.socket.id) {
        return Err(ChatError::NotInRoom);
    }
    // A reaction is a word in the room: muted users may not add one (taking one back is fine).
    if kind == ChangeKind::React {
        cx.app
            .moderation
            .check_mute(&cx.session.user_id, &room, crate::clock::now_ms())?;
    }
    let author = Author {
        name: cx.session.name(),
        user_id: Some(cx.session.user_id.clone()),
    };
    let message = changes::store(&cx.app, &target, author, kind, req.emoji, None).await?;
    Ok(Sent { message })
}
