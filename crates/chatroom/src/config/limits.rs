//! Limits and protections against hostile or broken clients (issue 7): per-client and per-IP
//! caps, rate limits per event kind, HTTP timeouts, proxy trust and allowed origins. Each is a
//! flag with a safe default; `--limits off` turns every per-client and per-IP limit off at
//! once (benchmarks, trusted networks) while the process-wide protections (total connections,
//! timeouts) stay. Defaults are sized so a NAT'd office of a few hundred people behind one
//! address, and the project's own test suites, never meet them. docs/SECURITY.md lists them.

use super::{ConfigError, RateLimit, RateLimitSetting};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// Per-client and per-IP limits; `None` means that limit is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Socket.IO connections one client address may hold at once.
    pub connections_per_ip: Option<u32>,
    /// New Engine.IO sessions (handshakes) one client address may open, per second.
    pub handshakes_per_ip: Option<RateLimit>,
    /// Engine.IO sessions one keep-alive HTTP connection may open.
    pub sessions_per_http_connection: Option<u32>,
    /// Rooms one connection may be in at once (the lobby included).
    pub rooms_per_connection: Option<u32>,
    /// `history` requests per connection.
    pub history_rate: Option<RateLimit>,
    /// `typing` events per connection.
    pub typing_rate: Option<RateLimit>,
    /// `join` requests per connection.
    pub join_rate: Option<RateLimit>,
    /// `rooms` requests per connection.
    pub rooms_rate: Option<RateLimit>,
    /// `search` requests per connection.
    pub search_rate: Option<RateLimit>,
}

fn rate(per_second: u32, burst: u32) -> Option<RateLimit> {
    Some(RateLimit {
        per_second: NonZeroU32::new(per_second)?,
        burst: NonZeroU32::new(burst)?,
    })
}

impl Limits {
    /// Default connections per client address: an office of a few hundred people with a couple
    /// of tabs each fits behind one NAT address.
    pub const CONNECTIONS_PER_IP: u32 = 1000;
    /// Default Engine.IO sessions per keep-alive HTTP connection (a browser opens one per page
    /// load; a loop opening thousands over one connection is refused).
    pub const SESSIONS_PER_HTTP_CONNECTION: u32 = 16;
    /// Default rooms per connection.
    pub const ROOMS_PER_CONNECTION: u32 = 100;

    /// The safe defaults.
    pub fn defaults() -> Self {
        Self {
            connections_per_ip: Some(Self::CONNECTIONS_PER_IP),
            // A whole office reconnecting after a restart fits in the burst.
            handshakes_per_ip: rate(20, 500),
            sessions_per_http_connection: Some(Self::SESSIONS_PER_HTTP_CONNECTION),
            rooms_per_connection: Some(Self::ROOMS_PER_CONNECTION),
            // Scroll-back asks a page at a time; a reconnect re-joins every room at once.
            history_rate: rate(10, 30),
            typing_rate: rate(5, 10),
            join_rate: rate(10, 100),
            rooms_rate: rate(2, 10),
            // A search reads an index and can touch many rows: a few per second per person,
            // with room for typing a query out and paging through results.
            search_rate: rate(2, 10),
        }
    }

    /// Every limit off (`--limits off`).
    pub fn off() -> Self {
        Self {
            connections_per_ip: None,
            handshakes_per_ip: None,
            sessions_per_http_connection: None,
            rooms_per_connection: None,
            history_rate: None,
            typing_rate: None,
            join_rate: None,
            rooms_rate: None,
            search_rate: None,
        }
    }
}

/// `--limits on|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitsSwitch {
    /// Each limit at its setting or default.
    On,
    /// Every per-client and per-IP limit off.
    Off,
}

impl FromStr for LimitsSwitch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("must be on or off, got {s:?}")),
        }
    }
}

/// A count limit as given: a number, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSetting {
    /// At most this many (at least 1).
    Max(u32),
    /// No limit.
    Off,
}

impl FromStr for CountSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Self::Max(n)),
            _ => Err(format!("must be a whole number ≥ 1 or off, got {s:?}")),
        }
    }
}

impl CountSetting {
    fn resolve(self) -> Option<u32> {
        match self {
            Self::Max(n) => Some(n),
            Self::Off => None,
        }
    }
}

fn resolve_rate(setting: RateLimitSetting) -> Option<RateLimit> {
    match setting {
        RateLimitSetting::Limit(limit) => Some(limit),
        RateLimitSetting::Off => None,
    }
}

/// Which browser origins may open Socket.IO connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// The page's own origin (the request's `Host`) plus these, exactly (`scheme://host[:port]`).
    #[default]
    SameOriginAnd,
    /// Same origin plus the listed origins.
    List(Vec<String>),
    /// Any origin (`*`, only when asked for).
    Any,
}

impl FromStr for AllowedOrigins {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut list = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                return Ok(Self::Any);
            }
            let lower = item.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("http://")
                .or_else(|| lower.strip_prefix("https://"))
                .ok_or_else(|| format!("origin {item:?} must start with http:// or https://"))?;
            if rest.is_empty() || rest.contains('/') {
                return Err(format!(
                    "origin {item:?} must be scheme://host[:port] with no path"
                ));
            }
            list.push(lower);
        }
        Ok(if list.is_empty() {
            Self::SameOriginAnd
        } else {
            Self::List(list)
        })
    }
}

impl AllowedOrigins {
    /// Whether a browser `Origin` header value is allowed for a request whose `Host` is `host`.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        let same = host.is_some_and(|host| {
            let host = host.to_ascii_lowercase();
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|rest| rest == host)
        });
        match self {
            Self::Any => true,
            Self::SameOriginAnd => same,
            Self::List(list) => same || list.contains(&origin),
        }
    }
}

/// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl FromStr for TrustedProxies {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(|i| {
                i.parse::<IpAddr>()
                    .map_err(|_| format!("{i:?} is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines; colours only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("must be text or json, got {s:?}")),
        }
    }
}

/// Parses a duration such as `10s`, `500ms` or `2m` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration such as 10s or 500ms ({e})"))
}

/// The limit settings as given on the command line or in the file, before defaults.
#[derive(Debug, Default, Clone)]
pub struct LimitSettings {
    /// `--limits`.
    pub switch: Option<LimitsSwitch>,
    /// `--max-connections-per-ip`.
    pub connections_per_ip: Option<CountSetting>,
    /// `--handshakes-per-ip`.
    pub handshakes_per_ip: Option<RateLimitSetting>,
    /// `--sessions-per-http-connection`.
    pub sessions_per_http_connection: Option<CountSetting>,
    /// `--max-rooms`.
    pub rooms_per_connection: Option<CountSetting>,
    /// `--history-rate`.
    pub history_rate: Option<RateLimitSetting>,
    /// `--typing-rate`.
    pub typing_rate: Option<RateLimitSetting>,
    /// `--join-rate`.
    pub join_rate: Option<RateLimitSetting>,
    /// `--rooms-rate`.
    pub rooms_rate: Option<RateLimitSetting>,
    /// `--search-rate`.
    pub search_rate: Option<RateLimitSetting>,
}

impl LimitSettings {
    /// Flags first, then the file; `--limits off` turns off whatever is not set explicitly.
    pub fn merge(self, file: LimitSettings) -> Limits {
        let off = matches!(self.switch.or(file.switch), Some(LimitsSwitch::Off));
        let base = if off {
            Limits::off()
        } else {
            Limits::defaults()
        };
        let count = |flag: Option<CountSetting>, file: Option<CountSetting>, default| {
            flag.or(file).map_or(default, CountSetting::resolve)
        };
        let rate = |flag: Option<RateLimitSetting>, file: Option<RateLimitSetting>, default| {
            flag.or(file).map_or(default, resolve_rate)
        };
        Limits {
            connections_per_ip: count(
                self.connections_per_ip,
                file.connections_per_ip,
                base.connections_per_ip,
            ),
            handshakes_per_ip: rate(
                self.handshakes_per_ip,
                file.handshakes_per_ip,
                base.handshakes_per_ip,
            ),
            sessions_per_http_connection: count(
                self.sessions_per_http_connection,
                file.sessions_per_http_connection,
                base.sessions_per_http_connection,
            ),
            rooms_per_connection: count(
                self.rooms_per_connection,
                file.rooms_per_connection,
                base.rooms_per_connection,
            ),
            history_rate: rate(self.history_rate, file.history_rate, base.history_rate),
            typing_rate: rate(self.typing_rate, file.typing_rate, base.typing_rate),
            join_rate: rate(self.join_rate, file.join_rate, base.join_rate),
            rooms_rate: rate(self.rooms_rate, file.rooms_rate, base.rooms_rate),
            search_rate: rate(self.search_rate, file.search_rate, base.search_rate),
        }
    }
}

/// Parses one optional file value with `parse`, naming the key on error.
pub fn file_value<T>(
    key: &'static str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    value
        .map(parse)
        .transpose()
        .map_err(|message| ConfigError::Invalid {
            setting: key,
            message,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_switches_parse() {
        assert_eq!("off".parse(), Ok(CountSetting::Off));
        assert_eq!("12".parse(), Ok(CountSetting::Max(12)));
        for bad in ["0", "-1", "x", ""] {
            assert!(bad.parse::<CountSetting>().is_err(), "{bad}");
        }
        assert_eq!("OFF".parse(), Ok(LimitsSwitch::Off));
        assert!("maybe".parse::<LimitsSwitch>().is_err());
    }

    #[test]
    fn limits_off_turns_off_what_is_not_set() {
        let flags = LimitSettings {
            switch: Some(LimitsSwitch::Off),
            rooms_per_connection: Some(CountSetting::Max(3)),
            ..Default::default()
        };
        let limits = flags.merge(LimitSettings::default());
        assert_eq!(limits.rooms_per_connection, Some(3));
        assert_eq!(limits.history_rate, None);
        assert_eq!(limits.connections_per_ip, None);
        let defaults = LimitSettings::default().merge(LimitSettings::default());
        assert_eq!(defaults, Limits::defaults());
    }

    #[test]
    fn origins() {
        let same = AllowedOrigins::default();
        assert!(same.allows("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(!same.allows("http://evil.example", Some("127.0.0.1:3000")));
        assert!(!same.allows("http://127.0.0.1:3001", Some("127.0.0.1:3000")));
        let list: AllowedOrigins = "https://chat.example.com, http://localhost:8080"
            .parse()
            .unwrap();
        assert!(list.allows("https://chat.example.com", Some("x")));
        assert!(list.allows("HTTP://LOCALHOST:8080", Some("x")));
        assert!(!list.allows("https://chat.example.com.evil", Some("x")));
        assert_eq!("*".parse(), Ok(AllowedOrigins::Any));
        assert!("chat.example.com".parse::<AllowedOrigins>().is_err());
        assert!("https://a/b".parse::<AllowedOrigins>().is_err());
    }

    #[test]
    fn proxies_and_durations() {
        assert_eq!(
            "127.0.0.1, ::1".parse::<TrustedProxies>().unwrap().0.len(),
            2
        );
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("ten").is_err());
    }
}
