//! In-process backend for tests: the same semantics as the SQL backends (ids ascending across
//! rooms, `(room, cid)` de-duplication, all-or-nothing batches), no SQL and no persistence.

use crate::backend::{Backend, Stored, Window};
use crate::{Page, StoreError};
use chatroom_core::{Message, MessageId, NewMessage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Messages in memory behind one lock (never held across an `.await`).
#[derive(Clone, Default)]
pub(crate) struct MemoryBackend {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    last_id: MessageId,
    /// Each room's messages, ascending by id.
    rooms: HashMap<String, Vec<Arc<Message>>>,
    /// (room, cid) -> the message stored with it.
    cids: HashMap<(String, String), Arc<Message>>,
    /// The `settings` table.
    settings: HashMap<String, Vec<u8>>,
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated (see insert_batch),
        // so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for MemoryBackend {
    async fn insert_batch(&self, batch: &[NewMessage]) -> Result<Vec<Stored>, StoreError> {
        // Stand-in for the I/O of a real commit: lets appends that arrive meanwhile queue up
        // behind this batch, as they do with a database.
        tokio::task::yield_now().await;
        let mut state = self.lock();
        let mut out = Vec::with_capacity(batch.len());
        for new in batch {
            let key = new
                .cid
                .as_ref()
                .map(|c| (new.room.as_str().to_owned(), c.as_str().to_owned()));
            if let Some(original) = key.as_ref().and_then(|k| state.cids.get(k)) {
                out.push(Stored {
                    message: Arc::clone(original),
                    duplicate: true,
                });
                continue;
            }
            state.last_id += 1;
            let message = Arc::new(Message::stored(state.last_id, new));
            // What reading it back gives, as from a database: `from_seed` is not stored.
            let kept = Arc::new(Message {
                from_seed: false,
                ..Message::clone(&message)
            });
            if let Some(key) = key {
                state.cids.insert(key, Arc::clone(&kept));
            }
            state.rooms.entry(kept.room.clone()).or_default().push(kept);
            out.push(Stored {
                message,
                duplicate: false,
            });
        }
        Ok(out)
    }

    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        let state = self.lock();
        let all: &[Arc<Message>] = state.rooms.get(room).map_or(&[], Vec::as_slice);
        let limit = limit as usize;
        let (slice, more) = match window {
            Window::Latest => {
                let start = all.len().saturating_sub(limit);
                (&all[start..], start > 0)
            }
            Window::Before(before) => {
                let end = all.partition_point(|m| m.id < before);
                let start = end.saturating_sub(limit);
                (&all[start..end], start > 0)
            }
            Window::Since(since) => {
                let start = all.partition_point(|m| m.id <= since);
                let end = start.saturating_add(limit).min(all.len());
                (&all[start..end], end < all.len())
            }
        };
        Ok(Page {
            messages: slice.iter().map(|m| Message::clone(m)).collect(),
            more,
        })
    }

    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut state = self.lock();
        Ok(state
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| fresh.to_vec())
            .clone())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn close(&self) {}
}
