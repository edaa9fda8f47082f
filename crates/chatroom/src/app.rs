//! Shared server state: configuration, the store handle, room membership, metrics, readiness
//! and the drain state. One [`App`] is cloned into every HTTP and Socket.IO handler
//! (socketioxide `State`, axum `State`).

use crate::cluster::Cluster;
use crate::cluster::wire::Change;
use crate::config::Config;
use crate::http::page::Page;
use crate::identity::IdentityKeys;
use crate::metrics::Metrics;
use crate::moderation::Moderation;
use crate::net::listener::Connections;
use crate::readiness::Readiness;
use crate::shutdown::Drain;
use crate::socket::members::Members;
use chatroom_core::{NameRegistry, Presence, RoomName};
use chatroom_store::Store;
use socketioxide::socket::Sid;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Cheap-to-clone handle to everything a handler needs.
#[derive(Clone)]
pub struct App(Arc<Shared>);

/// The state behind [`App`].
pub struct Shared {
    /// Validated settings.
    pub config: Config,
    /// Message store.
    pub store: Store,
    /// The rendered chat page.
    pub page: Page,
    presence: Mutex<Presence<Sid>>,
    /// This node's sockets by room, for delivery (see `socket::members`).
    members: Members,
    /// Who holds which name (one user per name, any number of its connections).
    names: Mutex<NameRegistry<Sid>>,
    /// Signs and checks identity tokens.
    pub identity: IdentityKeys,
    /// Crowded rooms whose member count changed since the last count was sent.
    crowd_changes: Mutex<BTreeSet<RoomName>>,
    /// Socket.IO connections per client address (see `socket::session::AddressSlot`).
    per_address: Mutex<HashMap<IpAddr, u32>>,
    /// The server's metrics (`/metrics`; `/healthz` shows a few of them too).
    pub metrics: Arc<Metrics>,
    /// Named checks behind `/readyz` (the store's is added here; others may be added).
    pub readiness: Readiness,
    /// Whether the server is draining (shutting down) and the answers it still owes.
    pub drain: Drain,
    /// Open TCP connections, counted at accept against `--max-connections` and per address.
    pub connections: Connections,
    /// This node's cluster handle (`--redis`); `None` for a single node.
    pub cluster: Option<Arc<Cluster>>,
    /// Bans, mutes and the Socket.IO handle moderation acts through.
    pub moderation: Moderation,
}

impl App {
    /// Wraps the parts into one handle.
    pub fn new(
        config: Config,
        store: Store,
        page: Page,
        identity: IdentityKeys,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        let readiness = Readiness::default();
        let probe = store.clone();
        readiness.add("store", move || {
            let store = probe.clone();
            Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
        });
        Self(Arc::new(Shared {
            connections: Connections::from_config(&config),
            config,
            store,
            page,
            presence: Mutex::new(Presence::default()),
            members: Members::default(),
            names: Mutex::new(NameRegistry::new()),
            identity,
            crowd_changes: Mutex::new(BTreeSet::new()),
            per_address: Mutex::new(HashMap::new()),
            metrics: Arc::new(Metrics::new()),
            readiness,
            drain: Drain::default(),
            cluster,
            moderation: Moderation::default(),
        }))
    }

    /// Room membership. Held only for short, non-async sections.
    pub fn presence(&self) -> MutexGuard<'_, Presence<Sid>> {
        // A panic while holding the lock leaves membership consistent enough to keep serving.
        self.0
            .presence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This node's sockets by room: the only way sockets join and leave rooms.
    pub fn members(&self) -> &Members {
        &self.0.members
    }

    /// Tells the other nodes about a change of this node's membership, if clustered. Call it
    /// while holding the [`App::presence`] guard that made the change (see `Cluster::note`).
    pub fn note(&self, change: impl FnOnce() -> Change) {
        if let Some(cluster) = &self.cluster {
            cluster.note(change());
        }
    }

    /// Whether `sid` is a connection of another node.
    pub fn is_remote(&self, sid: &Sid) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.is_remote(sid))
    }

    /// Name holders. Held only for short, non-async sections.
    pub fn names(&self) -> MutexGuard<'_, NameRegistry<Sid>> {
        lock(&self.0.names)
    }

    /// Notes that crowded `room` changed size; its count goes out with the next sweep.
    pub fn crowd_changed(&self, room: &RoomName) {
        lock(&self.0.crowd_changes).insert(room.clone());
    }

    /// The crowded rooms that changed since the last call.
    pub fn take_crowd_changes(&self) -> BTreeSet<RoomName> {
        std::mem::take(&mut *lock(&self.0.crowd_changes))
    }

    /// Socket.IO connections per client address.
    pub fn connections_per_address(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        lock(&self.0.per_address)
    }
}

/// Locks `mutex`; a panic elsewhere while holding it leaves the data usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl std::ops::Deref for App {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
