//! `ban {name | ip, minutes?, reason?}` (moderators): stored, so it outlives a restart; the
//! matching connections get `banned` and are disconnected, new ones are refused until it ends.
//! See `crate::moderation`.

use crate::moderation::{self, Actor, BanTarget};
use crate::protocol::{self, BanReq};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use chatroom_core::{ChatError, UserName};
use chatroom_store::Ban;
use serde::Serialize;

/// `ban` answer.
#[derive(Debug, Serialize)]
pub struct Banned {
    /// The stored ban.
    pub ban: Ban,
    /// Connections disconnected.
    pub kicked: usize,
}

/// Handles `ban`.
pub async fn on_ban(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(ban(cx, data).await);
}

async fn ban(cx: &Connection, data: Option<serde_json::Value>) -> Result<Banned, ChatError> {
    let actor = Actor::of(&cx.session);
    actor.check()?;
    let req: BanReq = protocol::decode(data.unwrap_or_default())?;
    let target = target(req.name.as_deref(), req.ip.as_deref())?;
    let reason = moderation::reason(req.reason)?;
    let (ban, kicked) = moderation::ban(&cx.app, &actor, target, req.minutes, reason).await?;
    Ok(Banned { ban, kicked })
}

/// Exactly one of `name` and `ip`, validated.
pub fn target(name: Option<&str>, ip: Option<&str>) -> Result<BanTarget, ChatError> {
    match (name, ip) {
        (Some(name), None) => Ok(BanTarget::Name(UserName::new(name)?)),
        (None, Some(ip)) => ip
            .trim()
            .parse()
            .map(BanTarget::Ip)
            .map_err(|_| ChatError::BadRequest(format!("{ip:?} is not an IP address"))),
        _ => Err(ChatError::BadRequest("give either name or ip".into())),
    }
}
