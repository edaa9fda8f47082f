//! Every error a client can be answered with. `code()` is the only place the wire codes are
//! spelled, so docs/PROTOCOL.md and the code cannot drift apart silently (a test checks they are
//! unique).

/// A rule a client request broke, or a server condition it ran into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The payload does not have the documented shape.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Room name is not 1–64 code points without whitespace or control characters.
    #[error("invalid room name: 1-64 characters, no whitespace or control characters")]
    InvalidRoom,
    /// The client is not a member of the room it addressed.
    #[error("you are not in this room; join it first")]
    NotInRoom,
    /// The message text is empty or only whitespace.
    #[error("message text is empty")]
    Empty,
    /// The message text is longer than the limit, in code points.
    #[error("message text is longer than {max_chars} characters")]
    TooLong {
        /// The limit that was exceeded.
        max_chars: usize,
    },
    /// The client sends faster than its rate limit allows.
    #[error("too many messages; retry in {retry_ms} ms")]
    RateLimited {
        /// Milliseconds until one more message will be accepted.
        retry_ms: u64,
    },
    /// Display name is not 1–32 code points (after trimming) without control, invisible or
    /// unassigned characters.
    #[error("invalid name: 1-32 characters after trimming, no control or invisible characters")]
    InvalidName,
    /// The display name (compared ignoring case and width) is held by another user.
    #[error("that name is in use by someone else")]
    NameTaken,
    /// The message store cannot be reached; nothing was stored or delivered.
    #[error("message store unavailable; try again")]
    Unavailable,
    /// The connection is already in as many rooms as it may be.
    #[error("too many rooms: at most {max} at once; leave one first")]
    TooManyRooms {
        /// The limit.
        max: u32,
    },
    /// The identity token was not issued by this server (or was altered).
    #[error("identity token not recognised; connect without it to get a new identity")]
    InvalidIdentity,
    /// The client's address already holds as many connections as it may.
    #[error("too many connections from this address")]
    TooManyConnections,
    /// The sign-in the server requires is missing or invalid (no token, a wrong shared token,
    /// a JWT that is malformed, badly signed, of another algorithm or without `exp`).
    #[error("sign-in required: the token is missing or not valid")]
    Unauthorized,
    /// The JWT's `exp` has passed.
    #[error("the sign-in token has expired; get a new one")]
    TokenExpired,
    /// The user's role does not allow this action; nothing changed.
    #[error("your role does not allow this")]
    Forbidden,
    /// The user or address is banned; `until_ms` is when the ban ends (`None`: never).
    #[error("you are banned")]
    Banned {
        /// Milliseconds since the Unix epoch when the ban ends, if it does.
        until_ms: Option<i64>,
    },
    /// The user is muted (in this room or everywhere) for `retry_ms` more milliseconds.
    #[error("you are muted; you may write again in {retry_ms} ms")]
    Muted {
        /// Milliseconds until the mute ends.
        retry_ms: u64,
    },
    /// The message or user a moderation action names does not exist (or is not connected).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A reaction that is not exactly one emoji.
    #[error("a reaction must be exactly one emoji")]
    BadEmoji,
    /// The message already has as many distinct reactions as it may.
    #[error("too many reactions: at most {max} different emoji on one message")]
    TooManyReactions {
        /// The limit.
        max: usize,
    },
}

impl ChatError {
    /// The stable wire code of this error (a contract: never rename).
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::BadRequest(_) => "bad_request",
            ChatError::InvalidRoom => "invalid_room",
            ChatError::NotInRoom => "not_in_room",
            ChatError::Empty => "empty",
            ChatError::TooLong { .. } => "too_long",
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::InvalidName => "invalid_name",
            ChatError::NameTaken => "name_taken",
            ChatError::Unavailable => "unavailable",
            ChatError::TooManyRooms { .. } => "too_many_rooms",
            ChatError::TooManyConnections => "too_many_connections",
            ChatError::InvalidIdentity => "invalid_identity",
            ChatError::Unauthorized => "unauthorized",
            ChatError::TokenExpired => "token_expired",
            ChatError::Forbidden => "forbidden",
            ChatError::Banned { .. } => "banned",
            ChatError::Muted { .. } => "muted",
            ChatError::NotFound(_) => "not_found",
            ChatError::BadEmoji => "bad_emoji",
            ChatError::TooManyReactions { .. } => "too_many_reactions",
        }
    }

    /// Milliseconds the client should wait before retrying, where that is known.
    pub fn retry_ms(&self) -> Option<u64> {
        match self {
            ChatError::RateLimited { retry_ms } | ChatError::Muted { retry_ms } => Some(*retry_ms),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let all = [
            ChatError::BadRequest(String::new()),
            ChatError::InvalidRoom,
            ChatError::NotInRoom,
            ChatError::Empty,
            ChatError::TooLong { max_chars: 1 },
            ChatError::RateLimited { retry_ms: 1 },
            ChatError::InvalidName,
            ChatError::NameTaken,
            ChatError::Unavailable,
            ChatError::TooManyRooms { max: 1 },
            ChatError::TooManyConnections,
            ChatError::InvalidIdentity,
            ChatError::Unauthorized,
            ChatError::TokenExpired,
            ChatError::Forbidden,
            ChatError::Banned { until_ms: None },
            ChatError::Muted { retry_ms: 1 },
            ChatError::NotFound("message"),
            ChatError::BadEmoji,
            ChatError::TooManyReactions { max: 20 },
        ];
        let codes: HashSet<_> = all.iter().map(ChatError::code).collect();
        assert_eq!(codes.len(), all.len());
        for code in codes {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
    }

    #[test]
    fn only_rate_limited_and_muted_have_retry_ms() {
        assert_eq!(ChatError::RateLimited { retry_ms: 7 }.retry_ms(), Some(7));
        assert_eq!(ChatError::Muted { retry_ms: 8 }.retry_ms(), Some(8));
        assert_eq!(ChatError::Empty.retry_ms(), None);
    }
}
