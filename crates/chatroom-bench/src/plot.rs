//! `plot`: turns JSON-lines results into SVG bar charts (ours vs Node per case).
//!
//! Drawn with `plotters`' SVG backend and no font feature (`ttf`, `ab_glyph` off), so the build
//! still needs no font library: plotters estimates label widths, and the text is left to the
//! viewer's `sans-serif`. Repeated runs of one case and target are summarised by their median,
//! with a whisker from the smallest to the largest run.

use std::collections::BTreeMap;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};
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

fn color(target: &str, i: usize) -> RGBColor {
    match target {
        "ours" => RGBColor(0xd9, 0x48, 0x0f),
        "node" => RGBColor(0x2b, 0x8a, 0x3e),
        _ => [
            RGBColor(0x1c, 0x7e, 0xd6),
            RGBColor(0x70, 0x48, 0xe8),
            RGBColor(0x86, 0x8e, 0x96),
        ][i % 3],
    }
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

/// Width of one case's group of bars, in pixels, per target plus a gap.
const BAR_PX: u32 = 44;
const GROUP_GAP_PX: u32 = 40;
/// A bar's share of its slot (the rest separates neighbouring bars).
const BAR_FILL: f64 = 0.8;

/// Renders a grouped bar chart; `None` if the table is empty or plotters fails.
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
    let group_px = GROUP_GAP_PX + BAR_PX * t.targets.len() as u32;
    let plot_w = (group_px * t.cases.len() as u32).max(300);
    let size = (70 + plot_w + 20, 40 + 300 + 110);
    let mut svg = String::new();
    let drawn = if spec.log {
        let lo = 10f64.powf(bottom_log.log10().floor()).max(1e-3);
        let hi = 10f64.powf(top.max(lo * 10.0).log10().ceil());
        draw(&mut svg, size, spec, t, &sums, (lo..hi).log_scale(), lo)
    } else {
        let hi = nice_ceiling(top.max(1e-9));
        draw(&mut svg, size, spec, t, &sums, 0.0..hi, 0.0)
    };
    match drawn {
        Ok(()) => Some(svg),
        Err(e) => {
            eprintln!("plot {}: {e}", spec.file);
            None
        }
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws the chart on an SVG string; `y` is the value axis (linear or log), `base` its bottom.
/// The x axis runs over [0, cases): case `i` is the slot [i, i+1), its bars side by side.
fn draw<Y>(
    out: &mut String,
    size: (u32, u32),
    spec: &ChartSpec,
    t: &Table,
    sums: &BTreeMap<&(String, String), Summary>,
    y: Y,
    base: f64,
) -> DrawResult
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let root = SVGBackend::with_string(out, size).into_drawing_area();
    root.fill(&WHITE)?;
    let cases = t.cases.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            spec.title,
            ("sans-serif", 15).into_font().style(FontStyle::Bold),
        )
        .margin_top(10)
        .margin_right(20)
        .x_label_area_size(110)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..cases as f64, y)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(format!(
            "{}{}",
            spec.unit,
            if spec.log { " (log scale)" } else { "" }
        ))
        .y_label_formatter(&|v| fmt_num(*v))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .draw()?;

    let slot = 1.0 / (t.targets.len() as f64 + GROUP_GAP_PX as f64 / BAR_PX as f64);
    let half_gap = (1.0 - slot * t.targets.len() as f64) / 2.0;
    for (ti, target) in t.targets.iter().enumerate() {
        let fill = color(target, ti);
        let bars: Vec<(f64, Summary)> = t
            .cases
            .iter()
            .enumerate()
            .filter_map(|(ci, case)| {
                let x = ci as f64 + half_gap + slot * ti as f64;
                sums.get(&(case.clone(), target.clone())).map(|s| (x, *s))
            })
            .collect();
        let width = slot * BAR_FILL;
        chart
            .draw_series(
                bars.iter().map(|(x, s)| {
                    Rectangle::new([(*x, base), (*x + width, s.median)], fill.filled())
                }),
            )?
            .label(target.as_str())
            .legend(move |(lx, ly)| {
                Rectangle::new([(lx, ly - 6), (lx + 12, ly + 6)], fill.filled())
            });
        // Whiskers from the smallest to the largest run, and the median's value on top.
        chart.draw_series(bars.iter().filter(|(_, s)| s.max > s.min).map(|(x, s)| {
            PathElement::new(
                vec![(*x + width / 2.0, s.min), (*x + width / 2.0, s.max)],
                BLACK,
            )
        }))?;
        chart.draw_series(bars.iter().map(|(x, s)| {
            Text::new(
                fmt_num(s.median),
                (*x + width / 2.0, s.max),
                ("sans-serif", 10)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(RGBColor(0xdd, 0xdd, 0xdd))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    // Case names under their groups, turned a quarter so long names fit.
    for (ci, case) in t.cases.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(ci as f64 + 0.5, base));
        root.draw(&Text::new(
            case.clone(),
            (px - 6, py + 8),
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        ))?;
    }
    root.present()?;
    Ok(())
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
        // One bar and one legend key per target.
        assert_eq!(svg.matches(r##"fill="#D9480F""##).count(), 2, "{svg}");
        assert_eq!(svg.matches(r##"fill="#2B8A3E""##).count(), 2, "{svg}");
        assert!(
            svg.contains("\na\n</text>") && svg.contains("\nours\n</text>"),
            "{svg}"
        );
        assert!(render(&CHARTS[1], &table(&recs, &CHARTS[1])).is_none());
    }
}
