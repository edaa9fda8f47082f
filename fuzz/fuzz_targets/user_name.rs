//! Fuzzes `UserName::new`, the validator every v1 client's `auth {name}` and `rename` reach.
//! Invariants: an accepted name is the trimmed input, 1–32 code points, no control characters,
//! and round-trips (`UserName::new(n.as_str()) == Ok(n)`); a refusal is always `invalid_name`
//! and the input really broke a rule.
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
            let json = serde_json::to_string(&name).expect("a String serializes");
            assert_eq!(
                serde_json::from_str::<String>(&json).ok().as_deref(),
                Some(name.as_str())
            );
        }
        Err(e) => {
            assert_eq!(e, ChatError::InvalidName);
            assert!(breaks_rule, "refused a good name {raw:?}");
        }
    }
});
