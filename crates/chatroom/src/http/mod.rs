//! HTTP routes beside Socket.IO: the page, its assets, our browser client and the health check.
//! Everything else falls through to the Socket.IO service (`/socket.io/…`); the client script
//! is routed first because socketioxide would otherwise claim every path under `/socket.io/`.

pub mod assets;
pub mod health;
pub mod page;

use crate::app::App;
use axum::Router;
use axum::routing::get;

/// The HTTP routes; the caller adds the Socket.IO service as the fallback.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/socket.io/socket.io.js", get(assets::client_js))
        .route("/app/chat.js", get(assets::chat_js))
        .route("/app/chat.css", get(assets::chat_css))
        .route("/healthz", get(health::healthz))
        .with_state(app)
}
