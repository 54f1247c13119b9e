//! This module deals with the figures of one run ([`Report`]): one table row and one JSON
//! line each, and the Markdown results table that sets Pulse and Node.js side by side with
//! their ratios.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The figures of one scenario against one server.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// `pulse` or `node`.
    pub target: String,
    /// Scenario name, e.g. `5k x 10/s`.
    pub scenario: String,
    /// Connections asked for.
    pub connections: u64,
    /// Connections that joined the namespace.
    pub up: u64,
    /// Connections that failed or were refused.
    pub connect_errors: u64,
    /// Connections that dropped after joining, during the run.
    pub disconnects: u64,
    /// Seconds from the first connection attempt to the last join.
    pub ramp_s: f64,
    /// Broadcasts per second asked for (round trips for the ack scenario).
    pub rate: f64,
    /// Bytes of each event's argument.
    pub size: u64,
    /// Seconds of broadcasting asked for.
    pub seconds: f64,
    /// Broadcasts the server sent (round trips started for the ack scenario).
    pub emitted: u64,
    /// Per-socket sends the server itself reported as failed.
    pub server_dropped: u64,
    /// `emitted × up`: events that should have arrived.
    pub expected: u64,
    /// Events that arrived (answers, for the ack scenario).
    pub received: u64,
    /// `expected − received` (negative would mean duplicates).
    pub lost: i64,
    /// Latency percentiles in milliseconds: server send to client receipt, or the whole
    /// round trip for the ack scenario.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Events delivered to clients per second, over the first send to the last receipt.
    pub delivered_per_s: f64,
    /// Server resident memory before any connection, KiB.
    pub rss_before_kib: u64,
    /// Server resident memory with every connection up and idle, KiB.
    pub rss_connected_kib: u64,
    /// Server peak resident memory over its life (VmHWM), KiB.
    pub rss_peak_kib: u64,
    /// `(rss_connected − rss_before) / up`, in KB (1,000 bytes).
    pub kb_per_conn: f64,
    /// Server CPU over the broadcast window, % of one core.
    pub server_cpu_pct: f64,
    /// The generator's own CPU over the same window, % of one core.
    pub generator_cpu_pct: f64,
}

/// The header matching [`Report::row`].
pub fn header() -> String {
    format!(
        "{:<6} {:<14} {:>6} {:>5} {:>4} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6}",
        "target", "scenario", "up", "err", "disc", "expected", "received", "lost",
        "p50ms", "p95ms", "p99ms", "maxms", "deliv/s", "rss0MB", "rssMB", "peakMB",
        "KB/conn", "srv%", "gen%"
    )
}

impl Report {
    /// One fixed-width table row.
    pub fn row(&self) -> String {
        let mb = |k: u64| k as f64 / 1024.0;
        format!(
            "{:<6} {:<14} {:>6} {:>5} {:>4} {:>9} {:>9} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>7.2} {:>6.0} {:>6.0}",
            self.target, self.scenario, self.up, self.connect_errors, self.disconnects,
            self.expected, self.received, self.lost, self.p50_ms, self.p95_ms, self.p99_ms,
            self.max_ms, self.delivered_per_s, mb(self.rss_before_kib),
            mb(self.rss_connected_kib), mb(self.rss_peak_kib), self.kb_per_conn,
            self.server_cpu_pct, self.generator_cpu_pct
        )
    }

    /// One JSON line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// `a / b`, or `-` when it means nothing.
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 && a > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "-".into()
    }
}

/// The Markdown results: per scenario, Pulse, Node and the ratio for each figure, then the
/// raw TCP floor where it ran. Reports of a scenario with only one target get no ratio.
pub fn markdown(reports: &[Report]) -> String {
    let mut scenarios: Vec<&str> = Vec::new();
    for r in reports {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let mut out = String::new();
    for s in scenarios {
        let find = |t: &str| reports.iter().rev().find(|r| r.scenario == s && r.target == t);
        let (p, n, f) = (find("pulse"), find("node"), find("floor"));
        let _ = writeln!(out, "\n#### {s}\n");
        let _ = writeln!(
            out,
            "| figure | Pulse | Node.js socket.io | Pulse / Node | raw TCP floor (no protocol) |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        type Get = fn(&Report) -> f64;
        let rows: [(&str, Get, usize); 17] = [
            ("connections up (asked)", |r| r.up as f64, 0),
            ("connect errors", |r| r.connect_errors as f64, 0),
            ("disconnects during run", |r| r.disconnects as f64, 0),
            ("events expected", |r| r.expected as f64, 0),
            ("events received", |r| r.received as f64, 0),
            ("lost", |r| r.lost as f64, 0),
            ("latency p50 (ms)", |r| r.p50_ms, 2),
            ("latency p95 (ms)", |r| r.p95_ms, 2),
            ("latency p99 (ms)", |r| r.p99_ms, 2),
            ("latency max (ms)", |r| r.max_ms, 2),
            ("delivered events/s", |r| r.delivered_per_s, 0),
            ("server RSS before (MB)", |r| r.rss_before_kib as f64 / 1024.0, 1),
            ("server RSS connected (MB)", |r| r.rss_connected_kib as f64 / 1024.0, 1),
            ("server RSS peak (MB)", |r| r.rss_peak_kib as f64 / 1024.0, 1),
            ("server KB per connection", |r| r.kb_per_conn, 2),
            ("server CPU (% of a core)", |r| r.server_cpu_pct, 0),
            ("generator CPU (% of a core)", |r| r.generator_cpu_pct, 0),
        ];
        for (name, get, digits) in rows {
            let cell = |r: Option<&Report>| match r {
                Some(r) if name.starts_with("connections up") => {
                    format!("{} ({})", r.up, r.connections)
                }
                Some(r) => format!("{:.*}", digits, get(r)),
                None => "-".into(),
            };
            let ratio = match (p, n) {
                (Some(p), Some(n)) => ratio(get(p), get(n)),
                _ => "-".into(),
            };
            let _ = writeln!(out, "| {name} | {} | {} | {ratio} | {} |", cell(p), cell(n), cell(f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_sets_targets_side_by_side() {
        let p = Report {
            target: "pulse".into(),
            scenario: "1k".into(),
            delivered_per_s: 300.0,
            ..Report::default()
        };
        let n = Report { target: "node".into(), delivered_per_s: 100.0, ..p.clone() };
        let md = markdown(&[p.clone(), n]);
        assert!(md.contains("| delivered events/s | 300 | 100 | 3.00× | - |"), "{md}");
        assert_eq!(p.row().split_whitespace().count(), header().split_whitespace().count());
        let back: Report = serde_json::from_str(&p.json()).unwrap();
        assert_eq!(back.delivered_per_s, 300.0);
    }
}
