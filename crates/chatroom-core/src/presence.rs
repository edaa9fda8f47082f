//! Who is in which room. The transport keeps one [`Presence`] behind a lock and asks it what
//! changed; this module decides membership and emits nothing.

use crate::{RoomName, UserName};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

/// Room membership, keyed by a connection id `K`. Indexed both ways, so a connection's rooms
/// (disconnect, rename, the per-connection room limit) cost its own rooms, not every room.
#[derive(Debug)]
pub struct Presence<K> {
    rooms: BTreeMap<RoomName, HashMap<K, UserName>>,
    by_member: HashMap<K, BTreeSet<RoomName>>,
}

impl<K> Default for Presence<K> {
    fn default() -> Self {
        Self {
            rooms: BTreeMap::new(),
            by_member: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Presence<K> {
    /// Adds `who` to `room`; false if it was already there.
    pub fn join(&mut self, room: &RoomName, who: K, name: UserName) -> bool {
        let newly = self
            .rooms
            .entry(room.clone())
            .or_default()
            .insert(who.clone(), name)
            .is_none();
        if newly {
            self.by_member.entry(who).or_default().insert(room.clone());
        }
        newly
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
        if was_there && let Some(joined) = self.by_member.get_mut(who) {
            joined.remove(room);
            if joined.is_empty() {
                self.by_member.remove(who);
            }
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

    /// Connections in `room`.
    pub fn count(&self, room: &RoomName) -> usize {
        self.rooms.get(room).map_or(0, HashMap::len)
    }

    /// Every non-empty room with its number of connections, by name (direct-message rooms
    /// included: this is the operator's count, not a client's list).
    pub fn rooms(&self) -> Vec<(String, usize)> {
        self.rooms
            .iter()
            .map(|(room, members)| (room.as_str().to_owned(), members.len()))
            .collect()
    }

    /// At most `limit` non-empty rooms named after `after` (all from the first without it),
    /// by name, with their connection counts; true if more follow. Direct-message rooms
    /// (`dm:`) are never listed.
    pub fn rooms_after(&self, after: Option<&str>, limit: usize) -> (Vec<(String, usize)>, bool) {
        let mut page: Vec<(String, usize)> = self
            .rooms
            .iter()
            .filter(|(room, _)| after.is_none_or(|after| room.as_str() > after))
            // Direct-message rooms are private: listed to their participants by the store
            // (`conversations`), never here.
            .filter(|(room, _)| !crate::dm::is_dm_room(room.as_str()))
            .take(limit.saturating_add(1))
            .map(|(room, members)| (room.as_str().to_owned(), members.len()))
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Rooms `who` is in, by name.
    pub fn rooms_of(&self, who: &K) -> Vec<RoomName> {
        self.by_member
            .get(who)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The name `who` has in its rooms, if it is in any.
    pub fn name_of(&self, who: &K) -> Option<UserName> {
        let room = self.by_member.get(who)?.first()?;
        self.rooms.get(room)?.get(who).cloned()
    }

    /// Number of rooms `who` is in.
    pub fn room_count_of(&self, who: &K) -> usize {
        self.by_member.get(who).map_or(0, BTreeSet::len)
    }

    /// Every connection that is in some room.
    pub fn connections(&self) -> Vec<K> {
        self.by_member.keys().cloned().collect()
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
        let rooms = self.rooms_of(who);
        for room in &rooms {
            if let Some(slot) = self.rooms.get_mut(room).and_then(|m| m.get_mut(who)) {
                *slot = name.clone();
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
        assert_eq!(p.room_count_of(&1), 2);
        assert_eq!(p.leave_all(&1), [room("a"), room("b")]);
        assert_eq!(p.rooms(), [("b".to_owned(), 1)]);
        assert_eq!(p.room_count_of(&1), 0);
        assert_eq!(p.connections(), [2]);
    }

    #[test]
    fn rooms_page_by_name() {
        let mut p = Presence::default();
        for r in ["a", "b", "c"] {
            p.join(&room(r), 1, name("x"));
        }
        assert_eq!(p.rooms_after(None, 2).0.len(), 2);
        assert!(p.rooms_after(None, 2).1);
        let (rest, more) = p.rooms_after(Some("b"), 2);
        assert_eq!(rest, [("c".to_owned(), 1)]);
        assert!(!more);
    }

    #[test]
    fn rooms_page_never_lists_dm_rooms() {
        let mut p = Presence::default();
        for r in ["a", "dm:0123", "dm:ffff", "e"] {
            p.join(&room(r), 1, name("x"));
        }
        let (page, more) = p.rooms_after(None, 2);
        assert_eq!(page, [("a".to_owned(), 1), ("e".to_owned(), 1)]);
        assert!(!more, "the hidden rooms do not make a next page");
        let (page, _) = p.rooms_after(Some("a"), 1);
        assert_eq!(page, [("e".to_owned(), 1)]);
        assert_eq!(p.rooms().len(), 4, "the operator's count still has them");
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
