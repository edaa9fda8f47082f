//! Measurement helpers shared by the scenarios: a process-wide clock for timestamps embedded in
//! messages, latency histograms, and CPU/memory readings from `/proc` (Linux only).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the first call in this process: the clock every sender and receiver of one
/// run shares, so send→receive latency needs no wall clock.
pub fn now_us() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The [`Instant`] that [`now_us`] counts from.
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// A latency histogram in microseconds, 1 µs … 5 min, two significant digits (1 % buckets keep
/// thousands of per-connection histograms small).
pub fn latency_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, 300_000_000, 2)
        .expect("constant bounds that hdrhistogram accepts")
}

/// Records `us` into `h`, clamping values outside the histogram's range.
pub fn record(h: &mut Histogram<u32>, us: u64) {
    let v = us.clamp(1, h.high());
    // Clamped into range above, so recording cannot fail; saturation just stops counting.
    let _ = h.record(v);
}

/// `{p50, p90, p99, max, count}` in milliseconds (three decimals) for a latency histogram.
pub fn latency_json(h: &Histogram<u32>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
        "count": h.len(),
    })
}

/// Clock ticks per second of `/proc/*/stat` times. Linux has used 100 on every mainstream
/// architecture for decades; reading it would need `sysconf`, which needs unsafe FFI.
const CLK_TCK: f64 = 100.0;

/// User+system CPU time of a process so far (`None` if `/proc` cannot be read).
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name (which may contain spaces).
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')' the first field is state (field 3), so utime (14) and stime (15) are at 11, 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / CLK_TCK))
}

/// Measures the CPU use of a process over an interval, as a percentage of one core.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: Option<u32>,
    start_cpu: Option<Duration>,
    start: Instant,
}

impl CpuMeter {
    /// Starts measuring `pid` (`None`: this process).
    pub fn start(pid: Option<u32>) -> Self {
        CpuMeter {
            pid,
            start_cpu: cpu_time(pid),
            start: Instant::now(),
        }
    }

    /// CPU% of one core since [`CpuMeter::start`] (200 = both cores of a 2-core machine busy).
    pub fn percent(&self) -> Option<f64> {
        let used = cpu_time(self.pid)?.checked_sub(self.start_cpu?)?;
        let wall = self.start.elapsed().as_secs_f64();
        (wall > 0.0).then(|| (used.as_secs_f64() / wall * 1000.0).round() / 10.0)
    }
}

/// Resident memory (`VmRSS`) of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Rounds to one decimal for reports.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        assert!(cpu_time(None).is_some());
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }

    #[test]
    fn histogram_percentiles() {
        let mut h = latency_histogram();
        for us in 1..=1000 {
            record(&mut h, us * 1000);
        }
        record(&mut h, u64::MAX);
        let j = latency_json(&h);
        assert!((j["p50"].as_f64().unwrap_or(0.0) - 500.0).abs() < 10.0);
        assert!(j["max"].as_f64().unwrap_or(0.0) >= 290_000.0);
    }
}
