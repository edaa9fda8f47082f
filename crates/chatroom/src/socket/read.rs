//! `read {room, id}`: stores how far the user has read in a room, so unread counts survive a
//! reload and follow the user to another browser. Only forward: an older id is answered with
//! the stored one. The user's other connections (on every node) get `read {room, id}` so their
//! badges clear too.

use crate::moderation::{self, Effect, Who};
use crate::protocol::{self, ReadAt, ReadReq, out};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::store_failed;
use chatroom_core::{ChatError, RoomName};

/// Handles `read`.
pub async fn on_read(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(read(cx, data).await);
}

async fn read(cx: &Connection, data: Option<serde_json::Value>) -> Result<ReadAt, ChatError> {
    let req: ReadReq = protocol::decode(data.unwrap_or_default())?;
    if req.id < 0 {
        return Err(ChatError::BadRequest(
            "id must be a message id (>= 0)".into(),
        ));
    }
    let room = RoomName::new(&req.room)?;
    if cx.session.seed {
        return Err(ChatError::BadRequest(
            "read positions need a v1 client (connect with a name)".into(),
        ));
    }
    crate::socket::dm::check_access(cx, &room).await?;
    let stored = cx
        .app
        .store
        .mark_read(&cx.session.user_id, &room, req.id)
        .await
        .map_err(store_failed(&cx.app))?;
    let answer = ReadAt {
        room: room.as_str().to_owned(),
        id: stored,
    };
    if stored.is_some() {
        moderation::apply(
            &cx.app,
            Effect::Notify {
                who: Who {
                    user_id: Some(cx.session.user_id.clone()),
                    ..Who::default()
                },
                event: out::READ.to_owned(),
                payload: serde_json::to_value(&answer).unwrap_or_default(),
                except: Some(cx.socket.id),
            },
        );
    }
    Ok(answer)
}
