//! Who is in which room. The transport keeps one [`Presence`] behind a lock and asks it what
//! changed; this module decides membership and emits nothing.

use crate::{RoomName, UserName};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Room membership, keyed by a connection id `K`.
#[derive(Debug)]
pub struct Presence<K> {
    rooms: BTreeMap<RoomName, HashMap<K, UserName>>,
}

impl<K> Default for Presence<K> {
    fn default() -> Self {
        Self {
            rooms: BTreeMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Presence<K> {
    /// Adds `who` to `room`; false if it was already there.
    pub fn join(&mut self, room: &RoomName, who: K, name: UserName) -> bool {
        self.rooms
            .entry(room.clone())
            .or_default()
            .insert(who, name)
            .is_none()
    }

    /// Removes `who` from `room`; false if it was not there. Empty rooms are forgotten.
    pub fn leave(&mut self, room: &RoomName, who: &K) -> bool {
        let Some(members) = self.rooms.get_mut(room) else {
            return false;
        };
        let was_there = members.remove(who).is_some();
        if members.is_empty() {
            self.rooms.remove(room);
        }
        was_there
    }

    /// Whether `who` is in `room`.
    pub fn is_member(&self, room: &RoomName, who: &K) -> bool {
        self.rooms.get(room).is_some_and(|m| m.contains_key(who))
    }

    /// Distinct member names of `room`, sorted.
    pub fn members(&self, room: &RoomName) -> Vec<String> {
        let mut names: Vec<String> = self
            .rooms
            .get(room)
            .map(|m| m.values().map(|n| n.as_str().to_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names.dedup();
        names
    }

    /// Every non-empty room with its number of connections, by name.
    pub fn rooms(&self) -> Vec<(String, usize)> {
        self.rooms
            .iter()
            .map(|(room, members)| (room.as_str().to_owned(), members.len()))
            .collect()
    }

    /// Rooms `who` is in, by name.
    pub fn rooms_of(&self, who: &K) -> Vec<RoomName> {
        self.rooms
            .iter()
            .filter(|(_, m)| m.contains_key(who))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Removes `who` from every room (disconnect) and returns the rooms it was in.
    pub fn leave_all(&mut self, who: &K) -> Vec<RoomName> {
        let rooms = self.rooms_of(who);
        for room in &rooms {
            self.leave(room, who);
        }
        rooms
    }

    /// Renames `who` everywhere and returns the rooms it is in.
    pub fn rename(&mut self, who: &K, name: &UserName) -> Vec<RoomName> {
        let mut rooms = Vec::new();
        for (room, members) in &mut self.rooms {
            if let Some(slot) = members.get_mut(who) {
                *slot = name.clone();
                rooms.push(room.clone());
            }
        }
        rooms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        RoomName::new(s).unwrap()
    }
    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    #[test]
    fn join_leave_and_members() {
        let mut p = Presence::default();
        assert!(p.join(&room("a"), 1, name("bob")));
        assert!(!p.join(&room("a"), 1, name("bob")));
        assert!(p.join(&room("a"), 2, name("alice")));
        assert!(p.join(&room("a"), 3, name("alice")));
        assert_eq!(p.members(&room("a")), ["alice", "bob"]);
        assert_eq!(p.rooms(), [("a".to_owned(), 3)]);
        assert!(p.leave(&room("a"), &1));
        assert!(!p.leave(&room("a"), &1));
        assert!(!p.is_member(&room("a"), &1));
        assert!(p.is_member(&room("a"), &2));
    }

    #[test]
    fn empty_rooms_disappear_and_leave_all_reports_rooms() {
        let mut p = Presence::default();
        p.join(&room("a"), 1, name("x"));
        p.join(&room("b"), 1, name("x"));
        p.join(&room("b"), 2, name("y"));
        assert_eq!(p.leave_all(&1), [room("a"), room("b")]);
        assert_eq!(p.rooms(), [("b".to_owned(), 1)]);
    }

    #[test]
    fn rename_changes_every_room() {
        let mut p = Presence::default();
        p.join(&room("a"), 1, name("x"));
        p.join(&room("b"), 1, name("x"));
        assert_eq!(p.rename(&1, &name("z")), [room("a"), room("b")]);
        assert_eq!(p.members(&room("b")), ["z"]);
    }
}
