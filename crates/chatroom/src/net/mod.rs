//! The network edge: accepting TCP connections, HTTP timeouts, connection limits and the
//! client address every other layer uses for per-IP limits and refusal logs. Everything a
//! client can do before it is a Socket.IO connection is bounded here.
//!
//! - [`listener`]: the open-file budget, the connection counters and the counted socket type.
//! - [`serve`]: the accept loop, HTTP/1.1 with upgrades, header and idle timeouts, drain.
//! - [`guard`]: per-request checks on `/socket.io/`: Origin, handshake rate, sessions per
//!   connection.

pub mod guard;
pub mod listener;
pub mod serve;

use crate::config::limits::TrustedProxies;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The client's address: the TCP peer, or — when the peer is a trusted proxy
/// (`--trust-proxy`) — the address that proxy put in `X-Forwarded-For`. Inserted into every
/// HTTP request's extensions; Socket.IO handlers read it from the handshake request:
/// `socket.req_parts().extensions.get::<ClientAddr>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ClientAddr {
    /// The client address of a request from TCP peer `peer`. A peer in `trusted` is a reverse
    /// proxy: the client is the right-most `X-Forwarded-For` entry that is not itself a trusted
    /// proxy (entries further left were written by the client and prove nothing). A malformed
    /// header, or one naming only trusted proxies, leaves the peer's own address.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let peer = peer.to_canonical();
        let is_trusted = |ip: &IpAddr| trusted.0.iter().any(|t| t.to_canonical() == *ip);
        if !is_trusted(&peer) {
            return Self(peer);
        }
        let mut entries = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return Self(peer);
            };
            for item in text.split(',') {
                match parse_forwarded(item.trim()) {
                    Some(ip) => entries.push(ip),
                    None => return Self(peer),
                }
            }
        }
        entries
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .map_or(Self(peer), Self)
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(item: &str) -> Option<IpAddr> {
    item.parse::<IpAddr>()
        .ok()
        .or_else(|| item.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// One accepted TCP connection as the requests on it see it (in every request's extensions):
/// its peer, and the number of Engine.IO sessions opened over it so far
/// (`--sessions-per-http-connection`).
#[derive(Debug, Clone)]
pub struct HttpConnection {
    /// The TCP peer (a proxy's address when behind one).
    pub peer: SocketAddr,
    sessions: Arc<AtomicU32>,
}

impl HttpConnection {
    /// A fresh connection from `peer` with no sessions yet.
    pub fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            sessions: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Counts one more session opened over this connection; returns the new count.
    pub fn count_session(&self) -> u32 {
        self.sessions
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted: TrustedProxies = "10.0.0.1, 10.0.0.2".parse().unwrap();
        let none = TrustedProxies::default();
        let client = |peer, h: &[&str], t| ClientAddr::resolve(peer, &xff(h), t).to_string();
        assert_eq!(client(proxy, &["1.2.3.4"], &none), "10.0.0.1");
        assert_eq!(client(proxy, &["1.2.3.4"], &trusted), "1.2.3.4");
        // the client may forge entries on the left; the right-most untrusted one counts
        assert_eq!(
            client(proxy, &["6.6.6.6, 1.2.3.4, 10.0.0.2"], &trusted),
            "1.2.3.4"
        );
        assert_eq!(
            client(proxy, &["6.6.6.6", "1.2.3.4:80"], &trusted),
            "1.2.3.4"
        );
        assert_eq!(client(proxy, &["[::1]:80"], &trusted), "::1");
        assert_eq!(client(proxy, &["1.2.3.4, nonsense"], &trusted), "10.0.0.1");
        assert_eq!(client(proxy, &[], &trusted), "10.0.0.1");
        assert_eq!(client(proxy, &["10.0.0.2"], &trusted), "10.0.0.1");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client(mapped, &["1.2.3.4"], &trusted), "1.2.3.4");
    }
}
