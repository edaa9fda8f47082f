//! Room names. A [`RoomName`] is 1–64 code points with no Unicode White_Space and no control
//! characters; Unicode is allowed. Not trimmed: a name with a space in it is simply invalid.

use crate::ChatError;
use std::fmt;

/// Longest room name, in Unicode code points.
pub const MAX_ROOM_CHARS: usize = 64;

/// A validated room name.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl From<RoomName> for String {
    fn from(room: RoomName) -> String {
        room.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = ChatError;
    fn try_from(raw: String) -> Result<Self, ChatError> {
        Self::new(&raw)
    }
}

impl RoomName {
    /// Checks `raw`; `Err(InvalidRoom)` if it breaks a rule.
    pub fn new(raw: &str) -> Result<Self, ChatError> {
        let chars = raw.chars().count();
        if chars == 0
            || chars > MAX_ROOM_CHARS
            || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ChatError::InvalidRoom);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The lobby, where every client starts.
    pub fn lobby() -> Self {
        Self(crate::LOBBY.to_owned())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unicode_without_spaces() {
        for ok in ["lobby", "技术讨论区", "rust-lang", "🦀", "a.b_c#1"] {
            assert!(RoomName::new(ok).is_ok(), "{ok}");
        }
        assert!(RoomName::new(&"🦀".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_whitespace_controls_and_length() {
        for bad in [
            "",
            " lobby",
            "a b",
            "a\u{3000}b",
            "a\u{2028}b",
            "a\u{85}b",
            "a\u{1}",
        ] {
            assert_eq!(RoomName::new(bad), Err(ChatError::InvalidRoom), "{bad:?}");
        }
        assert_eq!(RoomName::new(&"🦀".repeat(65)), Err(ChatError::InvalidRoom));
    }
}
