//! Liveness and readiness for load balancers, pm2 and systemd watchdogs.

use crate::app::App;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use std::sync::atomic::Ordering;

/// # GET /healthz
///
/// 200 `{"status":"ok",...}` when the store answers, 503 `{"status":"degraded",...}` when it
/// does not (the server keeps serving; sends are answered `unavailable`).
pub async fn healthz(State(app): State<App>) -> impl IntoResponse {
    let store_ok = app.store.ping().await.is_ok();
    let body = Json(json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "store": if store_ok { "ok" } else { "unavailable" },
        "deliveries": app.stats.deliveries.load(Ordering::Relaxed),
        "slow_disconnects": app.stats.slow_disconnects.load(Ordering::Relaxed),
        "connections": app.connections.open(),
        "max_connections": app.connections.max(),
        "refusals": crate::refusal::total(),
    }));
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}
