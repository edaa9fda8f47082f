//! Fuzzes the operator's `--config` TOML file through `Config::from_toml`: the same parsing and
//! validation the server runs at start. Operator input too gets a clear error, never a panic.
//!
//! Invariants: no panic; an accepted configuration satisfies the documented ranges; a refusal
//! renders as one line (the binary prints it as `chatroom: …`).
#![no_main]

use chatroom::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text) {
        Ok(config) => {
            assert!((1024..=100_000_000).contains(&config.max_message_bytes));
            assert!((16..=1_000_000).contains(&config.send_queue));
            assert!(config.presence_crowd >= 1);
            assert_ne!(config.max_connections, Some(0));
        }
        Err(error) => {
            let line = error.to_string();
            assert!(!line.is_empty());
        }
    }
});
