//! Shared server state: configuration, the store handle, room membership and counters. One
//! [`App`] is cloned into every HTTP and Socket.IO handler (socketioxide `State`, axum `State`).

use crate::config::Config;
use crate::http::page::Page;
use crate::net::listener::Connections;
use chatroom_core::Presence;
use chatroom_store::Store;
use socketioxide::socket::Sid;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Operational counters for /healthz.
    pub stats: Stats,
    /// Open TCP connections, counted at accept against `--max-connections` and per address.
    pub connections: Connections,
}

/// Counters an operator wants to see.
#[derive(Debug, Default)]
pub struct Stats {
    /// Clients disconnected because their send queue stayed full.
    pub slow_disconnects: AtomicU64,
    /// Messages handed to client queues.
    pub deliveries: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl App {
    /// Wraps the parts into one handle.
    pub fn new(config: Config, store: Store, page: Page) -> Self {
        Self(Arc::new(Shared {
            connections: Connections::from_config(&config),
            config,
            store,
            page,
            presence: Mutex::new(Presence::default()),
            stats: Stats::default(),
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
}

impl std::ops::Deref for App {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
