//! `conversations {}`: the user's direct conversations with their newest message and the
//! unread and mention counts after the user's read position, newest activity first — what a
//! page needs to draw its DM list with badges after a reload, on any browser.

use crate::protocol::{ConversationInfo, ConversationList, Peer};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::store_failed;
use chatroom_core::ChatError;

/// Handles `conversations`.
pub async fn on_conversations(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    reply.send(conversations(cx, data).await);
}

async fn conversations(
    cx: &Connection,
    data: Option<serde_json::Value>,
) -> Result<ConversationList, ChatError> {
    // Nothing to ask: no payload, `{}` or `null`.
    match data {
        None | Some(serde_json::Value::Null) => {}
        Some(value) if value.is_object() => {}
        Some(_) => return Err(ChatError::BadRequest("payload must be an object".into())),
    }
    if cx.session.seed {
        return Err(ChatError::BadRequest(
            "direct messages need a v1 client (connect with a name)".into(),
        ));
    }
    // A listing, like `rooms`: the same (small) bucket.
    cx.session.check_rate(Metered::Rooms)?;
    let list = cx
        .app
        .store
        .conversations(&cx.session.user_id, &cx.session.name())
        .await
        .map_err(store_failed(&cx.app))?;
    Ok(ConversationList {
        conversations: list
            .into_iter()
            .map(|c| ConversationInfo {
                room: c.room,
                with: Peer {
                    name: c.with.name,
                    uid: c.with.user_id.as_str().to_owned(),
                },
                last: c.last,
                read: c.state.read,
                unread: c.state.unread,
                mentions: c.state.mentions,
            })
            .collect(),
    })
}
