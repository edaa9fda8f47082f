//! `join` `{room, since?}`: membership plus the history a client needs, either the latest page or
//! exactly what it missed since an id (lossless reconnect), and where the user stands in it
//! (read position, unread and mention counts). A `dm:` room only lets its two participants in.

use crate::cluster::wire::Change;
use crate::protocol::{self, JoinReq, Joined};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::{announce, store_failed};
use chatroom_core::{ChatError, RoomName};

/// Messages returned by a plain join.
pub const JOIN_HISTORY: u32 = 50;
/// Most rows (messages and changes) returned for `since`; the client pages on with `through`.
pub const SINCE_MAX: u32 = 1000;

/// Handles `join`.
pub async fn on_join(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(join(cx, data).await);
}

async fn join(cx: &Connection, data: Option<serde_json::Value>) -> Result<Joined, ChatError> {
    let req: JoinReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    cx.session.check_rate(Metered::Join)?;
    crate::socket::dm::check_access(cx, &room).await?;
    let name = cx.session.name();
    let sid = cx.socket.id;
    // Join before reading, so a message committed meanwhile is delivered live or read here —
    // possibly both (clients de-duplicate by id), never neither.
    let newly = {
        let mut presence = cx.app.presence();
        if presence.is_member(&room, &sid) {
            false
        } else {
            if let Some(max) = cx.app.config.limits.rooms_per_connection
                && presence.room_count_of(&sid) >= usize::try_from(max).unwrap_or(usize::MAX)
            {
                return Err(ChatError::TooManyRooms { max });
            }
            let joined = presence.join(&room, sid, name.clone());
            if joined {
                cx.app.note(|| Change::Join {
                    sid,
                    room: room.as_str().to_owned(),
                    name: name.as_str().to_owned(),
                    seed: cx.session.seed,
                });
            }
            joined
        }
    };
    if newly {
        cx.app
            .members()
            .join(&cx.socket, &cx.session, room.as_str());
        announce::presence(cx, &room, &name, "join").await;
    }
    // On a cluster node, live delivery of the room starts at the store's head first, so the
    // read below and live delivery meet without a hole (see `cluster::order`).
    let watched = match &cx.app.cluster {
        Some(cluster) => cluster.watch(&room).await,
        None => Ok(()),
    };
    let page = match watched {
        Err(e) => Err(e),
        Ok(()) => match req.since {
            Some(since) => cx.app.store.since(&room, since, SINCE_MAX).await,
            None => cx.app.store.latest(&room, JOIN_HISTORY).await,
        },
    };
    // Where the user stands: read after the page, so a message committed in between is counted
    // unread rather than missed by both.
    let page = match page {
        Ok(page) => cx
            .app
            .store
            .read_state(&cx.session.user_id, &name, &room)
            .await
            .map(|state| (page, state)),
        Err(e) => Err(e),
    };
    let (page, state) = match page {
        Ok(read) => read,
        Err(e) => {
            if newly && crate::socket::leave::leave_room(cx, &room) {
                crate::socket::leave::left(cx, &room).await;
            }
            return Err(store_failed(&cx.app)(e));
        }
    };
    let (members, count) = announce::members(cx, &room);
    // With `since`, the changes after it (edits, deletes, reactions) in the room's order, and
    // how far the answer reaches; without, the history is in its current state already.
    let (changes, through) = match req.since {
        Some(since) => (
            Some(
                page.changes
                    .iter()
                    .filter_map(crate::changes::recovered)
                    .collect(),
            ),
            Some(page.through.unwrap_or(since)),
        ),
        None => (None, page.messages.last().map(|m| m.id)),
    };
    Ok(Joined {
        members,
        count,
        room: room.as_str().to_owned(),
        messages: page.messages,
        more: page.more,
        truncated: page.truncated,
        changes,
        through,
        read: state.read,
        unread: state.unread,
        mentions: state.mentions,
    })
}
