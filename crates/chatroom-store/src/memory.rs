//! In-process backend for tests: the same semantics as the SQL backends (ids ascending across
//! rooms, per-room seqs 1, 2, 3, …, `(room, cid)` de-duplication through the shared [`Plan`],
//! all-or-nothing batches), no SQL and no persistence.

use crate::backend::{Answer, Backend, Plan, Target, Window, count_new, into_page};
use crate::retention::{PURGE_PAUSE, PurgeReport, RetentionPolicy, Tally};
use crate::{NewAudit, Page, StoreError};
use chatroom_core::change::ReactionRow;
use chatroom_core::{ChangeKind, Message, MessageId, NewMessage, RoomSeq};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Messages in memory behind one lock (never held across an `.await`).
#[derive(Clone, Default)]
pub(crate) struct MemoryBackend {
    state: Arc<Mutex<State>>,
    /// Bans and audit (crate::moderation).
    pub(crate) moderation: crate::moderation::SharedTables,
    /// DM participants and read positions (crate::dm).
    pub(crate) dm: crate::dm::SharedTables,
}

#[derive(Default)]
struct State {
    last_id: MessageId,
    /// Each room's rows (messages in their current state, and change rows), ascending by id.
    rooms: HashMap<String, Vec<Arc<Message>>>,
    /// Message id -> its room (to find a change's target).
    room_of: HashMap<MessageId, String>,
    /// The `reactions` table: message id -> its reaction rows.
    reactions: HashMap<MessageId, Vec<ReactionRow>>,
    /// (room, cid) -> the message stored with it.
    cids: HashMap<(String, String), Arc<Message>>,
    /// The `settings` table.
    settings: HashMap<String, Vec<u8>>,
    /// The `room_seq` table: room -> seq of its newest message (never lowered by a purge).
    seqs: HashMap<String, RoomSeq>,
    /// The `purged` table: room -> highest purged id.
    purged: HashMap<String, MessageId>,
}

impl State {
    /// Removes up to `batch` messages `doomed` says go (oldest first, one room after another);
    /// the removed `(room, id)`s.
    fn remove(
        &mut self,
        batch: usize,
        mut doomed: impl FnMut(&str, usize, &Message) -> bool,
    ) -> Vec<(String, MessageId)> {
        let mut out = Vec::new();
        let mut names: Vec<String> = self.rooms.keys().cloned().collect();
        names.sort();
        for name in names {
            let Some(all) = self.rooms.get_mut(&name) else {
                continue;
            };
            // For each row: how many messages (not change rows) are this row or newer, as
            // `--retention-per-room` counts them (see `sql::PER_ROOM_EDGE`).
            let mut newer: Vec<usize> = all
                .iter()
                .rev()
                .scan(0, |messages, m| {
                    *messages += usize::from(m.change.is_none());
                    Some(*messages)
                })
                .collect();
            newer.reverse();
            let mut removed = Vec::new();
            let mut index = 0;
            all.retain(|m| {
                let go = out.len() + removed.len() < batch && doomed(&name, newer[index], m);
                index += 1;
                if go {
                    removed.push(Arc::clone(m));
                }
                !go
            });
            for m in removed {
                self.room_of.remove(&m.id);
                self.reactions.remove(&m.id);
                if let Some(cid) = &m.cid {
                    self.cids.remove(&(m.room.clone(), cid.clone()));
                }
                let through = self.purged.entry(m.room.clone()).or_insert(m.id);
                *through = (*through).max(m.id);
                out.push((m.room.clone(), m.id));
            }
        }
        out
    }
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated (see insert_batch),
        // so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `room`'s messages, ascending by id (crate::dm counts unread ones).
    pub(crate) fn room_messages(&self, room: &str) -> Vec<Arc<Message>> {
        self.lock().rooms.get(room).cloned().unwrap_or_default()
    }

    /// The name of `user`'s newest message among the newest `window` ids, if any.
    pub(crate) fn last_name_of(
        &self,
        user: &chatroom_core::UserId,
        window: MessageId,
    ) -> Option<String> {
        let state = self.lock();
        let from = state.last_id - window;
        state
            .rooms
            .values()
            .flat_map(|all| all.iter())
            .filter(|m| m.id > from && m.user_id.as_ref() == Some(user))
            .max_by_key(|m| m.id)
            .map(|m| m.name.clone())
    }

    /// Search by scanning (no index): up to `limit + 1` messages matching `query` with id <
    /// `before`, newest first, from the rooms `scope` and `readable_dms` allow. The same answer
    /// as the SQL backends' indexes, since the same tokeniser decides both.
    pub(crate) fn search(
        &self,
        query: &chatroom_core::SearchQuery,
        scope: crate::SearchScope<'_>,
        readable_dms: &[chatroom_core::RoomName],
        before: MessageId,
        limit: u32,
    ) -> Vec<Message> {
        let state = self.lock();
        let allowed = |room: &str| match scope {
            crate::SearchScope::Room(r) => r.as_str() == room,
            crate::SearchScope::Everywhere => {
                !room.starts_with(crate::search::DM_PREFIX)
                    || readable_dms.iter().any(|r| r.as_str() == room)
            }
        };
        let mut found: Vec<Message> = state
            .rooms
            .iter()
            .filter(|(room, _)| allowed(room))
            .flat_map(|(_, all)| all.iter())
            .filter(|m| m.id < before && crate::search::searchable(m) && query.matches(&m.text))
            .map(|m| Message::clone(m))
            .collect();
        found.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
        found.truncate(limit as usize + 1);
        found
    }

    /// Message `id`'s row as it is now, with its reaction rows.
    fn target(state: &State, id: MessageId) -> Option<Target> {
        let all = state.rooms.get(state.room_of.get(&id)?)?;
        let at = all.binary_search_by_key(&id, |m| m.id).ok()?;
        let rows = state.reactions.get(&id).cloned().unwrap_or_default();
        Some(Target::new(Message::clone(&all[at]), rows))
    }
}

impl State {
    /// Puts `message` (a new state of a stored row) in place of the row with its id.
    fn replace(&mut self, message: Message) {
        let Some(all) = self
            .room_of
            .get(&message.id)
            .and_then(|room| self.rooms.get_mut(room))
        else {
            return;
        };
        let Ok(at) = all.binary_search_by_key(&message.id, |m| m.id) else {
            return;
        };
        let message = Arc::new(message);
        all[at] = Arc::clone(&message);
        // A retried send with its cid is answered with the message as it is now.
        if let Some(cid) = &message.cid {
            self.cids
                .insert((message.room.clone(), cid.clone()), message);
        }
    }

    /// Applies stored change row `change` to its target's reaction rows (the target's text
    /// and reactions are replaced as a whole by [`State::replace`]).
    fn apply_reactions(&mut self, change: &Message) {
        let Some(c) = change.change else {
            return;
        };
        let user = change.user_id.as_ref().map(|u| u.as_str().to_owned());
        match (c.kind, user) {
            (ChangeKind::Delete, _) => {
                self.reactions.remove(&c.target);
            }
            (ChangeKind::React, Some(user_id)) => {
                self.reactions
                    .entry(c.target)
                    .or_default()
                    .push(ReactionRow {
                        emoji: change.text.clone(),
                        user_id,
                        name: change.name.clone(),
                        ts: change.ts,
                    });
            }
            (ChangeKind::Unreact, Some(user_id)) => {
                if let Some(rows) = self.reactions.get_mut(&c.target) {
                    rows.retain(|r| !(r.emoji == change.text && r.user_id == user_id));
                }
            }
            _ => {}
        }
    }
}

impl Backend for MemoryBackend {
    async fn insert_batch(
        &self,
        batch: &[NewMessage],
        audits: &[(usize, NewAudit)],
    ) -> Result<Vec<Answer>, StoreError> {
        // Stand-in for the I/O of a real commit: lets appends that arrive meanwhile queue up
        // behind this batch, as they do with a database.
        tokio::task::yield_now().await;
        let plan = Plan::new(batch);
        let mut state = self.lock();
        let existing = plan
            .keys()
            .into_iter()
            .filter_map(|(room, cid)| state.cids.get(&(room.to_owned(), cid.to_owned())))
            .map(|m| Message::clone(m))
            .collect();
        let targets = plan
            .targets()
            .into_iter()
            .filter_map(|id| Some((id, Self::target(&state, id)?)))
            .collect();
        let outcomes = plan.outcomes(existing, targets);
        let first = state.last_id + 1;
        let last = state.last_id + count_new(&outcomes) as MessageId;
        let ids: Vec<MessageId> = (first..=last).collect();
        let heads: Vec<(String, RoomSeq)> = plan
            .new_rooms(&outcomes)
            .into_iter()
            .map(|(room, count)| {
                let head = state.seqs.get(room).copied().unwrap_or(0) + count;
                (room.to_owned(), head)
            })
            .collect();
        let stored = plan.answers(outcomes, &ids, &heads)?;
        // Nothing below can fail: the batch is stored all at once, or (above) not at all.
        state.last_id = last;
        state.seqs.extend(heads);
        for new in stored.iter().filter_map(|s| s.as_ref().ok()) {
            if new.duplicate {
                continue;
            }
            let kept = Arc::clone(&new.message);
            if let Some(cid) = &kept.cid {
                state
                    .cids
                    .insert((kept.room.clone(), cid.clone()), Arc::clone(&kept));
            }
            state.room_of.insert(kept.id, kept.room.clone());
            state
                .rooms
                .entry(kept.room.clone())
                .or_default()
                .push(Arc::clone(&kept));
            if let Some(target) = &new.target {
                state.apply_reactions(&kept);
                state.replace(Message::clone(target));
            }
        }
        for (at, audit) in audits {
            if matches!(stored.get(*at), Some(Ok(s)) if !s.duplicate) {
                crate::moderation::lock(&self.moderation).audit(audit);
            }
        }
        Ok(stored)
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let state = self.lock();
        Ok(Self::target(&state, id)
            .map(|t| t.message)
            .filter(|m| m.change.is_none()))
    }

    /// Reads `limit + 1` rows the way the SQL does and shapes them with the same
    /// [`into_page`].
    async fn page(&self, room: &str, window: Window, limit: u32) -> Result<Page, StoreError> {
        let state = self.lock();
        let all: &[Arc<Message>] = state.rooms.get(room).map_or(&[], Vec::as_slice);
        let fetch = limit as usize + 1;
        let messages_only = |m: &&Arc<Message>| m.change.is_none();
        let rows: Vec<&Arc<Message>> = match window {
            Window::Latest => all.iter().rev().filter(messages_only).take(fetch).collect(),
            Window::Before(before) => {
                let end = all.partition_point(|m| m.id < before);
                all[..end]
                    .iter()
                    .rev()
                    .filter(messages_only)
                    .take(fetch)
                    .collect()
            }
            Window::Since(since) => {
                let start = all.partition_point(|m| m.id <= since);
                all[start..].iter().take(fetch).collect()
            }
            Window::SinceSeq(since) => {
                let start = all.partition_point(|m| m.seq <= since);
                all[start..].iter().take(fetch).collect()
            }
        };
        Ok(into_page(
            rows.into_iter().map(|m| Message::clone(m)).collect(),
            window,
            limit,
            state.purged.get(room).copied(),
        ))
    }

    async fn setting_or_insert(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut state = self.lock();
        Ok(state
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| fresh.to_vec())
            .clone())
    }

    async fn purge(&self, policy: &RetentionPolicy, batch: u32) -> Result<PurgeReport, StoreError> {
        let cutoff = policy.cutoff_ms();
        let keep = policy
            .per_room
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let batch = usize::try_from(batch).unwrap_or(usize::MAX);
        let mut tally = Tally::default();
        loop {
            // `newer`: how many messages of the room are this one or newer.
            let rows = self.lock().remove(batch, |_, newer, m| {
                cutoff.is_some_and(|c| m.ts < c) || keep.is_some_and(|k| newer > k)
            });
            if rows.is_empty() {
                break;
            }
            tally.add(&rows);
            if rows.len() < batch {
                break;
            }
            tokio::time::sleep(PURGE_PAUSE).await;
        }
        Ok(tally.report())
    }

    async fn heads(&self, rooms: &[&str]) -> Result<Vec<(String, RoomSeq)>, StoreError> {
        let state = self.lock();
        Ok(rooms
            .iter()
            .filter_map(|r| Some(((*r).to_owned(), *state.seqs.get(*r)?)))
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn close(&self) {}
}
