//! Group commit: the single writer task. `append` sends a request over a channel; the writer
//! takes the first waiting request, drains whatever else is already queued (up to
//! [`MAX_BATCH`]), writes them all in one transaction, publishes the batch's new messages on the
//! committed feed (ascending ids), and only then answers each request. One writer per store
//! means ids increase in commit order within the process, which is the order clients see on the
//! feed; the backends keep each room's ids and seqs in commit order across processes too (see
//! the crate docs).

use crate::backend::{Answer, Backend};
use crate::{Appended, Committed, NewAudit, StoreError};
use chatroom_core::NewMessage;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most requests written in one transaction.
pub(crate) const MAX_BATCH: usize = 1000;
/// A batch that takes longer than this fails with [`StoreError::Timeout`] (the database hangs).
const BATCH_TIMEOUT: Duration = Duration::from_secs(15);

/// A committed message waits at most about this long for the search index, where the backend
/// indexes after the commit (SQLite; a search, an edit or a delete catches up at once). Why so
/// long: a catch-up transaction costs about 10 ms however few rows it holds (measured: 300 rows
/// in 10 ms), so at 100 ms it took ~8% of the writer's time under load, at 1 s about 1%.
const INDEX_DELAY: Duration = Duration::from_secs(1);
/// ...or until this many rows wait, so that one catch-up (transactions of 5,000 rows) never
/// holds the writer for long.
const INDEX_ROWS: u64 = 10_000;
/// How long a failed catch-up waits before the next try (besides [`INDEX_DELAY`]).
const INDEX_RETRY: Duration = Duration::from_secs(1);

/// What the writer is asked to do.
pub(crate) enum Command {
    /// Store one message (or change, with the audit entry of a moderation action) and answer
    /// on the oneshot. The audit is boxed: it is rare, and sends stay small.
    Append(
        NewMessage,
        Option<Box<NewAudit>>,
        oneshot::Sender<Result<Appended, StoreError>>,
    ),
    /// Bring the search index up to date with everything committed before this command was
    /// answered (a search is about to read it); answer when done.
    IndexNow(oneshot::Sender<()>),
    /// Finish the queued appends, close the backend, stop; answer when done.
    Close(oneshot::Sender<()>),
}

/// Counters the writer keeps; read through [`crate::Store::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub transactions: AtomicU64,
    pub failed_transactions: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
}

type Reply = oneshot::Sender<Result<Appended, StoreError>>;

/// Committed rows the search index has not caught up with yet, and since when.
#[derive(Default)]
struct Unindexed {
    rows: u64,
    since: Option<Instant>,
}

impl Unindexed {
    fn add(&mut self, rows: u64) {
        if rows > 0 {
            self.rows += rows;
            self.since.get_or_insert_with(Instant::now);
        }
    }

    /// When the index must catch up at the latest (`None`: nothing waits).
    fn deadline(&self) -> Option<Instant> {
        self.since.map(|since| since + INDEX_DELAY)
    }

    fn due(&self) -> bool {
        self.rows >= INDEX_ROWS || self.deadline().is_some_and(|d| d <= Instant::now())
    }

    /// Catches the index up. On failure it is tried again after [`INDEX_RETRY`] (the rows are
    /// stored; only search misses them meanwhile), so a failing disk logs once per retry.
    async fn catch_up<B: Backend>(&mut self, backend: &B) {
        match backend.index_pending().await {
            Ok(_) => *self = Self::default(),
            Err(error) => {
                tracing::warn!(%error, "search index: catching up failed; retrying in 1 s");
                self.rows = 0;
                self.since = Some(Instant::now() + INDEX_RETRY);
            }
        }
    }
}

/// The writer loop; returns when asked to close or when every `Store` handle is gone.
pub(crate) async fn run<B: Backend>(
    backend: B,
    mut requests: mpsc::Receiver<Command>,
    feed: mpsc::Sender<Vec<Committed>>,
    counters: Arc<Counters>,
) {
    let mut batch: Vec<NewMessage> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut audits: Vec<(usize, NewAudit)> = Vec::new();
    let mut index_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut unindexed = Unindexed::default();
    let defer_index = backend.indexes_after_commit();
    let mut close_ack = None;
    while close_ack.is_none() {
        let first = match unindexed.deadline() {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), requests.recv()).await {
                    Ok(first) => first,
                    Err(_elapsed) => {
                        unindexed.catch_up(&backend).await;
                        continue;
                    }
                }
            }
            None => requests.recv().await,
        };
        let Some(first) = first else {
            break; // every Store handle dropped
        };
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Append(msg, audit, reply) => {
                    if let Some(audit) = audit {
                        audits.push((batch.len(), *audit));
                    }
                    batch.push(msg);
                    replies.push(reply);
                }
                Command::IndexNow(reply) => index_waiters.push(reply),
                Command::Close(ack) => {
                    close_ack = Some(ack);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = requests.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let stored_before = counters.stored.load(Ordering::Relaxed);
            commit(&backend, &batch, &audits, &mut replies, &feed, &counters).await;
            if defer_index {
                unindexed.add(counters.stored.load(Ordering::Relaxed) - stored_before);
            }
            batch.clear();
            replies.clear();
            audits.clear();
        }
        if !index_waiters.is_empty() || close_ack.is_some() || unindexed.due() {
            // Also at close: the next open would catch up, but a clean stop leaves no debt.
            if defer_index {
                unindexed.catch_up(&backend).await;
            }
            for waiter in index_waiters.drain(..) {
                // The searcher may have gone away; nothing to tell then.
                let _ = waiter.send(());
            }
        }
    }
    // Refuse whatever was queued after the close request (dropping a reply sender makes that
    // `append` return `Closed`).
    requests.close();
    while requests.recv().await.is_some() {}
    backend.close().await;
    if let Some(ack) = close_ack {
        // The closer may have stopped waiting; nothing to do then.
        let _ = ack.send(());
    }
}

/// Writes `batch` in one transaction and answers `replies` (same order). If the transaction
/// fails because of the data (a database error, not a lost connection), each message is retried
/// in its own transaction so one bad message cannot fail its neighbours.
async fn commit<B: Backend>(
    backend: &B,
    batch: &[NewMessage],
    audits: &[(usize, NewAudit)],
    replies: &mut Vec<Reply>,
    feed: &mpsc::Sender<Vec<Committed>>,
    counters: &Counters,
) {
    match transaction(backend, batch, audits, counters).await {
        Ok(stored) => publish(batch, stored, replies.drain(..), feed, counters).await,
        Err(e) if e.is_data_error() && batch.len() > 1 => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; retrying one by one");
            for (i, (msg, reply)) in batch.iter().zip(replies.drain(..)).enumerate() {
                let audit: Vec<(usize, NewAudit)> = audits
                    .iter()
                    .filter(|(at, _)| *at == i)
                    .map(|(_, a)| (0, a.clone()))
                    .collect();
                match transaction(backend, std::slice::from_ref(msg), &audit, counters).await {
                    Ok(stored) => {
                        let one = std::slice::from_ref(msg);
                        publish(one, stored, std::iter::once(reply), feed, counters).await;
                    }
                    Err(e) => {
                        // The caller may have gone away; nothing to tell then.
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, size = batch.len(), "batch failed; nothing stored");
            for reply in replies.drain(..) {
                // The caller may have gone away; nothing to tell then.
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// One transaction with a deadline, counted.
async fn transaction<B: Backend>(
    backend: &B,
    batch: &[NewMessage],
    audits: &[(usize, NewAudit)],
    counters: &Counters,
) -> Result<Vec<Answer>, StoreError> {
    let result = tokio::time::timeout(BATCH_TIMEOUT, backend.insert_batch(batch, audits))
        .await
        .unwrap_or(Err(StoreError::Timeout(BATCH_TIMEOUT)));
    match &result {
        Ok(_) => counters.transactions.fetch_add(1, Ordering::Relaxed),
        Err(_) => counters.failed_transactions.fetch_add(1, Ordering::Relaxed),
    };
    result
}

/// Sends the committed batch's new messages on the feed (waiting if it is full), then answers.
/// `stored` answers `batch`, request by request.
async fn publish(
    batch: &[NewMessage],
    stored: Vec<Answer>,
    replies: impl Iterator<Item = Reply>,
    feed: &mpsc::Sender<Vec<Committed>>,
    counters: &Counters,
) {
    let mut fresh: Vec<Committed> = stored
        .iter()
        .zip(batch)
        .filter_map(|(s, new)| Some((s.as_ref().ok()?, new)))
        .filter(|(s, _)| !s.duplicate)
        .map(|(s, new)| Committed {
            message: Arc::clone(&s.message),
            from_seed: new.from_seed,
        })
        .collect();
    fresh.sort_by_key(|c| c.message.id);
    let new = fresh.len() as u64;
    let answered = stored.iter().filter(|s| s.is_ok()).count() as u64;
    counters.stored.fetch_add(new, Ordering::Relaxed);
    counters
        .duplicates
        .fetch_add(answered - new, Ordering::Relaxed);
    if !fresh.is_empty() && feed.send(fresh).await.is_err() {
        tracing::debug!("committed feed has no receiver; messages stored but not delivered");
    }
    for (s, reply) in stored.into_iter().zip(replies) {
        // The caller may have gone away (its future was dropped); the message is stored anyway.
        let _ = reply.send(
            s.map(|s| Appended {
                message: s.message,
                duplicate: s.duplicate,
                target: s.target,
            })
            .map_err(StoreError::Refused),
        );
    }
}
