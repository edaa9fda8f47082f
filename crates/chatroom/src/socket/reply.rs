//! [`Reply`]: the one way a v1 handler answers. With an ack callback the result goes back as
//! `{ok, ...}`; without one, only a failure is reported, as an `error` event — so a client never
//! waits on an answer that cannot come and never misses an error it could see.

use crate::protocol::{Ack, ErrorBody, out};
use chatroom_core::ChatError;
use serde::Serialize;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use std::convert::Infallible;
use std::sync::Arc;

/// Extracted from an incoming event: where its answer goes.
pub struct Reply {
    ack: AckSender,
    socket: SocketRef,
    wants_ack: bool,
}

impl FromMessageParts<LocalAdapter> for Reply {
    type Error = Infallible;
    fn from_message_parts(
        s: &Arc<Socket>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            ack: AckSender::from_message_parts(s, v, ack_id)?,
            socket: SocketRef::from_message_parts(s, v, ack_id)?,
            wants_ack: ack_id.is_some(),
        })
    }
}

impl Reply {
    /// Answers with `result`: exactly one ack, or an `error` event on failure without an ack.
    pub fn send<T: Serialize>(self, result: Result<T, ChatError>) {
        if self.wants_ack {
            if let Err(e) = self.ack.send(&Ack::from(result)) {
                // The client is gone or hopelessly behind; it will be disconnected either way.
                tracing::debug!(sid = %self.socket.id, error = %e, "ack not sent");
            }
        } else if let Err(error) = result {
            send_error(&self.socket, &error);
        }
    }
}

/// Reports `error` to one client as an `error` event.
pub fn send_error(socket: &SocketRef, error: &ChatError) {
    if let Err(e) = socket.emit(out::ERROR, &ErrorBody::from(error)) {
        tracing::debug!(sid = %socket.id, error = %e, "error event not sent");
    }
}
