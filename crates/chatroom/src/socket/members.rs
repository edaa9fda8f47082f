//! This node's room membership as live delivery needs it: room → (socket, session) for each
//! local socket in it. [`deliver`](crate::socket::deliver) reads it once per stored message
//! instead of asking socketioxide for the room's sockets (two locks, a `Vec` and an `Arc`
//! clone per socket) and then each socket's session through its extensions (a lock and a hash
//! lookup per socket). See docs/BENCHMARKS.md, "Where fan-out time goes".
//!
//! It cannot drift from socketioxide's own rooms, which presence and typing broadcasts still
//! use: the only ways in and out are [`Members::join`], [`Members::leave`] and
//! [`Members::leave_all`], each changing both under one lock (clippy's `disallowed-methods`
//! keeps socketioxide's `join`/`leave`/`leave_all` out of the rest of the code), and
//! [`Members::forget`], called by the disconnect handler just before socketioxide drops the
//! socket from its rooms. A socket that is no longer connected is never added, so a `join`
//! still queued when its connection closed cannot leave a dead member behind.

use crate::socket::session::SessionRef;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One socket in a room, with what delivery needs to know about it.
pub struct Member {
    /// The socket, to emit to.
    pub socket: SocketRef,
    /// Its session: the seed flag and the slow mark.
    pub session: SessionRef,
}

/// The index; see the module documentation.
#[derive(Default)]
pub struct Members(RwLock<Index>);

#[derive(Default)]
struct Index {
    /// Room name → its local members.
    rooms: HashMap<String, HashMap<Sid, Member>>,
    /// Socket → the rooms it is in, so a disconnect need not scan every room.
    of: HashMap<Sid, Vec<String>>,
}

impl Members {
    /// Puts `socket` in `room`, here and in socketioxide. A closed socket is left out.
    #[expect(clippy::disallowed_methods)] // The one place socketioxide's rooms are joined.
    pub fn join(&self, socket: &SocketRef, session: &SessionRef, room: &str) {
        let mut index = self.write();
        // Checked under the lock: socketioxide marks a socket disconnected before it calls the
        // disconnect handler, whose `forget` waits for this lock, so either this join sees the
        // socket closed or `forget` (and socketioxide's cleanup) come after it.
        if !socket.connected() {
            return;
        }
        socket.join(room.to_owned());
        let member = Member {
            socket: socket.clone(),
            session: session.clone(),
        };
        if index
            .rooms
            .entry(room.to_owned())
            .or_default()
            .insert(socket.id, member)
            .is_none()
        {
            index.of.entry(socket.id).or_default().push(room.to_owned());
        }
    }

    /// Takes `socket` out of `room`, here and in socketioxide.
    #[expect(clippy::disallowed_methods)] // The one place socketioxide's rooms are left.
    pub fn leave(&self, socket: &SocketRef, room: &str) {
        let mut index = self.write();
        socket.leave(room.to_owned());
        index.remove(socket.id, room);
        if let Some(rooms) = index.of.get_mut(&socket.id) {
            rooms.retain(|r| r != room);
            if rooms.is_empty() {
                index.of.remove(&socket.id);
            }
        }
    }

    /// Takes `socket` out of every room, here and in socketioxide.
    #[expect(clippy::disallowed_methods)] // The one place socketioxide's rooms are left.
    pub fn leave_all(&self, socket: &SocketRef) {
        let mut index = self.write();
        socket.leave_all();
        index.forget(socket.id);
    }

    /// Takes `sid` out of every room here, for the disconnect handler: socketioxide removes
    /// it from its own rooms right after.
    pub fn forget(&self, sid: Sid) {
        self.write().forget(sid);
    }

    /// Calls `each` for every local member of `room`, under a read lock: `each` must not
    /// join, leave or disconnect (that would wait for this lock).
    pub fn each(&self, room: &str, mut each: impl FnMut(&Member)) {
        let index = self.read();
        if let Some(members) = index.rooms.get(room) {
            members.values().for_each(&mut each);
        }
    }

    /// How many local members `room` has (for tests and checks).
    pub fn count(&self, room: &str) -> usize {
        self.read().rooms.get(room).map_or(0, HashMap::len)
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // Every change to the index is a few map operations; a panic in one leaves it usable.
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Index {
    fn remove(&mut self, sid: Sid, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&sid);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    fn forget(&mut self, sid: Sid) {
        for room in self.of.remove(&sid).unwrap_or_default() {
            self.remove(sid, &room);
        }
    }
}
