//! `send` `{room, text, cid?}`: decode → domain rules → durable append → ack. Delivery to the
//! room happens in `deliver`, fed by the store after commit, so the ack and the broadcast both
//! follow the commit and every client sees ids in ascending order.

use crate::protocol::{self, SendReq, Sent};
use crate::socket::inbox::Connection;
use crate::socket::reply::Reply;
use crate::socket::session::Metered;
use crate::socket::store_failed;
use chatroom_core::{ChatError, Cid, Limits, NewMessage, RoomName};
use chatroom_store::{Appended, StoreError};
use std::future::Future;
use std::pin::Pin;

/// A message queued for the store, waiting for its commit.
pub type Committing = Pin<Box<dyn Future<Output = Result<Appended, StoreError>> + Send>>;

/// Handles `send`: the checks and the queueing happen in the connection's order; the commit
/// is awaited in its own task so the connection's next message can join the same group commit.
pub async fn on_send(cx: &Connection, data: Option<serde_json::Value>, reply: Reply) {
    match queue_send(cx, data).await {
        Ok(committed) => {
            let app = cx.app.clone();
            tokio::spawn(async move {
                let result = committed
                    .await
                    .map_err(store_failed(&app))
                    .map(|appended| Sent {
                        message: (*appended.message).clone(),
                    });
                reply.send(result);
            });
        }
        Err(error) => reply.send::<Sent>(Err(error)),
    }
}

async fn queue_send(
    cx: &Connection,
    data: Option<serde_json::Value>,
) -> Result<Committing, ChatError> {
    let req: SendReq = protocol::decode(data.unwrap_or_default())?;
    let room = RoomName::new(&req.room)?;
    let cid = req.cid.as_deref().map(Cid::new).transpose()?;
    if !cx.app.presence().is_member(&room, &cx.socket.id) {
        return Err(ChatError::NotInRoom);
    }
    let message = NewMessage::new(
        room,
        cx.session.name(),
        req.text,
        cid,
        &Limits::default(),
        crate::clock::now_ms(),
    )?
    .by(cx.session.user_id.clone());
    cx.app
        .moderation
        .check_mute(&cx.session.user_id, &message.room, message.ts)?;
    cx.session.check_rate(Metered::Message)?;
    queue(cx, message).await
}

/// Hands `message` to the store's writer (ids follow queueing order) and returns its commit,
/// which counts the message in `chatroom_messages_stored_total` unless it was a duplicate.
pub async fn queue(cx: &Connection, message: NewMessage) -> Result<Committing, ChatError> {
    let committed = cx
        .app
        .store
        .submit(message)
        .await
        .map_err(store_failed(&cx.app))?;
    let metrics = cx.app.metrics.clone();
    Ok(Box::pin(async move {
        let result = committed.await;
        if let Ok(appended) = &result
            && !appended.duplicate
        {
            metrics.messages_stored.inc();
        }
        result
    }))
}
