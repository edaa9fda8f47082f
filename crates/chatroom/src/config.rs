//! Operator input → a validated [`Config`]. Flags come from clap (each also from an environment
//! variable, so `PORT=8080 chatroom` works as with the Node original), then an optional TOML
//! file, then defaults. Everything is checked here, so the rest of the server never sees a bad
//! value and the binary can print one clear line and exit non-zero.

pub mod cluster;
pub mod limits;

use crate::auth::{AdminToken, AuthKind, AuthMode};
use chatroom_store::RetentionPolicy;
use clap::Parser;
use limits::{
    AllowedOrigins, CountSetting, LimitSettings, Limits, LimitsSwitch, LogFormat, TrustedProxies,
    file_value, parse_duration,
};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

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
/// Time a client has to send a complete HTTP request head (slowloris protection).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a keep-alive HTTP connection may sit idle between requests.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a client has to send the Socket.IO CONNECT after its Engine.IO session opened.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rooms with more members than this get member counts instead of every join and leave.
pub const DEFAULT_PRESENCE_CROWD: u32 = 100;
/// Time between two retention purges (the first runs at start).
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60);
/// Largest `--retention-days` (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Command-line interface of the `chatroom` binary.
#[derive(Debug, Default, Parser)]
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
    /// Most open connections in total; must be below the process's open-file limit [default: 90% of it]
    #[arg(long, env = "CHATROOM_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u32>,
    /// `off` turns every per-client and per-IP limit below off at once (benchmarks, trusted networks) [default: on]
    #[arg(long, env = "CHATROOM_LIMITS", value_name = "on|off")]
    pub limits: Option<LimitsSwitch>,
    /// Socket.IO connections one client address may hold, or `off` [default: 1000]
    #[arg(long, env = "CHATROOM_MAX_CONNECTIONS_PER_IP", value_name = "N|off")]
    pub max_connections_per_ip: Option<CountSetting>,
    /// New sessions (handshakes) per client address, RATE/BURST per second, or `off` [default: 20/500]
    #[arg(
        long,
        env = "CHATROOM_HANDSHAKES_PER_IP",
        value_name = "RATE/BURST|off"
    )]
    pub handshakes_per_ip: Option<RateLimitSetting>,
    /// Engine.IO sessions one keep-alive HTTP connection may open, or `off` [default: 16]
    #[arg(
        long,
        env = "CHATROOM_SESSIONS_PER_HTTP_CONNECTION",
        value_name = "N|off"
    )]
    pub sessions_per_http_connection: Option<CountSetting>,
    /// Rooms one connection may be in at once, the lobby included, or `off` [default: 100]
    #[arg(long, env = "CHATROOM_MAX_ROOMS", value_name = "N|off")]
    pub max_rooms: Option<CountSetting>,
    /// Per-connection `history` rate, RATE/BURST or `off` [default: 10/30]
    #[arg(long, env = "CHATROOM_HISTORY_RATE", value_name = "RATE/BURST|off")]
    pub history_rate: Option<RateLimitSetting>,
    /// Per-connection `typing` rate, RATE/BURST or `off` [default: 5/10]
    #[arg(long, env = "CHATROOM_TYPING_RATE", value_name = "RATE/BURST|off")]
    pub typing_rate: Option<RateLimitSetting>,
    /// Per-connection `join` rate, RATE/BURST or `off` [default: 10/100]
    #[arg(long, env = "CHATROOM_JOIN_RATE", value_name = "RATE/BURST|off")]
    pub join_rate: Option<RateLimitSetting>,
    /// Per-connection `rooms` rate, RATE/BURST or `off` [default: 2/10]
    #[arg(long, env = "CHATROOM_ROOMS_RATE", value_name = "RATE/BURST|off")]
    pub rooms_rate: Option<RateLimitSetting>,
    /// Per-connection `search` rate, RATE/BURST or `off` [default: 2/10]
    #[arg(long, env = "CHATROOM_SEARCH_RATE", value_name = "RATE/BURST|off")]
    pub search_rate: Option<RateLimitSetting>,
    /// Rooms with more members than this announce member counts instead of each join/leave [default: 100]
    #[arg(long, env = "CHATROOM_PRESENCE_CROWD", value_name = "N")]
    pub presence_crowd: Option<u32>,
    /// Time allowed to send a complete HTTP request head, e.g. 10s [default: 10s]
    #[arg(long, env = "CHATROOM_HEADER_READ_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub header_read_timeout: Option<Duration>,
    /// Time a keep-alive HTTP connection may sit idle between requests [default: 60s]
    #[arg(long, env = "CHATROOM_IDLE_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Time allowed between opening a session and the Socket.IO CONNECT [default: 10s]
    #[arg(long, env = "CHATROOM_CONNECT_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// Reverse proxies (comma-separated IPs) whose X-Forwarded-For names the client [default: none]
    #[arg(long, env = "CHATROOM_TRUST_PROXY", value_name = "IP[,IP]")]
    pub trust_proxy: Option<TrustedProxies>,
    /// Browser origins allowed besides the page's own (comma-separated scheme://host[:port]), or `*` for any [default: same origin only]
    #[arg(long, env = "CHATROOM_ALLOWED_ORIGINS", value_name = "ORIGINS|*")]
    pub allowed_origins: Option<AllowedOrigins>,
    /// Log format: `text` (colours only on a terminal) or `json` (one object per line) [default: text]
    #[arg(long, env = "CHATROOM_LOG_FORMAT", value_name = "text|json")]
    pub log_format: Option<LogFormat>,
    /// Remove messages older than this many days (purged at start and every minute) [default: keep all]
    #[arg(long, env = "CHATROOM_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Keep at most this many newest messages per room (purged at start and every minute) [default: keep all]
    #[arg(long, env = "CHATROOM_RETENTION_PER_ROOM", value_name = "N")]
    pub retention_per_room: Option<u64>,
    /// Time between retention purges; for tests (hidden) [default: 60s]
    #[arg(long, env = "CHATROOM_RETENTION_INTERVAL", value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub retention_interval: Option<Duration>,
    /// PEM certificate chain for HTTPS/WSS (with --tls-key) [default: plain HTTP]
    #[arg(long, env = "CHATROOM_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1)
    #[arg(long, env = "CHATROOM_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Who may connect: `open` (anyone), `token` (auth.token must equal --auth-secret) or `jwt` (a signed JWT in auth.token) [default: open]
    #[arg(long, env = "CHATROOM_AUTH", value_name = "open|token|jwt")]
    pub auth: Option<AuthKind>,
    /// The shared secret of `--auth token`, or the HS256 key of `--auth jwt`
    #[arg(
        long,
        env = "CHATROOM_AUTH_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub auth_secret: Option<String>,
    /// PEM file with the RSA public key that verifies RS256 tokens of `--auth jwt`
    #[arg(long, env = "CHATROOM_JWT_PUBLIC_KEY", value_name = "FILE")]
    pub jwt_public_key: Option<PathBuf>,
    /// Bearer token of the admin HTTP API under /api/admin/ (at least 16 bytes) [default: API off]
    #[arg(
        long,
        env = "CHATROOM_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Redis URL (redis://HOST:PORT[/DB]): joins this node to a cluster sharing the PostgreSQL --db [default: one node, no Redis]
    #[arg(long, env = "CHATROOM_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// Namespace of the cluster's Redis channels; nodes with the same prefix form one cluster [default: chatroom]
    #[arg(long, env = "CHATROOM_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<String>,
    /// This node's name in logs, /healthz, /readyz and metrics [default: random]
    #[arg(long, env = "CHATROOM_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,
    /// TOML file with any of the settings above; keys are the flag names with `_` for `-` (e.g. rate_limit, max_rooms)
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
    max_connections: Option<u32>,
    limits: Option<String>,
    max_connections_per_ip: Option<String>,
    handshakes_per_ip: Option<String>,
    sessions_per_http_connection: Option<String>,
    max_rooms: Option<String>,
    history_rate: Option<String>,
    typing_rate: Option<String>,
    join_rate: Option<String>,
    rooms_rate: Option<String>,
    search_rate: Option<String>,
    presence_crowd: Option<u32>,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    connect_timeout: Option<String>,
    trust_proxy: Option<String>,
    allowed_origins: Option<String>,
    log_format: Option<String>,
    retention_days: Option<u32>,
    retention_per_room: Option<u64>,
    retention_interval: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    auth: Option<String>,
    auth_secret: Option<String>,
    jwt_public_key: Option<PathBuf>,
    admin_token: Option<String>,
    redis: Option<String>,
    redis_prefix: Option<String>,
    node_name: Option<String>,
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
    /// Most open connections in total; `None` = derived from the open-file limit at start.
    pub max_connections: Option<u32>,
    /// Per-client and per-IP limits.
    pub limits: Limits,
    /// Rooms above this many members get counts instead of each join/leave.
    pub presence_crowd: u32,
    /// Time to send a complete HTTP request head.
    pub header_read_timeout: Duration,
    /// Time a keep-alive HTTP connection may idle between requests.
    pub idle_timeout: Duration,
    /// Time between opening a session and the Socket.IO CONNECT.
    pub connect_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trust_proxy: TrustedProxies,
    /// Origins allowed to open Socket.IO connections.
    pub allowed_origins: AllowedOrigins,
    /// Log line format.
    pub log_format: LogFormat,
    /// What the retention purge removes (`keeps_everything()`: no purge runs).
    pub retention: RetentionPolicy,
    /// Time between two purges (hidden `--retention-interval`, for tests).
    pub retention_interval: Duration,
    /// Serve HTTPS/WSS with this certificate and key; `None` = plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Who may connect (`--auth` with its secret or key).
    pub auth: AuthMode,
    /// The admin API's bearer token; `None`: every admin request is refused.
    pub admin_token: Option<AdminToken>,
    /// Cluster membership (`--redis`); `None`: a single node.
    pub cluster: Option<cluster::ClusterConfig>,
}

impl Config {
    /// Merges flags/env, the optional config file and defaults, and validates the result.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(cli, file)
    }

    /// The settings a `--config` file with `text` gives on its own (no flags, no environment):
    /// the same parsing and validation as at start. For tests and the `config_file` fuzz target.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file = parse_file_text(text, Path::new("<text>"))?;
        Self::merge(Cli::default(), file)
    }

    fn merge(cli: Cli, file: FileConfig) -> Result<Self, ConfigError> {
        let file_rate = file
            .rate_limit
            .as_deref()
            .map(str::parse::<RateLimitSetting>)
            .transpose()
            .map_err(|message| ConfigError::Invalid {
                setting: "rate_limit",
                message,
            })?;
        let rate_explicit = cli.rate_limit.is_some() || file_rate.is_some();
        let rate = cli
            .rate_limit
            .or(file_rate)
            .unwrap_or(RateLimitSetting::Limit(RateLimit {
                per_second: NonZeroU32::new(5).expect("5 is non-zero"),
                burst: NonZeroU32::new(20).expect("20 is non-zero"),
            }));
        let rate_setting = |key, v: Option<&str>| file_value(key, v, |s| s.parse());
        let file_limits = LimitSettings {
            switch: file_value("limits", file.limits.as_deref(), |s| s.parse())?,
            connections_per_ip: rate_or_count(
                "max_connections_per_ip",
                file.max_connections_per_ip.as_deref(),
            )?,
            handshakes_per_ip: rate_setting(
                "handshakes_per_ip",
                file.handshakes_per_ip.as_deref(),
            )?,
            sessions_per_http_connection: rate_or_count(
                "sessions_per_http_connection",
                file.sessions_per_http_connection.as_deref(),
            )?,
            rooms_per_connection: rate_or_count("max_rooms", file.max_rooms.as_deref())?,
            history_rate: rate_setting("history_rate", file.history_rate.as_deref())?,
            typing_rate: rate_setting("typing_rate", file.typing_rate.as_deref())?,
            join_rate: rate_setting("join_rate", file.join_rate.as_deref())?,
            rooms_rate: rate_setting("rooms_rate", file.rooms_rate.as_deref())?,
            search_rate: rate_setting("search_rate", file.search_rate.as_deref())?,
        };
        let flag_limits = LimitSettings {
            switch: cli.limits,
            connections_per_ip: cli.max_connections_per_ip,
            handshakes_per_ip: cli.handshakes_per_ip,
            sessions_per_http_connection: cli.sessions_per_http_connection,
            rooms_per_connection: cli.max_rooms,
            history_rate: cli.history_rate,
            typing_rate: cli.typing_rate,
            join_rate: cli.join_rate,
            rooms_rate: cli.rooms_rate,
            search_rate: cli.search_rate,
        };
        let limits_off = matches!(cli.limits.or(file_limits.switch), Some(LimitsSwitch::Off));
        let duration = |key, v: Option<&str>| file_value(key, v, parse_duration);
        let retention_days = cli.retention_days.or(file.retention_days);
        if retention_days.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
            return Err(ConfigError::Invalid {
                setting: "--retention-days",
                message: format!("must be 1..={MAX_RETENTION_DAYS}"),
            });
        }
        let retention_per_room = cli.retention_per_room.or(file.retention_per_room);
        if retention_per_room == Some(0) {
            return Err(ConfigError::Invalid {
                setting: "--retention-per-room",
                message: "must be at least 1".into(),
            });
        }
        let tls = match (cli.tls_cert.or(file.tls_cert), cli.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    setting: "--tls-cert/--tls-key",
                    message: "give both a certificate and its key, or neither".into(),
                });
            }
        };
        let invalid =
            |(setting, message): (&'static str, String)| ConfigError::Invalid { setting, message };
        let auth_kind = match cli.auth {
            Some(kind) => kind,
            None => file_value("auth", file.auth.as_deref(), |s| s.parse())?.unwrap_or_default(),
        };
        let auth = AuthMode::from_settings(
            auth_kind,
            cli.auth_secret.as_deref().or(file.auth_secret.as_deref()),
            cli.jwt_public_key
                .as_deref()
                .or(file.jwt_public_key.as_deref()),
        )
        .map_err(invalid)?;
        let admin_token = cli
            .admin_token
            .as_deref()
            .or(file.admin_token.as_deref())
            .map(AuthMode::admin_token)
            .transpose()
            .map_err(invalid)?;
        let config = Config {
            tls,
            auth,
            admin_token,
            retention: RetentionPolicy {
                max_age: retention_days.map(|d| Duration::from_secs(u64::from(d) * 86_400)),
                per_room: retention_per_room,
            },
            retention_interval: cli
                .retention_interval
                .or(duration(
                    "retention_interval",
                    file.retention_interval.as_deref(),
                )?)
                .unwrap_or(DEFAULT_RETENTION_INTERVAL),
            max_connections: cli.max_connections.or(file.max_connections),
            limits: flag_limits.merge(file_limits),
            presence_crowd: cli
                .presence_crowd
                .or(file.presence_crowd)
                .unwrap_or(DEFAULT_PRESENCE_CROWD),
            header_read_timeout: cli
                .header_read_timeout
                .or(duration(
                    "header_read_timeout",
                    file.header_read_timeout.as_deref(),
                )?)
                .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT),
            idle_timeout: cli
                .idle_timeout
                .or(duration("idle_timeout", file.idle_timeout.as_deref())?)
                .unwrap_or(DEFAULT_IDLE_TIMEOUT),
            connect_timeout: cli
                .connect_timeout
                .or(duration(
                    "connect_timeout",
                    file.connect_timeout.as_deref(),
                )?)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            trust_proxy: match cli.trust_proxy {
                Some(proxies) => proxies,
                None => file_value("trust_proxy", file.trust_proxy.as_deref(), |s| s.parse())?
                    .unwrap_or_default(),
            },
            allowed_origins: match cli.allowed_origins {
                Some(origins) => origins,
                None => file_value("allowed_origins", file.allowed_origins.as_deref(), |s| {
                    s.parse()
                })?
                .unwrap_or_default(),
            },
            log_format: match cli.log_format {
                Some(format) => format,
                None => file_value("log_format", file.log_format.as_deref(), |s| s.parse())?
                    .unwrap_or_default(),
            },
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
            cluster: cluster::ClusterConfig::resolve(
                cli.redis.or(file.redis),
                cli.redis_prefix.or(file.redis_prefix),
                cli.node_name.or(file.node_name),
                cli.db
                    .as_deref()
                    .or(file.db.as_deref())
                    .unwrap_or(DEFAULT_DB),
            )?,
            db: cli.db.or(file.db).unwrap_or_else(|| DEFAULT_DB.to_owned()),
            // `--limits off` also lifts the message rate unless it was set explicitly.
            rate_limit: match rate {
                RateLimitSetting::Limit(_) if limits_off && !rate_explicit => None,
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
        if self.max_connections == Some(0) {
            return Err(ConfigError::Invalid {
                setting: "--max-connections",
                message: "must be at least 1".into(),
            });
        }
        if let Some(max) = self.max_connections {
            crate::net::listener::check_max_connections(max).map_err(|message| {
                ConfigError::Invalid {
                    setting: "--max-connections",
                    message,
                }
            })?;
        }
        if self.presence_crowd == 0 {
            return Err(ConfigError::Invalid {
                setting: "--presence-crowd",
                message: "must be at least 1".into(),
            });
        }
        for (setting, value) in [
            ("--header-read-timeout", self.header_read_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--connect-timeout", self.connect_timeout),
            ("--retention-interval", self.retention_interval),
        ] {
            if !(Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&value) {
                return Err(ConfigError::Invalid {
                    setting,
                    message: format!("{value:?} is outside 100ms..=1h"),
                });
            }
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
            max_connections: None,
            limits: Limits::off(),
            presence_crowd: DEFAULT_PRESENCE_CROWD,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            trust_proxy: TrustedProxies::default(),
            allowed_origins: AllowedOrigins::default(),
            log_format: LogFormat::Text,
            retention: RetentionPolicy::default(),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            tls: None,
            auth: AuthMode::Open,
            admin_token: None,
            cluster: None,
        }
    }
}

fn rate_or_count(key: &'static str, v: Option<&str>) -> Result<Option<CountSetting>, ConfigError> {
    file_value(key, v, |s| s.parse())
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    parse_file_text(&text, path)
}

fn parse_file_text(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::ParseFile {
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
    fn limit_settings_from_flags_and_file() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.limits, Limits::defaults());
        assert!(c.rate_limit.is_some());
        let c = parse(&["--limits", "off"]).unwrap();
        assert_eq!(c.limits, Limits::off());
        assert_eq!(c.rate_limit, None);
        let c = parse(&["--limits", "off", "--rate-limit", "1/1", "--max-rooms", "5"]).unwrap();
        assert!(c.rate_limit.is_some());
        assert_eq!(c.limits.rooms_per_connection, Some(5));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "max_rooms = \"7\"\nhistory_rate = \"off\"\nidle_timeout = \"5s\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let c = parse(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(c.limits.rooms_per_connection, Some(7));
        assert_eq!(c.limits.history_rate, None);
        assert_eq!(c.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.log_format, LogFormat::Json);
        std::fs::write(&path, "max_rooms = \"zero\"\n").unwrap();
        assert!(parse(&["--config", path.to_str().unwrap()]).is_err());
        for bad in [
            &["--max-rooms", "0"][..],
            &["--idle-timeout", "1ns"],
            &["--allowed-origins", "example.com"],
            &["--trust-proxy", "nginx"],
            &["--log-format", "xml"],
            &["--presence-crowd", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn retention_from_flags_file_and_defaults() {
        let c = parse(&[]).unwrap();
        assert!(c.retention.keeps_everything());
        assert_eq!(c.retention_interval, DEFAULT_RETENTION_INTERVAL);
        let c = parse(&["--retention-days", "30"]).unwrap();
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.retention.per_room, None);
        let c = parse(&["--retention-per-room", "500"]).unwrap();
        assert_eq!(
            (c.retention.max_age, c.retention.per_room),
            (None, Some(500))
        );
        let c = parse(&[
            "--retention-days",
            "1",
            "--retention-per-room",
            "2",
            "--retention-interval",
            "250ms",
        ])
        .unwrap();
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(86_400)));
        assert_eq!(c.retention.per_room, Some(2));
        assert_eq!(c.retention_interval, Duration::from_millis(250));
        let c = Config::from_toml(
            "retention_days = 7\nretention_per_room = 100\nretention_interval = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.retention.per_room, Some(100));
        assert_eq!(c.retention_interval, Duration::from_secs(5));
        for bad in [
            &["--retention-days", "0"][..],
            &["--retention-days", "-1"],
            &["--retention-days", "36501"],
            &["--retention-days", "ten"],
            &["--retention-per-room", "0"],
            &["--retention-per-room", "x"],
            &["--retention-interval", "1ns"],
            &["--retention-interval", "2h"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "retention_days = 0\n",
            "retention_per_room = 0\n",
            "retention_days = \"7\"\n",
            "retention_interval = \"soon\"\n",
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_needs_both_files() {
        assert!(parse(&[]).unwrap().tls.is_none());
        let c = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        let c = Config::from_toml("tls_cert = \"a.pem\"\ntls_key = \"b.pem\"\n").unwrap();
        assert!(c.tls.is_some());
        for bad in [&["--tls-cert", "c.pem"][..], &["--tls-key", "k.pem"]] {
            let error = parse(bad).unwrap_err().to_string();
            assert!(error.contains("both"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn auth_settings_from_flags_and_file() {
        let c = parse(&[]).unwrap();
        assert!(matches!(c.auth, AuthMode::Open));
        assert!(c.admin_token.is_none());
        let c = parse(&[
            "--auth",
            "token",
            "--auth-secret",
            "sixteen bytes!!!",
            "--admin-token",
            "an admin token of 16+",
        ])
        .unwrap();
        assert!(matches!(c.auth, AuthMode::Token(_)));
        assert!(
            c.admin_token
                .is_some_and(|t| t.matches(b"an admin token of 16+"))
        );
        let secret = "s".repeat(32);
        let c =
            Config::from_toml(&format!("auth = \"jwt\"\nauth_secret = \"{secret}\"\n")).unwrap();
        assert!(matches!(c.auth, AuthMode::Jwt(_)));
        assert!(
            !format!("{c:?}").contains(&secret),
            "Debug must not show the secret"
        );
        for bad in [
            &["--auth", "jwt"][..],
            &["--auth", "token"],
            &["--auth", "sso"],
            &["--auth-secret", "sixteen bytes!!!"],
            &["--auth", "jwt", "--auth-secret", "too short for HS256"],
            &["--auth", "jwt", "--jwt-public-key", "/nonexistent.pem"],
            &["--admin-token", "short"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(Config::from_toml("auth = \"jwt\"\n").is_err());
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
