//! Liveness and readiness for load balancers, pm2 and systemd watchdogs, plus the process gauges
//! a soak test compares before and after churn (tasks, open files, presence) to catch leaks.

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
/// does not (the server keeps serving; sends are answered `unavailable`). Gauges: `tasks` (alive
/// tokio tasks), `open_fds` (null where /proc is missing), `rooms` (non-empty rooms) and
/// `presence_connections` (memberships summed over rooms: every v1 client is in the lobby).
/// Counters: `deliveries`, `slow_disconnects`, `refusals`, and `purged` (messages removed by
/// the retention purge since start; it stands in for a metric until `/metrics` exists).
pub async fn healthz(State(app): State<App>) -> impl IntoResponse {
    let store_ok = app.store.ping().await.is_ok();
    let (rooms, presence_connections) = {
        let rooms = app.presence().rooms();
        (rooms.len(), rooms.iter().map(|(_, n)| n).sum::<usize>())
    };
    let body = Json(json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "store": if store_ok { "ok" } else { "unavailable" },
        "deliveries": app.stats.deliveries.load(Ordering::Relaxed),
        "slow_disconnects": app.stats.slow_disconnects.load(Ordering::Relaxed),
        "purged": app.stats.purged.load(Ordering::Relaxed),
        "connections": app.connections.open(),
        "max_connections": app.connections.max(),
        "refusals": crate::refusal::total(),
        "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        "open_fds": open_fds(),
        "rooms": rooms,
        "presence_connections": presence_connections,
        "node": app.cluster.as_ref().map(|c| c.node()),
        "cluster": app.cluster.as_ref().map(|c| json!({
            "redis": if c.redis_up() { "ok" } else { "unavailable" },
            "relayed_out": c.counters.relayed_out.load(Ordering::Relaxed),
            "relayed_in": c.counters.relayed_in.load(Ordering::Relaxed),
            "gaps_filled": c.counters.gaps_filled.load(Ordering::Relaxed),
            "redis_errors": c.counters.redis_errors.load(Ordering::Relaxed),
        })),
    }));
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// Open file descriptors of this process (Linux `/proc/self/fd`; the directory handle used to
/// read it is not counted). A directory listing is a few microseconds: not worth a blocking task.
fn open_fds() -> Option<usize> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count().saturating_sub(1))
}
