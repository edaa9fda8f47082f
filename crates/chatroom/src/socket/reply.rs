//! [`Reply`]: the one way a v1 handler answers. With an ack callback the result goes back as
//! `{ok, ...}`; without one, only a failure is reported, as an `error` event — so a client never
//! waits on an answer that cannot come and never misses an error it could see. Every refusal
//! is also logged (rate limited) with the client's address and counted in the metrics; a
//! `send`'s ack latency is measured from arrival to answer. A reply holds a token of the
//! server's [`Drain`](crate::shutdown::Drain) until it is given, so a shutdown waits for it.

use crate::app::App;
use crate::net::ClientAddr;
use crate::protocol::{Ack, CHAT_MESSAGE, ErrorBody, inbound, out};
use crate::socket::session::SessionRef;
use chatroom_core::ChatError;
use serde::Serialize;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Where an incoming event's answer goes.
pub struct Reply {
    ack: Option<AckSender>,
    socket: SocketRef,
    app: App,
    /// The event, as a metrics label ([`event_label`]).
    event: &'static str,
    received: Instant,
    /// Dropped with the reply, once answered (or given up).
    _owed: TaskTrackerToken,
}

/// An event name as a metrics label: one of ours, or `other` — a client's made-up names must
/// not create label values without bound.
pub fn event_label(name: &str) -> &'static str {
    [
        CHAT_MESSAGE,
        inbound::JOIN,
        inbound::LEAVE,
        inbound::SEND,
        inbound::HISTORY,
        inbound::TYPING,
        inbound::ROOMS,
        inbound::RENAME,
        inbound::DELETE,
        inbound::EDIT,
        inbound::REACT,
        inbound::UNREACT,
        inbound::DM,
        inbound::CONVERSATIONS,
        inbound::READ,
        inbound::SEARCH,
    ]
    .into_iter()
    .find(|known| *known == name)
    .unwrap_or("other")
}

impl Reply {
    /// The answer path of event `event` that arrived on `s` with `ack_id`, just now.
    pub fn new(app: &App, s: &Arc<Socket>, ack_id: &Option<i64>, event: &str) -> Self {
        let mut empty = Value::Str(Default::default(), None);
        let ack = match ack_id {
            Some(_) => match AckSender::from_message_parts(s, &mut empty, ack_id) {
                Ok(ack) => Some(ack),
                Err(never) => match never {},
            },
            None => None,
        };
        Self {
            ack,
            socket: SocketRef::from(s.clone()),
            app: app.clone(),
            event: event_label(event),
            received: Instant::now(),
            _owed: app.drain.answer_owed(),
        }
    }

    /// Answers with `result`: exactly one ack, or an `error` event on failure without an ack.
    pub fn send<T: Serialize>(self, result: Result<T, ChatError>) {
        let accepted = result.is_ok();
        if let Err(error) = &result {
            log_refusal(&self.socket, error);
            if !matches!(error, ChatError::Unavailable) {
                self.app.metrics.refused(error.code(), self.event);
            }
        }
        match self.ack {
            Some(ack) => {
                if let Err(e) = ack.send(&Ack::from(result)) {
                    // The client is gone or hopelessly behind; it will be disconnected anyway.
                    tracing::debug!(sid = %self.socket.id, error = %e, "ack not sent");
                } else if accepted && self.event == inbound::SEND {
                    self.app.metrics.ack_sent(self.received.elapsed());
                }
            }
            None => {
                if let Err(error) = result {
                    emit_error(&self.socket, &error);
                }
            }
        }
    }
}

/// Reports `error` to one client as an `error` event, and logs the refusal.
pub fn send_error(socket: &SocketRef, error: &ChatError) {
    log_refusal(socket, error);
    emit_error(socket, error);
}

fn emit_error(socket: &SocketRef, error: &ChatError) {
    if let Err(e) = socket.emit(out::ERROR, &ErrorBody::from(error)) {
        tracing::debug!(sid = %socket.id, error = %e, "error event not sent");
    }
}

fn log_refusal(socket: &SocketRef, error: &ChatError) {
    // A store failure is ours, not the client's; it is logged where it happens.
    if matches!(error, ChatError::Unavailable) {
        return;
    }
    let client: Option<ClientAddr> = socket
        .extensions
        .get::<SessionRef>()
        .and_then(|session| session.client);
    crate::refusal::refused(
        client,
        error.code(),
        format_args!("sid {}: {error}", socket.id),
    );
}
