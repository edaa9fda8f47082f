//! Checks on Socket.IO's HTTP requests before socketioxide sees them, because a browser page
//! from any site, or a loop on one keep-alive connection, could otherwise open sessions at
//! will: the `Origin` must be allowed (`--allowed-origins`; no `Origin` = not a browser,
//! allowed), new Engine.IO sessions (handshakes: requests without `sid`) are rate limited per
//! client address (`--handshakes-per-ip`) and counted per HTTP connection
//! (`--sessions-per-http-connection`). Every refusal is a JSON `{"code": …}` and a
//! [`refusal::refused`] log line. While the server drains (shutdown), new sessions get 503
//! `{"code":"unavailable"}` — the client's retry goes to another node — logged at debug only,
//! since the client did nothing wrong.

use super::{ClientAddr, HttpConnection};
use crate::config::Config;
use crate::config::limits::AllowedOrigins;
use crate::metrics::Metrics;
use crate::refusal;
use crate::shutdown::Drain;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Path prefix of the Socket.IO service.
const SOCKET_IO: &str = "/socket.io/";
/// Our browser client, an ordinary asset (a cross-site `<script src>` may load it).
const CLIENT_JS: &str = "/socket.io/socket.io.js";
/// Handshakes between sweeps of addresses whose bucket is full again.
const SWEEP_EVERY: u64 = 4096;

/// The guard's settings and per-address state; see the module docs.
pub struct Guard {
    origins: AllowedOrigins,
    handshakes: Option<DefaultKeyedRateLimiter<IpAddr>>,
    sessions_per_connection: Option<u32>,
    handshakes_seen: AtomicU64,
    metrics: Arc<Metrics>,
    drain: Drain,
}

impl Guard {
    /// The guard `config` asks for; refusals are counted in `metrics`; while `drain` is on,
    /// new sessions are refused (`unavailable`, 503).
    pub fn new(config: &Config, metrics: Arc<Metrics>, drain: Drain) -> Arc<Self> {
        Arc::new(Self {
            origins: config.allowed_origins.clone(),
            handshakes: config.limits.handshakes_per_ip.map(|rate| {
                RateLimiter::keyed(Quota::per_second(rate.per_second).allow_burst(rate.burst))
            }),
            sessions_per_connection: config.limits.sessions_per_http_connection,
            handshakes_seen: AtomicU64::new(0),
            metrics,
            drain,
        })
    }

    fn check(&self, req: &Request) -> Result<(), Refused> {
        let client = req.extensions().get::<ClientAddr>().copied();
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            if !origin
                .to_str()
                .is_ok_and(|origin| self.origins.allows(origin, host))
            {
                refusal::refused(
                    client,
                    "origin_not_allowed",
                    format_args!("Origin {origin:?} is not allowed (--allowed-origins)"),
                );
                return Err(Refused::Origin);
            }
        }
        if !is_handshake(req) {
            return Ok(());
        }
        if self.drain.is_draining() {
            // Not the client's fault: no refusal line; it retries, on another node.
            tracing::debug!(?client, "new session refused: shutting down");
            return Err(Refused::Draining);
        }
        if let (Some(max), Some(conn)) = (
            self.sessions_per_connection,
            req.extensions().get::<HttpConnection>(),
        ) && conn.count_session() > max
        {
            refusal::refused(
                client,
                "too_many_sessions",
                format_args!(
                    "more than {max} sessions over one HTTP connection \
                     (--sessions-per-http-connection)"
                ),
            );
            return Err(Refused::Sessions);
        }
        if let (Some(limiter), Some(client)) = (&self.handshakes, client) {
            if self
                .handshakes_seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(SWEEP_EVERY)
            {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&client.0) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                refusal::refused(
                    Some(client),
                    "rate_limited",
                    "too many new sessions from this address (--handshakes-per-ip)",
                );
                return Err(Refused::Rate(wait.as_secs().max(1)));
            }
        }
        Ok(())
    }
}

/// A request the guard turns away.
#[derive(Debug, Clone, Copy)]
enum Refused {
    Origin,
    Sessions,
    /// Shutting down: no new sessions.
    Draining,
    /// Seconds until a handshake would be accepted.
    Rate(u64),
}

impl Refused {
    fn code(self) -> &'static str {
        match self {
            Self::Origin => "origin_not_allowed",
            Self::Sessions => "too_many_sessions",
            Self::Draining => "unavailable",
            Self::Rate(_) => "rate_limited",
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Origin => StatusCode::FORBIDDEN,
            Self::Sessions | Self::Rate(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Draining => StatusCode::SERVICE_UNAVAILABLE,
        };
        let code = self.code();
        let mut response = (status, Json(json!({ "code": code }))).into_response();
        if let Self::Rate(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A request that opens a new Engine.IO session: a GET to the Socket.IO path without `sid`.
fn is_handshake(req: &Request) -> bool {
    req.method() == axum::http::Method::GET
        && !req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|pair| pair.split('=').next() == Some("sid"))
}

/// Middleware: applies [`Guard`] to `/socket.io/` requests (our client script excepted).
pub async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with(SOCKET_IO) || path == CLIENT_JS {
        return next.run(req).await;
    }
    if let Err(refused) = guard.check(&req) {
        guard.metrics.refused(refused.code(), "http");
        return refused.into_response();
    }
    let client = req.extensions().get::<ClientAddr>().copied();
    let response = next.run(req).await;
    if let Some(reason) = log_engine_refusal(client, response.status()) {
        guard.metrics.refused(reason, "http");
    }
    response
}

/// Engine.IO answers a bad polling request itself (413: a payload over
/// `--max-message-bytes`; 400: a malformed packet, overlapping polls, a bad handshake); the
/// refusal is logged here, where the client's address is known. Returns its code.
fn log_engine_refusal(client: Option<ClientAddr>, status: StatusCode) -> Option<&'static str> {
    let reason = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::BAD_REQUEST => "bad_packet",
        _ => return None,
    };
    refusal::refused(client, reason, format_args!("Engine.IO answered {status}"));
    Some(reason)
}
