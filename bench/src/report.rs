//! This module deals with the figures of one run ([`Report`]): one table row and one JSON
//! line each, the Markdown results table that sets Pulse and Node.js side by side with
//! their ratios, and the one that sets a 2-node cluster beside one node
//! ([`cluster_markdown`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The figures of one scenario against one server. Fields added after the first results
/// default when reading older JSON lines.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    /// `pulse`, `pulse-pg`, `pulse-cluster`, `node` or `floor`.
    pub target: String,
    /// The load generator: `pulse-sdk` (in-process) or `socket.io-client` (Node.js
    /// workers). Runs recorded before there was a choice were the SDK's.
    #[serde(default = "sdk_generator")]
    pub generator: String,
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
    /// Seconds the broadcaster took to send them (the longest node's); above `seconds`, it
    /// fell behind its schedule, a delay the latency (from the actual send) does not show.
    pub broadcast_s: f64,
    /// Per-socket sends the server itself reported as failed.
    pub server_dropped: u64,
    /// `emitted × up`: events that should have arrived.
    pub expected: u64,
    /// Events that arrived (answers, for the ack scenario).
    pub received: u64,
    /// `expected − received`.
    pub lost: i64,
    /// Events a connection received again (not counted in `received`).
    pub duplicated: u64,
    /// Events received more than a second after the broadcaster said it was done (counted
    /// in `received` too).
    pub late: u64,
    /// Events that connections which dropped never received (one server: the rest of `lost`
    /// is `undelivered`).
    pub lost_on_dropped: u64,
    /// Events that connections still up had not received when the wait for them ended.
    pub undelivered: u64,
    /// Connections that dropped during the run, by who closed them and why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub disconnect_reasons: BTreeMap<String, u64>,
    /// Latency percentiles in milliseconds: server send to client receipt, or the whole
    /// round trip for the ack scenario.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Latency from when the tick was due (`due_at_us`) rather than sent, p50 in ms: a
    /// broadcaster behind its schedule shows here. 0 where ticks carry no due time.
    #[serde(default)]
    pub due_p50_ms: f64,
    /// Its p99.
    #[serde(default)]
    pub due_p99_ms: f64,
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
    /// The same from the RSS once the run is over and the connections idle again: what the
    /// run left behind. 0 in runs recorded before it was.
    #[serde(default)]
    pub kb_per_conn_after: f64,
    /// Server CPU from the broadcast's start to the last delivery (or the broadcaster's end, if
    /// later), % of one core.
    pub server_cpu_pct: f64,
    /// The generator's own CPU over the same window, % of one core.
    pub generator_cpu_pct: f64,
    /// CPU of the target's other processes over the window, % of one core: `postgres` (the
    /// postmaster and its backends), `redis`, `haproxy`. Server CPU above is the nodes'.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_cpu_pct: BTreeMap<String, f64>,
    /// The whole machine's busy CPU over the window, % of one core: ours and everyone
    /// else's (the machine is shared).
    pub machine_cpu_pct: f64,
    /// The machine's 1-minute load average when the run started.
    pub load_avg_1m: f64,
    /// Sockets on each node after the ramp (cluster only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_sockets: Vec<u64>,
    /// Writers posting payments (logged-path scenario only; 0 otherwise).
    pub writers: u64,
    /// Payments answered 2xx.
    pub writes_ok: u64,
    /// Payments refused, failed or never sent within the time limit.
    pub writes_failed: u64,
    /// Payments answered per second, first sent to last answered.
    pub writes_per_s: f64,
    /// A payment's HTTP round trip, ms (through the balancer for a cluster).
    pub write_p50_ms: f64,
    /// 99th percentile.
    pub write_p99_ms: f64,
    /// Payments per serving node, from HAProxy's `PULSE_NODE` cookie (cluster only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub writes_by_node: BTreeMap<String, u64>,
    /// Entries the run added to the log (`GET /api/events`); every client should get each.
    pub log_entries: u64,
    /// Clients that missed at least one entry.
    pub clients_with_gaps: u64,
    /// Entries a handler saw at or below the previous one's `seq`.
    pub out_of_order: u64,
    /// Entries received that the log does not list.
    pub unexpected: u64,
    /// `payment:added` latency p50 (ms) for clients on the node that wrote the payment
    /// (cluster only: the node comes from `connection:status` and HAProxy's cookie).
    pub same_node_p50_ms: f64,
    /// Its p99.
    pub same_node_p99_ms: f64,
    /// `payment:added` latency p50 (ms) for clients on the other node, which learns of the
    /// entry from PostgreSQL's notification and reads it from the log.
    pub other_node_p50_ms: f64,
    /// Its p99.
    pub other_node_p99_ms: f64,
    /// Entries emitted by the nodes, per their `pulse_fanout_delay_seconds` (once per entry
    /// per node).
    pub server_emits: u64,
    /// The nodes' own delay from an entry's `ts` to emitting it (their clock), mean in ms.
    pub server_delay_mean_ms: f64,
    /// Its p50, interpolated within the server's histogram buckets.
    pub server_delay_p50_ms: f64,
    /// Its p99, likewise.
    pub server_delay_p99_ms: f64,
    /// Where server and generator ran when pinned (`--server-cpus`, `--generator-cpus`);
    /// `None`: both anywhere on the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    /// Logged path: entries × clients not yet delivered when the last write was answered.
    #[serde(default)]
    pub backlog_at_writes_end: u64,
    /// Logged path: seconds from the last write's answer until every client had every entry
    /// (`None`: some never arrived, or older runs).
    #[serde(default)]
    pub drain_s: Option<f64>,
    /// Which run of its scenario, target and generator this was (`pulse-bench run --repeat`),
    /// from 1; 0 in lines written before there were repeats.
    #[serde(default)]
    pub round: u32,
}

fn sdk_generator() -> String {
    "pulse-sdk".into()
}

/// The header matching [`Report::row`].
pub fn header() -> String {
    format!(
        "{:<6} {:<5} {:<14} {:>6} {:>5} {:>4} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6}",
        "target", "gen", "scenario", "up", "err", "disc", "expected", "received", "lost",
        "p50ms", "p95ms", "p99ms", "maxms", "deliv/s", "rss0MB", "rssMB", "peakMB",
        "KB/conn", "srv%", "gen%"
    )
}

impl Report {
    /// One fixed-width table row.
    pub fn row(&self) -> String {
        let mb = |k: u64| k as f64 / 1024.0;
        format!(
            "{:<6} {:<5} {:<14} {:>6} {:>5} {:>4} {:>9} {:>9} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>7.2} {:>6.0} {:>6.0}",
            self.target,
            if self.generator == "socket.io-client" { "sioc" } else { "sdk" },
            self.scenario, self.up, self.connect_errors, self.disconnects,
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
    let mut generators: Vec<&str> = Vec::new();
    for r in reports {
        if !generators.contains(&r.generator.as_str()) {
            generators.push(&r.generator);
        }
    }
    let mut out = String::new();
    if generators.len() > 1 {
        out.push_str(&generators_markdown(reports, &scenarios, &generators));
        out.push_str(&due_markdown(reports, &scenarios, &generators));
    }
    for (s, g) in scenarios.iter().flat_map(|s| generators.iter().map(move |g| (*s, *g))) {
        let (p, n, f) = (
            runs(reports, s, "pulse", g),
            runs(reports, s, "node", g),
            runs(reports, s, "floor", g),
        );
        if p.is_empty() && n.is_empty() && f.is_empty() {
            continue;
        }
        match generators.len() {
            1 => {
                let _ = writeln!(out, "\n#### {s}\n");
            }
            _ => {
                let _ = writeln!(out, "\n#### {s}, generator {g}\n");
            }
        }
        let most = p.len().max(n.len()).max(f.len());
        if most > 1 {
            let _ = writeln!(
                out,
                "Up to {most} runs per target: each figure is the median of its runs, each count \
                 the total over them, connections up the fewest.\n"
            );
        }
        let _ = writeln!(
            out,
            "| figure | Pulse | Node.js socket.io | Pulse / Node | raw TCP floor (no protocol) |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        use Over::{Least, Median, Total};
        let rows: [(&str, Get, usize, Over); 26] = [
            ("connections up (asked)", |r| r.up as f64, 0, Least),
            ("connect errors", |r| r.connect_errors as f64, 0, Total),
            ("disconnects during run", |r| r.disconnects as f64, 0, Total),
            (
                "seconds the broadcaster took (asked: the run's length)",
                |r| r.broadcast_s,
                1,
                Median,
            ),
            ("events expected", |r| r.expected as f64, 0, Total),
            ("events received", |r| r.received as f64, 0, Total),
            ("lost", |r| r.lost as f64, 0, Total),
            (
                "… never received by connections that dropped",
                |r| r.lost_on_dropped as f64,
                0,
                Total,
            ),
            ("… not yet received by connections still up", |r| r.undelivered as f64, 0, Total),
            (SKIPPED, |r| r.server_dropped as f64, 0, Total),
            ("delivered late (> 1 s after the broadcast)", |r| r.late as f64, 0, Total),
            ("duplicated", |r| r.duplicated as f64, 0, Total),
            ("latency p50 (ms)", |r| r.p50_ms, 2, Median),
            ("latency p95 (ms)", |r| r.p95_ms, 2, Median),
            ("latency p99 (ms)", |r| r.p99_ms, 2, Median),
            ("latency max (ms)", |r| r.max_ms, 2, Median),
            ("latency from when the tick was due, p50 (ms)", |r| r.due_p50_ms, 2, Median),
            ("latency from when the tick was due, p99 (ms)", |r| r.due_p99_ms, 2, Median),
            ("delivered events/s", |r| r.delivered_per_s, 0, Median),
            ("server RSS before (MB)", |r| r.rss_before_kib as f64 / 1024.0, 1, Median),
            ("server RSS connected (MB)", |r| r.rss_connected_kib as f64 / 1024.0, 1, Median),
            ("server RSS peak (MB)", |r| r.rss_peak_kib as f64 / 1024.0, 1, Median),
            ("server KB per connection", |r| r.kb_per_conn, 2, Median),
            (KB_AFTER, |r| r.kb_per_conn_after, 2, Median),
            ("server CPU (% of a core)", |r| r.server_cpu_pct, 0, Median),
            ("generator CPU (% of a core)", |r| r.generator_cpu_pct, 0, Median),
        ];
        for (name, get, digits, how) in rows {
            let cell = |rs: &[&Report]| match (rs.first(), over(rs, get, how)) {
                (Some(r), Some(v)) if name.starts_with("connections up") => {
                    format!("{v:.0} ({})", r.connections)
                }
                // Not recorded (older runs, the ack scenario, the floor's frames).
                (Some(_), Some(v))
                    if v == 0.0
                        && (name.starts_with("seconds the broadcaster")
                            || name.starts_with("latency from when")
                            || name == KB_AFTER) =>
                {
                    "-".into()
                }
                (_, Some(v)) => format!("{v:.digits$}"),
                _ => "-".into(),
            };
            let ratio = match (over(&p, get, how), over(&n, get, how)) {
                (Some(a), Some(b)) => ratio(a, b),
                _ => "-".into(),
            };
            let _ =
                writeln!(out, "| {name} | {} | {} | {ratio} | {} |", cell(&p), cell(&n), cell(&f));
        }
        for (label, rs) in [("Pulse", &p), ("Node.js", &n)] {
            let mut why: BTreeMap<&str, u64> = BTreeMap::new();
            for (k, v) in rs.iter().flat_map(|r| &r.disconnect_reasons) {
                *why.entry(k).or_default() += v;
            }
            if why.is_empty() {
                continue;
            }
            let why: Vec<String> = why.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            let _ = writeln!(out, "\n{label}'s connections that dropped: {}.", why.join(", "));
        }
    }
    out
}

/// One figure of a run.
type Get = fn(&Report) -> f64;

/// Every run of scenario `s` against target `t` through generator `g`, in the order run.
fn runs<'a>(reports: &'a [Report], s: &str, t: &str, g: &str) -> Vec<&'a Report> {
    reports.iter().filter(|r| r.scenario == s && r.target == t && r.generator == g).collect()
}

/// Per scenario and generator where both ran, in order: Pulse's runs and Node's.
fn pulse_and_node<'a>(
    reports: &'a [Report],
    scenarios: &'a [&str],
    generators: &'a [&str],
) -> impl Iterator<Item = (&'a str, &'a str, Vec<&'a Report>, Vec<&'a Report>)> {
    scenarios.iter().flat_map(move |s| {
        generators.iter().filter_map(move |g| {
            let (p, n) = (runs(reports, s, "pulse", g), runs(reports, s, "node", g));
            (!p.is_empty() && !n.is_empty()).then_some((*s, *g, p, n))
        })
    })
}

/// The median of `get` over `runs`, 0 when there are none.
fn median(runs: &[&Report], get: Get) -> f64 {
    over(runs, get, Over::Median).unwrap_or(0.0)
}

/// How one cell tells a figure of several runs.
#[derive(Debug, Clone, Copy)]
enum Over {
    /// The middle run's (the mean of the middle two for an even count).
    Median,
    /// The sum: nothing that went wrong in one run hides behind the others.
    Total,
    /// The smallest.
    Least,
}

/// `get` of `runs` told as `how`; `None` without runs.
fn over(runs: &[&Report], get: Get, how: Over) -> Option<f64> {
    let mut v: Vec<f64> = runs.iter().map(|r| get(r)).collect();
    if v.is_empty() {
        return None;
    }
    Some(match how {
        Over::Total => v.iter().sum(),
        Over::Least => v.iter().copied().fold(f64::INFINITY, f64::min),
        Over::Median => {
            v.sort_by(f64::total_cmp);
            let mid = v.len() / 2;
            if v.len() % 2 == 1 {
                v[mid]
            } else {
                (v[mid - 1] + v[mid]) / 2.0
            }
        }
    })
}

/// A latency cell: one run's figure, or several runs' median with their range.
fn spread(runs: &[&Report], get: Get) -> String {
    let Some(mid) = over(runs, get, Over::Median) else { return "-".into() };
    if runs.len() == 1 {
        return format!("{mid:.2}");
    }
    let (lo, hi) = runs
        .iter()
        .map(|r| get(r))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    format!("{mid:.2} ({lo:.2}–{hi:.2})")
}

/// In how many rounds Pulse's `get` was below Node's, of the rounds both ran.
fn lower_in(p: &[&Report], n: &[&Report], get: Get) -> String {
    let pairs: Vec<(f64, f64)> = p
        .iter()
        .filter_map(|a| n.iter().find(|b| b.round == a.round).map(|b| (get(a), get(b))))
        .collect();
    let lower = pairs.iter().filter(|(a, b)| a < b).count();
    format!("{lower} of {}", pairs.len())
}

/// The row of [`Report::kb_per_conn_after`].
const KB_AFTER: &str = "server KB per connection after the run, idle again";

/// The row of ticks the server chose not to send: a bench tick is volatile (not in the event
/// log), so a socket whose queue is full skips it rather than hold the broadcast or grow.
/// Logged events are never skipped this way; a full socket is caught up from the log.
const SKIPPED: &str =
    "… of them skipped by the server: the socket's queue was full (ticks are volatile)";

/// `lost` over `runs`, and how many of them the server skipped on purpose (see [`SKIPPED`]).
fn lost_cell(runs: &[&Report]) -> String {
    let lost: i64 = runs.iter().map(|r| r.lost).sum();
    match runs.iter().map(|r| r.server_dropped).sum::<u64>() {
        0 => lost.to_string(),
        n => format!("{lost} ({n} skipped by the server)"),
    }
}

/// Both generators side by side: per scenario, Pulse's and Node's latency and the
/// generator's CPU as each generator measured them; with several runs, the medians, their
/// range, and in how many rounds Pulse was the lower.
fn generators_markdown(reports: &[Report], scenarios: &[&str], generators: &[&str]) -> String {
    let due = |rs: &[&Report]| match over(rs, |r| r.due_p99_ms, Over::Median) {
        Some(v) if v > 0.0 => format!("{v:.2}"),
        _ => "-".to_string(),
    };
    let mut out = String::from(
        "\n#### Both generators\n\n| scenario | generator | p50 Pulse / Node (ms) | p99 Pulse / Node (ms) | p99 Pulse / Node | rounds with Pulse lower, p50 / p99 | p99 from due time Pulse / Node (ms) | lost Pulse / Node | generator CPU with Pulse / Node (% of a core) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (s, g, p, n) in pulse_and_node(reports, scenarios, generators) {
        let (p50, p99): (Get, Get) = (|r| r.p50_ms, |r| r.p99_ms);
        let _ = writeln!(
            out,
            "| {s} | {g} | {} / {} | {} / {} | {} | {} / {} | {} / {} | {} / {} | {:.0} / {:.0} |",
            spread(&p, p50),
            spread(&n, p50),
            spread(&p, p99),
            spread(&n, p99),
            ratio(median(&p, p99), median(&n, p99)),
            lower_in(&p, &n, p50),
            lower_in(&p, &n, p99),
            due(&p),
            due(&n),
            lost_cell(&p),
            lost_cell(&n),
            median(&p, |r| r.generator_cpu_pct),
            median(&n, |r| r.generator_cpu_pct),
        );
    }
    out
}

/// The latencies from when each tick was due, per scenario and generator: what a broadcaster
/// behind its schedule adds, which latency from the send stamp leaves out. A server that
/// stalls before it stamps a tick (a busy event loop, a pause) shows the stall here only.
/// Then how many of the figures (p50 and p99 of each row) have Pulse's median the lower,
/// counted both ways.
fn due_markdown(reports: &[Report], scenarios: &[&str], generators: &[&str]) -> String {
    let mut out = String::from(
        "\n#### From when each tick was due\n\nThe same runs, latency from the tick's due time (`due_at_us`) instead of its send stamp: a broadcaster behind its schedule, or stalled before it stamps, counts here.\n\n| scenario | generator | p50 from due Pulse / Node (ms) | p99 from due Pulse / Node (ms) | rounds with Pulse lower, p50 / p99 | seconds the broadcaster took Pulse / Node (asked) |\n|---|---|---:|---:|---:|---:|\n",
    );
    let (mut sent, mut due) = ((0, 0), (0, 0));
    for (s, g, p, n) in pulse_and_node(reports, scenarios, generators) {
        let figures: [(Get, Get); 2] =
            [(|r| r.p50_ms, |r| r.due_p50_ms), (|r| r.p99_ms, |r| r.due_p99_ms)];
        for (at_send, at_due) in figures {
            sent.1 += 1;
            sent.0 += usize::from(median(&p, at_send) < median(&n, at_send));
            if median(&n, at_due) > 0.0 {
                due.1 += 1;
                due.0 += usize::from(median(&p, at_due) < median(&n, at_due));
            }
        }
        // Ack round trips have no schedule.
        if median(&n, |r| r.due_p50_ms) <= 0.0 {
            continue;
        }
        let (p50, p99): (Get, Get) = (|r| r.due_p50_ms, |r| r.due_p99_ms);
        let _ = writeln!(
            out,
            "| {s} | {g} | {} / {} | {} / {} | {} / {} | {:.1} / {:.1} ({:.0}) |",
            spread(&p, p50),
            spread(&n, p50),
            spread(&p, p99),
            spread(&n, p99),
            lower_in(&p, &n, p50),
            lower_in(&p, &n, p99),
            median(&p, |r| r.broadcast_s),
            median(&n, |r| r.broadcast_s),
            median(&p, |r| r.seconds),
        );
    }
    let _ = writeln!(
        out,
        "\nPulse's median the lower: {} of {} figures (p50 and p99 of each row above) from the send stamp, {} of {} from the due time.",
        sent.0, sent.1, due.0, due.1
    );
    out
}

/// The columns of the cluster comparison, in order, with their headings.
const CLUSTER_COLUMNS: [(&str, &str); 3] = [
    ("pulse", "one node, SQLite"),
    ("pulse-pg", "one node, PostgreSQL"),
    ("pulse-cluster", "2 nodes + HAProxy (PostgreSQL, Redis)"),
];

/// The Markdown tables of the cluster comparison: per scenario, one node on SQLite, one node
/// on PostgreSQL and the 2-node cluster side by side, with the cluster's ratio to one node
/// on PostgreSQL (the same store) or, where that did not run, on SQLite.
pub fn cluster_markdown(reports: &[Report]) -> String {
    let mut scenarios: Vec<&str> = Vec::new();
    for r in reports {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let mut out = String::new();
    for s in scenarios {
        let find = |t: &str| reports.iter().rev().find(|r| r.scenario == s && r.target == t);
        let cols: Vec<(&str, &Report)> = CLUSTER_COLUMNS
            .iter()
            .filter_map(|(t, heading)| find(t).map(|r| (*heading, r)))
            .collect();
        if cols.is_empty() {
            continue;
        }
        let logged = cols.iter().any(|(_, r)| r.writers > 0);
        let cluster = find("pulse-cluster");
        let base = find("pulse-pg").or_else(|| find("pulse"));
        let base_name = match base {
            Some(b) if b.target == "pulse-pg" => "one node, PostgreSQL",
            _ => "one node, SQLite",
        };
        let _ = writeln!(out, "\n#### {s}\n");
        let mut head = String::from("| figure |");
        let mut rule = String::from("|---|");
        for (h, _) in &cols {
            let _ = write!(head, " {h} |");
            rule.push_str("---:|");
        }
        let _ = write!(head, " cluster / {base_name} |");
        rule.push_str("---:|");
        let _ = writeln!(out, "{head}\n{rule}");

        type Get = fn(&Report) -> f64;
        let mut rows: Vec<(&str, Get, usize)> = vec![
            ("clients up (asked)", |r| r.up as f64, 0),
            ("connect errors", |r| r.connect_errors as f64, 0),
            ("disconnects during run", |r| r.disconnects as f64, 0),
        ];
        if logged {
            rows.extend([
                ("payments posted OK (failed)", (|r: &Report| r.writes_ok as f64) as Get, 0),
                ("payments answered per s", |r| r.writes_per_s, 1),
                ("payment round trip p50, from when due (ms)", |r| r.write_p50_ms, 2),
                ("payment round trip p99, from when due (ms)", |r| r.write_p99_ms, 2),
                ("log entries written", |r| r.log_entries as f64, 0),
            ]);
        } else {
            rows.push(("ticks emitted (all nodes)", |r| r.emitted as f64, 0));
        }
        rows.extend([
            ("events expected", (|r: &Report| r.expected as f64) as Get, 0),
            ("events received", |r| r.received as f64, 0),
            ("lost", |r| r.lost as f64, 0),
        ]);
        if logged {
            rows.extend([
                ("clients with a gap", (|r: &Report| r.clients_with_gaps as f64) as Get, 0),
                ("out of order at the handler", |r| r.out_of_order as f64, 0),
                (
                    "backlog when the writes ended (entries × clients)",
                    |r| r.backlog_at_writes_end as f64,
                    0,
                ),
                ("drain after the writes, s (-1: not complete)", |r| r.drain_s.unwrap_or(-1.0), 2),
            ]);
        } else {
            rows.push(("duplicated", |r| r.duplicated as f64, 0));
        }
        if logged {
            rows.extend([
                ("server: ts → emit, mean (ms)", (|r: &Report| r.server_delay_mean_ms) as Get, 2),
                ("server: ts → emit, p50 (ms, from buckets)", |r| r.server_delay_p50_ms, 2),
                ("server: ts → emit, p99 (ms, from buckets)", |r| r.server_delay_p99_ms, 2),
            ]);
        }
        if logged && cols.iter().any(|(_, r)| r.other_node_p50_ms > 0.0) {
            rows.extend([
                (
                    "payment:added p50, client on the writing node (ms)",
                    (|r: &Report| r.same_node_p50_ms) as Get,
                    2,
                ),
                ("payment:added p99, client on the writing node (ms)", |r| r.same_node_p99_ms, 2),
                ("payment:added p50, client on the other node (ms)", |r| r.other_node_p50_ms, 2),
                ("payment:added p99, client on the other node (ms)", |r| r.other_node_p99_ms, 2),
            ]);
        }
        rows.extend([
            ("latency p50 (ms)", (|r: &Report| r.p50_ms) as Get, 2),
            ("latency p95 (ms)", |r| r.p95_ms, 2),
            ("latency p99 (ms)", |r| r.p99_ms, 2),
            ("latency max (ms)", |r| r.max_ms, 2),
            ("latency from when the tick was due, p50 (ms)", |r| r.due_p50_ms, 2),
            ("latency from when the tick was due, p99 (ms)", |r| r.due_p99_ms, 2),
            ("delivered events/s", |r| r.delivered_per_s, 0),
            ("nodes' RSS connected (MB, all nodes)", |r| r.rss_connected_kib as f64 / 1024.0, 1),
            ("nodes' RSS peak (MB, all nodes)", |r| r.rss_peak_kib as f64 / 1024.0, 1),
            ("nodes' KB per connection", |r| r.kb_per_conn, 2),
            ("nodes' KB per connection after the run, idle again", |r| r.kb_per_conn_after, 2),
            ("CPU: Pulse nodes (% of a core)", |r| r.server_cpu_pct, 0),
            ("CPU: PostgreSQL", |r| part(r, "postgres"), 0),
            ("CPU: Redis", |r| part(r, "redis"), 0),
            ("CPU: HAProxy", |r| part(r, "haproxy"), 0),
            ("CPU: generator", |r| r.generator_cpu_pct, 0),
            (
                "CPU: all of the above",
                |r| r.server_cpu_pct + r.generator_cpu_pct + r.other_cpu_pct.values().sum::<f64>(),
                0,
            ),
            ("CPU: whole machine (others' work included)", |r| r.machine_cpu_pct, 0),
            ("load average before the run", |r| r.load_avg_1m, 2),
        ]);
        for (name, get, digits) in rows {
            let mut line = format!("| {name} |");
            for (_, r) in &cols {
                let cell = if name.starts_with("clients up") {
                    let split = if r.node_sockets.is_empty() {
                        String::new()
                    } else {
                        let parts: Vec<String> =
                            r.node_sockets.iter().map(u64::to_string).collect();
                        format!(", {} per node", parts.join(" + "))
                    };
                    format!("{} ({}){split}", r.up, r.connections)
                } else if name.starts_with("payments posted") {
                    let by = if r.writes_by_node.is_empty() {
                        String::new()
                    } else {
                        let parts: Vec<String> =
                            r.writes_by_node.iter().map(|(n, c)| format!("{n} {c}")).collect();
                        format!("; {}", parts.join(", "))
                    };
                    format!("{} ({}){by}", r.writes_ok, r.writes_failed)
                } else if (name.starts_with("payment:added") && get(r) == 0.0)
                    || (!part_key(name).is_empty() && !r.other_cpu_pct.contains_key(part_key(name)))
                {
                    // Not measured for this target (one node; no such process).
                    "-".into()
                } else {
                    format!("{:.*}", digits, get(r))
                };
                let _ = write!(line, " {cell} |");
            }
            let ratio = match (cluster, base) {
                (Some(c), Some(b)) if c.target != b.target && compares(name) => {
                    ratio(get(c), get(b))
                }
                _ => "-".into(),
            };
            let _ = writeln!(out, "{line} {ratio} |");
        }
    }
    out
}

/// Whether the ratio column means something for this row: costs and latencies, not counts
/// that the scenario fixes (clients, entries, events) nor the shared machine's state.
fn compares(row: &str) -> bool {
    row.contains("(ms")
        || row.starts_with("nodes'")
        || (row.starts_with("CPU: ") && !row.starts_with("CPU: whole"))
}

/// CPU of a part of the target, or 0 when it has none.
fn part(r: &Report, name: &str) -> f64 {
    r.other_cpu_pct.get(name).copied().unwrap_or(0.0)
}

/// The part a "CPU: …" row is about.
fn part_key(row: &str) -> &'static str {
    match row {
        "CPU: PostgreSQL" => "postgres",
        "CPU: Redis" => "redis",
        "CPU: HAProxy" => "haproxy",
        _ => "",
    }
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

    #[test]
    fn ticks_the_server_skipped_are_told_apart_from_other_losses() {
        let p = Report {
            target: "pulse".into(),
            generator: "g".into(),
            scenario: "s".into(),
            expected: 100,
            received: 90,
            lost: 10,
            undelivered: 10,
            server_dropped: 10,
            ..Report::default()
        };
        let n = Report { target: "node".into(), server_dropped: 0, lost: 2, ..p.clone() };
        let md = markdown(&[p.clone(), n.clone()]);
        assert!(md.contains(&format!("| {SKIPPED} | 10 | 0 | - | - |")), "{md}");
        let both = generators_markdown(&[p, n], &["s"], &["g"]);
        assert!(both.contains("| 10 (10 skipped by the server) / 2 |"), "{both}");
    }

    #[test]
    fn repeated_runs_give_medians_totals_and_rounds() {
        let run = |target: &str, round: u32, p50_ms: f64, p99_ms: f64, lost: i64| Report {
            target: target.into(),
            generator: "g".into(),
            scenario: "s".into(),
            connections: 10,
            up: 10 - lost as u64,
            lost,
            p50_ms,
            p99_ms,
            round,
            ..Report::default()
        };
        let reports = [
            run("pulse", 1, 5.0, 50.0, 0),
            run("node", 1, 6.0, 40.0, 0),
            run("pulse", 2, 9.0, 30.0, 2),
            run("node", 2, 8.0, 60.0, 0),
            run("pulse", 3, 4.0, 20.0, 1),
            run("node", 3, 7.0, 70.0, 0),
        ];
        let md = markdown(&reports);
        // Medians: Pulse p50 of 5, 9, 4 is 5; Node's of 6, 8, 7 is 7.
        assert!(md.contains("| latency p50 (ms) | 5.00 | 7.00 | 0.71× | - |"), "{md}");
        // Counts are totals; connections up the fewest.
        assert!(md.contains("| lost | 3 | 0 | - | - |"), "{md}");
        assert!(md.contains("| connections up (asked) | 8 (10) | 10 (10) |"), "{md}");
        assert!(md.contains("Up to 3 runs per target"), "{md}");
        // The summary: median (range), and the rounds Pulse was lower (p50: rounds 1 and 3;
        // p99: rounds 2 and 3).
        let both = generators_markdown(&reports, &["s"], &["g"]);
        assert!(both.contains("| s | g | 5.00 (4.00–9.00) / 7.00 (6.00–8.00) |"), "{both}");
        assert!(
            both.contains(
                "| 30.00 (20.00–50.00) / 60.00 (40.00–70.00) | 0.50× | 2 of 3 / 2 of 3 |"
            ),
            "{both}"
        );
        assert!(both.contains("| 3 / 0 |"), "{both}");
    }

    #[test]
    fn latency_from_the_due_time_counts_a_broadcaster_behind_its_schedule() {
        let run =
            |target: &str, round: u32, p50_ms: f64, due_p50_ms: f64, broadcast_s: f64| Report {
                target: target.into(),
                generator: "g".into(),
                scenario: "s".into(),
                seconds: 15.0,
                p50_ms,
                p99_ms: p50_ms * 2.0,
                due_p50_ms,
                due_p99_ms: due_p50_ms * 2.0,
                broadcast_s,
                round,
                ..Report::default()
            };
        // Node's broadcaster is behind: lower from its send stamp, far higher from the due time.
        let reports = [
            run("pulse", 1, 2.0, 2.5, 15.0),
            run("node", 1, 1.0, 900.0, 20.0),
            run("pulse", 2, 3.0, 3.5, 15.0),
            run("node", 2, 1.5, 4.0, 16.0),
        ];
        let md = markdown(
            &[reports.as_slice(), &[Report { generator: "h".into(), ..reports[0].clone() }]]
                .concat(),
        );
        assert!(
            md.contains("| s | g | 3.00 (2.50–3.50) / 452.00 (4.00–900.00) | 6.00 (5.00–7.00) / 904.00 (8.00–1800.00) | 2 of 2 / 2 of 2 | 15.0 / 18.0 (15) |"),
            "{md}"
        );
        assert!(md.contains("lower: 0 of 2 figures (p50 and p99 of each row above) from the send stamp, 2 of 2 from the due time."), "{md}");
    }

    #[test]
    fn older_json_lines_still_read() {
        let line = r#"{"target":"pulse","scenario":"1k","connections":1,"up":1,"connect_errors":0,"disconnects":0,"ramp_s":0.1,"rate":10.0,"size":256,"seconds":1.0,"emitted":10,"server_dropped":0,"expected":10,"received":10,"lost":0,"p50_ms":1.0,"p95_ms":1.0,"p99_ms":1.0,"max_ms":1.0,"delivered_per_s":10.0,"rss_before_kib":1,"rss_connected_kib":1,"rss_peak_kib":1,"kb_per_conn":0.0,"server_cpu_pct":1.0,"generator_cpu_pct":1.0}"#;
        let r: Report = serde_json::from_str(line).unwrap();
        assert_eq!((r.received, r.writers), (10, 0));
    }

    #[test]
    fn cluster_table_sets_one_node_beside_the_cluster() {
        let one = Report {
            target: "pulse-pg".into(),
            scenario: "log".into(),
            writers: 4,
            writes_ok: 100,
            server_cpu_pct: 50.0,
            other_cpu_pct: [("postgres".to_owned(), 20.0)].into(),
            ..Report::default()
        };
        let two = Report {
            target: "pulse-cluster".into(),
            server_cpu_pct: 100.0,
            node_sockets: vec![5, 5],
            up: 10,
            connections: 10,
            writes_by_node: [("node1".to_owned(), 60), ("node2".to_owned(), 40)].into(),
            other_cpu_pct: [
                ("postgres".to_owned(), 30.0),
                ("redis".to_owned(), 1.0),
                ("haproxy".to_owned(), 10.0),
            ]
            .into(),
            ..one.clone()
        };
        let md = cluster_markdown(&[one, two]);
        assert!(md.contains("| CPU: Pulse nodes (% of a core) | 50 | 100 | 2.00× |"), "{md}");
        assert!(md.contains("| CPU: HAProxy | - | 10 |"), "{md}");
        assert!(md.contains("10 (10), 5 + 5 per node"), "{md}");
        assert!(md.contains("100 (0); node1 60, node2 40"), "{md}");
        assert!(md.contains("cluster / one node, PostgreSQL"), "{md}");
    }
}
