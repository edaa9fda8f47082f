//! Per-connection state, built by the handshake and kept in the socket's extensions: who the
//! client is (name, seed or v1, address), its rate limiters, typing timers and the resources
//! it holds (a per-address connection slot) that must be given back however it goes.

use crate::app::App;
use crate::config::RateLimit;
use crate::config::limits::Limits;
use crate::net::ClientAddr;
use chatroom_core::{ChatError, Role, RoomName, UserId, UserName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use socketioxide::socket::Sid;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What a rate limit applies to; each has its own bucket per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metered {
    /// `send` and seed `chat message`.
    Message,
    /// `history`.
    History,
    /// `typing`.
    Typing,
    /// `join`.
    Join,
    /// `rooms`.
    Rooms,
    /// `search`.
    Search,
}

/// One connection's token buckets; `None` = that limit is off.
struct Buckets {
    message: Option<DefaultDirectRateLimiter>,
    history: Option<DefaultDirectRateLimiter>,
    typing: Option<DefaultDirectRateLimiter>,
    join: Option<DefaultDirectRateLimiter>,
    rooms: Option<DefaultDirectRateLimiter>,
    search: Option<DefaultDirectRateLimiter>,
}

fn bucket(limit: Option<RateLimit>) -> Option<DefaultDirectRateLimiter> {
    limit.map(|r| RateLimiter::direct(Quota::per_second(r.per_second).allow_burst(r.burst)))
}

impl Buckets {
    fn new(messages: Option<RateLimit>, limits: &Limits) -> Self {
        Self {
            message: bucket(messages),
            history: bucket(limits.history_rate),
            typing: bucket(limits.typing_rate),
            join: bucket(limits.join_rate),
            rooms: bucket(limits.rooms_rate),
            search: bucket(limits.search_rate),
        }
    }

    fn get(&self, kind: Metered) -> Option<&DefaultDirectRateLimiter> {
        match kind {
            Metered::Message => self.message.as_ref(),
            Metered::History => self.history.as_ref(),
            Metered::Typing => self.typing.as_ref(),
            Metered::Join => self.join.as_ref(),
            Metered::Rooms => self.rooms.as_ref(),
            Metered::Search => self.search.as_ref(),
        }
    }
}

/// A Socket.IO connection counted against its address's limit; given back on drop, so a
/// connection that never completes its connect still frees its slot.
pub struct AddressSlot {
    app: App,
    client: ClientAddr,
}

impl AddressSlot {
    /// Takes a slot for `client`, or `TooManyConnections` if its address is at the limit.
    pub fn take(app: &App, client: ClientAddr) -> Result<Self, ChatError> {
        let limit = app.config.limits.connections_per_ip;
        let mut per_address = app.connections_per_address();
        let count = per_address.entry(client.0).or_insert(0);
        if limit.is_some_and(|limit| *count >= limit) {
            return Err(ChatError::TooManyConnections);
        }
        *count += 1;
        Ok(Self {
            app: app.clone(),
            client,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut per_address = self.app.connections_per_address();
        if let Some(count) = per_address.get_mut(&self.client.0) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_address.remove(&self.client.0);
            }
        }
    }
}

/// Who a new session belongs to, as the handshake established it.
pub struct Identity {
    /// The connection.
    pub sid: Sid,
    /// Its stable user id.
    pub user_id: UserId,
    /// Its name, already claimed for `user_id` in the name registry.
    pub name: UserName,
    /// Seed protocol (no name given).
    pub seed: bool,
    /// Its address, if known.
    pub client: Option<ClientAddr>,
    /// What it may do besides chatting (from a JWT; `user` otherwise).
    pub role: Role,
    /// When its sign-in ends (a JWT's `exp`), ms since the Unix epoch.
    pub expires_at_ms: Option<i64>,
}

/// One connected client.
pub struct Session {
    app: App,
    sid: Sid,
    /// Stable user id: from its identity token, or new.
    pub user_id: UserId,
    name: RwLock<UserName>,
    /// Connected without a name: receives lobby messages as seed `chat message` strings.
    pub seed: bool,
    /// Where it connects from (the proxy's client when `--trust-proxy` applies).
    pub client: Option<ClientAddr>,
    /// What it may do besides chatting.
    pub role: Role,
    /// When its sign-in ends, ms since the Unix epoch; it is disconnected then.
    pub expires_at_ms: Option<i64>,
    /// The timer that ends the session at `expires_at_ms`; stopped when the connection ends
    /// first, so a closed connection is not kept alive until its token would have expired.
    expiry: Mutex<Option<tokio::task::JoinHandle<()>>>,
    buckets: Buckets,
    typing: Mutex<HashMap<RoomName, u64>>,
    typing_generations: AtomicU64,
    /// Set once when delivery found its queue full; it is being disconnected.
    slow: AtomicBool,
    /// Held only for its `Drop`.
    _slot: Option<AddressSlot>,
}

/// The handle stored in socket extensions.
pub type SessionRef = Arc<Session>;

impl Session {
    /// A new session for `who` with the server's limits; its name is given back to the
    /// registry when the session ends, however it ends.
    pub fn new(app: &App, who: Identity, slot: Option<AddressSlot>) -> SessionRef {
        Arc::new(Self {
            app: app.clone(),
            sid: who.sid,
            user_id: who.user_id,
            name: RwLock::new(who.name),
            seed: who.seed,
            client: who.client,
            role: who.role,
            expires_at_ms: who.expires_at_ms,
            expiry: Mutex::new(None),
            buckets: Buckets::new(app.config.rate_limit, &app.config.limits),
            typing: Mutex::new(HashMap::new()),
            typing_generations: AtomicU64::new(0),
            slow: AtomicBool::new(false),
            _slot: slot,
        })
    }

    /// Current display name.
    pub fn name(&self) -> UserName {
        self.name.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes `new` in the name registry and gives the old name up; returns the old name, or
    /// `NameTaken` (nothing changed) if another user holds `new`.
    pub fn rename(&self, new: UserName) -> Result<UserName, ChatError> {
        let mut slot = self.name.write().unwrap_or_else(|p| p.into_inner());
        self.app
            .names()
            .rename(&slot, &new, &self.user_id, self.sid)?;
        Ok(std::mem::replace(&mut *slot, new))
    }

    /// Gives the name back to the registry (disconnect; also done on drop).
    pub fn release_name(&self) {
        let name = self.name.read().unwrap_or_else(|p| p.into_inner());
        self.app.names().release(&name, &self.sid);
    }

    /// Keeps the timer that ends this session at its expiry (see [`Session::stop_expiry`]).
    pub fn set_expiry(&self, timer: tokio::task::JoinHandle<()>) {
        let old = self
            .expiry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(timer);
        if let Some(old) = old {
            old.abort();
        }
    }

    /// Stops the expiry timer (the connection ended first).
    pub fn stop_expiry(&self) {
        let timer = self.expiry.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(timer) = timer {
            timer.abort();
        }
    }

    /// Takes one token from the `kind` bucket, or says when to retry.
    pub fn check_rate(&self, kind: Metered) -> Result<(), ChatError> {
        let Some(limiter) = self.buckets.get(kind) else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ChatError::RateLimited {
                // Round up so a client that waits exactly retry_ms is accepted.
                retry_ms: u64::try_from(wait.as_nanos().div_ceil(1_000_000))
                    .unwrap_or(u64::MAX)
                    .max(1),
            }
        })
    }

    /// Marks the client as too slow; true only the first time.
    pub fn mark_slow(&self) -> bool {
        !self.slow.swap(true, Ordering::Relaxed)
    }

    /// Marks typing in `room` and returns a generation; a later expiry only acts if the
    /// generation is still current.
    pub fn start_typing(&self, room: &RoomName) -> u64 {
        let generation = self.typing_generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        typing.insert(room.clone(), generation);
        generation
    }

    /// Clears typing in `room`; true if it was on (and, with `generation`, still that one).
    pub fn stop_typing(&self, room: &RoomName, generation: Option<u64>) -> bool {
        let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        match (typing.get(room), generation) {
            (Some(current), Some(g)) if *current != g => false,
            (Some(_), _) => {
                typing.remove(room);
                true
            }
            (None, _) => false,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop_expiry();
        self.release_name();
    }
}
