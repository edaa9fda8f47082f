//! Cluster settings: `--redis`, `--redis-prefix`, `--node-name`. Kept apart from the rest of the
//! configuration because they only make sense together, and because `--redis` constrains
//! another setting: a cluster shares one PostgreSQL database, so an SQLite (or memory) store,
//! which lives on one machine, is refused at start rather than silently giving each node its
//! own history.

use super::ConfigError;

/// Namespace of the Redis channels when `--redis-prefix` is not given.
pub const DEFAULT_PREFIX: &str = "chatroom";
/// Longest prefix or node name.
const MAX_NAME: usize = 64;

/// A node's place in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Redis URL (`redis://` or `rediss://`).
    pub redis: String,
    /// Channel namespace: nodes with the same prefix (on one Redis) form one cluster.
    pub prefix: String,
    /// This node's name (logs, health, metrics).
    pub node: String,
}

impl ClusterConfig {
    /// The cluster settings from their flags/env/file values; `None` without `--redis`.
    pub fn resolve(
        redis: Option<String>,
        prefix: Option<String>,
        node: Option<String>,
        db: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(redis) = redis.map(|r| r.trim().to_owned()) else {
            if prefix.is_some() {
                return Err(invalid("--redis-prefix", "needs --redis"));
            }
            return Ok(None);
        };
        if let Err(e) = redis::Client::open(redis.as_str()) {
            return Err(invalid(
                "--redis",
                &format!("not a Redis URL (redis://HOST:PORT[/DB]): {e}"),
            ));
        }
        let db = db.trim();
        if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return Err(invalid(
                "--redis",
                "a cluster needs a shared store: give --db postgres://… (an SQLite file lives on one machine)",
            ));
        }
        let prefix = prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        check_name("--redis-prefix", &prefix)?;
        let node = match node {
            Some(node) => node,
            None => random_name(),
        };
        check_name("--node-name", &node)?;
        Ok(Some(ClusterConfig {
            redis,
            prefix,
            node,
        }))
    }
}

fn invalid(setting: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.to_owned(),
    }
}

/// 1–64 ASCII letters, digits, `-`, `_`, `.`: safe in channel names, logs and label values.
fn check_name(setting: &'static str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid(
            setting,
            &format!("{name:?} must be 1-{MAX_NAME} ASCII letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

/// `node-` and 8 random hex digits.
fn random_name() -> String {
    format!("node-{:08x}", fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: &str = "postgres://u@h/db";

    #[test]
    fn no_redis_is_one_node() {
        assert_eq!(ClusterConfig::resolve(None, None, None, PG).unwrap(), None);
        assert!(ClusterConfig::resolve(None, Some("p".into()), None, PG).is_err());
    }

    #[test]
    fn redis_needs_postgres() {
        for db in ["sqlite://chatroom.db", "memory", "sqlite::memory:"] {
            let err = ClusterConfig::resolve(Some("redis://127.0.0.1".into()), None, None, db)
                .unwrap_err()
                .to_string();
            assert!(err.contains("shared store"), "{err}");
        }
        let ok = ClusterConfig::resolve(
            Some("redis://127.0.0.1:6379".into()),
            Some("t1".into()),
            Some("a".into()),
            PG,
        )
        .unwrap()
        .unwrap();
        assert_eq!((ok.prefix.as_str(), ok.node.as_str()), ("t1", "a"));
    }

    #[test]
    fn bad_values_are_refused() {
        let r = |url: &str, prefix: Option<&str>, node: Option<&str>| {
            ClusterConfig::resolve(
                Some(url.into()),
                prefix.map(Into::into),
                node.map(Into::into),
                PG,
            )
        };
        assert!(r("http://x", None, None).is_err());
        assert!(r("redis://x", Some("a b"), None).is_err());
        assert!(r("redis://x", Some(""), None).is_err());
        assert!(r("redis://x", None, Some("n\n")).is_err());
        assert!(r("redis://x", None, Some(&"n".repeat(65))).is_err());
        let random = r("redis://x", None, None).unwrap().unwrap();
        assert!(random.node.starts_with("node-"));
    }
}
