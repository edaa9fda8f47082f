//! Search tokenisation and query rules (issue 11). One function, [`tokens`], turns a message's
//! text into the terms the stores index and a query into the terms they look up, so SQLite
//! (FTS5), PostgreSQL (tsvector) and the memory backend agree on what matches by construction:
//! neither database re-splits the terms (see chatroom-store's `search` module).
//!
//! The rule: NFKC, lowercase, then split on anything that is not a letter, digit or combining
//! mark. A run of CJK characters (Han, Hiragana, Katakana, Hangul) becomes its overlapping
//! bigrams — `技术讨论区` → `技术 术讨 讨论 论区` — or the character itself for a run of one:
//! Chinese and Japanese do not separate words with spaces, and bigrams find any word of two or
//! more characters inside a run without a dictionary (a query's own bigrams must all be
//! present). Every other run is one term (at most [`MAX_TERM_CHARS`] characters: a longer one is
//! cut, on both sides alike, so it still matches and never exceeds an index's term limit).
//!
//! Why script extensions (`unicode-script`) rather than code point ranges: the CJK blocks are
//! many and still growing (Han extensions A–I, compatibility ideographs, halfwidth Katakana,
//! Hangul Jamo), and characters such as `ー` (the Katakana long vowel mark) and `々` have script
//! Common but script extensions {Hiragana, Katakana} and {Han}; with plain ranges or the plain
//! script property `コーヒー` would fall apart into single characters.

use crate::ChatError;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_script::{Script, ScriptExtension, UnicodeScript};

/// Longest query, in code points (before tokenisation).
pub const MAX_QUERY_CHARS: usize = 200;
/// Longest term; a longer run of letters or digits is cut to this many code points.
pub const MAX_TERM_CHARS: usize = 64;
/// Results per `search` page when the client gives no limit.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;
/// Largest `search` page.
pub const MAX_SEARCH_LIMIT: u32 = 50;

/// What a character is to the tokeniser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Separates terms.
    Gap,
    /// Part of a CJK run (bigrams).
    Cjk,
    /// Part of any other term.
    Word,
}

fn class(c: char) -> Class {
    let mark = c.general_category_group() == GeneralCategoryGroup::Mark;
    if !c.is_alphanumeric() && !mark {
        return Class::Gap;
    }
    let ext: ScriptExtension = c.script_extension();
    // Common and Inherited "contain" every script; digits and Latin marks are not CJK.
    let cjk = !ext.is_common()
        && !ext.is_inherited()
        && [
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
            Script::Hangul,
        ]
        .into_iter()
        .any(|s| ext.contains_script(s));
    if cjk { Class::Cjk } else { Class::Word }
}

/// The terms of `text`, in order (repeats kept): what is indexed for a message and looked up
/// for a query. See the module docs for the rule.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut run_class = Class::Gap;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        let class = class(c);
        if class != run_class {
            flush(&mut out, &run, run_class);
            run.clear();
            run_class = class;
        }
        if class != Class::Gap {
            run.push(c);
        }
    }
    flush(&mut out, &run, run_class);
    out
}

fn flush(out: &mut Vec<String>, run: &[char], class: Class) {
    match class {
        Class::Gap => {}
        _ if run.is_empty() => {}
        Class::Word => out.push(run.iter().take(MAX_TERM_CHARS).collect()),
        Class::Cjk if run.len() == 1 => out.push(run[0].to_string()),
        Class::Cjk => out.extend(run.windows(2).map(|pair| pair.iter().collect())),
    }
}

/// The terms of `text` joined by single spaces: the text an index stores for a message (FTS5
/// splits it again on the spaces only; PostgreSQL gets the terms as an array).
pub fn index_text(text: &str) -> String {
    tokens(text).join(" ")
}

/// A checked search query: its distinct terms, every one of which a message must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<String>,
}

impl SearchQuery {
    /// Checks `raw`: `empty` if it is blank or has no letters or digits to look for (only
    /// punctuation or emoji: nothing is indexed for those, so it could match nothing), and
    /// `too_long` over [`MAX_QUERY_CHARS`] code points.
    pub fn parse(raw: &str) -> Result<Self, ChatError> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(ChatError::TooLong {
                max_chars: MAX_QUERY_CHARS,
            });
        }
        let mut terms = tokens(raw);
        // Sorted and distinct: a repeated term adds nothing to an AND, and a stable order
        // gives the databases the same statement text for the same query.
        terms.sort_unstable();
        terms.dedup();
        if terms.is_empty() {
            return Err(ChatError::Empty);
        }
        Ok(Self { terms })
    }

    /// The distinct terms, sorted.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether a message with `text` matches: it contains every term (the memory store's scan;
    /// the SQL stores answer the same question from their indexes).
    pub fn matches(&self, text: &str) -> bool {
        let have = tokens(text);
        self.terms.iter().all(|t| have.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Vec<String> {
        tokens(text)
    }

    #[test]
    fn latin_is_lowercased_and_split_on_anything_but_letters_and_digits() {
        assert_eq!(
            t("Hello, WORLD! it's 2026-12-03 foo_bar"),
            [
                "hello", "world", "it", "s", "2026", "12", "03", "foo", "bar"
            ]
        );
        assert_eq!(t("Ünïcödé Straße"), ["ünïcödé", "straße"]);
        assert!(t("   ...!?  ").is_empty());
    }

    #[test]
    fn nfkc_folds_width_and_compatibility_forms() {
        assert_eq!(t("ＡＢＣ１２３"), ["abc123"]);
        assert_eq!(t("ﬁle"), ["file"]);
    }

    #[test]
    fn cjk_runs_become_overlapping_bigrams() {
        assert_eq!(t("技术讨论区"), ["技术", "术讨", "讨论", "论区"]);
        assert_eq!(t("技"), ["技"]);
        assert_eq!(t("技，术"), ["技", "术"]);
        // Katakana with the long vowel mark (script Common, extension Hira+Kana) stays one run.
        assert_eq!(t("コーヒー"), ["コー", "ーヒ", "ヒー"]);
        assert_eq!(t("한국어"), ["한국", "국어"]);
    }

    #[test]
    fn chinese_word_is_found_inside_a_longer_run() {
        let q = SearchQuery::parse("技术").unwrap();
        assert_eq!(q.terms(), ["技术"]);
        assert!(q.matches("欢迎来到技术讨论区"));
        assert!(!q.matches("技 术"));
        let q = SearchQuery::parse("讨论区").unwrap();
        assert!(q.matches("技术讨论区"));
        assert!(!q.matches("讨论"));
    }

    #[test]
    fn mixed_cjk_and_latin_split_at_the_script_change() {
        assert_eq!(
            t("Rust语言很好用v2版本"),
            ["rust", "语言", "言很", "很好", "好用", "v2", "版本"]
        );
        let q = SearchQuery::parse("RUST 好用").unwrap();
        assert!(q.matches("Rust语言很好用v2版本"));
        assert!(!q.matches("Rust语言很好"));
    }

    #[test]
    fn emoji_separate_terms_and_are_not_terms() {
        assert_eq!(t("deploy🚀done🎉"), ["deploy", "done"]);
        assert_eq!(t("👍🏽 ok"), ["ok"]);
        assert_eq!(SearchQuery::parse("🎉🎉"), Err(ChatError::Empty));
    }

    #[test]
    fn long_terms_are_cut_alike_on_both_sides() {
        let long = "a".repeat(100);
        assert_eq!(t(&long), ["a".repeat(MAX_TERM_CHARS)]);
        assert!(SearchQuery::parse(&long).unwrap().matches(&"a".repeat(70)));
    }

    #[test]
    fn query_rules() {
        assert_eq!(SearchQuery::parse(""), Err(ChatError::Empty));
        assert_eq!(SearchQuery::parse(" \t\n"), Err(ChatError::Empty));
        assert_eq!(SearchQuery::parse("?!"), Err(ChatError::Empty));
        let max = "x".repeat(MAX_QUERY_CHARS);
        assert!(SearchQuery::parse(&max).is_ok());
        assert_eq!(
            SearchQuery::parse(&format!("{max}y")),
            Err(ChatError::TooLong {
                max_chars: MAX_QUERY_CHARS
            })
        );
        // Counted in code points, not bytes.
        assert!(SearchQuery::parse(&"技".repeat(MAX_QUERY_CHARS)).is_ok());
        let q = SearchQuery::parse("b a B").unwrap();
        assert_eq!(q.terms(), ["a", "b"]);
        assert!(q.matches("A then b"));
        assert!(!q.matches("only a"));
    }

    #[test]
    fn index_text_joins_terms_with_spaces() {
        assert_eq!(index_text("Hi 技术讨论!"), "hi 技术 术讨 讨论");
        assert_eq!(index_text("🎉"), "");
    }
}
