//! `delete {id}` (moderators): the message becomes a tombstone in history and its room gets
//! `deleted {id, room}`; the answer carries the tombstone. See `crate::moderation`.

use crate::moderation::{self, Actor};
use crate::protocol::{self, DeleteReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
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
    let actor = Actor::of(&cx.session);
    // The role first: a plain user learns nothing, not even whether its request was well formed.
    actor.check()?;
    let req: DeleteReq = protocol::decode(data.unwrap_or_default())?;
    let message = moderation::delete_message(&cx.app, &actor, req.id).await?;
    Ok(Deleted { message })
}
