//! Seed protocol `chat message` (a string): stored as a lobby message under the client's name,
//! then delivered by `deliver` like any other message. Refusals go back as an `error` event,
//! since seed clients send no ack callback.

use crate::protocol::Done;
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::{send, store_failed};
use chatroom_core::{ChatError, NewMessage, RoomName};

/// Handles one `chat message`.
pub async fn on_chat_message(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    match queue_seed_message(cx, data).await {
        Ok(committed) => {
            let app = cx.app.clone();
            tokio::spawn(async move {
                let result = committed.await.map_err(store_failed(&app)).map(|_| Done {});
                reply.send(result);
            });
        }
        Err(error) => reply.send::<Done>(Err(error)),
    }
}

async fn queue_seed_message(
    cx: &Connection,
    data: Option<serde_json::Value>,
) -> Result<send::Committing, ChatError> {
    let Some(serde_json::Value::String(text)) = data else {
        return Err(ChatError::BadRequest(
            "chat message must be a string".into(),
        ));
    };
    // #7: a client that left the lobby may not post there.
    if !cx
        .app
        .presence()
        .is_member(&RoomName::lobby(), &cx.socket.id)
    {
        return Err(ChatError::NotInRoom);
    }
    let message = NewMessage::seed(cx.session.name(), text, crate::clock::now_ms())?
        .by(cx.session.user_id.clone());
    cx.app
        .moderation
        .check_mute(&cx.session.user_id, &message.room, message.ts)?;
    cx.session.check_rate(Metered::Message)?;
    send::queue(cx, message).await
}
