//! HTTP routes beside Socket.IO: the page, its assets, our browser client, the health and
//! readiness checks, the metrics and the admin API (`/api/admin/`).
//! Everything else falls through to the Socket.IO service (`/socket.io/…`); the client script
//! is routed first because socketioxide would otherwise claim every path under `/socket.io/`.

pub mod admin;
pub mod assets;
pub mod health;
pub mod metrics;
pub mod page;

use crate::app::App;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use axum::{Extension, Router};
use socketioxide::SocketIo;
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every response that sets none itself: our own scripts,
/// styles and connections only; no inline script, no framing, no plugins. The page adds the
/// hashes of an operator template's inline blocks ([`page::Page`]).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'; object-src 'none'";

/// The HTTP routes; the caller adds the Socket.IO service as the fallback. `io` is read by
/// `/metrics` (connections by transport).
pub fn router(app: App, io: SocketIo) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/socket.io/socket.io.js", get(assets::client_js))
        .route("/app/{*path}", get(assets::app_file))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/admin", admin::routes(app.clone()))
        .layer(Extension(io))
        .with_state(app)
}

/// Adds the browser safety headers to every response: [`CONTENT_SECURITY_POLICY`] (unless the
/// handler set its own), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
/// `X-Frame-Options: DENY` (for browsers without `frame-ancestors`).
pub fn with_safety_headers(router: Router) -> Router {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(fixed(header::REFERRER_POLICY, "no-referrer"))
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
}
