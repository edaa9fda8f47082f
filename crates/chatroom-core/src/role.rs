//! What a user may do besides chatting. A role comes from the sign-in (the JWT `role` claim);
//! open and shared-token sign-ins are plain users. Moderation needs [`Role::Moderator`] or
//! more; the ordering is the privilege order, so `role >= Role::Moderator` reads as the rule.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role, lowest privilege first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Chats; the default.
    #[default]
    User,
    /// May delete any message and kick, ban and mute users.
    Moderator,
    /// Everything a moderator may; reserved for operator-level tools.
    Admin,
}

impl Role {
    /// The role named `raw` (`user`, `moderator`, `admin`, exactly), if any.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Role::User),
            "moderator" => Some(Role::Moderator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// May delete messages and kick, ban and mute users.
    pub fn may_moderate(self) -> bool {
        self >= Role::Moderator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_privilege() {
        for role in [Role::User, Role::Moderator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_value(role).unwrap();
            assert_eq!(json, serde_json::json!(role.as_str()));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse(""), None);
        assert!(!Role::User.may_moderate());
        assert!(Role::Moderator.may_moderate());
        assert!(Role::Admin.may_moderate());
        assert_eq!(Role::default(), Role::User);
    }
}
