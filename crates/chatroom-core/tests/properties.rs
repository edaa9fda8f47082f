//! Property tests of the domain rules (Hostile clients #7): for generated inputs rather than the
//! hand-picked tables in the unit tests, names and rooms are accepted exactly when the documented
//! rules hold, message limits sit exactly at 4000 code points, and any join/leave/leave_all
//! sequence keeps `Presence` consistent with a plain model of who is where.

use std::collections::{BTreeMap, BTreeSet};

use chatroom_core::name::MAX_NAME_CHARS;
use chatroom_core::room::MAX_ROOM_CHARS;
use chatroom_core::{ChatError, Limits, NewMessage, Presence, RoomName, UserName};
use proptest::prelude::*;

/// Text mixing ASCII, Unicode whitespace (incl. U+3000, U+2028, U+85), controls, CJK and emoji:
/// the characters the rules are about, in proportions that hit both sides of each rule.
fn tricky_text(max_len: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just(' '),
        1 => prop::sample::select(vec!['\t', '\n', '\u{3000}', '\u{a0}', '\u{2028}', '\u{85}']),
        1 => prop::sample::select(vec!['\0', '\u{1}', '\u{7f}', '\u{9f}']),
        1 => prop::sample::select(vec!['李', '😀', '🦀', 'é', '#', '-']),
        1 => any::<char>(),
    ];
    prop::collection::vec(ch, 0..max_len).prop_map(|v| v.into_iter().collect())
}

fn message(text: String) -> Result<NewMessage, ChatError> {
    NewMessage::new(
        RoomName::lobby(),
        UserName::guest(1),
        text,
        None,
        &Limits::default(),
        0,
    )
}

proptest! {
    /// The length and control-character rules decide exactly; beyond them the invisible and
    /// format-character rules (issue 7) may refuse only names with a character outside the
    /// plainly visible set (ASCII, letters like 李 and é, single emoji).
    #[test]
    fn name_accepted_iff_rules_hold(raw in tricky_text(40)) {
        let t = raw.trim();
        let n = t.chars().count();
        let ok = (1..=MAX_NAME_CHARS).contains(&n) && !t.chars().any(char::is_control);
        let plain = t
            .chars()
            .all(|c| c == ' ' || c.is_ascii_graphic() || ['李', '😀', '🦀', 'é'].contains(&c));
        match UserName::new(&raw) {
            Ok(name) => {
                prop_assert!(ok, "accepted {raw:?}");
                prop_assert_eq!(name.as_str(), t);
            }
            Err(e) => {
                prop_assert!(!ok || !plain, "refused {raw:?}");
                prop_assert_eq!(e, ChatError::InvalidName);
            }
        }
    }

    /// Names that differ only in case or width are one name; the key is idempotent.
    #[test]
    fn name_keys_fold_case_and_width(raw in "[a-zA-Z]{1,16}") {
        let name = UserName::new(&raw).unwrap();
        let upper = UserName::new(&raw.to_uppercase()).unwrap();
        let fullwidth: String = raw
            .chars()
            .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c))
            .collect();
        let wide = UserName::new(&fullwidth).unwrap();
        prop_assert_eq!(name.key(), upper.key());
        prop_assert_eq!(name.key(), wide.key());
        let again = UserName::new(name.key().as_str()).unwrap();
        prop_assert_eq!(again.key(), name.key());
    }

    #[test]
    fn name_trim_is_idempotent(raw in tricky_text(40)) {
        if let Ok(name) = UserName::new(&raw) {
            prop_assert_eq!(UserName::new(name.as_str()), Ok(name.clone()));
            prop_assert_eq!(name.as_str().trim(), name.as_str());
        }
        // Padding with whitespace changes nothing: refused stays refused, accepted stays equal.
        let padded = format!(" \u{3000}\t{raw}\n ");
        prop_assert_eq!(UserName::new(&padded), UserName::new(&raw));
    }

    #[test]
    fn room_accepted_iff_rules_hold(raw in tricky_text(70)) {
        let n = raw.chars().count();
        let ok = (1..=MAX_ROOM_CHARS).contains(&n)
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        match RoomName::new(&raw) {
            Ok(room) => {
                prop_assert!(ok, "accepted {raw:?}");
                prop_assert_eq!(room.as_str(), raw.as_str());
                prop_assert_eq!(RoomName::new(room.as_str()), Ok(room.clone()));
            }
            Err(e) => {
                prop_assert!(!ok, "refused {raw:?}");
                prop_assert_eq!(e, ChatError::InvalidRoom);
            }
        }
    }

    #[test]
    fn text_limit_is_exactly_4000_code_points(c in any::<char>().prop_filter(
        "non-blank, not NUL", |c| !c.is_whitespace() && *c != '\0'
    )) {
        let at = c.to_string().repeat(4000);
        prop_assert_eq!(message(at.clone()).map(|m| m.text), Ok(at));
        prop_assert_eq!(
            message(c.to_string().repeat(4001)).map(|m| m.text),
            Err(ChatError::TooLong { max_chars: 4000 })
        );
    }

    #[test]
    fn nul_is_always_refused(before in tricky_text(20), after in tricky_text(20)) {
        let text = format!("x{before}\0{after}");
        prop_assert_eq!(message(text.clone()).map(|m| m.text).map_err(|e| e.code()), Err("bad_request"));
        prop_assert_eq!(
            NewMessage::seed(UserName::guest(1), text, 0).map(|m| m.text).map_err(|e| e.code()),
            Err("bad_request")
        );
    }

    #[test]
    fn message_outcome_matches_rules(text in tricky_text(30)) {
        let want = if text.trim().is_empty() {
            Err("empty")
        } else if text.contains('\0') {
            Err("bad_request")
        } else {
            Ok(text.clone())
        };
        prop_assert_eq!(message(text).map(|m| m.text).map_err(|e| e.code()), want);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Join(u8, u8),
    Leave(u8, u8),
    LeaveAll(u8),
}

fn op() -> impl Strategy<Value = Op> {
    // Few clients and rooms, so operations collide often.
    prop_oneof![
        4 => (0..6u8, 0..4u8).prop_map(|(k, r)| Op::Join(k, r)),
        2 => (0..6u8, 0..4u8).prop_map(|(k, r)| Op::Leave(k, r)),
        1 => (0..6u8).prop_map(Op::LeaveAll),
    ]
}

fn room(r: u8) -> RoomName {
    RoomName::new(&format!("room{r}")).expect("valid room name")
}

proptest! {
    #[test]
    fn presence_matches_a_model(ops in prop::collection::vec(op(), 0..80)) {
        let mut p: Presence<u8> = Presence::default();
        // The model: room -> clients in it.
        let mut model: BTreeMap<RoomName, BTreeSet<u8>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Join(k, r) => {
                    let name = UserName::new(&format!("user{k}")).expect("valid name");
                    let added = model.entry(room(r)).or_default().insert(k);
                    prop_assert_eq!(p.join(&room(r), k, name), added);
                }
                Op::Leave(k, r) => {
                    let removed = model.get_mut(&room(r)).is_some_and(|s| s.remove(&k));
                    prop_assert_eq!(p.leave(&room(r), &k), removed);
                }
                Op::LeaveAll(k) => {
                    let was_in: Vec<RoomName> = model
                        .iter_mut()
                        .filter_map(|(r, s)| s.remove(&k).then(|| r.clone()))
                        .collect();
                    let mut got = p.leave_all(&k);
                    got.sort();
                    prop_assert_eq!(got, was_in);
                    prop_assert!(p.rooms_of(&k).is_empty());
                }
            }
            model.retain(|_, s| !s.is_empty());
            // Counts, membership and names agree with the model after every step.
            let want: Vec<(String, usize)> =
                model.iter().map(|(r, s)| (r.as_str().to_owned(), s.len())).collect();
            prop_assert_eq!(p.rooms(), want);
            for (r, s) in &model {
                let names: Vec<String> = s.iter().map(|k| format!("user{k}")).collect();
                prop_assert_eq!(p.members(r), names);
                for k in 0..6u8 {
                    prop_assert_eq!(p.is_member(r, &k), s.contains(&k));
                }
            }
        }
        // Everyone leaving empties every room.
        for k in 0..6u8 {
            p.leave_all(&k);
        }
        prop_assert!(p.rooms().is_empty());
    }
}
