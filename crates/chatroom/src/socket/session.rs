//! Per-connection state, stored in the socket's extensions by the handshake: the name, whether
//! the client speaks only the seed protocol, its rate limiter and its typing timers.

use crate::config::RateLimit;
use crate::socket::turn::Turns;
use chatroom_core::{ChatError, RoomName, UserName};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// One connected client.
pub struct Session {
    name: RwLock<UserName>,
    /// Connected without a name: receives lobby messages as seed `chat message` strings.
    pub seed: bool,
    rate: Option<DefaultDirectRateLimiter>,
    typing: Mutex<HashMap<RoomName, u64>>,
    typing_generations: AtomicU64,
    /// Orders this connection's events, see [`crate::socket::turn`].
    pub turns: Turns,
    /// Set once when delivery found its queue full; it is being disconnected.
    slow: AtomicBool,
}

/// The handle stored in socket extensions.
pub type SessionRef = Arc<Session>;

impl Session {
    /// A new session with the given limit (None = unlimited).
    pub fn new(name: UserName, seed: bool, rate: Option<RateLimit>) -> SessionRef {
        Arc::new(Self {
            name: RwLock::new(name),
            seed,
            rate: rate
                .map(|r| RateLimiter::direct(Quota::per_second(r.per_second).allow_burst(r.burst))),
            typing: Mutex::new(HashMap::new()),
            typing_generations: AtomicU64::new(0),
            turns: Turns::default(),
            slow: AtomicBool::new(false),
        })
    }

    /// Current display name.
    pub fn name(&self) -> UserName {
        self.name.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the name, returning the old one.
    pub fn rename(&self, new: UserName) -> UserName {
        let mut slot = self.name.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *slot, new)
    }

    /// Takes one message from the bucket, or says when to retry.
    pub fn check_rate(&self) -> Result<(), ChatError> {
        let Some(limiter) = &self.rate else {
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

    /// Takes the connection's first turn for `on_connect` (called by the handshake).
    pub fn reserve_connect_turn(&self) {
        self.turns.reserve_connect();
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
