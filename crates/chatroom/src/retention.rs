//! The retention purge loop: why it exists — operators must be able to bound how long (or how
//! many) chat messages are kept (`--retention-days`, `--retention-per-room`), and the store
//! should not grow forever. One round runs when the server starts, then one every
//! `--retention-interval` (60 s; hidden flag for tests). The work itself is
//! [`chatroom_store::Store::purge`]: small transactions with a pause in between, so sends,
//! acks and history reads keep their latency.
//!
//! In a cluster on one PostgreSQL database every process runs this loop, but a round holds an
//! advisory lock and the others skip theirs while it is held: one purge at a time. On SQLite
//! one process owns the file, so no lock is needed.
//!
//! Each round that removed something logs one info line (rooms, rows, batches, duration) and
//! adds the rows to `chatroom_messages_purged_total` (`/metrics`; `purged` in `/healthz`).

use crate::app::App;
use chatroom_store::DEFAULT_PURGE_BATCH;
use tokio::time::MissedTickBehavior;

/// Purges now, then every `config.retention_interval`, until the task is aborted. Returns at
/// once when the policy keeps everything.
pub async fn run(app: App) {
    let policy = app.config.retention;
    if policy.keeps_everything() {
        return;
    }
    let mut tick = tokio::time::interval(app.config.retention_interval);
    // A round longer than the interval delays the next one instead of bunching them up.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await; // the first tick is immediate: a purge at start
        match app.store.purge(&policy, DEFAULT_PURGE_BATCH).await {
            Ok(report) if report.skipped => {
                tracing::debug!("retention purge skipped: another process holds the purge lock");
            }
            Ok(report) => {
                app.metrics.purged.inc_by(report.removed);
                let duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX);
                if report.removed > 0 {
                    tracing::info!(
                        rooms = report.rooms,
                        rows = report.removed,
                        batches = report.batches,
                        duration_ms,
                        "retention purge removed messages"
                    );
                } else {
                    tracing::debug!(duration_ms, "retention purge: nothing to remove");
                }
            }
            Err(e) => {
                app.metrics.store_errors.inc();
                tracing::warn!(error = %e, "retention purge failed; retrying next round");
            }
        }
    }
}
