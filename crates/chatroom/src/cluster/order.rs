//! Room order on a cluster node: the one task that hands committed messages (and changes: edits,
//! deletes, reactions, which are rows of the room's order too) to this node's sockets, whichever
//! node committed them. It merges this node's committed feed (published to
//! the other nodes from here) with the messages relayed from the others, and delivers each room's
//! messages strictly by `seq` (the store's per-room sequence, contiguous and in commit order on
//! every node), each exactly once:
//! - a message whose `seq` is not the next one is held back; if the missing ones do not arrive
//!   through Redis within [`GAP_WAIT`] (a publish lost while Redis restarted, a dropped
//!   subscription), they are read from the store — committed they are, since a later `seq` was
//!   only handed out after they committed — and delivered first: a gap costs latency, never a
//!   message;
//! - once a second the store's head of every watched room is compared with what was delivered
//!   (a lost message with no successor would otherwise wait for the next one), and at once after
//!   the Redis subscription comes back.
//!
//! A room is watched from the first local `join` on: [`Cluster::watch`] sets its starting point
//! to the store's head before the join reads its history, so everything after that history
//! arrives live. Messages of rooms nobody here watches are dropped unread.

use super::wire::Relayed;
use super::{Cluster, Inbound};
use crate::app::App;
use crate::socket::deliver;
use chatroom_core::{Message, RoomName};
use chatroom_store::{Committed, StoreError};
use socketioxide::SocketIo;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a gap may wait for Redis before the store is asked.
pub const GAP_WAIT: Duration = Duration::from_millis(250);
/// How often every watched room's head is checked against what was delivered.
pub const HEAD_CHECK: Duration = Duration::from_secs(1);
/// Messages read per gap-filling query.
const FILL_PAGE: u32 = 1000;
/// Rooms per head query.
const HEADS_PAGE: usize = 500;

/// A request to the order task.
pub enum Watch {
    /// Start delivering `room` here; answered once its starting point is set.
    Room(RoomName, oneshot::Sender<Result<(), StoreError>>),
}

/// Results of store reads started by the task, coming back to it.
enum Read {
    /// A watched room's starting point (its head when the watch began).
    Start(RoomName, Result<i64, StoreError>),
    /// Messages read from the store to fill a gap; `full`: more follow.
    Fill {
        room: String,
        result: Result<Vec<Message>, StoreError>,
        full: bool,
    },
    /// Heads of watched rooms; `forced`: fill any room behind at once.
    Heads(Result<Vec<(String, i64)>, StoreError>, bool),
}

/// One message waiting for its turn.
#[derive(Clone)]
struct Item {
    message: Arc<Message>,
    seed: bool,
}

/// Delivery state of one watched room.
#[derive(Default)]
struct Room {
    /// Highest `seq` delivered here.
    delivered: i64,
    /// Messages after a gap, by `seq`.
    held: BTreeMap<i64, Item>,
    /// Since when the first held message has waited.
    gap_since: Option<Instant>,
    /// A store read for this room is under way.
    filling: bool,
    /// The head seen at the previous check: a room still behind it now lost something.
    last_head: i64,
}

enum State {
    /// Waiting for the starting point; messages meanwhile are kept.
    Starting {
        early: BTreeMap<i64, Item>,
        waiters: Vec<oneshot::Sender<Result<(), StoreError>>>,
    },
    Ready(Room),
}

/// The task's state.
struct Order {
    io: SocketIo,
    app: App,
    cluster: Arc<Cluster>,
    rooms: HashMap<String, State>,
    reads: mpsc::Sender<Read>,
}

/// Runs until the store's feed ends.
pub async fn run(
    io: SocketIo,
    app: App,
    cluster: Arc<Cluster>,
    mut feed: mpsc::Receiver<Vec<Committed>>,
    mut inbound: mpsc::Receiver<Inbound>,
    mut watches: mpsc::Receiver<Watch>,
) {
    let (reads, mut read_results) = mpsc::channel(1024);
    let mut order = Order {
        io,
        app,
        cluster,
        rooms: HashMap::new(),
        reads,
    };
    let mut gap_tick = tokio::time::interval(GAP_WAIT / 4);
    gap_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut head_tick = tokio::time::interval(HEAD_CHECK);
    head_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = feed.recv() => {
                let Some(batch) = batch else { break };
                order.cluster.publish_messages(&batch);
                for c in batch {
                    order.offer(Item { message: c.message, seed: c.from_seed });
                }
            }
            Some(inbound) = inbound.recv() => match inbound {
                Inbound::Messages(items) => {
                    for Relayed { message, seed } in items {
                        order.offer(Item { message, seed });
                    }
                }
                Inbound::Resubscribed => order.check_heads(true),
            },
            Some(Watch::Room(room, done)) = watches.recv() => order.watch(room, done),
            Some(read) = read_results.recv() => order.on_read(read),
            _ = gap_tick.tick() => order.fill_old_gaps(),
            _ = head_tick.tick() => order.check_heads(false),
        }
    }
}

impl Order {
    fn watch(&mut self, room: RoomName, done: oneshot::Sender<Result<(), StoreError>>) {
        match self.rooms.get_mut(room.as_str()) {
            Some(State::Ready(_)) => {
                let _ = done.send(Ok(())); // the joiner may have gone: nothing to tell
            }
            Some(State::Starting { waiters, .. }) => waiters.push(done),
            None => {
                self.rooms.insert(
                    room.as_str().to_owned(),
                    State::Starting {
                        early: BTreeMap::new(),
                        waiters: vec![done],
                    },
                );
                let store = self.app.store.clone();
                let reads = self.reads.clone();
                tokio::spawn(async move {
                    let head = store
                        .heads(std::slice::from_ref(&room))
                        .await
                        .map(|heads| heads.first().map_or(0, |(_, seq)| *seq));
                    let _ = reads.send(Read::Start(room, head)).await;
                });
            }
        }
    }

    fn offer(&mut self, item: Item) {
        let message = Arc::clone(&item.message);
        let seq = message.seq;
        match self.rooms.get_mut(&message.room) {
            None => {} // nobody here watches it
            Some(State::Starting { early, .. }) => {
                early.insert(seq, item);
            }
            Some(State::Ready(room)) => {
                if seq <= room.delivered {
                    return; // delivered already (relayed and read from the store, say)
                }
                if room.held.is_empty() && seq == room.delivered + 1 {
                    // The common case: next in line, nothing waiting.
                    room.delivered = seq;
                    deliver::deliver(&self.io, &self.app, &item.message, item.seed);
                    return;
                }
                room.held.entry(seq).or_insert(item);
                self.drain(&message.room);
            }
        }
    }

    /// Delivers `room`'s held messages that are next in line; notes when a gap starts.
    fn drain(&mut self, name: &str) {
        let Some(State::Ready(room)) = self.rooms.get_mut(name) else {
            return;
        };
        while let Some(entry) = room.held.first_entry() {
            let seq = *entry.key();
            if seq <= room.delivered {
                entry.remove();
                continue;
            }
            if seq != room.delivered + 1 {
                break;
            }
            let item = entry.remove();
            room.delivered = seq;
            deliver::deliver(&self.io, &self.app, &item.message, item.seed);
        }
        room.gap_since = match (room.held.is_empty(), room.gap_since) {
            (true, _) => None,
            (false, None) => Some(Instant::now()),
            (false, since) => since,
        };
    }

    fn on_read(&mut self, read: Read) {
        match read {
            Read::Start(room, head) => self.started(room, head),
            Read::Fill { room, result, full } => self.filled(room, result, full),
            Read::Heads(result, forced) => match result {
                Ok(heads) => {
                    for (name, head) in heads {
                        self.behind(&name, head, forced);
                    }
                }
                Err(error) => tracing::warn!(%error, "cluster: reading room heads failed"),
            },
        }
    }

    fn started(&mut self, name: RoomName, head: Result<i64, StoreError>) {
        let Some(State::Starting { early, waiters }) = self.rooms.remove(name.as_str()) else {
            return;
        };
        let key = name.as_str().to_owned();
        match head {
            Ok(head) => {
                let room = Room {
                    delivered: head,
                    held: early,
                    last_head: head,
                    ..Room::default()
                };
                self.rooms.insert(key.clone(), State::Ready(room));
                for waiter in waiters {
                    let _ = waiter.send(Ok(()));
                }
                self.drain(&key);
            }
            Err(error) => {
                // Not watched: the next join tries again.
                for waiter in waiters {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
        }
    }

    fn filled(&mut self, name: String, result: Result<Vec<Message>, StoreError>, full: bool) {
        let Some(State::Ready(room)) = self.rooms.get_mut(&name) else {
            return;
        };
        room.filling = false;
        let messages = match result {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(room = %name, %error, "cluster: filling a relay gap failed; retrying");
                return;
            }
        };
        let found = messages.len();
        let newest = messages.last().map_or(0, |m| m.seq);
        let mut filled = 0;
        for message in messages {
            if message.seq > room.delivered && !room.held.contains_key(&message.seq) {
                filled += 1;
                room.held.insert(
                    message.seq,
                    Item {
                        message: Arc::new(message),
                        seed: false,
                    },
                );
            }
        }
        self.cluster.counters.add_gap_filled(filled);
        self.drain(&name);
        let Some(State::Ready(room)) = self.rooms.get_mut(&name) else {
            return;
        };
        if full {
            self.start_fill(&name);
        } else if let Some((&first, _)) = room.held.first_key_value()
            && first > room.delivered + 1
            && newest >= first
        {
            // This read saw `first` and nothing before it: the hole is not in the store
            // (removed by retention). Go on after it.
            tracing::warn!(room = %name, from = room.delivered + 1, to = first - 1, found,
                "cluster: messages missing from the store (retention?); skipping them");
            room.delivered = first - 1;
            self.drain(&name);
        }
    }

    /// Rooms whose gap has waited long enough get a store read.
    fn fill_old_gaps(&mut self) {
        let due: Vec<String> = self
            .rooms
            .iter()
            .filter_map(|(name, state)| match state {
                State::Ready(room)
                    if !room.filling && room.gap_since.is_some_and(|t| t.elapsed() >= GAP_WAIT) =>
                {
                    Some(name.clone())
                }
                _ => None,
            })
            .collect();
        for name in due {
            self.start_fill(&name);
        }
    }

    fn start_fill(&mut self, name: &str) {
        let Some(State::Ready(room)) = self.rooms.get_mut(name) else {
            return;
        };
        if room.filling {
            return;
        }
        let Ok(room_name) = RoomName::new(name) else {
            return;
        };
        room.filling = true;
        let after = room.delivered;
        let store = self.app.store.clone();
        let reads = self.reads.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let result = store.since_seq(&room_name, after, FILL_PAGE).await;
            let full = result.as_ref().is_ok_and(|page| page.more);
            // Changes (edits, deletes, reactions) hold seqs of their own: fill them too.
            let result = result.map(|page| {
                let mut rows = page.messages;
                rows.extend(page.changes);
                rows.sort_by_key(|m| m.seq);
                rows
            });
            let _ = reads
                .send(Read::Fill {
                    room: name,
                    result,
                    full,
                })
                .await;
        });
    }

    /// Reads the head of every watched room (a few queries of [`HEADS_PAGE`] rooms).
    fn check_heads(&mut self, forced: bool) {
        let rooms: Vec<RoomName> = self
            .rooms
            .iter()
            .filter(|(_, s)| matches!(s, State::Ready(_)))
            .filter_map(|(name, _)| RoomName::new(name).ok())
            .collect();
        if rooms.is_empty() {
            return;
        }
        let store = self.app.store.clone();
        let reads = self.reads.clone();
        tokio::spawn(async move {
            for chunk in rooms.chunks(HEADS_PAGE) {
                let heads = store.heads(chunk).await;
                if reads.send(Read::Heads(heads, forced)).await.is_err() {
                    return;
                }
            }
        });
    }

    /// A room whose head is past what was delivered, and was already at the previous check
    /// (or `forced`), lost something in the relay: read it.
    fn behind(&mut self, name: &str, head: i64, forced: bool) {
        let Some(State::Ready(room)) = self.rooms.get_mut(name) else {
            return;
        };
        let lost = room.delivered < head && (forced || room.delivered < room.last_head);
        room.last_head = head;
        if lost && !room.filling {
            self.start_fill(name);
        }
    }
}
