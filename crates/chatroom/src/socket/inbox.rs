//! Per-connection event order: the one mechanism every event of a connection goes through —
//! its connect, each inbound event, internal timers (typing expiry) and its disconnect.
//!
//! socketioxide calls a handler synchronously, in arrival order, and then spawns it as a task;
//! tasks of one connection may then run in any order, and a disconnect's task could overtake
//! the connect's (that left ghost members behind, issue 7). So the connection registers no
//! per-event handlers at all: [`Inbox`] is its only message handler (the fallback, so no event
//! name can bypass it) and its disconnect handler, and its synchronous `call` only queues a
//! [`Job`]. One task per connection — [`Connection::run`], started by the connect handler —
//! takes the jobs one at a time: first the connect, then every event in arrival order, last the
//! disconnect. A new event is one arm in `socket::dispatch`; it cannot forget to be ordered.
//!
//! A job may hand a slow tail to its own task where order no longer matters: `send` waits for
//! its commit that way, so one connection's messages still share a group commit.

use crate::app::App;
use crate::socket::reply::Reply;
use crate::socket::session::SessionRef;
use chatroom_core::RoomName;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{Event, SocketRef, TryData};
use socketioxide::handler::{DisconnectHandler, FromMessageParts, MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Events a connection may have queued before it counts as flooding and is disconnected.
/// Far above what a client waiting for its acks has in flight; a packet stuffed with
/// thousands of tiny events reaches it.
pub const INBOX_CAPACITY: usize = 1024;

/// One unit of a connection's work, in the order it must happen.
pub enum Job {
    /// An inbound event.
    Event {
        /// Event name as sent.
        name: String,
        /// First argument, or `None` if it is not JSON we can read.
        data: Option<serde_json::Value>,
        /// Where its answer goes.
        reply: Reply,
    },
    /// A `typing: true` ran out without a refresh.
    TypingExpired {
        /// Room it was in.
        room: RoomName,
        /// The `typing` it belongs to; a newer one keeps it alive.
        generation: u64,
    },
}

/// Marker type for socketioxide's handler traits.
pub struct Queued;

/// The queue's sending side, registered as the socket's message and disconnect handler.
#[derive(Clone)]
pub struct Inbox {
    /// Boxed: tokio allocates a channel's first block of 32 slots up front, and an idle
    /// connection should pay 32 pointers for it, not 32 jobs.
    jobs: mpsc::Sender<Box<Job>>,
    closed: Arc<Mutex<Option<oneshot::Sender<DisconnectReason>>>>,
    app: App,
}

/// The queue's receiving side, taken once by [`Connection::run`].
pub struct Outbox {
    jobs: mpsc::Receiver<Box<Job>>,
    closed: oneshot::Receiver<DisconnectReason>,
}

/// A new connection's queue.
pub fn channel(app: &App) -> (Inbox, Outbox) {
    let (jobs_tx, jobs) = mpsc::channel(INBOX_CAPACITY);
    let (closed_tx, closed) = oneshot::channel();
    (
        Inbox {
            jobs: jobs_tx,
            closed: Arc::new(Mutex::new(Some(closed_tx))),
            app: app.clone(),
        },
        Outbox { jobs, closed },
    )
}

impl Inbox {
    /// Queues an internal job (a timer); dropped if the connection is gone.
    pub fn push(&self, job: Job) {
        // A full or closed queue means the connection is flooding or gone; a timer job is
        // not worth keeping then.
        let _ = self.jobs.try_send(Box::new(job));
    }
}

impl MessageHandler<LocalAdapter, Queued> for Inbox {
    fn call(&self, s: Arc<Socket>, mut v: Value, ack_id: Option<i64>) {
        let name = match Event::from_message_parts(&s, &mut v, &ack_id) {
            Ok(Event(name)) => name.to_string(),
            Err(_) => String::new(),
        };
        let TryData(data) =
            match TryData::<serde_json::Value>::from_message_parts(&s, &mut v, &ack_id) {
                Ok(data) => data,
                Err(never) => match never {},
            };
        let reply = Reply::new(&self.app, &s, &ack_id, &name);
        if self.app.drain.is_draining() {
            // Shutting down: answered at once so the drain ends; `unavailable` tells the
            // client to retry, which it does on the node it reconnects to.
            reply.send::<crate::protocol::Done>(Err(chatroom_core::ChatError::Unavailable));
            return;
        }
        let job = Box::new(Job::Event {
            name,
            data: data.ok(),
            reply,
        });
        if let Err(mpsc::error::TrySendError::Full(_)) = self.jobs.try_send(job) {
            self.app.metrics.refused("flooding", "inbox");
            let session = s.extensions.get::<SessionRef>();
            crate::refusal::refused(
                session.and_then(|s| s.client),
                "flooding",
                format_args!("{INBOX_CAPACITY} events waiting; disconnecting"),
            );
            if let Err(error) = SocketRef::from(s).disconnect() {
                tracing::debug!(%error, "flooding client not disconnected");
            }
        }
    }
}

impl DisconnectHandler<LocalAdapter, Queued> for Inbox {
    fn call_with_defer(&self, s: Arc<Socket>, reason: DisconnectReason, defer: fn(Arc<Socket>)) {
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(closed) = closed {
            // Err: the connection task never started (or ended); nothing of it to clean up.
            let _ = closed.send(reason);
        }
        // Out of delivery's index first, then socketioxide's own cleanup (namespace and
        // rooms), both at once: nothing is sent to a closed socket meanwhile; presence is
        // cleaned by the disconnect job.
        self.app.members().forget(s.id);
        defer(s);
    }
}

/// What a job handler works with: the socket, the server, the session and its own inbox.
#[derive(Clone)]
pub struct Connection {
    /// The Socket.IO socket.
    pub socket: SocketRef,
    /// Server state.
    pub app: App,
    /// This client.
    pub session: SessionRef,
    /// For jobs the connection schedules for itself.
    pub inbox: Inbox,
}

impl Connection {
    /// Runs the connection: connect, then each job in order, then disconnect once the
    /// transport is gone and every job queued before that is done.
    pub async fn run(self, outbox: Outbox) {
        let Outbox {
            mut jobs,
            mut closed,
        } = outbox;
        Box::pin(crate::socket::connect(&self)).await;
        let reason = loop {
            tokio::select! {
                biased;
                Some(job) = jobs.recv() => self.handle(*job).await,
                reason = &mut closed => break reason.ok(),
            }
        };
        // Jobs queued before the disconnect still run, in order.
        jobs.close();
        while let Ok(job) = jobs.try_recv() {
            self.handle(*job).await;
        }
        Box::pin(crate::socket::disconnect(&self, reason)).await;
    }

    /// Runs one job. Its future is boxed so the connection's task, idle most of its life,
    /// does not carry the largest handler's state inline (that is per-connection memory).
    async fn handle(&self, job: Job) {
        let work: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> = match job {
            Job::Event { name, data, reply } => Box::pin(async move {
                crate::socket::dispatch(self, &name, data, reply).await;
            }),
            Job::TypingExpired { room, generation } => {
                Box::pin(crate::socket::typing::expired(self, room, generation))
            }
        };
        work.await;
    }
}
