//! `dm {to}`: opens (or finds) the direct conversation with another user and answers its room.
//! Also the one check every room-reading event makes for `dm:` rooms ([`check_access`]): only
//! the two participants recorded in the store may join, read or mark one as read.
//!
//! The room is computed from the two user ids (`chatroom_core::dm_room`), so asking again gives
//! the same room; opening does not join it. The first time, the recipient's connections get
//! `dm {room, with}` (on every node: it travels as a moderation-style effect, see
//! `crate::moderation::Effect::Notify`).

use crate::moderation::{self, Effect, Who};
use crate::protocol::{self, DmOpened, DmReq, Peer, out};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::store_failed;
use chatroom_core::{ChatError, RoomName, UserId, UserName, dm_room, is_dm_room};
use chatroom_store::DmPeer;

/// Handles `dm`.
pub async fn on_dm(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(dm(cx, data).await);
}

async fn dm(cx: &Connection, data: Option<serde_json::Value>) -> Result<DmOpened, ChatError> {
    if cx.session.seed {
        // A seed client's user id is new on every connection: nothing to come back to.
        return Err(ChatError::BadRequest(
            "direct messages need a v1 client (connect with a name)".into(),
        ));
    }
    let req: DmReq = protocol::decode(data.unwrap_or_default())?;
    cx.session.check_rate(Metered::Join)?;
    let me = &cx.session.user_id;
    let (uid, name) = find_user(cx, &req.to).await?;
    if &uid == me {
        return Err(ChatError::BadRequest(
            "that is you: a conversation needs another user".into(),
        ));
    }
    let room = dm_room(me, &uid);
    let mine = DmPeer {
        user_id: me.clone(),
        name: cx.session.name().as_str().to_owned(),
    };
    let theirs = DmPeer {
        user_id: uid.clone(),
        name: name.clone(),
    };
    let created = cx
        .app
        .store
        .open_dm(&room, &mine, &theirs)
        .await
        .map_err(store_failed(&cx.app))?;
    if created {
        let event = DmOpened {
            room: room.as_str().to_owned(),
            with: Peer {
                name: mine.name,
                uid: me.as_str().to_owned(),
            },
        };
        let payload = serde_json::to_value(&event).unwrap_or_default();
        moderation::apply(
            &cx.app,
            Effect::Notify {
                who: Who {
                    user_id: Some(uid.clone()),
                    ..Who::default()
                },
                event: out::DM.to_owned(),
                payload,
                except: None,
            },
        );
    }
    Ok(DmOpened {
        room: room.as_str().to_owned(),
        with: Peer {
            name,
            uid: uid.as_str().to_owned(),
        },
    })
}

/// The user `to` names, with the name to show: a user id connected to this node, a name a
/// user connected to this node holds now, or a user id the store has seen (a DM participant or
/// a sender). `InvalidName` if `to` is neither an id nor a valid name; `NotFound` otherwise.
async fn find_user(cx: &Connection, to: &str) -> Result<(UserId, String), ChatError> {
    let as_id = UserId::new(to).ok();
    if let Some(uid) = &as_id
        && let Some(name) = moderation::connected_name(&cx.app, uid)
    {
        return Ok((uid.clone(), name.as_str().to_owned()));
    }
    let as_name = UserName::new(to);
    if let Ok(name) = &as_name {
        let holder = cx.app.names().holder(name).cloned();
        if let Some(uid) = holder {
            let shown = moderation::connected_name(&cx.app, &uid).unwrap_or_else(|| name.clone());
            return Ok((uid, shown.as_str().to_owned()));
        }
    }
    if let Some(uid) = as_id
        && let Some(name) = cx
            .app
            .store
            .seen_user(&uid)
            .await
            .map_err(store_failed(&cx.app))?
    {
        return Ok((uid, name));
    }
    match as_name {
        Ok(_) => Err(ChatError::NotFound("user")),
        Err(e) => Err(e),
    }
}

/// `Forbidden` if `room` is a DM room (`dm:`) this connection's user does not take part in
/// (or one that does not exist); every other room passes without a store read.
pub async fn check_access(cx: &Connection, room: &RoomName) -> Result<(), ChatError> {
    if !is_dm_room(room.as_str()) {
        return Ok(());
    }
    let member = cx
        .app
        .store
        .is_dm_member(room, &cx.session.user_id)
        .await
        .map_err(store_failed(&cx.app))?;
    if member {
        Ok(())
    } else {
        Err(ChatError::Forbidden)
    }
}
