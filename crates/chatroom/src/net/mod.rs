//! The network edge: accepting TCP connections, HTTP timeouts, connection limits and the
//! client address every other layer uses for per-IP limits and refusal logs. Everything a
//! client can do before it is a Socket.IO connection is bounded here.

use std::net::IpAddr;

/// The client's address: the TCP peer, or — when the peer is a trusted proxy
/// (`--trust-proxy`) — the address that proxy put in `X-Forwarded-For`. Inserted into every
/// HTTP request's extensions; Socket.IO handlers read it from the handshake request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
