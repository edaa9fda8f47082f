//! Changes to stored messages — edit, delete, react, unreact — and reactions.
//!
//! Why a module of its own: a change is stored as its own row in the room's order (the same
//! writer, ids and seqs as messages; see docs/PROTOCOL.md, *Changes*), so `since`, the cluster
//! relay and its gap filling carry changes without a second mechanism. [`Change`] says which
//! kind of change a row is and which message it changes; [`Reaction`] is how a message's
//! reactions look on the wire; [`check_emoji`] is the rule for what may be a reaction.

use crate::{ChatError, MessageId};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Longest reaction, in UTF-8 bytes (a family emoji with skin tones is 35 code points' worth
/// of bytes in theory; every emoji in use today fits).
pub const MAX_EMOJI_BYTES: usize = 32;
/// Most distinct emoji on one message.
pub const MAX_REACTIONS: usize = 20;

/// What a change row does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New text (the change row's text), `edited` set to the change's time.
    Edit,
    /// The target becomes a tombstone (empty text, no reactions).
    Delete,
    /// The change row's author adds the reaction in its text.
    React,
    /// The change row's author removes the reaction in its text.
    Unreact,
}

impl ChangeKind {
    /// The `messages.kind` value of a row of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Edit => "edit",
            ChangeKind::Delete => "delete",
            ChangeKind::React => "react",
            ChangeKind::Unreact => "unreact",
        }
    }

    /// Reads a `messages.kind` value; `None` for `message` (and anything unknown).
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "edit" => Some(ChangeKind::Edit),
            "delete" => Some(ChangeKind::Delete),
            "react" => Some(ChangeKind::React),
            "unreact" => Some(ChangeKind::Unreact),
            _ => None,
        }
    }
}

/// What makes a stored row a change rather than a message: its kind and the message it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    /// Edit, delete, react or unreact.
    pub kind: ChangeKind,
    /// The id of the message it changes (a kind='message' row of the same room).
    pub target: MessageId,
}

/// One emoji's reactions on a message, as clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// How many users reacted with it (`names.len()`).
    pub count: usize,
    /// Their names when they reacted, in the order they did.
    pub names: Vec<String>,
    /// Their user ids, in the same order as `names`.
    pub uids: Vec<String>,
}

/// One stored reaction (a `reactions` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    /// The emoji.
    pub emoji: String,
    /// Who reacted.
    pub user_id: String,
    /// Their name then.
    pub name: String,
    /// When, ms since the Unix epoch.
    pub ts: i64,
}

/// Groups one message's reaction rows by emoji: emoji in the order of their first reaction,
/// users in the order they reacted (ties by emoji and user id, so every store agrees).
pub fn fold_reactions(rows: &[ReactionRow]) -> Vec<Reaction> {
    let mut sorted: Vec<&ReactionRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.ts, &a.user_id).cmp(&(b.ts, &b.user_id)));
    let mut out: Vec<(i64, Reaction)> = Vec::new();
    for row in sorted {
        match out.iter_mut().find(|(_, r)| r.emoji == row.emoji) {
            Some((_, r)) => {
                r.count += 1;
                r.names.push(row.name.clone());
                r.uids.push(row.user_id.clone());
            }
            None => out.push((
                row.ts,
                Reaction {
                    emoji: row.emoji.clone(),
                    count: 1,
                    names: vec![row.name.clone()],
                    uids: vec![row.user_id.clone()],
                },
            )),
        }
    }
    out.sort_by(|(ta, a), (tb, b)| (ta, &a.emoji).cmp(&(tb, &b.emoji)));
    out.into_iter().map(|(_, r)| r).collect()
}

/// `bad_emoji` unless `raw` is exactly one emoji: one grapheme cluster (so 👩‍💻 and 👍🏽 count
/// as one), at most [`MAX_EMOJI_BYTES`], that Unicode's emoji list knows (fully, minimally or
/// un-qualified). Letters, digits, text with an emoji in it, two emoji: refused.
pub fn check_emoji(raw: &str) -> Result<(), ChatError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_EMOJI_BYTES
        && raw.graphemes(true).nth(1).is_none()
        && emojis::get(raw).is_some();
    if ok { Ok(()) } else { Err(ChatError::BadEmoji) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_is_accepted() {
        for good in ["👍", "👍🏽", "👩‍💻", "❤️", "❤", "🇫🇷", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
        {
            assert_eq!(check_emoji(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn anything_else_is_bad_emoji() {
        for bad in [
            "", "a", "1", "👍👍", "👍 ", " 👍", "ok👍", "\u{200d}", ":+1:", "\u{fe0f}",
        ] {
            assert_eq!(check_emoji(bad), Err(ChatError::BadEmoji), "{bad:?}");
        }
        assert_eq!(check_emoji(&"👍".repeat(9)), Err(ChatError::BadEmoji));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            ChangeKind::Edit,
            ChangeKind::Delete,
            ChangeKind::React,
            ChangeKind::Unreact,
        ] {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ChangeKind::parse("message"), None);
    }

    fn row(emoji: &str, user: &str, ts: i64) -> ReactionRow {
        ReactionRow {
            emoji: emoji.into(),
            user_id: user.into(),
            name: format!("n{user}"),
            ts,
        }
    }

    #[test]
    fn reactions_fold_in_first_reaction_order() {
        let folded = fold_reactions(&[
            row("🎉", "b", 5),
            row("👍", "c", 3),
            row("🎉", "a", 2),
            row("👍", "a", 3),
        ]);
        let shape: Vec<(&str, usize, Vec<&str>)> = folded
            .iter()
            .map(|r| {
                (
                    r.emoji.as_str(),
                    r.count,
                    r.uids.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [("🎉", 2, vec!["a", "b"]), ("👍", 2, vec!["a", "c"])]
        );
        assert_eq!(folded[0].names, ["na", "nb"]);
        assert!(fold_reactions(&[]).is_empty());
    }
}
