//! Who a user is, as opposed to what they are called: a [`UserId`] stays the same across
//! renames, reconnects and tabs, so the server can tell "the same person again" from "someone
//! else with that name". It may later hold a JWT `sub` claim, hence the generous shape. Core
//! stays pure: [`UserId::random`] takes its randomness from the caller.

use crate::ChatError;
use std::fmt;

/// Longest user id, in Unicode code points (a JWT `sub` may be any string; this bounds it).
pub const MAX_USER_ID_CHARS: usize = 255;

/// A validated user id: 1–255 code points, no control, format or line/paragraph separator
/// characters. Serialized as a plain string.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Checks `raw` (not trimmed: an id is compared byte for byte); `Err(BadRequest)` if it
    /// breaks a rule.
    pub fn new(raw: &str) -> Result<Self, ChatError> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_USER_ID_CHARS || raw.chars().any(is_refused) {
            return Err(ChatError::BadRequest(format!(
                "user id must be 1-{MAX_USER_ID_CHARS} characters without control characters"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh id from 16 random bytes the caller supplies: 32 lowercase hex digits (no `.`,
    /// so it fits inside an identity token).
    pub fn random(bytes: [u8; 16]) -> Self {
        use std::fmt::Write;
        let mut hex = String::with_capacity(32);
        for b in bytes {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{b:02x}");
        }
        Self(hex)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_refused(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

impl TryFrom<String> for UserId {
    type Error = ChatError;

    fn try_from(raw: String) -> Result<Self, ChatError> {
        Self::new(&raw)?;
        Ok(Self(raw))
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_32_lowercase_hex() {
        let id = UserId::random([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        let id =
            UserId::random(*b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff");
        assert_eq!(id.as_str(), "000102030405060708090a0b0c0d0eff");
        assert!(UserId::new(id.as_str()).is_ok());
    }

    #[test]
    fn accepts_jwt_subjects() {
        for good in [
            "x",
            "auth0|5f1c2d",
            "google-oauth2|1234567890",
            "user@example.com",
            "with space",
            "李雷",
        ] {
            assert_eq!(UserId::new(good).unwrap().as_str(), good);
        }
        assert!(UserId::new(&"é".repeat(255)).is_ok());
    }

    #[test]
    fn refuses_bad_ids() {
        for bad in ["", "a\nb", "a\u{0}", "\u{200B}x", "x\u{202E}", "a\u{2028}b"] {
            assert_eq!(
                UserId::new(bad).unwrap_err().code(),
                "bad_request",
                "{bad:?}"
            );
        }
        assert!(UserId::new(&"a".repeat(256)).is_err());
    }

    #[test]
    fn serializes_as_a_string_and_validates_on_the_way_in() {
        let id = UserId::new("u1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"u1\"");
        assert_eq!(serde_json::from_str::<UserId>("\"u1\"").unwrap(), id);
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
    }
}
