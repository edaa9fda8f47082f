//! `GET /metrics`: the server's [`Metrics`](crate::metrics::Metrics) for a Prometheus scraper.
//! The sampled gauges are set here, just before encoding: connections by transport from
//! socketioxide's sockets (so an upgrade from polling to WebSocket shows at the next scrape),
//! rooms with members from the presence table. On a cluster node the relay counters are
//! lifted to the cluster layer's own totals (`cluster::Counters`).

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
    if let Some(cluster) = &app.cluster {
        let total = |counter: &std::sync::atomic::AtomicU64| {
            counter.load(std::sync::atomic::Ordering::Relaxed)
        };
        let counters = &cluster.counters;
        app.metrics.catch_up_relay(crate::metrics::RelayTotals {
            relayed_out: total(&counters.relayed_out),
            relayed_in: total(&counters.relayed_in),
            gaps_filled: total(&counters.gaps_filled),
            redis_errors: total(&counters.redis_errors),
        });
    }
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        app.metrics.encode(),
    )
}
