//! Operator input → a validated [`Config`]. Flags come from clap (each also from an environment
//! variable, so `PORT=8080 chatroom` works as with the Node original), then an optional TOML
//! file, then defaults. Everything is checked here, so the rest of the server never sees a bad
//! value and the binary can print one clear line and exit non-zero.

use clap::Parser;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Default page title, the one the original Express route renders.
pub const DEFAULT_TITLE: &str = "技术讨论区";
/// Default store: an SQLite file in the working directory; no other service needed.
pub const DEFAULT_DB: &str = "sqlite://chatroom.db";
/// Socket.IO's `maxHttpBufferSize` default (1 MB), for both transports.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1_000_000;
/// Packets queued per client before it counts as too slow. A burst of a few thousand messages
/// fits, as with Node's unbounded buffer; tokio's channel allocates lazily, so an idle client does
/// not pay for the capacity.
pub const DEFAULT_SEND_QUEUE: usize = 8192;

/// Command-line interface of the `chatroom` binary.
#[derive(Debug, Parser)]
#[command(
    name = "chatroom",
    version,
    about = "Real-time chat server: one binary, open a browser and chat.",
    long_about = "Real-time chat server speaking Socket.IO v5 (WebSocket and HTTP long-polling).\n\
                  Serves the chat page on GET /, its client on /socket.io/socket.io.js and\n\
                  /healthz. Messages are stored in SQLite (default) or PostgreSQL.\n\
                  Precedence: flags > environment > --config file > defaults."
)]
pub struct Cli {
    /// IP address to listen on [default: 0.0.0.0]
    #[arg(long, env = "HOST")]
    pub host: Option<IpAddr>,
    /// TCP port to listen on; 0 picks a free one [default: 3000]
    #[arg(long, short, env = "PORT")]
    pub port: Option<u16>,
    /// Page title shown on the chat page [default: 技术讨论区]
    #[arg(long, env = "CHATROOM_TITLE")]
    pub title: Option<String>,
    /// Directory with an index.html template (Jinja syntax, variable `title`) replacing the built-in page
    #[arg(long, env = "CHATROOM_VIEWS", value_name = "DIR")]
    pub views: Option<PathBuf>,
    /// Message store: sqlite://FILE or postgres://USER@HOST/DB [default: sqlite://chatroom.db]
    #[arg(long, env = "CHATROOM_DB", value_name = "URL")]
    pub db: Option<String>,
    /// Per-connection message rate limit, RATE/BURST in messages per second, or `off` [default: 5/20]
    #[arg(long, env = "CHATROOM_RATE_LIMIT", value_name = "RATE/BURST|off")]
    pub rate_limit: Option<RateLimitSetting>,
    /// Largest Socket.IO packet a client may send, in bytes; larger ones disconnect that client [default: 1000000]
    #[arg(long, env = "CHATROOM_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub max_message_bytes: Option<u64>,
    /// Packets queued per client before it is disconnected as too slow (it then recovers with `join`+`since`) [default: 8192]
    #[arg(long, env = "CHATROOM_SEND_QUEUE", value_name = "PACKETS")]
    pub send_queue: Option<usize>,
    /// TOML file with any of the settings above (keys: host, port, title, views, db, rate_limit, max_message_bytes, send_queue)
    #[arg(long, env = "CHATROOM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The same settings, read from a `--config` TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<IpAddr>,
    port: Option<u16>,
    title: Option<String>,
    views: Option<PathBuf>,
    db: Option<String>,
    rate_limit: Option<String>,
    max_message_bytes: Option<u64>,
    send_queue: Option<usize>,
}

/// A per-connection token bucket: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages per second, sustained.
    pub per_second: NonZeroU32,
    /// Messages accepted at once after a quiet period.
    pub burst: NonZeroU32,
}

/// `--rate-limit` as parsed: a limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitSetting {
    /// `RATE/BURST`.
    Limit(RateLimit),
    /// `off`.
    Off,
}

impl FromStr for RateLimitSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let bad = || format!("rate limit must be RATE/BURST (e.g. 5/20) or off, got {s:?}");
        let (rate, burst) = s.split_once('/').ok_or_else(bad)?;
        let per_second = rate.trim().parse::<NonZeroU32>().map_err(|_| bad())?;
        let burst = burst.trim().parse::<NonZeroU32>().map_err(|_| bad())?;
        Ok(Self::Limit(RateLimit { per_second, burst }))
    }
}

/// A configuration error: printed as one line, then the process exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--config` file is not valid TOML or has unknown keys.
    #[error("invalid config file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, in one line.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("invalid {setting}: {message}")]
    Invalid {
        /// The setting's flag name.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Validated server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Page title.
    pub title: String,
    /// Operator template directory holding `index.html`, if any.
    pub views: Option<PathBuf>,
    /// Store URL.
    pub db: String,
    /// Per-connection rate limit; `None` = off.
    pub rate_limit: Option<RateLimit>,
    /// Largest packet a client may send, bytes.
    pub max_message_bytes: u64,
    /// Per-client send queue, packets.
    pub send_queue: usize,
}

impl Config {
    /// Merges flags/env, the optional config file and defaults, and validates the result.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let file_rate = file
            .rate_limit
            .as_deref()
            .map(str::parse::<RateLimitSetting>)
            .transpose()
            .map_err(|message| ConfigError::Invalid {
                setting: "rate_limit",
                message,
            })?;
        let rate = cli
            .rate_limit
            .or(file_rate)
            .unwrap_or(RateLimitSetting::Limit(RateLimit {
                per_second: NonZeroU32::new(5).expect("5 is non-zero"),
                burst: NonZeroU32::new(20).expect("20 is non-zero"),
            }));
        let config = Config {
            addr: SocketAddr::new(
                cli.host
                    .or(file.host)
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                cli.port.or(file.port).unwrap_or(3000),
            ),
            title: cli
                .title
                .or(file.title)
                .unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
            views: cli.views.or(file.views),
            db: cli.db.or(file.db).unwrap_or_else(|| DEFAULT_DB.to_owned()),
            rate_limit: match rate {
                RateLimitSetting::Limit(limit) => Some(limit),
                RateLimitSetting::Off => None,
            },
            max_message_bytes: cli
                .max_message_bytes
                .or(file.max_message_bytes)
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            send_queue: cli
                .send_queue
                .or(file.send_queue)
                .unwrap_or(DEFAULT_SEND_QUEUE),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1024..=100_000_000).contains(&self.max_message_bytes) {
            return Err(ConfigError::Invalid {
                setting: "--max-message-bytes",
                message: format!("{} is outside 1024..=100000000", self.max_message_bytes),
            });
        }
        if !(16..=1_000_000).contains(&self.send_queue) {
            return Err(ConfigError::Invalid {
                setting: "--send-queue",
                message: format!("{} is outside 16..=1000000", self.send_queue),
            });
        }
        if let Some(dir) = &self.views {
            check_views(dir)?;
        }
        Ok(())
    }

    /// Settings for tests: loopback, any port, in-memory store, no rate limit.
    pub fn for_tests() -> Self {
        Config {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            title: DEFAULT_TITLE.to_owned(),
            views: None,
            db: "memory".to_owned(),
            rate_limit: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            send_queue: DEFAULT_SEND_QUEUE,
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

fn check_views(dir: &Path) -> Result<(), ConfigError> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Err(ConfigError::Invalid {
            setting: "--views",
            message: format!("{} has no index.html", dir.display()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("chatroom").chain(args.iter().copied()))
            .map_err(|e| ConfigError::Invalid {
                setting: "cli",
                message: e.to_string(),
            })?;
        Config::from_cli(cli)
    }

    #[test]
    fn rate_limit_parses() {
        assert_eq!("off".parse(), Ok(RateLimitSetting::Off));
        assert!(matches!(
            "5/20".parse::<RateLimitSetting>(),
            Ok(RateLimitSetting::Limit(RateLimit { per_second, burst }))
                if per_second.get() == 5 && burst.get() == 20
        ));
        for bad in ["", "5", "0/1", "5/0", "a/b", "-1/2", "5/20/1"] {
            assert!(bad.parse::<RateLimitSetting>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["--send-queue", "1"]).is_err());
        assert!(parse(&["--max-message-bytes", "10"]).is_err());
        assert!(parse(&["--views", "/nonexistent/dir"]).is_err());
        assert!(parse(&["--config", "/nonexistent/file.toml"]).is_err());
    }

    #[test]
    fn config_file_fills_gaps_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "port = 4000\ntitle = \"from file\"\nrate_limit = \"off\"\n",
        )
        .unwrap();
        let c = parse(&["--config", path.to_str().unwrap(), "--title", "flag"]).unwrap();
        assert_eq!(c.addr.port(), 4000);
        assert_eq!(c.title, "flag");
        assert_eq!(c.rate_limit, None);
        std::fs::write(&path, "nonsense = 1\n").unwrap();
        assert!(matches!(
            parse(&["--config", path.to_str().unwrap()]),
            Err(ConfigError::ParseFile { .. })
        ));
    }
}
