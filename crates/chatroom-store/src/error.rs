//! [`StoreError`]: everything the store can fail with. Start-up errors (bad URL, unreachable
//! database, failed migration) carry their cause in their `Display`, because the server prints
//! them as one line and exits; runtime errors keep the `sqlx::Error` as `#[source]` so the server
//! can answer `unavailable` and log the cause.

use std::sync::Arc;
use std::time::Duration;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend this store knows.
    #[error(
        "unsupported database URL {url:?}: use sqlite://PATH, sqlite::memory:, memory or postgres://USER@HOST:PORT/DB"
    )]
    UnknownScheme {
        /// The URL as given, password removed.
        url: String,
    },
    /// The URL has a known scheme but cannot be used.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given, password removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be reached or opened at start.
    #[error("cannot open database {target}: {source}")]
    Connect {
        /// Where we tried to connect (no password).
        target: String,
        /// The driver's error.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The embedded schema migrations failed at start.
    #[error("cannot migrate database {target}: {source}")]
    Migrate {
        /// The database (no password).
        target: String,
        /// The migrator's error.
        #[source]
        source: Arc<sqlx::migrate::MigrateError>,
    },
    /// A query or transaction failed at runtime (database down, connection lost, ...).
    /// Shared by every request of a failed batch, hence the `Arc`.
    #[error("database error: {source}")]
    Db {
        /// The driver's error.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The database did not answer in time; the batch may or may not have been committed.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    /// The operating system's random number generator failed (making a secret).
    #[error("cannot get random bytes: {0}")]
    Random(String),
    /// The store was closed (or its writer stopped); nothing was done.
    #[error("message store is closed")]
    Closed,
    /// A change was refused for its target's state, found in its transaction (no such
    /// message, deleted, too many reactions); nothing was stored. The client is told this error.
    #[error("refused: {0}")]
    Refused(chatroom_core::ChatError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            e => StoreError::Db {
                source: Arc::new(e),
            },
        }
    }
}

/// What a client is told when the store fails: `unavailable` (nothing was stored or
/// delivered; retry with the same `cid` is safe). The cause is logged here, once, and never
/// sent to the client. A [`StoreError::Refused`] change is told its own error.
impl From<StoreError> for chatroom_core::ChatError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Refused(refusal) = e {
            return refusal;
        }
        tracing::warn!(error = %e, "message store unavailable");
        chatroom_core::ChatError::Unavailable
    }
}

impl StoreError {
    /// Whether the failure came from the data of one message rather than from the database
    /// being unreachable (then retrying the messages of a batch one by one isolates the bad one).
    pub(crate) fn is_data_error(&self) -> bool {
        matches!(self, StoreError::Db { source } if matches!(**source, sqlx::Error::Database(_)))
    }
}

/// `url` with any password in its userinfo replaced by `***`, for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::{StoreError, redact};

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://a/b.db"), "sqlite://a/b.db");
        assert_eq!(redact("memory"), "memory");
    }

    #[test]
    fn every_store_error_is_unavailable_for_clients() {
        let e: chatroom_core::ChatError = StoreError::Closed.into();
        assert_eq!(e.code(), "unavailable");
    }
}
