//! Display names. A [`UserName`] can only be built through validation, so holding one means it is
//! 1–32 code points after trimming Unicode whitespace, with no control characters.

use crate::ChatError;
use std::fmt;

/// Longest display name, in Unicode code points.
pub const MAX_NAME_CHARS: usize = 32;

/// A validated, trimmed display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    /// Trims `raw` and checks it; `Err(InvalidName)` if it breaks a rule.
    pub fn new(raw: &str) -> Result<Self, ChatError> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || trimmed.chars().any(char::is_control) {
            return Err(ChatError::InvalidName);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A generated name for seed-protocol clients, which send none: `guest-` and 4 hex digits.
    pub fn guest(seed: u16) -> Self {
        Self(format!("guest-{seed:04x}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn guest_names_have_four_hex_digits() {
        assert_eq!(UserName::guest(0x0a1f).as_str(), "guest-0a1f");
        assert_eq!(UserName::guest(0xffff).as_str(), "guest-ffff");
        assert!(UserName::new(UserName::guest(1).as_str()).is_ok());
    }
}
