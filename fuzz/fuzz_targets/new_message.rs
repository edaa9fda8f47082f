//! Fuzzes the message rules a `send` and a seed `chat message` reach: `NewMessage::new`,
//! `NewMessage::seed`, `Cid::new`, and the stored form's JSON. The first two input bytes pick a
//! text limit (so short limits are exercised too), the rest splits at the first 0xFF byte into
//! text and cid. Invariants: accepted exactly when the documented rules hold, the error code is
//! the documented one, the text is stored byte for byte, the stored JSON round-trips.
#![no_main]

use chatroom_core::message::MAX_CID_CHARS;
use chatroom_core::{Cid, Limits, Message, NewMessage, RoomName, UserName};
use libfuzzer_sys::fuzz_target;

fn expected(text: &str, max: Option<usize>) -> Result<(), &'static str> {
    if text.trim().is_empty() {
        Err("empty")
    } else if text.contains('\0') {
        Err("bad_request")
    } else if max.is_some_and(|m| text.chars().count() > m) {
        Err("too_long")
    } else {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max_text_chars = usize::from(u16::from_le_bytes([data[0], data[1]])) % 4097;
    let rest = &data[2..];
    let (text_bytes, cid_bytes) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let Ok(text) = std::str::from_utf8(text_bytes) else {
        return;
    };
    let cid = match cid_bytes.map(std::str::from_utf8) {
        Some(Ok(raw)) => {
            let n = raw.chars().count();
            match Cid::new(raw) {
                Ok(c) => {
                    assert!((1..=MAX_CID_CHARS).contains(&n));
                    assert_eq!(c.as_str(), raw);
                    Some(c)
                }
                Err(e) => {
                    assert_eq!(e.code(), "bad_request");
                    assert!(n == 0 || n > MAX_CID_CHARS, "refused cid {raw:?}");
                    None
                }
            }
        }
        Some(Err(_)) | None => None,
    };
    let limits = Limits { max_text_chars };
    let name = UserName::guest(7);
    let v1 = NewMessage::new(
        RoomName::lobby(),
        name.clone(),
        text.to_owned(),
        cid.clone(),
        &limits,
        42,
    );
    match (&v1, expected(text, Some(max_text_chars))) {
        (Ok(m), Ok(())) => {
            assert_eq!(m.text, text);
            assert_eq!(m.cid, cid);
            assert!(!m.from_seed);
            let stored = Message::stored(9, 1, m);
            let json = serde_json::to_string(&stored).expect("a Message serializes");
            let back: Message = serde_json::from_str(&json).expect("its own JSON parses");
            assert_eq!(
                back, stored,
                "stored message does not round-trip through JSON"
            );
        }
        (Err(e), Err(code)) => {
            assert_eq!(e.code(), code, "{text:?}");
            if code == "too_long" {
                assert_eq!(e.retry_ms(), None);
            }
        }
        (got, want) => panic!("v1 {text:?} (limit {max_text_chars}): got {got:?}, want {want:?}"),
    }
    match (
        NewMessage::seed(name, text.to_owned(), 1),
        expected(text, None),
    ) {
        (Ok(m), Ok(())) => {
            assert_eq!(m.text, text);
            assert_eq!(m.room, RoomName::lobby());
            assert!(m.from_seed && m.cid.is_none());
        }
        (Err(e), Err(code)) => assert_eq!(e.code(), code),
        (got, want) => panic!("seed {text:?}: got {got:?}, want {want:?}"),
    }
});
