//! The shutdown signal: SIGINT (Ctrl-C) or SIGTERM (systemd, pm2, `kill`), and the drain that
//! follows it, so a node of a cluster can be stopped without losing an answer and its clients
//! move to another node by themselves. The order lives in `Server::serve`:
//!
//! 1. [`Drain::start`]: `/readyz` answers 503 `draining`; new sessions are refused (503
//!    `unavailable`, `net::guard`). Connections are still accepted for now: a polling client
//!    opens new ones for the requests of its existing session, and they carry its answers.
//! 2. Every event read from now on is answered at once with `unavailable` (retry elsewhere;
//!    `send` is idempotent by `cid`); events read before are handled as usual, and
//!    [`Drain::answered`] waits until each has its answer (a `send` whose commit is under way
//!    gets its ack) — at least `DRAIN_SETTLE` after the start, so that a client that stops
//!    sending on its first `unavailable` has had every event it sent answered.
//! 3. Every Engine.IO session is closed at the transport (an Engine.IO `close` packet, then
//!    the connection closes) — not with a Socket.IO DISCONNECT packet, after which
//!    socket.io-client would not reconnect ("io server disconnect"); a transport close
//!    ("transport close") makes standard clients reconnect by themselves. Then the listener
//!    closes and idle HTTP connections are ended.
//! 4. The store is flushed and closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The drain state of one server; cheap to clone.
#[derive(Clone, Default)]
pub struct Drain(Arc<DrainState>);

#[derive(Default)]
struct DrainState {
    draining: AtomicBool,
    /// One token per event waiting for its answer.
    answers: TaskTracker,
}

impl Drain {
    /// Starts draining (idempotent): readiness fails, new events are answered `unavailable`.
    pub fn start(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
        self.0.answers.close();
    }

    /// True once [`Drain::start`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Counts one answer owed to a client until the token is dropped.
    pub fn answer_owed(&self) -> TaskTrackerToken {
        self.0.answers.token()
    }

    /// Resolves once draining and every owed answer was given.
    pub async fn answered(&self) {
        self.0.answers.wait().await;
    }
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: called before the "listening on" line is printed, a
/// signal sent right after that line already means "shut down cleanly" instead of killing the
/// process with the default action. Must be called inside the Tokio runtime.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (interrupt, terminate) = handlers;
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                (interrupt, terminate) => {
                    let error = interrupt.err().or(terminate.err());
                    tracing::error!(?error, "cannot listen for SIGINT/SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
