//! Fuzzes the handshake's `auth` rules (`protocol::parse_auth`): arbitrary bytes as the JSON a
//! client puts in its CONNECT packet.
//!
//! Invariants: unparseable JSON and non-objects are `bad_request`; a v1 claim's name is a valid
//! name equal to the trimmed `name` field; a token is kept exactly as sent; only the codes
//! `bad_request` and `invalid_name` are ever answered.
#![no_main]

use chatroom::protocol;
use chatroom_core::UserName;
use libfuzzer_sys::fuzz_target;
use protocol::{Claim, parse_auth};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let parsed: Result<Value, String> = serde_json::from_slice(data).map_err(|e| e.to_string());
    let outcome = parse_auth(Some(parsed.clone()));
    match (&parsed, &outcome) {
        (Err(_), result) => assert_eq!(result.as_ref().map_err(|e| e.code()), Err("bad_request")),
        (Ok(v), Err(e)) => {
            assert!(
                matches!(e.code(), "bad_request" | "invalid_name"),
                "{v}: {e:?}"
            );
            if !v.is_object() && !v.is_null() {
                assert_eq!(e.code(), "bad_request");
            }
        }
        (Ok(v), Ok(Claim::Seed)) => {
            assert!(
                v.is_null() || v.get("name").is_none_or(Value::is_null),
                "{v}"
            );
        }
        (Ok(v), Ok(Claim::Named(name, token))) => {
            let raw = v["name"]
                .as_str()
                .expect("a named claim came from a string name");
            assert_eq!(UserName::new(raw).as_ref(), Ok(name));
            assert_eq!(token.as_deref(), v.get("identity").and_then(Value::as_str));
        }
    }
});
