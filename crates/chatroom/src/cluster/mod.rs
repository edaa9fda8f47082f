//! Running as one node of a cluster (`--redis`): several chatroom processes on one PostgreSQL
//! database, behind a load balancer, each serving its own sockets. Redis carries what one node
//! must tell the others — committed messages, membership changes, typing, heartbeats — on one
//! pub/sub channel per cluster; PostgreSQL stays the only record. Nothing here is required for
//! correctness of what is stored: a message lost by Redis is read back from the store by
//! [`order`], a membership change lost is repaired by a snapshot ([`members`]).
//!
//! - [`wire`]: what nodes say to each other.
//! - [`redis`]: the publisher and subscriber connections, each reconnecting by itself.
//! - [`order`]: delivery to this node's sockets in room order, gaps filled from the store.
//! - [`members`]: the other nodes' members in this node's presence, expired when a node dies.
//!
//! Without `--redis` none of this runs: one node, as before.

pub mod members;
pub mod order;
pub mod redis;
pub mod wire;

use crate::app::App;
use crate::config::cluster::ClusterConfig;
use chatroom_core::RoomName;
use chatroom_store::{Committed, StoreError};
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use wire::{Body, Change, Envelope, Relayed};

/// Encoded envelopes waiting for the publisher; when full, new ones are dropped and counted
/// (the receivers repair what they miss).
const OUTBOX: usize = 16_384;
/// Relayed batches waiting for the order task.
const INBOX: usize = 4096;

/// Why a node could not join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis did not answer at start.
    #[error("cannot reach Redis at {url}: {cause}")]
    Unreachable {
        /// The URL, without a password.
        url: String,
        /// Why.
        cause: String,
    },
}

/// What the publisher is handed.
pub enum Outgoing {
    /// An encoded envelope.
    Envelope(Vec<u8>),
    /// Answer once everything queued before has been sent (or failed).
    Flush(oneshot::Sender<()>),
}

/// What crosses to the order task from the subscriber.
pub enum Inbound {
    /// Messages another node committed.
    Messages(Vec<Relayed>),
    /// The subscription was (re)established: anything may have been missed.
    Resubscribed,
}

/// Counters of the cluster layer (read by /metrics and /healthz).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages published to the other nodes.
    pub relayed_out: AtomicU64,
    /// Messages received from the other nodes.
    pub relayed_in: AtomicU64,
    /// Messages read from the store because the relay lost them.
    pub gaps_filled: AtomicU64,
    /// Redis commands or connections that failed, and envelopes dropped unsent.
    pub redis_errors: AtomicU64,
}

impl Counters {
    /// Counts `n` messages filled from the store.
    pub fn add_gap_filled(&self, n: u64) {
        self.gaps_filled.fetch_add(n, Ordering::Relaxed);
    }
    /// Counts one Redis failure.
    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// This node's handle on the cluster, shared by every handler through [`App`].
pub struct Cluster {
    /// Settings.
    pub config: ClusterConfig,
    /// This process's random start id.
    pub epoch: u64,
    /// Counters.
    pub counters: Counters,
    /// Membership version: bumped, under the presence lock, with every change published.
    ver: AtomicU64,
    outbox: mpsc::Sender<Outgoing>,
    watches: mpsc::Sender<order::Watch>,
    /// Rooms the order task delivers here (their starting point is set).
    watched: Mutex<HashSet<String>>,
    /// Connections of other nodes present in this node's presence. Lock order: presence first.
    remote: Mutex<HashSet<Sid>>,
    /// The subscription is up.
    subscribed: AtomicBool,
    /// The publishing connection is up.
    publishing: AtomicBool,
    /// `Bye` was said: no more heartbeats or snapshots (they would bring the node back).
    leaving: AtomicBool,
}

/// The receiving ends the tasks take at [`start`].
pub struct Tasks {
    outbox: mpsc::Receiver<Outgoing>,
    watches: mpsc::Receiver<order::Watch>,
    client: ::redis::Client,
}

impl Cluster {
    /// Checks that Redis answers (within a few seconds) and makes the handle.
    pub async fn connect(config: ClusterConfig) -> Result<(Arc<Cluster>, Tasks), ClusterError> {
        let client = redis::check(&config.redis).await?;
        let (outbox_tx, outbox) = mpsc::channel(OUTBOX);
        let (watches_tx, watches) = mpsc::channel(1024);
        let cluster = Arc::new(Cluster {
            config,
            epoch: fastrand::u64(..),
            counters: Counters::default(),
            ver: AtomicU64::new(0),
            outbox: outbox_tx,
            watches: watches_tx,
            watched: Mutex::new(HashSet::new()),
            remote: Mutex::new(HashSet::new()),
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
        });
        Ok((
            cluster,
            Tasks {
                outbox,
                watches,
                client,
            },
        ))
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.config.node
    }

    /// The Redis channel of this cluster.
    pub fn channel(&self) -> String {
        format!("{}:bus", self.config.prefix)
    }

    /// Whether both Redis connections are up (for /readyz).
    pub fn redis_up(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.publishing.load(Ordering::Relaxed)
    }

    /// Makes sure `room`'s messages are delivered here, starting after the store's current head;
    /// returns once that starting point is set. A `join` calls this before reading history, so
    /// history and live delivery meet without a hole.
    pub async fn watch(&self, room: &RoomName) -> Result<(), StoreError> {
        if lock(&self.watched).contains(room.as_str()) {
            return Ok(());
        }
        let (done, started) = oneshot::channel();
        self.watches
            .send(order::Watch::Room(room.clone(), done))
            .await
            .map_err(|_| StoreError::Closed)?;
        started.await.map_err(|_| StoreError::Closed)??;
        lock(&self.watched).insert(room.as_str().to_owned());
        Ok(())
    }

    /// Publishes a change of this node's membership. Call it while holding the presence lock,
    /// so versions follow the order in which changes were made (a snapshot taken under the same
    /// lock then matches its version exactly).
    pub fn note(&self, change: Change) {
        let ver = self.ver.fetch_add(1, Ordering::Relaxed) + 1;
        self.publish(Body::Presence { ver, change });
    }

    /// The current membership version (read under the presence lock).
    pub fn version(&self) -> u64 {
        self.ver.load(Ordering::Relaxed)
    }

    /// Tells the other nodes that `name` is (not) typing in `room`.
    pub fn typing(&self, room: &RoomName, name: &str, typing: bool) {
        self.publish(Body::Typing {
            room: room.as_str().to_owned(),
            name: name.to_owned(),
            typing,
        });
    }

    /// Publishes this node's committed batch.
    pub fn publish_messages(&self, batch: &[Committed]) {
        if batch.is_empty() {
            return;
        }
        let items = batch
            .iter()
            .map(|c| Relayed {
                message: Arc::clone(&c.message),
                seed: c.from_seed,
            })
            .collect();
        self.counters
            .relayed_out
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.publish(Body::Messages { items });
    }

    /// Queues `body` for the publisher; never waits. A full queue drops it (counted): the
    /// receivers repair what they miss.
    pub fn publish(&self, body: Body) {
        let envelope = Envelope {
            node: self.config.node.clone(),
            epoch: self.epoch,
            body,
        };
        let bytes = match serde_json::to_vec(&envelope) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, "cluster: envelope not encodable");
                return;
            }
        };
        if self.outbox.try_send(Outgoing::Envelope(bytes)).is_err() {
            self.counters.redis_error();
        }
    }

    /// Says goodbye (shutdown), so the other nodes drop this node's members at once, and waits
    /// (at most `within`) until it and everything queued before it went out.
    pub async fn leave(&self, within: std::time::Duration) {
        self.leaving.store(true, Ordering::Relaxed);
        self.publish(Body::Bye);
        let (done, flushed) = oneshot::channel();
        if self.outbox.send(Outgoing::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(within, flushed).await;
        }
    }

    /// Whether this node said `Bye` (it is shutting down).
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::Relaxed)
    }

    /// Whether `sid` belongs to another node.
    pub fn is_remote(&self, sid: &Sid) -> bool {
        lock(&self.remote).contains(sid)
    }

    fn remote(&self) -> std::sync::MutexGuard<'_, HashSet<Sid>> {
        lock(&self.remote)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the cluster tasks; returns their handles (aborted at shutdown). `feed` is the
/// store's committed feed, which the order task reads instead of `socket::deliver::run`.
pub fn start(
    io: SocketIo,
    app: App,
    cluster: Arc<Cluster>,
    tasks: Tasks,
    feed: mpsc::Receiver<Vec<Committed>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (inbound_tx, inbound) = mpsc::channel(INBOX);
    let (members_tx, members_rx) = mpsc::channel(INBOX);
    vec![
        tokio::spawn(redis::publish(
            Arc::clone(&cluster),
            tasks.client.clone(),
            tasks.outbox,
        )),
        tokio::spawn(redis::subscribe(
            Arc::clone(&cluster),
            tasks.client,
            inbound_tx,
            members_tx,
        )),
        tokio::spawn(order::run(
            io.clone(),
            app.clone(),
            Arc::clone(&cluster),
            feed,
            inbound,
            tasks.watches,
        )),
        tokio::spawn(members::run(io, app, cluster, members_rx)),
    ]
}
