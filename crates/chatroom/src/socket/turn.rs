//! Per-connection event order. socketioxide runs every event handler as its own task, and
//! tokio may start them in any order, yet a chat user expects their messages stored in the
//! order they sent them (and `send` right after `join` to find them in the room). Extractors
//! run synchronously in arrival order, so the [`Turn`] extractor takes a numbered ticket there;
//! the handler then waits for its number before its ordered part (checks, membership changes,
//! queueing the message for the store) and releases the turn before awaiting the commit, so
//! one connection's messages still share a group commit.

use crate::socket::session::SessionRef;
use socketioxide::adapter::LocalAdapter;
use socketioxide::handler::{FromMessageParts, Value};
use socketioxide::socket::Socket;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One connection's ticket dispenser.
#[derive(Debug)]
pub struct Turns {
    issued: AtomicU64,
    serving: watch::Sender<u64>,
    /// Tickets finished out of order (a handler that never ran); skipped when reached.
    finished_early: Mutex<BTreeSet<u64>>,
}

impl Default for Turns {
    fn default() -> Self {
        Self {
            issued: AtomicU64::new(0),
            serving: watch::Sender::new(0),
            finished_early: Mutex::new(BTreeSet::new()),
        }
    }
}

impl Turns {
    /// Ticket 0, taken by the handshake for `on_connect` before any event can arrive.
    pub const CONNECT: u64 = 0;

    fn issue(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::Relaxed)
    }

    fn finish(&self, ticket: u64) {
        let mut early = self
            .finished_early
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        early.insert(ticket);
        let mut next = *self.serving.borrow();
        while early.remove(&next) {
            next += 1;
        }
        self.serving.send_if_modified(|serving| {
            let changed = *serving != next;
            *serving = next;
            changed
        });
    }
}

impl Turns {
    /// Takes the first ticket for the connect handler; see [`TurnGuard::connect`].
    pub(crate) fn reserve_connect(&self) {
        let ticket = self.issue();
        debug_assert_eq!(ticket, Turns::CONNECT, "connect takes the first ticket");
    }
}

/// One issued ticket; dropping it finishes it, waited for or not.
struct Ticket {
    session: SessionRef,
    number: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.session.turns.finish(self.number);
    }
}

/// A ticket taken when the event arrived (none if the socket has no session). Dropping it
/// unused gives the turn up.
pub struct Turn(Option<Ticket>);

/// Holding this means it is this event's turn; dropping it lets the next event go.
pub struct TurnGuard {
    /// Held only for its `Drop`.
    _ticket: Option<Ticket>,
}

impl FromMessageParts<LocalAdapter> for Turn {
    type Error = std::convert::Infallible;
    fn from_message_parts(
        s: &Arc<Socket>,
        _: &mut Value,
        _: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let ticket = s.extensions.get::<SessionRef>().map(|session| Ticket {
            number: session.turns.issue(),
            session,
        });
        Ok(Self(ticket))
    }
}

impl Turn {
    /// Waits until every earlier event of this connection has passed its ordered part. A
    /// cancelled wait drops the ticket, which still gives the turn up.
    pub async fn wait(self) -> TurnGuard {
        if let Some(ticket) = &self.0 {
            let mut serving = ticket.session.turns.serving.subscribe();
            // Err only if the sender is gone, which cannot happen while `session` lives.
            let _ = serving.wait_for(|serving| *serving >= ticket.number).await;
        }
        TurnGuard { _ticket: self.0 }
    }
}

impl TurnGuard {
    /// The connect turn (ticket 0, reserved by the handshake): `on_connect` holds it until the
    /// client is in the lobby, so events that arrived meanwhile wait.
    pub fn connect(session: &SessionRef) -> Self {
        Self {
            _ticket: Some(Ticket {
                session: session.clone(),
                number: Turns::CONNECT,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_finished_out_of_order_are_skipped_in_order() {
        let turns = Turns::default();
        let (a, b, c) = (turns.issue(), turns.issue(), turns.issue());
        turns.finish(b);
        assert_eq!(*turns.serving.borrow(), 0);
        turns.finish(a);
        assert_eq!(*turns.serving.borrow(), 2);
        turns.finish(c);
        assert_eq!(*turns.serving.borrow(), 3);
    }
}
