//! Display names. A [`UserName`] can only be built through validation, so holding one means it is
//! 1–32 code points after trimming Unicode whitespace, with nothing invisible or unassigned in it
//! that could make two names look alike (or one name look empty) while comparing different.
//!
//! Two names that differ only by case or by compatibility form ("Alice", "ALICE", fullwidth
//! "Ａｌｉｃｅ") are the same name for uniqueness: [`UserName::key`] gives the [`NameKey`] they
//! share. The name itself is kept as typed, for display.

use crate::ChatError;
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};

/// Longest display name, in Unicode code points.
pub const MAX_NAME_CHARS: usize = 32;

const ZWJ: char = '\u{200D}';
/// The black flag, base of the subdivision flags (🏴 + tag letters + cancel tag).
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

/// A validated, trimmed display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UserName(String);

/// The comparison key of a [`UserName`]: NFKC, then full Unicode case folding, then NFKC again
/// (the order of Unicode's NFKC_Casefold, without the removal of default-ignorables, which
/// [`UserName::new`] already refuses). Names with equal keys are the same name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey(String);

impl NameKey {
    /// The key as text (folded and normalized; not meant for display).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl UserName {
    /// Trims `raw` and checks it; `Err(InvalidName)` if it breaks a rule: 1–32 code points, and
    /// no control, format (except a ZWJ inside an emoji sequence), private-use, unassigned,
    /// line/paragraph separator or invisible filler characters; variation selectors only right
    /// after a visible character.
    pub fn new(raw: &str) -> Result<Self, ChatError> {
        let trimmed = raw.trim();
        let chars: Vec<char> = trimmed.chars().take(MAX_NAME_CHARS + 1).collect();
        if chars.is_empty() || chars.len() > MAX_NAME_CHARS {
            return Err(ChatError::InvalidName);
        }
        if !(0..chars.len()).all(|i| allowed_at(&chars, i)) {
            return Err(ChatError::InvalidName);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A generated name for seed-protocol clients, which send none: `guest-` and 4 hex digits
    /// (ASCII only, so no guest name can be confused with another).
    pub fn guest(seed: u16) -> Self {
        Self(format!("guest-{seed:04x}"))
    }

    /// The name as text, as the user typed it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which this name is unique (see [`NameKey`]).
    pub fn key(&self) -> NameKey {
        let nfkc: String = self.0.nfkc().collect();
        let folded = caseless::default_case_fold_str(&nfkc);
        let key: String = folded.nfkc().collect();
        // Compatibility forms can decompose to a space (U+00A8 ¨ → space + U+0308), which a
        // name spelled that way has trimmed off: trim here too, or the two look alike and
        // compare different (found by the user_name fuzz target).
        NameKey(key.trim().to_owned())
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `chars[i]` may stand where it is.
fn allowed_at(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    if c == ZWJ {
        return joins_emoji(chars, i);
    }
    if is_variation_selector(c) {
        return i > 0 && is_base(chars[i - 1]);
    }
    if is_tag(c) {
        return in_tag_sequence(chars, i);
    }
    !refused(c)
}

/// Characters refused anywhere: invisible, unassigned or reserved for private agreements.
fn refused(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || is_invisible_filler(c)
}

/// Default-ignorable or blank characters that are letters, marks or symbols by category (so the
/// category check misses them) but render as nothing: Hangul fillers, the combining grapheme
/// joiner, Khmer inherent vowels, the braille blank.
fn is_invisible_filler(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FFA0}'
    )
}

/// Variation selectors (standard, ideographic and Mongolian free variation selectors).
fn is_variation_selector(c: char) -> bool {
    matches!(
        c,
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}'
    )
}

/// A character a variation selector may follow: something visible, not itself a joiner,
/// selector, tag or space.
fn is_base(c: char) -> bool {
    c != ZWJ && !is_variation_selector(c) && !is_tag(c) && !c.is_whitespace() && !refused(c)
}

/// An emoji for the purpose of ZWJ sequences: approximates Extended_Pictographic with
/// Emoji=Yes minus the ASCII keycap bases (digits, `#`, `*`), regional indicators and skin-tone
/// modifiers (the tables at hand have no Extended_Pictographic).
fn is_pictographic(c: char) -> bool {
    c.is_emoji_char()
        && !c.is_ascii()
        && !unicode_properties::emoji::is_regional_indicator(c)
        && !is_skin_tone(c)
}

fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

/// A ZWJ at `i` is allowed only between two emoji, as in 👩‍💻; the emoji before it may carry a
/// skin tone or a presentation selector (👩🏽‍💻, 🏳️‍🌈).
fn joins_emoji(chars: &[char], i: usize) -> bool {
    let before = chars[..i]
        .iter()
        .rev()
        .find(|&&c| !is_skin_tone(c) && c != '\u{FE0F}' && c != '\u{FE0E}');
    let after = chars.get(i + 1);
    matches!(before, Some(&c) if is_pictographic(c))
        && matches!(after, Some(&c) if is_pictographic(c))
}

fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0020}'..='\u{E007F}')
}

/// Tag characters are allowed only as a subdivision flag: 🏴, then lowercase ASCII letters or
/// digits as tags, then the cancel tag (🏴󠁧󠁢󠁳󠁣󠁴󠁿). Anywhere else they are invisible text.
fn in_tag_sequence(chars: &[char], i: usize) -> bool {
    let mut start = i;
    while start > 0 && is_tag(chars[start - 1]) {
        start -= 1;
    }
    let mut end = i;
    while end + 1 < chars.len() && is_tag(chars[end + 1]) {
        end += 1;
    }
    let run = &chars[start..=end];
    let Some((&last, spec)) = run.split_last() else {
        return false;
    };
    start > 0
        && chars[start - 1] == BLACK_FLAG
        && last == CANCEL_TAG
        && !spec.is_empty()
        && spec
            .iter()
            .all(|&t| matches!(t, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn r7_fuzz_spacing_diacritics_compare_like_their_combining_forms() {
        let spacing = UserName::new("\u{a8}+?").unwrap();
        let combining = UserName::new("\u{308}+?").unwrap();
        assert_eq!(spacing.key(), combining.key());
        let spelled_as_key = UserName::new(spacing.key().as_str()).unwrap();
        assert_eq!(spelled_as_key.key(), spacing.key());
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_trims() {
        assert_eq!(UserName::new("  alice \n").unwrap().as_str(), "alice");
        assert_eq!(UserName::new("李雷").unwrap().as_str(), "李雷");
        let emoji32 = "😀".repeat(32);
        assert_eq!(UserName::new(&emoji32).unwrap().as_str(), emoji32);
        assert_eq!(UserName::new("a b").unwrap().as_str(), "a b");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "   ",
            "\u{3000}\u{a0}",
            "a\u{0}b",
            "tab\there",
            "x\u{7f}",
        ] {
            assert_eq!(UserName::new(bad), Err(ChatError::InvalidName), "{bad:?}");
        }
        assert_eq!(UserName::new(&"😀".repeat(33)), Err(ChatError::InvalidName));
        assert_eq!(UserName::new(&"a".repeat(33)), Err(ChatError::InvalidName));
    }

    #[test]
    fn accepts_letters_of_any_script_and_emoji_sequences() {
        for good in [
            "Zoë",
            "Ñandú",
            "Иван",
            "Ελένη",
            "محمد",
            "שרה",
            "राम",
            "กานต์",
            "김민준",
            "さくら",
            "Nguyễn",
            "e\u{301}", // e + combining acute
            "👩\u{200D}💻",
            "👩🏽\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈",
            "❤\u{FE0F}\u{200D}🔥",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "🧑\u{200D}🦰",
            "1\u{FE0F}\u{20E3}",
            "☺\u{FE0E}",
            "🇫🇷",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
            "葛\u{E0100}",
        ] {
            assert!(UserName::new(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn refuses_invisible_and_unassigned_characters() {
        let bad_chars = [
            '\u{200B}',
            '\u{200C}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{E000}',
            '\u{F8FF}',
            '\u{F0000}',
            '\u{10FFFD}',
            '\u{0378}',
            '\u{FFFF}',
            '\u{E0001}',
            '\u{2028}',
            '\u{2029}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{2800}',
            '\u{034F}',
            '\u{17B4}',
            '\u{1D173}',
        ];
        for c in bad_chars {
            let mut names = vec![format!("a{c}b")];
            // Line and paragraph separators are White_Space: trimmed at the edges.
            if !c.is_whitespace() {
                names.extend([format!("{c}a"), format!("a{c}"), c.to_string()]);
            }
            for name in names {
                assert_eq!(
                    UserName::new(&name),
                    Err(ChatError::InvalidName),
                    "U+{:04X} in {name:?}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn zwj_only_between_emoji() {
        for bad in [
            "a\u{200D}b",
            "\u{200D}😀",
            "😀\u{200D}",
            "😀\u{200D}a",
            "a\u{200D}😀",
            "😀\u{200D}\u{200D}😀",
            "1\u{200D}2",
            "🇫\u{200D}🇷",
        ] {
            assert_eq!(UserName::new(bad), Err(ChatError::InvalidName), "{bad:?}");
        }
    }

    #[test]
    fn variation_selectors_only_after_a_character() {
        for bad in [
            "\u{FE0F}",
            "\u{FE0F}a",
            "a\u{FE0F}\u{FE0F}",
            "a \u{FE0F}",
            "😀\u{200D}\u{FE0F}😀",
            "\u{E0100}葛",
        ] {
            assert_eq!(UserName::new(bad), Err(ChatError::InvalidName), "{bad:?}");
        }
    }

    #[test]
    fn tags_only_in_subdivision_flags() {
        for bad in [
            "a\u{E0067}\u{E007F}",
            "🏴\u{E007F}",
            "🏴\u{E0067}\u{E0062}",
            "🏴\u{E0047}\u{E007F}",
            "\u{E0067}\u{E007F}",
        ] {
            assert_eq!(UserName::new(bad), Err(ChatError::InvalidName), "{bad:?}");
        }
    }

    #[test]
    fn guest_names_have_four_hex_digits() {
        assert_eq!(UserName::guest(0x0a1f).as_str(), "guest-0a1f");
        assert_eq!(UserName::guest(0xffff).as_str(), "guest-ffff");
        assert!(UserName::new(UserName::guest(1).as_str()).is_ok());
    }

    fn key(s: &str) -> NameKey {
        UserName::new(s).unwrap().key()
    }

    #[test]
    fn case_and_width_share_a_key() {
        assert_eq!(key("Alice"), key("ALICE"));
        assert_eq!(key("Alice"), key("ａｌｉｃｅ"));
        assert_eq!(key("Alice"), key("Ａｌｉｃｅ"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("Ǆ"), key("dž"));
        assert_eq!(key("ΣΑΣ"), key("σας"));
        assert_eq!(key("e\u{301}"), key("É"));
        assert_eq!(key("ﬁ"), key("FI"));
        assert_ne!(key("alice"), key("alicia"));
        assert_eq!(key("Alice").as_str(), "alice");
    }

    #[test]
    fn guest_keys_are_their_names() {
        let guest = UserName::guest(0xbeef);
        assert_eq!(guest.key().as_str(), guest.as_str());
    }

    proptest! {
        #[test]
        fn new_never_panics(s in "\\PC{0,40}|.{0,40}") {
            let _ = UserName::new(&s);
        }

        #[test]
        fn key_is_idempotent(s in "\\PC{1,32}") {
            if let Ok(name) = UserName::new(&s) {
                let k = name.key();
                if let Ok(again) = UserName::new(k.as_str()) {
                    prop_assert_eq!(again.key(), k);
                }
            }
        }

        #[test]
        fn accepted_names_are_trimmed_and_bounded(s in any::<String>()) {
            if let Ok(name) = UserName::new(&s) {
                let n = name.as_str().chars().count();
                prop_assert!((1..=MAX_NAME_CHARS).contains(&n));
                prop_assert_eq!(name.as_str().trim(), name.as_str());
            }
        }
    }
}
