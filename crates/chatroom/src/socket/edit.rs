//! `edit {id, text}`: the author changes a message's text. Stored as a change row in the room's
//! order (see `crate::changes`), acknowledged after commit with the message as it is now; the
//! room's v1 members get `edited` from the committed feed.

use crate::changes::{self, Author};
use crate::protocol::{self, EditReq, Sent};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use chatroom_core::change::ChangeKind;
use chatroom_core::{ChatError, Limits, NewMessage, RoomName};

/// Handles `edit`.
pub async fn on_edit(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(edit(cx, data).await);
}

async fn edit(cx: &Connection, data: Option<serde_json::Value>) -> Result<Sent, ChatError> {
    let req: EditReq = protocol::decode(data.unwrap_or_default())?;
    // The text rules first (`empty`, `too_long`, NUL): they need no read.
    NewMessage::check_text(&req.text, &Limits::default())?;
    cx.session.check_rate(Metered::Message)?;
    let target = changes::target(&cx.app, req.id).await?;
    // Only the author; moderators may delete others' messages, never put words in them.
    if target.user_id.as_ref() != Some(&cx.session.user_id) {
        return Err(ChatError::Forbidden);
    }
    // Changing one's words is speaking: a mute in the message's room refuses it (deleting
    // one's own message stays allowed).
    if let Ok(room) = RoomName::new(&target.room) {
        cx.app
            .moderation
            .check_mute(&cx.session.user_id, &room, crate::clock::now_ms())?;
    }
    let author = Author {
        name: cx.session.name(),
        user_id: Some(cx.session.user_id.clone()),
    };
    let message =
        changes::store(&cx.app, &target, author, ChangeKind::Edit, req.text, None).await?;
    Ok(Sent { message })
}
