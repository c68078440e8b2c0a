//! Printing of the fan-out benchmark: one table per scenario with the hub beside the
//! reference and their ratio, machine-readable `#result` lines, and the summary of
//! several runs with medians and the targets. Runs on the main thread.
//!
//! Part of `cargo bench --bench fanout`.

use std::collections::BTreeMap;

use crate::scenario::{Figures, Spec};

/// The rows of a scenario table: key, label, and whether a hub/ref ratio is shown.
const ROWS: &[(&str, &str, bool)] = &[
    ("connected", "connected", false),
    ("connect_s", "connect time s", false),
    ("published", "published messages", false),
    ("publish_rate", "publish rate msg/s", true),
    ("call_us", "publish call us, mean", true),
    ("call_max_us", "publish call us, max", true),
    ("preempted_per_msg", "publisher preempted per msg", false),
    ("delivered_per_s", "delivered msg/s", true),
    ("skipped_pct", "skipped %", false),
    ("server_skipped", "skips counted by server", false),
    ("lat_p50", "latency p50 ms", true),
    ("lat_p90", "latency p90 ms", true),
    ("lat_p99", "latency p99 ms", true),
    ("lat_p999", "latency p99.9 ms", true),
    ("lat_max", "latency max ms", true),
    ("comp_p50", "fan-out completion p50 ms", true),
    ("comp_p99", "fan-out completion p99 ms", true),
    ("cpu_us_per_delivery", "server CPU us/delivery", true),
    ("client_cpu_pct", "subscriber CPU % of a core", false),
    ("other_load_cores", "other processes' load, cores", false),
    ("threads", "server process threads", true),
    ("rss_mib", "server process RSS MiB", true),
    ("capacity_msgs", "capacity msg/s", true),
    ("capacity_deliveries", "capacity deliveries/s", true),
    ("blast_delivered_per_s", "blast probe delivered msg/s", true),
    ("rss_per_conn_kib", "RSS per connection KiB", true),
    ("rss_burst_per_conn_kib", "... after a burst, KiB", true),
    ("maps", "memory maps", true),
];

/// The figures of both sides of one run of a scenario; a side that could not run holds
/// the reason.
pub type Sides = BTreeMap<&'static str, Result<Figures, String>>;

/// Prints the table of one run of a scenario.
pub fn print_table(spec: &Spec, sides: &Sides) {
    let side = |name: &str| sides.get(name).and_then(|s| s.as_ref().ok());
    let (reference, hub) = (side("reference"), side("hub"));
    println!();
    println!("{:<30} {:>14} {:>14} {:>9}", spec.key(), "reference", "hub", "hub/ref");
    for &(key, label, ratio) in ROWS {
        let (r, h) = (reference.and_then(|f| f.get(key)), hub.and_then(|f| f.get(key)));
        if r.is_none() && h.is_none() {
            continue;
        }
        let shown = |value: Option<&f64>| value.map_or_else(|| "-".to_owned(), |v| number(*v));
        let quotient = match (ratio, r, h) {
            (true, Some(r), Some(h)) if *r > 0.0 => format!("{:.2}x", h / r),
            _ => String::new(),
        };
        println!("{label:<30} {:>14} {:>14} {quotient:>9}", shown(r), shown(h));
    }
    for (name, side) in sides {
        if let Err(why) = side {
            println!("{name} skipped: {why}");
        }
    }
}

/// Prints the machine-readable lines a multi-run summary is built from.
pub fn print_results(spec: &Spec, sides: &Sides) {
    for (name, side) in sides {
        let Ok(figures) = side else { continue };
        let fields: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("#result {} {name} {}", spec.key(), fields.join(" "));
    }
}

/// Formats a figure with a sensible number of digits for its size.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 || magnitude == 0.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// Every `#result` line of several runs: scenario key, then side, then one map per run.
#[derive(Default)]
pub struct Collected {
    runs: BTreeMap<String, BTreeMap<String, Vec<BTreeMap<String, f64>>>>,
    order: Vec<String>,
}

impl Collected {
    /// Takes one output line of a scenario process; ignores everything but results.
    pub fn take_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("#result ") else { return };
        let mut words = rest.split_whitespace();
        let (Some(key), Some(side)) = (words.next(), words.next()) else { return };
        let fields = words
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect();
        if !self.order.iter().any(|k| k == key) {
            self.order.push(key.to_owned());
        }
        let sides = self.runs.entry(key.to_owned()).or_default();
        sides.entry(side.to_owned()).or_default().push(fields);
    }

    /// Returns the median over runs of one figure of one side.
    fn median(&self, key: &str, side: &str, figure: &str) -> Option<f64> {
        let runs = self.runs.get(key)?.get(side)?;
        median(runs.iter().filter_map(|run| run.get(figure).copied()).collect())
    }

    /// Returns the median over runs of the hub/reference ratio of one figure, each ratio
    /// taken within one run.
    fn median_ratio(&self, key: &str, figure: &str) -> Option<f64> {
        let sides = self.runs.get(key)?;
        let (hub, reference) = (sides.get("hub")?, sides.get("reference")?);
        let ratios = hub
            .iter()
            .zip(reference)
            .filter_map(|(h, r)| Some(h.get(figure)? / r.get(figure).filter(|r| **r > 0.0)?))
            .collect();
        median(ratios)
    }

    fn runs_of(&self, key: &str) -> usize {
        let sides = self.runs.get(key);
        sides.and_then(|s| s.values().map(Vec::len).max()).unwrap_or(0)
    }

    /// Prints the medians of every scenario and checks the targets.
    pub fn print_summary(&self) {
        println!();
        println!("== medians over runs (ratios taken within each run, then the median) ==");
        println!(
            "{:<18} {:<26} {:>12} {:>12} {:>9}",
            "scenario", "figure", "reference", "hub", "hub/ref"
        );
        for key in &self.order {
            println!("{key:<18} ({} runs)", self.runs_of(key));
            for &(figure, label, ratio) in ROWS {
                let r = self.median(key, "reference", figure);
                let h = self.median(key, "hub", figure);
                if r.is_none() && h.is_none() {
                    continue;
                }
                let shown = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), number);
                let quotient = ratio
                    .then(|| self.median_ratio(key, figure))
                    .flatten()
                    .map_or_else(String::new, |q| format!("{q:.2}x"));
                println!("{:<18} {label:<26} {:>12} {:>12} {quotient:>9}", "", shown(r), shown(h));
            }
        }
        self.print_targets();
    }

    fn print_targets(&self) {
        println!();
        println!("== targets ==");
        for (key, wanted, met) in self.targets() {
            let verdict = match met {
                Some(true) => "met",
                Some(false) => "NOT MET",
                None => "not measured",
            };
            println!("{key:<18} {wanted:<58} {verdict}");
        }
        println!(
            "{:<18} {:<58} see `cargo bench --bench micro`",
            "no subscriber", "publishing allocates nothing, serialises nothing"
        );
    }

    /// The targets, each with whether the medians meet it (`None`: not measured).
    fn targets(&self) -> Vec<(&'static str, String, Option<bool>)> {
        let paced = |key: &'static str, n: f64, p99: f64| {
            let connected = self.median(key, "hub", "connected");
            let skipped = self.median(key, "hub", "skipped_pct");
            let ratio = self.median_ratio(key, "lat_p99");
            let met = match (connected, skipped, ratio) {
                (Some(c), Some(s), Some(q)) => Some(c >= n && s == 0.0 && q <= p99),
                _ => None,
            };
            let shown = ratio.map_or_else(|| "-".into(), |q| format!("{q:.3}x"));
            (key, format!("all connected, no skips, p99 <= {p99}x reference (is {shown})"), met)
        };
        let ratio_at_least = |key: &'static str, figure: &str, what: &str, at_least: f64| {
            let ratio = self.median_ratio(key, figure);
            let shown = ratio.map_or_else(|| "-".into(), |q| format!("{q:.3}x"));
            (
                key,
                format!("{what} >= {at_least}x reference (is {shown})"),
                ratio.map(|q| q >= at_least),
            )
        };
        let idle = self.median("idle/1000", "hub", "rss_per_conn_kib");
        vec![
            paced("paced/1000/50", 1000.0, 1.25),
            paced("paced/10000/5", 10000.0, 1.5),
            paced("paced/5000/10", 5000.0, 1.5),
            ratio_at_least("capacity/1000", "capacity_deliveries", "lossless deliveries/s", 10.0),
            ratio_at_least("blast/100", "delivered_per_s", "delivered msg/s", 10.0),
            (
                "idle/1000",
                format!(
                    "hub RSS per idle connection <= 24 KiB (is {})",
                    idle.map_or_else(|| "-".into(), |kib| format!("{kib:.1} KiB"))
                ),
                idle.map(|kib| kib <= 24.0),
            ),
        ]
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}
