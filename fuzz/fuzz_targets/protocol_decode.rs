//! Fuzzes the server's request decoding: arbitrary bytes are parsed as JSON (as socketioxide
//! hands a handler a `serde_json::Value`), then decoded with `protocol::decode` into every
//! inbound request type, and the decoded fields are fed to the core validators a handler calls.
//!
//! Invariants: a non-object is always refused; every refusal is `bad_request` and serializes as
//! a `{ok:false,error:{code,message}}` answer; an accepted request carries exactly the fields
//! that were in the JSON.
#![no_main]

use chatroom::protocol;
use chatroom_core::{ChatError, RoomName, UserName};
use libfuzzer_sys::fuzz_target;
use protocol::{Ack, Done, HistoryReq, JoinReq, RenameReq, RoomReq, SendReq, TypingReq, decode};
use serde_json::Value;

fn refused(value: &Value, e: &ChatError) {
    assert_eq!(e.code(), "bad_request", "{value}: {e:?}");
    let ack: Ack<Done> = Err(e.clone()).into();
    let json = serde_json::to_value(ack).expect("an ack serializes");
    assert_eq!(json["ok"], Value::Bool(false));
    assert_eq!(json["error"]["code"], "bad_request");
    assert!(json["error"]["message"].is_string());
}

/// Decodes `value` as `T`; checks the refusal, or hands the request to `accepted`.
fn check<T: serde::de::DeserializeOwned>(value: &Value, accepted: impl FnOnce(T)) {
    match decode::<T>(value.clone()) {
        Ok(req) => {
            assert!(value.is_object(), "accepted a non-object {value}");
            accepted(req);
        }
        Err(e) => refused(value, &e),
    }
}

fn field_str<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .expect("an accepted string field is a string")
}

fn opt_i64(value: &Value, key: &str) -> Option<i64> {
    match &value[key] {
        Value::Null => None,
        v => Some(v.as_i64().expect("an accepted id is an i64")),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check::<JoinReq>(&value, |r| {
        assert_eq!(r.room, field_str(&value, "room"));
        assert_eq!(r.since, opt_i64(&value, "since"));
        let _ = RoomName::new(&r.room);
    });
    check::<RoomReq>(&value, |r| {
        assert_eq!(r.room, field_str(&value, "room"));
        let _ = RoomName::new(&r.room);
    });
    check::<SendReq>(&value, |r| {
        assert_eq!(r.room, field_str(&value, "room"));
        assert_eq!(r.text, field_str(&value, "text"));
        assert_eq!(r.cid.as_deref(), value["cid"].as_str());
        if let Some(cid) = &r.cid {
            let _ = chatroom_core::Cid::new(cid);
        }
    });
    check::<HistoryReq>(&value, |r| {
        assert_eq!(r.room, field_str(&value, "room"));
        assert_eq!(r.before, opt_i64(&value, "before"));
        assert_eq!(r.limit, opt_i64(&value, "limit"));
    });
    check::<TypingReq>(&value, |r| {
        assert_eq!(r.room, field_str(&value, "room"));
        assert_eq!(Some(r.typing), value["typing"].as_bool());
    });
    check::<RenameReq>(&value, |r| {
        assert_eq!(&r.name, value.get("name").unwrap_or(&Value::Null));
        if let Some(s) = r.name.as_str() {
            let _ = UserName::new(s);
        }
    });
});
