//! The connection scenarios: `idle` (open N connections, hold them, measure the server's memory
//! per connection) and `storm` (N connects as fast as a concurrency cap allows: connects/s,
//! connect latency, errors). Both open connections the same way, so they share this file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::client::{Client, ConnectOptions};
use crate::load::Protocol;
use crate::progress::Ticker;
use crate::stats::{self, CpuMeter, latency_histogram};

/// Settings shared by `idle` and `storm`.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Server base URL.
    pub url: String,
    /// Connections to open.
    pub connections: usize,
    /// Connects in flight at once.
    pub concurrency: usize,
    /// Seed clients (no auth) or v1 clients (auth `{name}`).
    pub protocol: Protocol,
    /// Server process for memory/CPU readings.
    pub server_pid: Option<u32>,
    /// How long to hold the connections after the last one opened (idle: before measuring).
    pub hold: Duration,
    /// Print progress to stderr.
    pub progress: bool,
}

struct Opened {
    clients: Vec<Client>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    hist: hdrhistogram::Histogram<u32>,
}

async fn open_many(cfg: &ConnConfig, ticker: &Ticker) -> Opened {
    let done = Arc::new(AtomicU64::new(0));
    {
        let done = done.clone();
        let total = cfg.connections;
        ticker.set_status(move || format!("{}/{total}", done.load(Ordering::Relaxed)));
    }
    let started = Instant::now();
    let results: Vec<(Duration, Result<Client, String>)> =
        futures_util::stream::iter((0..cfg.connections).map(|i| {
            let done = done.clone();
            async move {
                let auth = match cfg.protocol {
                    Protocol::Seed => None,
                    Protocol::V1 => Some(json!({ "name": format!("idle{i}") })),
                };
                let t0 = Instant::now();
                let r = Client::connect_with(
                    &cfg.url,
                    ConnectOptions {
                        auth,
                        // Events (welcome, presence) are not needed: drop them cheaply.
                        on_event: Some(Arc::new(|_: &str, _: Vec<Value>| {})),
                        timeout: Some(Duration::from_secs(30)),
                    },
                )
                .await
                .map_err(|e| e.to_string());
                done.fetch_add(1, Ordering::Relaxed);
                (t0.elapsed(), r)
            }
        }))
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut hist = latency_histogram();
    let mut clients = Vec::with_capacity(results.len());
    let mut errors = 0;
    let mut first_error = None;
    for (took, r) in results {
        match r {
            Ok(c) => {
                stats::record(
                    &mut hist,
                    u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
                );
                clients.push(c);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    Opened {
        clients,
        errors,
        first_error,
        elapsed,
        hist,
    }
}

/// `idle`: opens the connections, holds them, and reports the server's resident memory growth
/// divided by the connections that opened.
pub async fn idle(cfg: &ConnConfig) -> Value {
    let rss_before = cfg.server_pid.and_then(stats::rss_kib);
    let ticker = Ticker::start(cfg.progress, "connecting");
    let gen_cpu = CpuMeter::start(None);
    let opened = open_many(cfg, &ticker).await;
    ticker.set_phase("holding");
    let n = opened.clients.len();
    ticker.set_status(move || format!("{n} open"));
    tokio::time::sleep(cfg.hold).await;
    let rss_after = cfg.server_pid.and_then(stats::rss_kib);
    let still_open = opened.clients.iter().filter(|c| c.is_connected()).count();
    ticker.finish();
    let ok = opened.clients.len();
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if ok > 0 => Some(stats::round1(
            a.saturating_sub(b) as f64 * 1024.0 / ok as f64,
        )),
        _ => None,
    };
    let out = json!({
        "protocol": cfg.protocol,
        "connections": cfg.connections,
        "opened": ok,
        "errors": opened.errors,
        "first_error": opened.first_error,
        "still_open": still_open,
        "connect_s": stats::round1(opened.elapsed.as_secs_f64()),
        "connects_per_s": stats::round1(ok as f64 / opened.elapsed.as_secs_f64()),
        "connect_latency_ms": stats::latency_json(&opened.hist),
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
        "server_bytes_per_conn": per_conn,
        "gen_cpu_pct": gen_cpu.percent(),
    });
    close_all(opened.clients).await;
    out
}

/// `storm`: as many connects as the concurrency cap allows; connects/s, latency and errors.
pub async fn storm(cfg: &ConnConfig) -> Value {
    let ticker = Ticker::start(cfg.progress, "storm");
    let gen_cpu = CpuMeter::start(None);
    let srv_cpu = cfg.server_pid.map(|p| CpuMeter::start(Some(p)));
    let opened = open_many(cfg, &ticker).await;
    let gen_cpu_pct = gen_cpu.percent();
    let srv_cpu_pct = srv_cpu.and_then(|m| m.percent());
    ticker.set_phase("holding");
    tokio::time::sleep(cfg.hold).await;
    let still_open = opened.clients.iter().filter(|c| c.is_connected()).count();
    ticker.finish();
    let ok = opened.clients.len();
    let out = json!({
        "protocol": cfg.protocol,
        "connections": cfg.connections,
        "concurrency": cfg.concurrency,
        "opened": ok,
        "errors": opened.errors,
        "first_error": opened.first_error,
        "still_open": still_open,
        "connect_s": stats::round1(opened.elapsed.as_secs_f64()),
        "connects_per_s": stats::round1(ok as f64 / opened.elapsed.as_secs_f64()),
        "connect_latency_ms": stats::latency_json(&opened.hist),
        "gen_cpu_pct": gen_cpu_pct,
        "server_cpu_pct": srv_cpu_pct,
        "server_rss_kib": cfg.server_pid.and_then(stats::rss_kib),
    });
    close_all(opened.clients).await;
    out
}

/// Closes connections politely, many at a time, so the server sees disconnects rather than a
/// wall of resets (and the next scenario starts from a quiet server).
async fn close_all(clients: Vec<Client>) {
    futures_util::stream::iter(clients.into_iter().map(Client::close))
        .buffer_unordered(512)
        .collect::<Vec<()>>()
        .await;
}
