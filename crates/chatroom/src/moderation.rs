//! Moderation: what moderators (over Socket.IO) and the operator (over the admin API) may do to
//! messages and people — delete, kick, ban, mute — and the state that makes it stick.
//!
//! Each action is one function here, called by its socket event (`socket/delete.rs`, …) and
//! by its admin route (`http/admin.rs`) alike. It does its stored part first (ban row, tombstone,
//! audit entry — all in the store, so a restart keeps bans and the trail), then describes what
//! must happen to live connections as an [`Effect`], and [`enforce`] applies an effect to this
//! node's connections. A cluster relay can carry the same `Effect` to other nodes and call
//! [`enforce`] there; nothing in an effect refers to this node's sockets.
//!
//! Bans are checked at every handshake against an in-memory copy of the bans in force, loaded
//! at start, changed with every ban/unban made here and reloaded from the store every
//! [`BAN_REFRESH`] (so bans made on another node sharing the database arrive too). Mutes live in
//! memory only: they are short, and a restart lifting them is acceptable.

use crate::app::App;
use crate::net::ClientAddr;
use crate::socket::session::SessionRef;
use chatroom_core::{ChatError, Message, MessageId, NameKey, Role, RoomName, UserId, UserName};
use chatroom_store::{Ban, NewAudit, NewBan};
use serde::Serialize;
use socketioxide::SocketIo;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

/// How often the bans in force are reloaded from the store.
pub const BAN_REFRESH: Duration = Duration::from_secs(5);
/// Longest ban with an end, in minutes (ten years); without `minutes` a ban is permanent.
pub const MAX_BAN_MINUTES: u64 = 5_256_000;
/// Longest mute, in minutes (a year).
pub const MAX_MUTE_MINUTES: u64 = 525_600;
/// Longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Server → client events of moderation (`deleted` is a change: `crate::changes`).
pub mod events {
    /// You are disconnected by a moderator: `{reason?, by}`.
    pub const KICKED: &str = "kicked";
    /// You are banned and disconnected: `{until?, reason?, by}`.
    pub const BANNED: &str = "banned";
    /// You are muted: `{room?, until, by}`.
    pub const MUTED: &str = "muted";
    /// Your sign-in expired and you are disconnected: `{}`.
    pub const SESSION_EXPIRED: &str = "session_expired";
}

/// How the operator's admin API appears in the audit and as `by`.
const ADMIN_API: &str = "admin-api";

/// Who takes an action, as the audit records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `name (role)`, or `admin-api`.
    pub label: String,
    /// Its role (the admin API acts as `admin`).
    pub role: Role,
    /// The name a change it makes is stored under (`by` of a `deleted`): its display name, or
    /// `admin-api`.
    pub name: UserName,
    /// Its user id (`None`: the admin API).
    pub user_id: Option<UserId>,
}

impl Actor {
    /// A connected moderator or admin.
    pub fn of(session: &SessionRef) -> Self {
        Self {
            label: format!("{} ({})", session.name(), session.role),
            role: session.role,
            name: session.name(),
            user_id: Some(session.user_id.clone()),
        }
    }

    /// The operator through `/api/admin/`.
    pub fn admin_api() -> Self {
        Self {
            label: ADMIN_API.into(),
            role: Role::Admin,
            name: UserName::new(ADMIN_API).unwrap_or_else(|_| UserName::guest(0)),
            user_id: None,
        }
    }

    /// `Forbidden` unless this actor may moderate.
    pub fn check(&self) -> Result<(), ChatError> {
        if self.role.may_moderate() {
            Ok(())
        } else {
            Err(ChatError::Forbidden)
        }
    }
}

/// Which connections an effect applies to: any matching field selects a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Who {
    /// This user's connections.
    pub user_id: Option<UserId>,
    /// Connections using this name.
    pub name_key: Option<String>,
    /// Connections from this address.
    pub ip: Option<IpAddr>,
}

impl Who {
    fn matches(&self, session: &SessionRef) -> bool {
        self.user_id.as_ref() == Some(&session.user_id)
            || self
                .name_key
                .as_ref()
                .is_some_and(|key| session.name().key().as_str() == key)
            || self
                .ip
                .is_some_and(|ip| session.client.map(|c| c.0) == Some(ip))
    }
}

/// What an action does to live connections; [`enforce`] applies it to this node's, and on a
/// cluster [`apply`] also sends it to the other nodes, which enforce it on theirs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Send `event` with `payload` to the matching connections, then disconnect them.
    Disconnect {
        /// Whose connections.
        who: Who,
        /// `kicked` or `banned`.
        event: String,
        /// Its payload.
        payload: serde_json::Value,
    },
    /// The user may not write (in `room`, or anywhere) until `until_ms`.
    Mute {
        /// Whom.
        user_id: UserId,
        /// Where; `None`: everywhere.
        room: Option<RoomName>,
        /// Until, ms since the Unix epoch.
        until_ms: i64,
        /// Who muted, for the `muted` event.
        by: String,
    },
    /// A ban was added.
    Banned(Ban),
    /// Send `event` with `payload` to the matching connections, except `except` (not a
    /// moderation action: a user's own notices — a new DM, a read position from another
    /// tab — need the same selection by user id and the same relay to every node).
    Notify {
        /// Whose connections.
        who: Who,
        /// The event (`dm`, `read`).
        event: String,
        /// Its payload.
        payload: serde_json::Value,
        /// The connection that caused it, which knows already.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        except: Option<socketioxide::socket::Sid>,
    },
    /// Ban `id` was lifted.
    Unbanned(i64),
}

/// A mute in force.
#[derive(Debug, Clone)]
struct Mute {
    room: Option<RoomName>,
    until_ms: i64,
}

/// The live moderation state of this node.
#[derive(Default)]
pub struct Moderation {
    bans: RwLock<Vec<Ban>>,
    mutes: Mutex<HashMap<UserId, Vec<Mute>>>,
    io: OnceLock<SocketIo>,
}

impl Moderation {
    /// State with the bans in force at start.
    pub fn new(bans: Vec<Ban>) -> Self {
        Self {
            bans: RwLock::new(bans),
            ..Self::default()
        }
    }

    /// Gives effects the Socket.IO server to act on (once, when serving starts).
    pub fn attach(&self, io: SocketIo) {
        let _ = self.io.set(io);
    }

    /// The ban in force now that covers this user, name or address, if any (the one ending
    /// last).
    pub fn ban_for(
        &self,
        user_id: Option<&UserId>,
        name: Option<&NameKey>,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Option<Ban> {
        let bans = self.bans.read().unwrap_or_else(|p| p.into_inner());
        let ip = ip.map(|ip| ip.to_string());
        bans.iter()
            .filter(|ban| ban.in_force(now_ms))
            .filter(|ban| {
                (ban.user_id.is_some() && ban.user_id.as_deref() == user_id.map(UserId::as_str))
                    || (ban.name_key.is_some()
                        && ban.name_key.as_deref() == name.map(NameKey::as_str))
                    || (ban.ip.is_some() && ban.ip == ip)
            })
            .max_by_key(|ban| ban.until_ms.unwrap_or(i64::MAX))
            .cloned()
    }

    /// `Muted` if `user` may not write in `room` now.
    pub fn check_mute(&self, user: &UserId, room: &RoomName, now_ms: i64) -> Result<(), ChatError> {
        let mut mutes = self.mutes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = mutes.get_mut(user) else {
            return Ok(());
        };
        list.retain(|m| m.until_ms > now_ms);
        let until = list
            .iter()
            .filter(|m| m.room.as_ref().is_none_or(|r| r == room))
            .map(|m| m.until_ms)
            .max();
        if list.is_empty() {
            mutes.remove(user);
        }
        match until {
            Some(until) => Err(ChatError::Muted {
                retry_ms: u64::try_from(until - now_ms).unwrap_or(1).max(1),
            }),
            None => Ok(()),
        }
    }

    /// Replaces the bans in force (at start and by [`refresh_bans`]).
    pub fn replace_bans(&self, bans: Vec<Ban>) {
        *self.bans.write().unwrap_or_else(|p| p.into_inner()) = bans;
    }
}

/// Reloads the bans in force every [`BAN_REFRESH`]; runs until aborted.
pub async fn refresh_bans(app: App) {
    let mut tick = tokio::time::interval(BAN_REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.store.bans(crate::clock::now_ms()).await {
            Ok(bans) => app.moderation.replace_bans(bans),
            // The copy in memory stays in force; the next round tries again.
            Err(error) => tracing::warn!(%error, "bans not reloaded"),
        }
    }
}

/// Applies `effect` to this node's connections and, on a cluster, sends it to the other nodes;
/// the number of this node's connections it reached.
pub fn apply(app: &App, effect: Effect) -> usize {
    let reached = enforce(app, &effect);
    if let Some(cluster) = &app.cluster {
        cluster.publish(crate::cluster::wire::Body::Moderation { effect });
    }
    reached
}

/// Applies `effect` to this node's connections; the number of connections it reached.
pub fn enforce(app: &App, effect: &Effect) -> usize {
    match effect {
        Effect::Banned(ban) => {
            let mut bans = app
                .moderation
                .bans
                .write()
                .unwrap_or_else(|p| p.into_inner());
            if bans.iter().all(|b| b.id != ban.id) {
                bans.push(ban.clone());
            }
            0
        }
        Effect::Unbanned(id) => {
            let mut bans = app
                .moderation
                .bans
                .write()
                .unwrap_or_else(|p| p.into_inner());
            bans.retain(|b| b.id != *id);
            0
        }
        Effect::Mute {
            user_id,
            room,
            until_ms,
            by,
        } => {
            app.moderation
                .mutes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(user_id.clone())
                .or_default()
                .push(Mute {
                    room: room.clone(),
                    until_ms: *until_ms,
                });
            let payload = serde_json::json!({
                "room": room.as_ref().map(RoomName::as_str),
                "until": until_ms,
                "by": by,
            });
            let who = Who {
                user_id: Some(user_id.clone()),
                ..Who::default()
            };
            sessions(app, &who)
                .into_iter()
                .filter(|(socket, _)| socket.emit(events::MUTED, &payload).is_ok())
                .count()
        }
        Effect::Notify {
            who,
            event,
            payload,
            except,
        } => sessions(app, who)
            .into_iter()
            .filter(|(socket, _)| Some(socket.id) != *except)
            .filter(|(socket, _)| socket.emit(event.as_str(), payload).is_ok())
            .count(),
        Effect::Disconnect {
            who,
            event,
            payload,
        } => {
            let targets = sessions(app, who);
            for (socket, _) in &targets {
                // The event goes out before the DISCONNECT packet on the same queue.
                let _ = socket.emit(event.as_str(), payload);
                if let Err(error) = socket.clone().disconnect() {
                    tracing::debug!(sid = %socket.id, %error, "moderated client not disconnected");
                }
            }
            targets.len()
        }
    }
}

/// This node's connections (with their sessions) that `who` selects.
fn sessions(app: &App, who: &Who) -> Vec<(socketioxide::extract::SocketRef, SessionRef)> {
    let Some(io) = app.moderation.io.get() else {
        return Vec::new();
    };
    io.sockets()
        .into_iter()
        .filter_map(|socket| {
            let session = socket.extensions.get::<SessionRef>()?;
            who.matches(&session).then_some((socket, session))
        })
        .collect()
}

/// The current name of `user` if it is connected to this node (its first connection's).
pub fn connected_name(app: &App, user: &UserId) -> Option<UserName> {
    let who = Who {
        user_id: Some(user.clone()),
        ..Who::default()
    };
    sessions(app, &who)
        .first()
        .map(|(_, session)| session.name())
}

/// The user connected here under `name`, and the highest role among its connections.
fn online(app: &App, name: &UserName) -> Option<(UserId, Role)> {
    let user = app.names().holder(name).cloned()?;
    let who = Who {
        user_id: Some(user.clone()),
        ..Who::default()
    };
    let role = sessions(app, &who)
        .iter()
        .map(|(_, s)| s.role)
        .max()
        .unwrap_or_default();
    Some((user, role))
}

/// A moderator may act on users below its role; an admin on anyone.
fn outranks(actor: &Actor, target: Role) -> Result<(), ChatError> {
    if actor.role == Role::Admin || target < actor.role {
        Ok(())
    } else {
        Err(ChatError::Forbidden)
    }
}

/// A reason as given: trimmed, `None` when blank, refused when too long.
pub fn reason(raw: Option<String>) -> Result<Option<String>, ChatError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_REASON_CHARS {
        return Err(ChatError::BadRequest(format!(
            "reason must be at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn audit(actor: &Actor, action: &str, target: String, reason: Option<String>) -> NewAudit {
    NewAudit {
        ts: crate::clock::now_ms(),
        actor: actor.label.clone(),
        action: action.into(),
        target,
        reason,
        detail: None,
    }
}

fn minutes_ms(minutes: u64, max: u64) -> Result<i64, ChatError> {
    if !(1..=max).contains(&minutes) {
        return Err(ChatError::BadRequest(format!("minutes must be 1-{max}")));
    }
    Ok(i64::try_from(minutes * 60_000).unwrap_or(i64::MAX))
}

/// `delete {id}` by a moderator (or the admin API): message `id` becomes a tombstone. The
/// delete is a change row written with its audit entry in one transaction; its room learns
/// of it from the committed feed (every node of a cluster, by seq), like of any change.
pub async fn delete_message(app: &App, actor: &Actor, id: MessageId) -> Result<Message, ChatError> {
    actor.check()?;
    let target = crate::changes::target(app, id).await?;
    delete_target(app, actor, &target).await
}

/// [`delete_message`] of a message already read (`socket/delete.rs` reads it to tell its
/// author from a moderator).
pub async fn delete_target(
    app: &App,
    actor: &Actor,
    target: &Message,
) -> Result<Message, ChatError> {
    actor.check()?;
    let by = crate::changes::Author {
        name: actor.name.clone(),
        user_id: actor.user_id.clone(),
    };
    let log = audit(actor, "delete", target.id.to_string(), None);
    crate::changes::store(
        app,
        target,
        by,
        chatroom_core::ChangeKind::Delete,
        String::new(),
        Some(log),
    )
    .await
}

/// `kick {name, reason?}`: every connection of the user under `name` gets `kicked` and is
/// disconnected; how many. `NotFound` if nobody here uses that name.
pub async fn kick(
    app: &App,
    actor: &Actor,
    name: &UserName,
    reason: Option<String>,
) -> Result<usize, ChatError> {
    actor.check()?;
    let (user_id, role) = online(app, name).ok_or(ChatError::NotFound("user"))?;
    outranks(actor, role)?;
    app.store
        .record(audit(actor, "kick", name.to_string(), reason.clone()))
        .await
        .map_err(crate::socket::store_failed(app))?;
    Ok(apply(
        app,
        Effect::Disconnect {
            who: Who {
                user_id: Some(user_id),
                ..Who::default()
            },
            event: events::KICKED.to_owned(),
            payload: serde_json::json!({"reason": reason, "by": actor.label}),
        },
    ))
}

/// Whom a ban is for.
#[derive(Debug, Clone)]
pub enum BanTarget {
    /// A name (and the user holding it now, if connected here).
    Name(UserName),
    /// A client address.
    Ip(IpAddr),
}

/// `ban {name | ip, minutes?, reason?}`: stores the ban (without `minutes`: permanent),
/// disconnects the matching connections with `banned`, and refuses new ones until it ends.
pub async fn ban(
    app: &App,
    actor: &Actor,
    target: BanTarget,
    minutes: Option<u64>,
    reason: Option<String>,
) -> Result<(Ban, usize), ChatError> {
    actor.check()?;
    let now = crate::clock::now_ms();
    let until_ms = minutes
        .map(|m| minutes_ms(m, MAX_BAN_MINUTES).map(|ms| now.saturating_add(ms)))
        .transpose()?;
    let (new, label) = match &target {
        BanTarget::Name(name) => {
            let user_id = match online(app, name) {
                Some((user, role)) => {
                    outranks(actor, role)?;
                    Some(user)
                }
                None => None,
            };
            let new = NewBan {
                user_id: user_id.map(String::from),
                name: Some(name.to_string()),
                name_key: Some(name.key().as_str().to_owned()),
                ..NewBan::default()
            };
            (new, name.to_string())
        }
        BanTarget::Ip(ip) => {
            let new = NewBan {
                ip: Some(ip.to_string()),
                ..NewBan::default()
            };
            (new, ip.to_string())
        }
    };
    let new = NewBan {
        until_ms,
        reason: reason.clone(),
        actor: actor.label.clone(),
        created_ms: now,
        ..new
    };
    let mut log = audit(actor, "ban", label, reason.clone());
    log.detail = until_ms.map(|until| format!("until {}", crate::moderation::rfc3339(until)));
    let stored = app
        .store
        .ban(new, log)
        .await
        .map_err(crate::socket::store_failed(app))?;
    apply(app, Effect::Banned(stored.clone()));
    let who = Who {
        user_id: stored.user_id.clone().and_then(|u| UserId::new(&u).ok()),
        name_key: stored.name_key.clone(),
        ip: stored.ip.as_deref().and_then(|ip| ip.parse().ok()),
    };
    let kicked = apply(
        app,
        Effect::Disconnect {
            who,
            event: events::BANNED.to_owned(),
            payload: serde_json::json!({
                "until": stored.until_ms,
                "reason": stored.reason,
                "by": actor.label,
            }),
        },
    );
    Ok((stored, kicked))
}

/// Lifts ban `id`. `NotFound` if there is none.
pub async fn unban(app: &App, actor: &Actor, id: i64) -> Result<Ban, ChatError> {
    actor.check()?;
    let lifted = app
        .store
        .unban(id, audit(actor, "unban", format!("ban {id}"), None))
        .await
        .map_err(crate::socket::store_failed(app))?
        .ok_or(ChatError::NotFound("ban"))?;
    apply(app, Effect::Unbanned(id));
    Ok(lifted)
}

/// `mute {name, room?, minutes}`: the user's `send` and `chat message` (in `room`, or
/// everywhere) are refused with `muted` until then; its connections get `muted`. The end, ms.
pub async fn mute(
    app: &App,
    actor: &Actor,
    name: &UserName,
    room: Option<RoomName>,
    minutes: u64,
) -> Result<i64, ChatError> {
    actor.check()?;
    let until_ms = crate::clock::now_ms().saturating_add(minutes_ms(minutes, MAX_MUTE_MINUTES)?);
    let (user_id, role) = online(app, name).ok_or(ChatError::NotFound("user"))?;
    outranks(actor, role)?;
    let mut log = audit(actor, "mute", name.to_string(), None);
    log.detail = Some(format!(
        "{} minutes{}",
        minutes,
        room.as_ref()
            .map(|r| format!(" in {r}"))
            .unwrap_or_default()
    ));
    app.store
        .record(log)
        .await
        .map_err(crate::socket::store_failed(app))?;
    apply(
        app,
        Effect::Mute {
            user_id,
            room,
            until_ms,
            by: actor.label.clone(),
        },
    );
    Ok(until_ms)
}

/// `ms` since the Unix epoch as RFC 3339 UTC to the second, e.g. `2026-12-03T09:41:07Z`.
pub fn rfc3339(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Whether this client may connect now: `Banned` (with the end) if a ban covers its user id,
/// name or address.
pub fn check_ban(
    app: &App,
    user_id: Option<&UserId>,
    name: Option<&UserName>,
    client: Option<ClientAddr>,
) -> Result<(), ChatError> {
    let key = name.map(UserName::key);
    match app.moderation.ban_for(
        user_id,
        key.as_ref(),
        client.map(|c| c.0),
        crate::clock::now_ms(),
    ) {
        Some(ban) => Err(ChatError::Banned {
            until_ms: ban.until_ms,
        }),
        None => Ok(()),
    }
}
