//! The mention rule: when a message's text mentions a user. One definition, used by the store to
//! count a reader's unread mentions (`join`, `conversations`); the page copies the rule to
//! highlight mentions (the wire Message carries no mention field). Spelled out in
//! docs/PROTOCOL.md, "Mentions".
//!
//! A text mentions the user named N when it contains `@` followed by N, compared after Unicode
//! lowercasing both (`str::to_lowercase`, as JavaScript's `toLowerCase`), and the character
//! right after that is the end of the text, whitespace, or ASCII punctuation. So `@Ann Lee`
//! mentions "Ann Lee" (names may contain spaces) and also "Ann"; `@ann,` and `(@ANN)` mention
//! "Ann"; `@anna` does not.

/// Whether `text` mentions the user named `name` (see the module docs).
pub fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() || !text.contains('@') {
        return false;
    }
    let text = text.to_lowercase();
    let needle = format!("@{}", name.to_lowercase());
    let mut from = 0;
    while let Some(found) = text[from..].find(&needle) {
        let start = from + found;
        let end = start + needle.len();
        if text[end..].chars().next().is_none_or(ends_mention) {
            return true;
        }
        // Next candidate after this `@` (a name may itself contain `@`, so candidates can
        // overlap; `@` is one byte).
        from = start + 1;
    }
    false
}

/// What may follow a mentioned name.
fn ends_mention(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation()
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn plain_mentions_at_start_middle_end() {
        assert!(mentions("@ann hi", "ann"));
        assert!(mentions("hi @ann", "ann"));
        assert!(mentions("hi @ann how are you", "ann"));
        assert!(mentions("@ann", "ann"));
    }

    #[test]
    fn needs_the_at_sign() {
        assert!(!mentions("ann hi", "ann"));
        assert!(!mentions("hi ann", "ann"));
        assert!(!mentions("", "ann"));
        assert!(!mentions("@", "ann"));
        assert!(!mentions("@ann", ""));
    }

    #[test]
    fn case_insensitive_unicode() {
        assert!(mentions("hi @ANN", "ann"));
        assert!(mentions("hi @ann", "ANN"));
        assert!(mentions("hi @ÉLODIE!", "élodie"));
        assert!(mentions("привет @МАША", "Маша"));
        assert!(
            mentions("@ΟΔΥΣΣΕΥΣ", "Οδυσσευς"),
            "final sigma lowercases alike"
        );
        assert!(mentions("你好 @小明 你好", "小明"));
    }

    #[test]
    fn names_with_spaces() {
        assert!(mentions("hello @Ann Lee, welcome", "Ann Lee"));
        assert!(mentions("@ann lee", "Ann Lee"));
        assert!(!mentions("hello @Ann Leeds", "Ann Lee"));
        // The shorter name is mentioned too: what follows it is a space.
        assert!(mentions("hello @Ann Lee", "Ann"));
    }

    #[test]
    fn what_may_follow_the_name() {
        for ok in [
            "@ann,",
            "@ann.",
            "@ann!",
            "@ann?",
            "@ann:",
            "@ann;",
            "(@ann)",
            "@ann's",
            "@ann-",
            "@ann\tx",
            "@ann\nx",
            "@ann\u{3000}x",
            // `_` is ASCII punctuation too (what the rule says, and what a page's
            // `[!-/:-@[-`{-~]` class matches).
            "@ann_",
        ] {
            assert!(mentions(ok, "ann"), "{ok:?}");
        }
        for no in [
            "@anna",
            "@ann2",
            "@anné",
            "@ann小",
            "@ann🦀",
            "@ann\u{2019}s",
        ] {
            assert!(!mentions(no, "ann"), "{no:?}");
        }
    }

    #[test]
    fn a_later_occurrence_counts_when_an_earlier_one_does_not() {
        assert!(mentions("@anna and @ann", "ann"));
        assert!(mentions("@anna @ann!", "ann"));
        assert!(!mentions("@anna @annie", "ann"));
    }

    #[test]
    fn names_containing_at_signs_and_overlaps() {
        assert!(mentions("@@a x", "@a"));
        assert!(mentions("@a@a", "a@a"));
        assert!(mentions("@a@a@a!", "a@a"));
        assert!(!mentions("@a@ab", "a@a"));
    }
}
