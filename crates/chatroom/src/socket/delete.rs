//! `delete {id}`: the author removes their own message, or a moderator/admin anyone's (audited,
//! see `crate::moderation`). The message becomes a tombstone in history; the delete is a change
//! row in the room's order (see `crate::changes`), so the room's v1 members get `deleted` from
//! the committed feed (every node of a cluster, by seq) and a reconnecting client recovers it
//! with `since`. The answer carries the tombstone.

use crate::changes::{self, Author};
use crate::moderation::{self, Actor};
use crate::protocol::{self, DeleteReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::change::ChangeKind;
use chatroom_core::{ChatError, Message};
use serde::Serialize;

/// `delete` answer.
#[derive(Debug, Serialize)]
pub struct Deleted {
    /// The tombstone.
    pub message: Message,
}

/// Handles `delete`.
pub async fn on_delete(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(delete(cx, data).await);
}

async fn delete(cx: &Connection, data: Option<serde_json::Value>) -> Result<Deleted, ChatError> {
    let req: DeleteReq = protocol::decode(data.unwrap_or_default())?;
    let target = changes::target(&cx.app, req.id).await?;
    let message = if target.user_id.as_ref() == Some(&cx.session.user_id) {
        let author = Author {
            name: cx.session.name(),
            user_id: Some(cx.session.user_id.clone()),
        };
        changes::store(
            &cx.app,
            &target,
            author,
            ChangeKind::Delete,
            String::new(),
            None,
        )
        .await?
    } else {
        // Someone else's message: a moderation action (role checked, audited).
        moderation::delete_target(&cx.app, &Actor::of(&cx.session), &target).await?
    };
    Ok(Deleted { message })
}
