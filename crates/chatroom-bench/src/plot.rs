//! `plot`: turns JSON-lines results into SVG bar charts (ours vs Node per case).
//!
//! The SVG is written by hand rather than with a plotting crate so the build needs no font
//! library: text is left to the viewer's `sans-serif`, and label widths are estimated.
//! Repeated runs of one case and target are summarised by their median, with a whisker from the
//! smallest to the largest run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// One chart to draw: which records it takes and which number it plots from each.
pub struct ChartSpec {
    /// Output file stem (`throughput` → `throughput.svg`).
    pub file: &'static str,
    /// Title shown on top.
    pub title: &'static str,
    /// Unit shown on the value axis.
    pub unit: &'static str,
    /// Scenarios (`scenario` field) the chart takes.
    pub scenarios: &'static [&'static str],
    /// JSON pointer to the value, e.g. `/latency_ms/p99`.
    pub pointer: &'static str,
    /// Multiply the value by this (units).
    pub scale: f64,
    /// Logarithmic value axis.
    pub log: bool,
}

/// The charts `compare` produces.
pub const CHARTS: &[ChartSpec] = &[
    ChartSpec {
        file: "throughput",
        title: "Deliveries per second (higher is better)",
        unit: "deliveries/s",
        scenarios: &["fanout", "rooms"],
        pointer: "/deliveries_per_s",
        scale: 1.0,
        log: false,
    },
    ChartSpec {
        file: "latency_p50",
        title: "Send → receive latency, median (lower is better)",
        unit: "ms",
        scenarios: &["fanout", "rooms"],
        pointer: "/latency_ms/p50",
        scale: 1.0,
        log: true,
    },
    ChartSpec {
        file: "latency_p99",
        title: "Send → receive latency, 99th percentile (lower is better)",
        unit: "ms",
        scenarios: &["fanout", "rooms"],
        pointer: "/latency_ms/p99",
        scale: 1.0,
        log: true,
    },
    ChartSpec {
        file: "memory",
        title: "Server memory per idle connection (lower is better)",
        unit: "KiB/connection",
        scenarios: &["idle"],
        pointer: "/server_bytes_per_conn",
        scale: 1.0 / 1024.0,
        log: false,
    },
    ChartSpec {
        file: "connects",
        title: "Connections opened per second (higher is better)",
        unit: "connects/s",
        scenarios: &["idle", "storm"],
        pointer: "/connects_per_s",
        scale: 1.0,
        log: false,
    },
];

/// Median, min and max of the runs of one case × target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median of the runs.
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
}

/// Summarises values; `None` for none.
pub fn summarise(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// Cases (in first-seen order) × targets (in first-seen order) → the values of one chart.
pub struct Table {
    /// Case names, in the order they first appear.
    pub cases: Vec<String>,
    /// Target names (`ours`, `node`), in the order they first appear.
    pub targets: Vec<String>,
    /// (case, target) → values of every run.
    pub values: BTreeMap<(String, String), Vec<f64>>,
}

/// Collects the values `spec` plots from `records`.
pub fn table(records: &[Value], spec: &ChartSpec) -> Table {
    let mut t = Table {
        cases: Vec::new(),
        targets: Vec::new(),
        values: BTreeMap::new(),
    };
    for r in records {
        let scenario = r.get("scenario").and_then(Value::as_str).unwrap_or("");
        if !spec.scenarios.contains(&scenario) {
            continue;
        }
        let Some(v) = r.pointer(spec.pointer).and_then(Value::as_f64) else {
            continue;
        };
        let case = r
            .get("case")
            .and_then(Value::as_str)
            .unwrap_or(scenario)
            .to_owned();
        let target = r
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        if !t.cases.contains(&case) {
            t.cases.push(case.clone());
        }
        if !t.targets.contains(&target) {
            t.targets.push(target.clone());
        }
        t.values
            .entry((case, target))
            .or_default()
            .push(v * spec.scale);
    }
    t
}

fn color(target: &str, i: usize) -> &'static str {
    match target {
        "ours" => "#d9480f",
        "node" => "#2b8a3e",
        _ => ["#1c7ed6", "#7048e8", "#868e96"][i % 3],
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders a grouped bar chart; `None` if the table is empty.
pub fn render(spec: &ChartSpec, t: &Table) -> Option<String> {
    let sums: BTreeMap<&(String, String), Summary> = t
        .values
        .iter()
        .filter_map(|(k, v)| summarise(v).map(|s| (k, s)))
        .collect();
    if sums.is_empty() {
        return None;
    }
    let top = sums.values().map(|s| s.max).fold(0.0f64, f64::max);
    let bottom_log = sums
        .values()
        .map(|s| s.min)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (lo, hi) = if spec.log {
        let lo = 10f64.powf(bottom_log.log10().floor()).max(1e-3);
        let hi = 10f64.powf(top.max(lo * 10.0).log10().ceil());
        (lo, hi)
    } else {
        (0.0, nice_ceiling(top.max(1e-9)))
    };

    let group_w = 40.0 + 44.0 * t.targets.len() as f64;
    let (left, right, top_m, bottom) = (80.0, 140.0, 60.0, 120.0);
    let plot_w = (group_w * t.cases.len() as f64).max(300.0);
    let plot_h = 300.0;
    let width = left + plot_w + right;
    let height = top_m + plot_h + bottom;
    let y = |v: f64| -> f64 {
        let frac = if spec.log {
            (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10())
        } else {
            v / hi
        };
        top_m + plot_h * (1.0 - frac.clamp(0.0, 1.0))
    };

    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{}</text>
"##,
        width / 2.0,
        esc(spec.title)
    );
    // Value axis with grid lines.
    let ticks: Vec<f64> = if spec.log {
        let mut v = Vec::new();
        let mut x = lo;
        while x <= hi * 1.0001 {
            v.push(x);
            x *= 10.0;
        }
        v
    } else {
        (0..=5).map(|i| hi * f64::from(i) / 5.0).collect()
    };
    for tv in ticks {
        let ty = y(tv);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + plot_w,
            left - 6.0,
            ty + 4.0,
            fmt_num(tv)
        );
    }
    let _ = writeln!(
        s,
        r##"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}{}</text>"##,
        top_m + plot_h / 2.0,
        esc(spec.unit),
        if spec.log { " (log scale)" } else { "" }
    );
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        left + plot_w,
        top_m + plot_h,
        top_m + plot_h
    );
    // Bars.
    let bar_w = 36.0;
    for (ci, case) in t.cases.iter().enumerate() {
        let gx = left + group_w * ci as f64 + 20.0;
        for (ti, target) in t.targets.iter().enumerate() {
            let Some(sum) = sums.get(&(case.clone(), target.clone())) else {
                continue;
            };
            let x = gx + 44.0 * ti as f64;
            let by = y(sum.median);
            let base = top_m + plot_h;
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{by:.1}" width="{bar_w}" height="{:.1}" fill="{}"><title>{} {}: {} {}</title></rect>"##,
                (base - by).max(0.5),
                color(target, ti),
                esc(case),
                esc(target),
                fmt_num(sum.median),
                esc(spec.unit)
            );
            if sum.max > sum.min {
                let cx = x + bar_w / 2.0;
                let _ = writeln!(
                    s,
                    r##"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="#000"/>"##,
                    y(sum.max),
                    y(sum.min)
                );
            }
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"##,
                x + bar_w / 2.0,
                y(sum.max) - 4.0,
                fmt_num(sum.median)
            );
        }
        let lx = gx + 44.0 * t.targets.len() as f64 / 2.0 - 4.0;
        let ly = top_m + plot_h + 14.0;
        let _ = writeln!(
            s,
            r##"<text transform="translate({lx:.1},{ly:.1}) rotate(30)" text-anchor="start">{}</text>"##,
            esc(case)
        );
    }
    // Legend.
    for (ti, target) in t.targets.iter().enumerate() {
        let lx = left + 10.0 + 90.0 * ti as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{lx}" y="36" width="12" height="12" fill="{}"/><text x="{}" y="46">{}</text>"##,
            color(target, ti),
            lx + 16.0,
            esc(target)
        );
    }
    s.push_str("</svg>\n");
    Some(s)
}

fn nice_ceiling(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// Parses JSON lines, skipping blank lines and lines that are not JSON objects.
pub fn parse_records(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(Value::is_object)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn median_and_range() {
        assert_eq!(
            summarise(&[3.0, 1.0, 2.0]),
            Some(Summary {
                median: 2.0,
                min: 1.0,
                max: 3.0
            })
        );
        assert_eq!(summarise(&[1.0, 3.0]).map(|s| s.median), Some(2.0));
        assert_eq!(summarise(&[]), None);
    }

    #[test]
    fn renders_bars_for_each_target() {
        let recs = vec![
            json!({"scenario":"fanout","case":"a","target":"ours","deliveries_per_s":100.0}),
            json!({"scenario":"fanout","case":"a","target":"node","deliveries_per_s":50.0}),
            json!({"scenario":"idle","case":"i","target":"ours","server_bytes_per_conn":2048.0}),
        ];
        let t = table(&recs, &CHARTS[0]);
        assert_eq!(t.cases, vec!["a"]);
        assert_eq!(t.targets, vec!["ours", "node"]);
        let svg = render(&CHARTS[0], &t).unwrap_or_default();
        assert_eq!(svg.matches("<rect x=").count(), 2 + 2);
        assert!(render(&CHARTS[1], &table(&recs, &CHARTS[1])).is_none());
    }
}
