//! Retention: which messages the purge removes ([`RetentionPolicy`]), what one purge round did
//! ([`PurgeReport`]), and the SQL and bookkeeping shared by the backends.
//!
//! Why it exists: without it every message is kept forever, and operators must often not keep
//! chat logs past a set time. The purge works in small transactions ([`DEFAULT_PURGE_BATCH`]
//! rows, then [`PURGE_PAUSE`]) so the writer and the readers keep their latency while it runs.
//!
//! Each batch records, per room, the highest id it removed in the `purged` table (the room's
//! "purged through" id), in the same transaction as the delete. A page whose window reaches
//! below that id is answered with [`crate::Page::truncated`] set. Ids are never renumbered.

use crate::backend::Window;
use chatroom_core::MessageId;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows deleted per purge transaction by default.
pub const DEFAULT_PURGE_BATCH: u32 = 1000;
/// Pause between two purge transactions, so queued appends and reads run in between.
pub const PURGE_PAUSE: Duration = Duration::from_millis(10);
/// PostgreSQL advisory lock held for a whole purge round: `(PURGE_LOCK_KEY,
/// hashtext(current_schema()))`, so one purge at a time per store — the nodes of one cluster
/// share a schema and take turns, stores in other schemas of the same database do not wait
/// for each other. ASCII "prg!".
pub const PURGE_LOCK_KEY: i32 = 0x7072_6721;

/// What to keep. Both limits apply when both are set; neither means keep everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Remove messages whose `ts` is older than this.
    pub max_age: Option<Duration>,
    /// Keep at most this many of the newest messages of each room.
    pub per_room: Option<u64>,
}

impl RetentionPolicy {
    /// True when the policy removes nothing.
    pub fn keeps_everything(&self) -> bool {
        self.max_age.is_none() && self.per_room.is_none()
    }

    /// The `ts` (milliseconds since the Unix epoch) below which messages are removed, if any.
    pub(crate) fn cutoff_ms(&self) -> Option<i64> {
        let age = i64::try_from(self.max_age?.as_millis()).unwrap_or(i64::MAX);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Some(now.saturating_sub(age))
    }
}

/// What one purge round removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Messages removed.
    pub removed: u64,
    /// Distinct rooms that lost messages.
    pub rooms: usize,
    /// Transactions used.
    pub batches: u64,
    /// Another process held the purge lock (PostgreSQL): this round did nothing.
    pub skipped: bool,
    /// Wall time of the round.
    pub duration: Duration,
}

/// Running totals of a round: per room, the highest id removed.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub removed: u64,
    pub batches: u64,
    pub rooms: HashMap<String, MessageId>,
}

impl Tally {
    /// Adds one batch's removed `(room, id)` rows; returns their per-room highest id.
    pub(crate) fn add(&mut self, rows: &[(String, MessageId)]) -> HashMap<String, MessageId> {
        let mut through: HashMap<String, MessageId> = HashMap::new();
        for (room, id) in rows {
            let t = through.entry(room.clone()).or_insert(*id);
            *t = (*t).max(*id);
        }
        for (room, id) in &through {
            let t = self.rooms.entry(room.clone()).or_insert(*id);
            *t = (*t).max(*id);
        }
        self.removed += rows.len() as u64;
        self.batches += 1;
        through
    }

    pub(crate) fn report(self) -> PurgeReport {
        PurgeReport {
            removed: self.removed,
            rooms: self.rooms.len(),
            batches: self.batches,
            skipped: false,
            duration: Duration::ZERO,
        }
    }
}

/// Whether a page read in `window` (with `more` as read) reaches past the oldest kept message
/// of a room whose purge went through `purged` (None: nothing purged).
///
/// `since`: anything with an id in `(since, purged]` is gone. `before`/latest: the page reaches
/// the oldest kept message (`!more`) and older ones were purged.
pub(crate) fn truncated(window: Window, more: bool, purged: Option<MessageId>) -> bool {
    let Some(through) = purged else {
        return false;
    };
    match window {
        Window::Since(since) => since < through,
        // Seqs and purged ids are not comparable; a gap reader checks seqs itself.
        Window::SinceSeq(_) => false,
        Window::Latest | Window::Before(_) => !more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_only_past_the_purge() {
        assert!(!truncated(Window::Since(0), false, None));
        assert!(truncated(Window::Since(0), false, Some(5)));
        assert!(truncated(Window::Since(4), true, Some(5)));
        assert!(!truncated(Window::Since(5), false, Some(5)));
        assert!(truncated(Window::Before(9), false, Some(5)));
        assert!(!truncated(Window::Before(9), true, Some(5)));
        assert!(!truncated(Window::Latest, false, None));
        assert!(truncated(Window::Latest, false, Some(1)));
    }

    #[test]
    fn tally_keeps_highest_ids() {
        let mut t = Tally::default();
        let b = t.add(&[("a".into(), 1), ("b".into(), 3), ("a".into(), 2)]);
        assert_eq!(b["a"], 2);
        t.add(&[("a".into(), 7)]);
        assert_eq!(t.rooms["a"], 7);
        let r = t.report();
        assert_eq!((r.removed, r.rooms, r.batches), (4, 2, 2));
    }
}
