//! Fuzzes `RoomName::new`, the validator behind every `room` field a v1 client sends.
//! Invariants: an accepted room is the input unchanged, 1–64 code points, with no White_Space
//! or control characters, and round-trips; a refusal is always `invalid_room` and the input
//! really broke a rule.
#![no_main]

use chatroom_core::room::MAX_ROOM_CHARS;
use chatroom_core::{ChatError, RoomName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let chars = raw.chars().count();
    let breaks_rule = chars == 0
        || chars > MAX_ROOM_CHARS
        || raw.chars().any(|c| c.is_whitespace() || c.is_control());
    match RoomName::new(raw) {
        Ok(room) => {
            assert!(!breaks_rule, "accepted a bad room {raw:?}");
            assert_eq!(room.as_str(), raw);
            let n = room.as_str().chars().count();
            assert!((1..=MAX_ROOM_CHARS).contains(&n));
            assert_eq!(
                RoomName::new(room.as_str()),
                Ok(room.clone()),
                "no round trip"
            );
            assert_eq!(room.to_string(), raw);
        }
        Err(e) => {
            assert_eq!(e, ChatError::InvalidRoom);
            assert!(breaks_rule, "refused a good room {raw:?}");
        }
    }
});
