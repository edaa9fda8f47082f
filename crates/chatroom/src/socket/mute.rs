//! `mute {name, room?, minutes}` (moderators): that user's `send`, `edit`, `react` and
//! `chat message` (in `room`, or anywhere) are refused with `muted` and `retry_ms` until it ends;
//! its connections get `muted`. See `crate::moderation`.

use crate::moderation::{self, Actor};
use crate::protocol::{self, MuteReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::{ChatError, RoomName, UserName};
use serde::Serialize;

/// `mute` answer.
#[derive(Debug, Serialize)]
pub struct Muted {
    /// When it ends, ms since the Unix epoch.
    pub until: i64,
}

/// Handles `mute`.
pub async fn on_mute(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(mute(cx, data).await);
}

async fn mute(cx: &Connection, data: Option<serde_json::Value>) -> Result<Muted, ChatError> {
    let actor = Actor::of(&cx.session);
    actor.check()?;
    let req: MuteReq = protocol::decode(data.unwrap_or_default())?;
    let name = UserName::new(&req.name)?;
    let room = req.room.as_deref().map(RoomName::new).transpose()?;
    let until = moderation::mute(&cx.app, &actor, &name, room, req.minutes).await?;
    Ok(Muted { until })
}
