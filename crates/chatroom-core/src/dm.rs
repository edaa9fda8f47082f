//! Direct-message rooms: every pair of users has exactly one, whose name both can compute and
//! nobody else can claim. A DM room is named `dm:` + the first 32 hex digits of
//! SHA-256(min(a, b) + ":" + max(a, b)) over the two user ids (byte order), so `dm {to}` is
//! idempotent without a lookup and the name says nothing about who talks. Names starting with
//! `dm:` are reserved: only the two participants (kept by the store) may join or read one, and
//! room lists never show them.

use crate::{RoomName, UserId};
use sha2::{Digest, Sha256};

/// What every DM room name starts with.
pub const DM_PREFIX: &str = "dm:";

/// Hex digits of the hash kept in a DM room name.
const HASH_HEX: usize = 32;

/// The DM room of users `a` and `b` (the same for both orders). `a == b` gives a room too; the
/// caller refuses a conversation with oneself.
pub fn dm_room(a: &UserId, b: &UserId) -> RoomName {
    use std::fmt::Write;
    let (low, high) = if a.as_str() <= b.as_str() {
        (a, b)
    } else {
        (b, a)
    };
    let mut hasher = Sha256::new();
    hasher.update(low.as_str().as_bytes());
    hasher.update(b":");
    hasher.update(high.as_str().as_bytes());
    let digest = hasher.finalize();
    let mut name = String::with_capacity(DM_PREFIX.len() + HASH_HEX);
    name.push_str(DM_PREFIX);
    for byte in &digest[..HASH_HEX / 2] {
        // Writing to a String cannot fail.
        let _ = write!(name, "{byte:02x}");
    }
    // 35 ASCII characters without whitespace: always a valid room name.
    RoomName::new(&name).unwrap_or_else(|_| unreachable!("a DM room name is a valid room name"))
}

/// Whether `room` is reserved for direct messages (starts with `dm:`), whether or not such a
/// conversation exists.
pub fn is_dm_room(room: &str) -> bool {
    room.starts_with(DM_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    #[test]
    fn same_room_for_both_orders_and_the_documented_hash() {
        let a = uid("0123456789abcdef0123456789abcdef");
        let b = uid("fedcba9876543210fedcba9876543210");
        let room = dm_room(&a, &b);
        assert_eq!(room, dm_room(&b, &a));
        assert_eq!(room.as_str().len(), 35);
        assert!(is_dm_room(room.as_str()));
        // sha256("0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"), computed
        // independently with `printf %s '…' | sha256sum`.
        assert_eq!(room.as_str(), EXPECTED);
    }

    const EXPECTED: &str = "dm:8fa13a5590781ad386f098b7db50a76c";

    #[test]
    fn different_pairs_differ() {
        let a = uid("a");
        let b = uid("b");
        let c = uid("c");
        assert_ne!(dm_room(&a, &b), dm_room(&a, &c));
        assert_ne!(dm_room(&a, &b), dm_room(&b, &c));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            dm_room(&uid("ab"), &uid("c")),
            dm_room(&uid("a"), &uid("bc"))
        );
    }

    #[test]
    fn reserved_prefix() {
        assert!(is_dm_room("dm:"));
        assert!(is_dm_room("dm:anything"));
        assert!(!is_dm_room("DM:x"));
        assert!(!is_dm_room("dm"));
        assert!(!is_dm_room("lobby"));
        assert!(!is_dm_room("adm:x"));
    }
}
