//! `kick {name, reason?}` (moderators): every connection of that user gets `kicked` and is
//! disconnected. See `crate::moderation`.

use crate::moderation::{self, Actor};
use crate::protocol::{self, KickReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::{ChatError, UserName};
use serde::Serialize;

/// `kick` answer.
#[derive(Debug, Serialize)]
pub struct Kicked {
    /// Connections disconnected.
    pub kicked: usize,
}

/// Handles `kick`.
pub async fn on_kick(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(kick(cx, data).await);
}

async fn kick(cx: &Connection, data: Option<serde_json::Value>) -> Result<Kicked, ChatError> {
    let actor = Actor::of(&cx.session);
    actor.check()?;
    let req: KickReq = protocol::decode(data.unwrap_or_default())?;
    let name = UserName::new(&req.name)?;
    let reason = moderation::reason(req.reason)?;
    let kicked = moderation::kick(&cx.app, &actor, &name, reason).await?;
    Ok(Kicked { kicked })
}
