//! The other nodes' members, kept in this node's presence so that `join`'s member list, `rooms`,
//! counts and crowd decisions cover the whole cluster, and their joins, leaves, renames and
//! typing reach this node's sockets.
//!
//! Each node publishes every change of its membership with a version (1, 2, …) and, once a
//! second, a heartbeat carrying its current version. A receiver applies a change only if it is
//! the next version of that node; anything else (a change lost in Redis, a node seen for the
//! first time, a restarted node, our own resubscription) makes it ask that node for a snapshot
//! of its whole membership, which replaces what it had, announcing the difference. A node not
//! heard from for [`NODE_TIMEOUT`] (killed, cut off) is dropped: its members leave every room,
//! with `leave` events, within `NODE_TIMEOUT` + one [`BEAT_EVERY`] (6 s; documented as 10 s).
//! A node shutting down says `Bye` and is dropped at once.

use super::Cluster;
use super::wire::{Body, Change, Envelope, Member};
use crate::app::App;
use crate::protocol::{Presence, Typing, out};
use crate::socket::announce::{crowded, to_members};
use crate::socket::session::SessionRef;
use chatroom_core::{RoomName, UserName};
use socketioxide::SocketIo;
use socketioxide::socket::Sid;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Heartbeat period.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// Silence after which a node counts as gone.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);
/// Least time between two snapshot requests to one node.
const ASK_AGAIN: Duration = Duration::from_secs(1);

/// What the members task hears.
pub enum Event {
    /// An envelope from another node (not a message batch).
    Bus(Box<Envelope>),
    /// Our subscription was (re)made: we may have missed anything.
    Resubscribed,
}

/// One member connection of another node, as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remote {
    name: UserName,
    rooms: BTreeSet<RoomName>,
    seed: bool,
}

/// Another node.
struct Node {
    epoch: u64,
    /// Version of its membership we hold; `None` while waiting for a snapshot.
    ver: Option<u64>,
    last_seen: Instant,
    asked: Option<Instant>,
    members: HashMap<Sid, Remote>,
}

/// A presence event to send to this node's sockets once the locks are released.
struct Announce {
    room: RoomName,
    name: String,
    action: &'static str,
    old: Option<String>,
}

struct Members {
    io: SocketIo,
    app: App,
    cluster: Arc<Cluster>,
    nodes: HashMap<String, Node>,
}

/// Runs until the subscriber stops.
pub async fn run(io: SocketIo, app: App, cluster: Arc<Cluster>, mut events: mpsc::Receiver<Event>) {
    let mut members = Members {
        io,
        app,
        cluster,
        nodes: HashMap::new(),
    };
    let mut beat = tokio::time::interval(BEAT_EVERY);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None => break,
                Some(Event::Resubscribed) => members.cluster.publish(Body::SyncRequest { of: None }),
                Some(Event::Bus(envelope)) => members.on_envelope(*envelope).await,
            },
            _ = beat.tick() => {
                members.beat();
                members.expire().await;
            }
        }
    }
}

/// Publishes this node's whole membership (under the presence lock, so it matches its version).
pub fn publish_snapshot(io: &SocketIo, app: &App, cluster: &Cluster) {
    let presence = app.presence();
    let remote = cluster.remote();
    let members = presence
        .connections()
        .into_iter()
        .filter(|sid| !remote.contains(sid))
        .filter_map(|sid| {
            let name = presence.name_of(&sid)?;
            let seed = io
                .get_socket(sid)
                .and_then(|s| s.extensions.get::<SessionRef>())
                .is_some_and(|s| s.seed);
            Some(Member {
                sid,
                name: name.as_str().to_owned(),
                rooms: presence
                    .rooms_of(&sid)
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
                seed,
            })
        })
        .collect();
    cluster.publish(Body::Snapshot {
        ver: cluster.version(),
        members,
    });
}

impl Members {
    fn beat(&self) {
        if self.cluster.is_leaving() {
            return;
        }
        // Under the presence lock: the version and the changes already queued agree.
        let _presence = self.app.presence();
        self.cluster.publish(Body::Beat {
            ver: self.cluster.version(),
        });
    }

    async fn on_envelope(&mut self, envelope: Envelope) {
        let Envelope { node, epoch, body } = envelope;
        let mut announce = Vec::new();
        if self.nodes.get(&node).is_some_and(|n| n.epoch != epoch) {
            tracing::info!(%node, "cluster: node restarted; replacing its members");
            self.drop_node(&node, &mut announce);
            self.nodes.remove(&node);
        }
        let entry = self.nodes.entry(node.clone()).or_insert_with(|| {
            tracing::info!(%node, "cluster: node joined");
            Node {
                epoch,
                ver: None,
                last_seen: Instant::now(),
                asked: None,
                members: HashMap::new(),
            }
        });
        entry.last_seen = Instant::now();
        match body {
            Body::Beat { ver } => {
                if entry.ver != Some(ver) {
                    self.ask(&node);
                }
            }
            Body::Presence { ver, change } => {
                if entry.ver.is_some_and(|have| have + 1 == ver) {
                    entry.ver = Some(ver);
                    self.apply(&node, change, &mut announce);
                } else if entry.ver.is_none_or(|have| ver > have) {
                    entry.ver = None;
                    self.ask(&node);
                }
            }
            Body::Snapshot { ver, members } => {
                if entry.ver.is_none_or(|have| ver >= have) {
                    self.replace(&node, ver, members, &mut announce);
                }
            }
            Body::SyncRequest { of } => {
                if of.as_deref().is_none_or(|of| of == self.cluster.node())
                    && !self.cluster.is_leaving()
                {
                    publish_snapshot(&self.io, &self.app, &self.cluster);
                }
            }
            Body::Typing { room, name, typing } => {
                let payload = Typing {
                    room: &room,
                    name: &name,
                    typing,
                };
                if let Some(ns) = self.io.of("/") {
                    to_members(ns.to(room.clone()), out::TYPING, &payload).await;
                }
            }
            Body::Bye => {
                tracing::info!(%node, "cluster: node left");
                self.drop_node(&node, &mut announce);
                self.nodes.remove(&node);
            }
            Body::Moderation { effect } => {
                crate::moderation::enforce(&self.app, &effect);
            }
            Body::Messages { .. } => {} // the order task's
        }
        self.announce(announce).await;
    }

    fn ask(&mut self, node: &str) {
        let Some(entry) = self.nodes.get_mut(node) else {
            return;
        };
        if entry.asked.is_some_and(|t| t.elapsed() < ASK_AGAIN) {
            return;
        }
        entry.asked = Some(Instant::now());
        self.cluster.publish(Body::SyncRequest {
            of: Some(node.to_owned()),
        });
    }

    /// Applies one in-order change of `node`.
    fn apply(&mut self, node: &str, change: Change, announce: &mut Vec<Announce>) {
        let Some(entry) = self.nodes.get_mut(node) else {
            return;
        };
        let mut presence = self.app.presence();
        let mut remote = self.cluster.remote();
        match change {
            Change::Join {
                sid,
                room,
                name,
                seed,
            } => {
                let (Ok(room), Ok(name)) = (RoomName::new(&room), UserName::new(&name)) else {
                    return;
                };
                let member = entry.members.entry(sid).or_insert_with(|| Remote {
                    name: name.clone(),
                    rooms: BTreeSet::new(),
                    seed,
                });
                member.rooms.insert(room.clone());
                remote.insert(sid);
                if presence.join(&room, sid, name.clone()) && !seed {
                    announce.push(Announce::new(room, name.as_str(), "join"));
                }
            }
            Change::Leave { sid, room } => {
                let Ok(room) = RoomName::new(&room) else {
                    return;
                };
                let Some(member) = entry.members.get_mut(&sid) else {
                    return;
                };
                member.rooms.remove(&room);
                let (name, seed) = (member.name.clone(), member.seed);
                if member.rooms.is_empty() {
                    entry.members.remove(&sid);
                    remote.remove(&sid);
                }
                if presence.leave(&room, &sid) && !seed {
                    announce.push(Announce::new(room, name.as_str(), "leave"));
                }
            }
            Change::Gone { sid } => {
                let Some(member) = entry.members.remove(&sid) else {
                    return;
                };
                remote.remove(&sid);
                for room in presence.leave_all(&sid) {
                    if !member.seed {
                        announce.push(Announce::new(room, member.name.as_str(), "leave"));
                    }
                }
            }
            Change::Rename { sid, name } => {
                let Ok(name) = UserName::new(&name) else {
                    return;
                };
                let Some(member) = entry.members.get_mut(&sid) else {
                    return;
                };
                let old = std::mem::replace(&mut member.name, name.clone());
                for room in presence.rename(&sid, &name) {
                    announce.push(Announce {
                        room,
                        name: name.as_str().to_owned(),
                        action: "rename",
                        old: Some(old.as_str().to_owned()),
                    });
                }
            }
        }
    }

    /// Replaces `node`'s members with a snapshot, announcing the difference.
    fn replace(
        &mut self,
        node: &str,
        ver: u64,
        snapshot: Vec<Member>,
        announce: &mut Vec<Announce>,
    ) {
        let Some(entry) = self.nodes.get_mut(node) else {
            return;
        };
        let fresh: HashMap<Sid, Remote> = snapshot
            .into_iter()
            .filter_map(|m| {
                Some((
                    m.sid,
                    Remote {
                        name: UserName::new(&m.name).ok()?,
                        rooms: m
                            .rooms
                            .iter()
                            .filter_map(|r| RoomName::new(r).ok())
                            .collect(),
                        seed: m.seed,
                    },
                ))
            })
            .collect();
        let old = std::mem::take(&mut entry.members);
        let mut presence = self.app.presence();
        let mut remote = self.cluster.remote();
        for (sid, was) in &old {
            if !fresh.contains_key(sid) {
                remote.remove(sid);
                for room in presence.leave_all(sid) {
                    if !was.seed {
                        announce.push(Announce::new(room, was.name.as_str(), "leave"));
                    }
                }
            }
        }
        for (sid, now) in &fresh {
            remote.insert(*sid);
            let was = old.get(sid);
            if let Some(was) = was
                && was.name != now.name
            {
                for room in presence.rename(sid, &now.name) {
                    announce.push(Announce {
                        room,
                        name: now.name.as_str().to_owned(),
                        action: "rename",
                        old: Some(was.name.as_str().to_owned()),
                    });
                }
            }
            if let Some(was) = was {
                for room in was.rooms.difference(&now.rooms) {
                    if presence.leave(room, sid) && !now.seed {
                        announce.push(Announce::new(room.clone(), now.name.as_str(), "leave"));
                    }
                }
            }
            for room in &now.rooms {
                if presence.join(room, *sid, now.name.clone()) && !now.seed {
                    announce.push(Announce::new(room.clone(), now.name.as_str(), "join"));
                }
            }
        }
        entry.members = fresh;
        entry.ver = Some(ver);
    }

    /// Removes every member of `node` (the node entry stays; the caller decides).
    fn drop_node(&mut self, node: &str, announce: &mut Vec<Announce>) {
        let Some(entry) = self.nodes.get_mut(node) else {
            return;
        };
        let members = std::mem::take(&mut entry.members);
        entry.ver = None;
        let mut presence = self.app.presence();
        let mut remote = self.cluster.remote();
        for (sid, member) in members {
            remote.remove(&sid);
            for room in presence.leave_all(&sid) {
                if !member.seed {
                    announce.push(Announce::new(room, member.name.as_str(), "leave"));
                }
            }
        }
    }

    /// Drops nodes silent for longer than [`NODE_TIMEOUT`].
    async fn expire(&mut self) {
        let silent: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.last_seen.elapsed() > NODE_TIMEOUT)
            .map(|(name, _)| name.clone())
            .collect();
        let mut announce = Vec::new();
        for node in silent {
            let count = self.nodes.get(&node).map_or(0, |n| n.members.len());
            tracing::warn!(%node, members = count, silent_for = ?NODE_TIMEOUT,
                "cluster: node stopped answering; its members left");
            self.drop_node(&node, &mut announce);
            self.nodes.remove(&node);
        }
        self.announce(announce).await;
    }

    /// Sends presence events to this node's v1 members (crowded rooms get a count later).
    async fn announce(&self, events: Vec<Announce>) {
        // `None` once the server is closing (`io.to` would panic then).
        let Some(ns) = self.io.of("/") else {
            return;
        };
        for event in events {
            if crowded(&self.app, &event.room) {
                continue;
            }
            let payload = Presence {
                room: event.room.as_str(),
                name: Some(&event.name),
                action: event.action,
                old: event.old.as_deref(),
                count: None,
            };
            to_members(
                ns.clone().to(event.room.as_str().to_owned()),
                out::PRESENCE,
                &payload,
            )
            .await;
        }
    }
}

impl Announce {
    fn new(room: RoomName, name: &str, action: &'static str) -> Self {
        Announce {
            room,
            name: name.to_owned(),
            action,
            old: None,
        }
    }
}
