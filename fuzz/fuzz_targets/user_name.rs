//! Fuzzes `UserName::new`, the validator every v1 client's `auth {name}` and `rename` reach.
//! Invariants: an accepted name is the trimmed input, 1–32 code points, no control characters,
//! and round-trips (`UserName::new(n.as_str()) == Ok(n)`); its comparison key is idempotent (a
//! name spelled as its own key has the same key); a refusal is always `invalid_name`, and a
//! refused name within the length limits has a character outside printable ASCII (the
//! invisible, format and control characters are refused, plain names never are).
#![no_main]

use chatroom_core::name::MAX_NAME_CHARS;
use chatroom_core::{ChatError, UserName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    let breaks_rule = chars == 0 || chars > MAX_NAME_CHARS || trimmed.chars().any(char::is_control);
    match UserName::new(raw) {
        Ok(name) => {
            assert!(!breaks_rule, "accepted a bad name {raw:?}");
            assert_eq!(name.as_str(), trimmed);
            assert_eq!(name.as_str().trim(), name.as_str(), "not trimmed");
            assert_eq!(
                UserName::new(name.as_str()),
                Ok(name.clone()),
                "no round trip"
            );
            assert_eq!(name.to_string(), name.as_str());
            let key = name.key();
            if let Ok(spelled_as_key) = UserName::new(key.as_str()) {
                assert_eq!(spelled_as_key.key(), key, "key not idempotent for {raw:?}");
            }
            let json = serde_json::to_string(&name).expect("a String serializes");
            assert_eq!(
                serde_json::from_str::<String>(&json).ok().as_deref(),
                Some(name.as_str())
            );
        }
        Err(e) => {
            assert_eq!(e, ChatError::InvalidName);
            let plain = trimmed.chars().all(|c| c == ' ' || c.is_ascii_graphic());
            assert!(breaks_rule || !plain, "refused a plain name {raw:?}");
        }
    }
});
