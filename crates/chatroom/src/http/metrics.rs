//! `GET /metrics`: the server's [`Metrics`](crate::metrics::Metrics) for a Prometheus scraper.
//! The sampled gauges are set here, just before encoding: connections by transport from
//! socketioxide's sockets (so an upgrade from polling to WebSocket shows at the next scrape),
//! rooms with members from the presence table.

use crate::app::App;
use crate::metrics::CONTENT_TYPE;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::IntoResponse;
use socketioxide::{SocketIo, TransportType};

/// # GET /metrics
pub async fn metrics(
    State(app): State<App>,
    Extension(io): Extension<SocketIo>,
) -> impl IntoResponse {
    let (mut websocket, mut polling) = (0, 0);
    // `of`, not `sockets()`: the latter panics once shutdown has closed the namespace.
    if let Some(default_ns) = io.of("/") {
        for socket in default_ns.sockets() {
            match socket.transport_type() {
                TransportType::Websocket => websocket += 1,
                TransportType::Polling => polling += 1,
            }
        }
    }
    let rooms = app.presence().rooms().len();
    app.metrics.sample(websocket, polling, rooms);
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        app.metrics.encode(),
    )
}
