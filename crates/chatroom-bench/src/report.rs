//! Human-readable output: the one-line summary of a result, the correctness check used by the CI
//! smoke test, and the ours-vs-Node comparison table built from JSON-lines results.

use std::fmt::Write as _;

use serde_json::Value;

use crate::plot::{parse_records, summarise};

fn num(r: &Value, ptr: &str) -> Option<f64> {
    r.pointer(ptr).and_then(Value::as_f64)
}

fn show(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

/// One line describing a result object, for stderr.
pub fn summary_line(r: &Value) -> String {
    let scenario = r.get("scenario").and_then(Value::as_str).unwrap_or("?");
    let case = r.get("case").and_then(Value::as_str).unwrap_or(scenario);
    let target = r.get("target").and_then(Value::as_str).unwrap_or("?");
    let g = |p: &str| show(num(r, p));
    match scenario {
        "fanout" | "rooms" => {
            let mut s = format!(
                "{case} [{target}]: {} deliveries/s ({} sent/s), latency p50 {} p90 {} p99 {} max {} ms; lost {} dup {} reordered {} disconnected {}",
                g("/deliveries_per_s"),
                g("/sends_per_s"),
                g("/latency_ms/p50"),
                g("/latency_ms/p90"),
                g("/latency_ms/p99"),
                g("/latency_ms/max"),
                g("/lost"),
                g("/duplicates"),
                g("/order_violations"),
                g("/disconnected"),
            );
            if r.get("acks_ok").is_some() {
                let _ = write!(
                    s,
                    "; acks ok {} failed {} timed out {} (ack p99 {} ms)",
                    g("/acks_ok"),
                    g("/acks_failed"),
                    g("/ack_timeouts"),
                    g("/ack_latency_ms/p99")
                );
            }
            if r.get("nodes").is_some() {
                let _ = write!(
                    s,
                    "; {} nodes: cross-node p50 {} p99 {} ms ({} deliveries), same-node p50 {} p99 {} ms ({})",
                    g("/nodes"),
                    g("/latency_cross_node_ms/p50"),
                    g("/latency_cross_node_ms/p99"),
                    g("/latency_cross_node_ms/count"),
                    g("/latency_same_node_ms/p50"),
                    g("/latency_same_node_ms/p99"),
                    g("/latency_same_node_ms/count"),
                );
            }
            let _ = write!(
                s,
                "; generator CPU {}%, server CPU {}%",
                g("/gen_cpu_pct"),
                g("/server_cpu_pct")
            );
            s
        }
        "idle" => format!(
            "{case} [{target}]: {} of {} open ({} errors, {} still open), {} connects/s, server RSS {} → {} KiB = {} bytes/connection",
            g("/opened"),
            g("/connections"),
            g("/errors"),
            g("/still_open"),
            g("/connects_per_s"),
            g("/server_rss_before_kib"),
            g("/server_rss_after_kib"),
            g("/server_bytes_per_conn"),
        ),
        "storm" => format!(
            "{case} [{target}]: {} of {} connected, {} errors, {} connects/s, connect p50 {} p99 {} max {} ms; generator CPU {}%, server CPU {}%",
            g("/opened"),
            g("/connections"),
            g("/errors"),
            g("/connects_per_s"),
            g("/connect_latency_ms/p50"),
            g("/connect_latency_ms/p99"),
            g("/connect_latency_ms/max"),
            g("/gen_cpu_pct"),
            g("/server_cpu_pct"),
        ),
        "soak" => format!(
            "{case} [{target}]: {} cycles x {} clients, {} acked ({} missing, {} duplicated); lobby members at end {}, other rooms {}; RSS {} -> {} KiB (last third {}% over middle); fds {} -> {}; tasks {} -> {}; presence {} -> {}; violations {}",
            g("/cycles"),
            g("/clients_per_cycle"),
            g("/acked"),
            g("/missing"),
            g("/duplicated"),
            r.get("lobby_members").map_or(Value::Null, Clone::clone),
            r.get("other_rooms").map_or(Value::Null, Clone::clone),
            g("/rss_start_kib"),
            g("/rss_end_kib"),
            g("/rss_growth_pct"),
            g("/baseline/fds"),
            g("/end/fds"),
            g("/baseline/tasks"),
            g("/end/tasks"),
            g("/baseline/presence_connections"),
            g("/end/presence_connections"),
            r.get("violations")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        ),
        _ => r.to_string(),
    }
}

/// Correctness problems in a message-load result (empty = correct): losses, duplicates,
/// reordering, disconnects, failed or missing acks, or nothing sent at all.
pub fn problems(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (field, what) in [
        ("lost", "messages lost"),
        ("duplicates", "duplicates"),
        ("order_violations", "per-sender order violations"),
        ("disconnected", "clients disconnected"),
        ("acks_failed", "failed acks"),
        ("ack_timeouts", "acks missing"),
        ("errors", "connect errors"),
    ] {
        if let Some(n) = r.get(field).and_then(Value::as_u64)
            && n > 0
        {
            out.push(format!("{n} {what}"));
        }
    }
    if let Some(v) = r.get("violations").and_then(Value::as_array) {
        out.extend(
            v.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned)),
        );
    }
    if r.get("sent").and_then(Value::as_u64) == Some(0) {
        out.push("nothing was sent".to_owned());
    }
    out
}

/// The figures the comparison table shows for a scenario: (label, JSON pointer, higher is better).
fn metrics(scenario: &str) -> &'static [(&'static str, &'static str, bool)] {
    match scenario {
        "fanout" | "rooms" => &[
            ("deliveries/s", "/deliveries_per_s", true),
            ("latency p50 ms", "/latency_ms/p50", false),
            ("latency p99 ms", "/latency_ms/p99", false),
            ("latency max ms", "/latency_ms/max", false),
            ("lost", "/lost", false),
            ("server CPU %", "/server_cpu_pct", false),
        ],
        "idle" => &[
            ("server bytes/connection", "/server_bytes_per_conn", false),
            ("connections open", "/still_open", true),
            ("connects/s", "/connects_per_s", true),
            ("server RSS after, KiB", "/server_rss_after_kib", false),
        ],
        "storm" => &[
            ("connects/s", "/connects_per_s", true),
            ("connect p99 ms", "/connect_latency_ms/p99", false),
            ("errors", "/errors", false),
        ],
        _ => &[],
    }
}

/// A Markdown table of every case in `jsonl`: each figure as the median over runs for `ours` and
/// `node`, the ratio ours/node, and the generator's CPU during each side's runs.
pub fn comparison_table(jsonl: &str) -> String {
    let records = parse_records(jsonl);
    let mut cases: Vec<(String, String)> = Vec::new();
    for r in &records {
        let scenario = r.get("scenario").and_then(Value::as_str).unwrap_or("");
        let case = r.get("case").and_then(Value::as_str).unwrap_or(scenario);
        let key = (case.to_owned(), scenario.to_owned());
        if !cases.contains(&key) {
            cases.push(key);
        }
    }
    let median = |case: &str, target: &str, ptr: &str| -> Option<f64> {
        let vals: Vec<f64> = records
            .iter()
            .filter(|r| {
                r.get("case").and_then(Value::as_str) == Some(case)
                    && r.get("target").and_then(Value::as_str) == Some(target)
            })
            .filter_map(|r| num(r, ptr))
            .collect();
        summarise(&vals).map(|s| s.median)
    };
    let runs = |case: &str, target: &str| {
        records
            .iter()
            .filter(|r| {
                r.get("case").and_then(Value::as_str) == Some(case)
                    && r.get("target").and_then(Value::as_str) == Some(target)
            })
            .count()
    };
    let mut s = String::from(
        "| case | figure | ours | Node | ours/Node | generator CPU % (ours / Node) |\n|---|---|---:|---:|---:|---|\n",
    );
    for (case, scenario) in &cases {
        for (label, ptr, _higher) in metrics(scenario) {
            let o = median(case, "ours", ptr);
            let n = median(case, "node", ptr);
            if o.is_none() && n.is_none() {
                continue;
            }
            let ratio = match (o, n) {
                (Some(o), Some(n)) if n != 0.0 => format!("{:.2}×", o / n),
                _ => "-".to_owned(),
            };
            let cpu = format!(
                "{} / {}",
                show(median(case, "ours", "/gen_cpu_pct")),
                show(median(case, "node", "/gen_cpu_pct"))
            );
            let _ = writeln!(
                s,
                "| {case} ({}×ours, {}×node) | {label} | {} | {} | {ratio} | {cpu} |",
                runs(case, "ours"),
                runs(case, "node"),
                show(o),
                show(n)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_found() {
        let ok = json!({"sent": 10, "lost": 0, "duplicates": 0, "acks_failed": 0});
        assert!(problems(&ok).is_empty());
        let bad = json!({"sent": 10, "lost": 3, "duplicates": 1});
        assert_eq!(problems(&bad).len(), 2);
        assert_eq!(problems(&json!({"sent": 0})).len(), 1);
    }

    #[test]
    fn table_has_ratio() {
        let lines = [
            json!({"scenario":"fanout","case":"c","target":"ours","deliveries_per_s":200.0,"gen_cpu_pct":50.0}),
            json!({"scenario":"fanout","case":"c","target":"node","deliveries_per_s":100.0,"gen_cpu_pct":40.0}),
        ]
        .map(|v| v.to_string())
        .join("\n");
        let t = comparison_table(&lines);
        assert!(t.contains("| c (1×ours, 1×node) | deliveries/s | 200 | 100 | 2.00× | 50 / 40 |"));
    }
}
