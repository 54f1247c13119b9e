//! This module deals with the logged-path scenario, "writes through the log": K writers post
//! real payments (`POST /api/payments`) at R a second between them while N clients listen.
//! Each payment is a real action: one transaction that changes the store and appends its
//! entries to the tenant's event log (`payment:added`, `balance:updated`,
//! `activity:updated`), then every node fans the entries out to its own sockets: the node
//! that wrote them at once, the others when PostgreSQL's notification wakes them and they
//! read the log. Unlike the bench broadcaster (per node, log bypassed), this is the path
//! every real event takes, so it is the fair fan-out comparison between one node and a
//! cluster.
//!
//! Measured per entry and client: latency from the entry's `ts` to the SDK handler. `ts` is
//! the server's clock in whole milliseconds, taken when the writing transaction holds the
//! tenant's lock (`Batch::start` in server/src/events/log.rs), i.e. before the change's
//! statements and the commit, so the figure covers the rest of the transaction, the commit,
//! the wake-up of other nodes, their read of the log and the fan-out; truncation to the
//! millisecond adds 0–1 ms. Loss and order: after the run the generator reads what the log
//! holds (`GET /api/events`, the same entries and visibility as live fan-out) and compares
//! each client's received `seq`s with it.
//!
//! The SDK drops a logged entry whose `seq` is at or below the last one it applied (its
//! exactly-once rule, client-sdk/src/resume.rs), so handlers never see a duplicate or an
//! older entry: an entry that arrived out of order on the wire shows here as missing, and a
//! duplicate on the wire is invisible. "Out of order" below counts what reached the handler
//! (0 unless the SDK's rule broke).
//!
//! The writers are open-loop: write `j` is sent when it is due (`start + j / rate`) whether
//! or not earlier ones were answered, each writer with at most [`IN_FLIGHT`] requests open,
//! so every target gets the same offered rate and a slow answer cannot lower it (a
//! closed-loop writer would wait, send less, and hide the slowness). A payment's round trip
//! is timed from when it was due to its answer.
//!
//! On a cluster each client learns its node from `connection:status`, and each payment's
//! node comes from HAProxy's `PULSE_NODE` cookie on its answer, so the latency of
//! `payment:added` entries is also split: clients on the node that wrote the entry (it fans
//! out right after its commit) and clients on the other node (woken by PostgreSQL's
//! notification, it reads the entry from the log first).
//!
//! Past capacity the server falls behind and the entries queue up: the backlog when the last
//! write was answered (entries × clients not yet at a handler) and how long it took after
//! that until every client had every entry (the drain) are reported; the wait for it ends
//! after [`crate::load::COMPLETE_MAX`] or [`STALL`] without progress.
//!
//! Every loop is bounded in count and time: writers stop at `rate × seconds` writes or at
//! `seconds + 60 s`, the log is read in at most [`MAX_PAGES`] pages within [`READ_MAX`], the
//! catch-up as said above, and each client keeps at most [`MAX_SEQS`] positions.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pulse_protocol::events::{is_logged, ConnectAuth, CONNECTION_STATUS, PAYMENT_ADDED};
use pulse_sdk::{Client, Event, Json, Status};
use serde::Deserialize;
use serde_json::json;

use crate::load::{self, Conn, Scenario, Shared, Target, Usage, MAX_LATENCY_US};
use crate::process;
use crate::report::Report;

/// Positions kept per client; far above what a bounded run produces.
const MAX_SEQS: usize = 1_000_000;
/// Requests one writer may have open at once.
const IN_FLIGHT: usize = 32;
/// The catch-up after the writes ends when nothing arrived for this long.
const STALL: Duration = Duration::from_secs(10);
/// Pages of `GET /api/events` read at most (1,000 entries each).
const MAX_PAGES: usize = 10_000;
/// Longest time spent reading the log back.
const READ_MAX: Duration = Duration::from_secs(120);
/// Below the server's `LARGE_PAYMENT` (50): no per-user `notification:new` entries, so every
/// entry of the run is tenant-wide and every client should get all of them.
const AMOUNTS: [f64; 9] = [1.0, 2.5, 3.0, 4.75, 5.0, 6.2, 7.0, 8.4, 9.0];

/// What one client's handler saw.
#[derive(Default)]
struct Seen {
    seqs: Vec<u64>,
    out_of_order: u64,
    /// The node it is connected to, from `connection:status`.
    node: Option<String>,
    /// `payment:added` entries: (latency µs, payment id).
    payments: Vec<(u64, i64)>,
}

/// Shared by every client's handler.
struct Listeners {
    shared: Shared,
    /// Entries at or below this `seq` were in the log before the run.
    since: u64,
    clients: Vec<Mutex<Seen>>,
    /// Logged events without a readable `seq` and `ts`.
    malformed: AtomicU64,
}

impl Listeners {
    /// A logged entry reached client `index`'s handler; `payment` is the id of a
    /// `payment:added` entry's payment.
    fn on_entry(&self, index: usize, seq: u64, ts_ms: i64, payment: Option<i64>) {
        if seq <= self.since {
            return;
        }
        let sent_us = u64::try_from(ts_ms).unwrap_or(0).saturating_mul(1000);
        {
            let mut c = self.clients[index].lock().unwrap_or_else(|e| e.into_inner());
            if c.seqs.last().is_some_and(|&last| seq <= last) {
                c.out_of_order += 1;
            }
            if c.seqs.len() < MAX_SEQS {
                c.seqs.push(seq);
            }
            if let Some(id) = payment {
                if c.payments.len() < MAX_SEQS {
                    let latency = load::now_us().saturating_sub(sent_us).clamp(1, MAX_LATENCY_US);
                    c.payments.push((latency, id));
                }
            }
        }
        // Entries are checked per client by `seq` above.
        self.shared.record(index, sent_us, None);
    }

    fn on_status(&self, index: usize, node: &str) {
        self.clients[index].lock().unwrap_or_else(|e| e.into_inner()).node = Some(node.to_owned());
    }
}

fn open(target: &Target, listeners: &Arc<Listeners>, index: usize) -> Conn {
    let token = target.token.clone();
    let client = Client::connect_with_auth(load::client_config(&target.url), move || {
        Some(ConnectAuth::with_token(&token))
    });
    let l = listeners.clone();
    let sub = client.on_any(move |e| match e {
        Event::Message(m) if is_logged(&m.event) => {
            let arg = m.args.first().map(Json::value);
            let arg = arg.as_ref();
            let seq = arg.and_then(|a| a.get("seq")).and_then(|v| v.as_u64());
            let ts = arg.and_then(|a| a.get("ts")).and_then(|v| v.as_i64());
            let payment = (m.event == PAYMENT_ADDED)
                .then(|| arg.and_then(|a| a["data"]["id"].as_i64()))
                .flatten();
            match seq.zip(ts) {
                Some((seq, ts)) => l.on_entry(index, seq, ts, payment),
                None => {
                    l.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Event::Message(m) if m.event == CONNECTION_STATUS => {
            if let Some(node) =
                m.args.first().and_then(|a| a.value()["data"]["node"].as_str().map(str::to_owned))
            {
                let node = node.as_str();
                l.on_status(index, node);
            }
        }
        Event::Disconnected { .. } => {
            l.shared.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    });
    Conn { client, _subs: vec![sub] }
}

/// `GET /api/events` answer.
#[derive(Deserialize)]
struct EventsPage {
    events: Vec<Entry>,
    head: u64,
}

#[derive(Deserialize)]
struct Entry {
    seq: u64,
}

#[derive(Deserialize)]
struct CustomersPage {
    items: Vec<Customer>,
}

#[derive(Deserialize)]
struct Customer {
    id: i64,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    target: &Target,
    path: &str,
) -> Result<T, String> {
    let res = http
        .get(format!("{}{path}", target.url))
        .bearer_auth(&target.token)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!(
            "GET {path}: {} {}",
            res.status(),
            res.text().await.unwrap_or_default()
        ));
    }
    res.json().await.map_err(|e| format!("GET {path}: {e}"))
}

/// The tenant's log entries after `since`, oldest first, as `GET /api/events` serves them.
async fn entries_since(
    http: &reqwest::Client,
    target: &Target,
    since: u64,
) -> Result<Vec<u64>, String> {
    let deadline = Instant::now() + READ_MAX;
    let (mut seqs, mut cursor) = (Vec::new(), since);
    for _ in 0..MAX_PAGES {
        if Instant::now() >= deadline {
            return Err("reading the log back took too long".into());
        }
        let page: EventsPage =
            get_json(http, target, &format!("/api/events?since={cursor}&limit=1000")).await?;
        let Some(last) = page.events.last().map(|e| e.seq) else { break };
        seqs.extend(page.events.iter().map(|e| e.seq));
        if last >= page.head {
            break;
        }
        cursor = last;
    }
    if seqs.windows(2).any(|w| w[0] >= w[1]) {
        return Err("GET /api/events returned entries out of order".into());
    }
    Ok(seqs)
}

/// `pulse_connections_open` of each node (its own `/metrics`, not through the balancer).
async fn sockets_per_node(http: &reqwest::Client, target: &Target) -> Vec<u64> {
    let mut out = Vec::new();
    for url in target.node_urls() {
        let text = match http.get(format!("{url}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let open = text
            .lines()
            .find_map(|l| l.strip_prefix("pulse_connections_open "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        out.push(open as u64);
    }
    out
}

/// The server's own `pulse_fanout_delay_seconds` (its clock when it emits an entry minus
/// the entry's `ts`, once per entry per node), summed over the nodes' `/metrics`:
/// (entries emitted, mean ms, p50 ms, p99 ms), the quantiles interpolated within the
/// histogram's buckets as Prometheus' `histogram_quantile` does. `None` if no node has it.
async fn server_fanout_delay(
    http: &reqwest::Client,
    target: &Target,
) -> Option<(u64, f64, f64, f64)> {
    let mut buckets: BTreeMap<u64, f64> = BTreeMap::new(); // le in µs (u64::MAX: +Inf)
    let (mut sum, mut count) = (0.0, 0.0);
    for url in target.node_urls() {
        let text = http.get(format!("{url}/metrics")).send().await.ok()?.text().await.ok()?;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("pulse_fanout_delay_seconds") else { continue };
            let Some((name, value)) = rest.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            if name == "_sum" {
                sum += value;
            } else if name == "_count" {
                count += value;
            } else if let Some(le) = name.split("le=\"").nth(1).and_then(|r| r.split('"').next()) {
                let key = if le == "+Inf" {
                    u64::MAX
                } else {
                    le.parse::<f64>().map_or(u64::MAX, |s| (s * 1e6).round() as u64)
                };
                *buckets.entry(key).or_default() += value;
            }
        }
    }
    if count == 0.0 {
        return None;
    }
    let quantile = |q: f64| {
        let rank = q * count;
        let (mut lower_le, mut lower_count) = (0u64, 0.0);
        for (&le, &cumulative) in &buckets {
            if cumulative >= rank {
                if le == u64::MAX {
                    return lower_le as f64 / 1000.0; // beyond the last bound: its bound
                }
                let width = (le - lower_le) as f64;
                let within = (rank - lower_count) / (cumulative - lower_count).max(1e-9);
                return (lower_le as f64 + width * within) / 1000.0;
            }
            (lower_le, lower_count) = (le, cumulative);
        }
        lower_le as f64 / 1000.0
    };
    Some((count as u64, sum / count * 1000.0, quantile(0.50), quantile(0.99)))
}

/// What the writers did.
struct Writes {
    ok: u64,
    failed: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
    /// Successful writes by the node HAProxy's cookie names (cluster only).
    by_node: BTreeMap<String, u64>,
    /// Which node wrote each payment (cluster only).
    node_of: HashMap<i64, String>,
    /// From the first write due to the last answer.
    elapsed: Duration,
}

impl Writes {
    fn new() -> Writes {
        Writes {
            ok: 0,
            failed: 0,
            first_error: None,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds"),
            by_node: BTreeMap::new(),
            node_of: HashMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn add(&mut self, w: Writes) {
        self.ok += w.ok;
        self.failed += w.failed;
        if self.first_error.is_none() {
            self.first_error = w.first_error;
        }
        self.latency.add(&w.latency).ok();
        for (node, n) in w.by_node {
            *self.by_node.entry(node).or_default() += n;
        }
        self.node_of.extend(w.node_of);
    }
}

/// The node that served a request, from the `PULSE_NODE` cookie HAProxy inserts.
fn served_by(res: &reqwest::Response) -> Option<String> {
    res.headers().get_all(reqwest::header::SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let rest = v.strip_prefix("PULSE_NODE=")?;
        Some(rest.split(';').next()?.to_owned())
    })
}

/// One payment: posted, timed from `due`, counted into a one-write [`Writes`].
async fn post_payment(
    http: reqwest::Client,
    url: String,
    token: String,
    body: serde_json::Value,
    due: tokio::time::Instant,
) -> Writes {
    let mut out = Writes::new();
    let res = http.post(format!("{url}/api/payments")).bearer_auth(&token).json(&body).send().await;
    match res {
        Ok(r) if r.status().is_success() => {
            let us = (due.elapsed().as_micros() as u64).clamp(1, MAX_LATENCY_US);
            out.latency.record(us).ok();
            out.ok = 1;
            let node = served_by(&r);
            let id = r.json::<serde_json::Value>().await.ok().and_then(|p| p["id"].as_i64());
            if let Some(node) = node {
                if let Some(id) = id {
                    out.node_of.insert(id, node.clone());
                }
                out.by_node.insert(node, 1);
            }
        }
        Ok(r) => {
            out.failed = 1;
            let status = r.status();
            out.first_error = Some(format!("{status} {}", r.text().await.unwrap_or_default()));
        }
        Err(e) => {
            out.failed = 1;
            out.first_error = Some(e.to_string());
        }
    }
    out
}

/// `sc.writers` writers post `sc.rate × sc.seconds` payments between them, open-loop: write
/// `j` goes out when due (`start + j / rate`), whatever is still unanswered, each writer
/// with at most [`IN_FLIGHT`] requests open (a writer at its limit waits, and falls behind
/// the schedule).
async fn write(target: &Target, sc: &Scenario, customers: &[i64], run_id: u64) -> Writes {
    let total = (sc.rate * sc.seconds).round() as u64;
    let k = sc.writers.max(1) as u64;
    let start = tokio::time::Instant::now();
    let stop_at = start + Duration::from_secs_f64(sc.seconds + 60.0);
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..k {
        let (url, token, customers) =
            (target.url.clone(), target.token.clone(), customers.to_vec());
        let rate = sc.rate;
        writers.spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client");
            let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
            let mut open = tokio::task::JoinSet::new();
            let mut out = Writes::new();
            let mut j = w;
            while j < total {
                let due = start + Duration::from_secs_f64(j as f64 / rate);
                if due >= stop_at {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let Ok(slot) = slots.clone().acquire_owned().await else { break };
                let body = json!({
                    "customer_id": customers[(j as usize) % customers.len()],
                    "amount": AMOUNTS[(j as usize) % AMOUNTS.len()],
                    "method": "CASH",
                    "note": "pulse-bench",
                    "idempotency_key": format!("bench-{run_id}-{j}"),
                });
                let (http, url, token) = (http.clone(), url.clone(), token.clone());
                open.spawn(async move {
                    let done = post_payment(http, url, token, body, due).await;
                    drop(slot);
                    done
                });
                // Collect what is already answered, so finished tasks do not pile up.
                while let Some(Ok(done)) = open.try_join_next() {
                    out.add(done);
                }
                j += k;
            }
            while let Some(done) = open.join_next().await {
                match done {
                    Ok(done) => out.add(done),
                    Err(e) => {
                        out.first_error.get_or_insert(format!("write task: {e}"));
                    }
                }
            }
            out
        });
    }
    let mut all = Writes::new();
    while let Some(done) = writers.join_next().await {
        match done {
            Ok(w) => all.add(w),
            Err(e) => {
                all.first_error.get_or_insert(format!("writer task: {e}"));
            }
        }
    }
    // Writes never sent (past the deadline) count as failed.
    all.failed = total.saturating_sub(all.ok);
    all.elapsed = start.elapsed();
    all
}

/// p50 and p99 in ms.
type Quantiles = (f64, f64);

/// Latency of `payment:added` entries (p50, p99 in ms) for clients on the node that wrote
/// the payment and for clients on another node; `None` where there were none, or when the
/// writing node is not known (one node: no balancer cookie).
fn split_by_node(
    listeners: &Listeners,
    live: &[bool],
    node_of: &HashMap<i64, String>,
) -> (Option<Quantiles>, Option<Quantiles>) {
    if node_of.is_empty() {
        return (None, None);
    }
    let h = || Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds");
    let (mut same, mut other) = (h(), h());
    for (i, c) in listeners.clients.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let c = c.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mine) = &c.node else { continue };
        for (latency, id) in &c.payments {
            match node_of.get(id) {
                Some(writer) if writer == mine => same.record(*latency).ok(),
                Some(_) => other.record(*latency).ok(),
                None => None,
            };
        }
    }
    let figures = |h: &Histogram<u64>| {
        (!h.is_empty())
            .then(|| (load::ms(h.value_at_quantile(0.50)), load::ms(h.value_at_quantile(0.99))))
    };
    (figures(&same), figures(&other))
}

/// Runs one logged-path scenario against `target` and measures it.
pub async fn run_log(target: &Target, sc: &Scenario) -> Result<Report, String> {
    let load_avg = process::load_average().unwrap_or(0.0);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let customers: CustomersPage = get_json(&http, target, "/api/customers?limit=500").await?;
    let customers: Vec<i64> = customers.items.into_iter().map(|c| c.id).collect();
    if customers.is_empty() {
        return Err("the demo tenant has no customers".into());
    }
    let head: EventsPage = get_json(&http, target, "/api/events?since=0&limit=1").await?;
    let since = head.head;

    let rss_before = target.nodes_kib(process::rss_kib);
    let listeners = Arc::new(Listeners {
        shared: Shared::new(0),
        since,
        clients: (0..sc.connections).map(|_| Mutex::new(Seen::default())).collect(),
        malformed: AtomicU64::new(0),
    });
    let ramp_start = Instant::now();
    let conns = load::ramp_clients(sc, |i| open(target, &listeners, i)).await;
    let ramp_s = ramp_start.elapsed().as_secs_f64();
    let live: Vec<bool> = conns.iter().map(|c| c.client.status() == Status::Live).collect();
    let up = live.iter().filter(|&&l| l).count() as u64;
    let rss_connected = crate::load::rss_settled(target).await;
    let node_sockets =
        if target.nodes.len() > 1 { sockets_per_node(&http, target).await } else { Vec::new() };

    let usage0 = Usage::now(target);
    let t0 = Instant::now();
    let t0_us = load::now_us();
    let run_id = t0_us;
    let writes = write(target, sc, &customers, run_id).await;
    // What clients had not yet received when the last write was answered: past capacity,
    // the backlog the server still has to send.
    let writes_end = Instant::now();
    let received_at_end = listeners.shared.received.load(Ordering::Relaxed);
    // The truth: every entry the run added, as the log serves it (through the same URL).
    let log = entries_since(&http, target, since).await?;
    let expected = log.len() as u64 * up;
    let backlog = expected.saturating_sub(received_at_end);
    // However long the backlog takes to drain while it keeps moving; what is missing after
    // STALL without progress is lost, not late.
    load::drain_within(&listeners.shared, expected, load::COMPLETE_MAX, STALL).await;
    let drain_s = match listeners.shared.received.load(Ordering::Relaxed) >= expected {
        true => {
            let last_us = listeners.shared.last_us.load(Ordering::Relaxed);
            let end_us = t0_us + writes_end.duration_since(t0).as_micros() as u64;
            Some(last_us.saturating_sub(end_us) as f64 / 1e6)
        }
        false => None,
    };
    let wall = t0.elapsed();
    let usage1 = Usage::now(target);
    let rss_peak = target.nodes_kib(process::peak_rss_kib);
    let server_delay = server_fanout_delay(&http, target).await;
    let rss_after = crate::load::rss_settled(target).await;

    // Per client: which of the log's entries it got.
    let (mut received, mut extra, mut out_of_order, mut with_gaps) = (0u64, 0u64, 0u64, 0u64);
    let mut first_gap: Option<String> = None;
    for (i, c) in listeners.clients.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let c = c.lock().unwrap_or_else(|e| e.into_inner());
        out_of_order += c.out_of_order;
        let mut got = c.seqs.clone();
        got.sort_unstable();
        got.dedup();
        let matched = count_common(&log, &got);
        received += matched;
        extra += got.len() as u64 - matched;
        if matched < log.len() as u64 {
            with_gaps += 1;
            if first_gap.is_none() {
                let missing = log.iter().find(|s| got.binary_search(s).is_err());
                first_gap = Some(format!(
                    "client {i}: {} of {} entries, first missing seq {missing:?}",
                    matched,
                    log.len()
                ));
            }
        }
    }
    if let Some(g) = &first_gap {
        eprintln!("{} {}: {with_gaps} clients with gaps; {g}", target.name, sc.name);
    }
    if let Some(e) = &writes.first_error {
        eprintln!("{} {}: {} writes failed; first: {e}", target.name, sc.name, writes.failed);
    }
    let malformed = listeners.malformed.load(Ordering::Relaxed);
    if malformed > 0 {
        return Err(format!("{malformed} logged events without a readable seq and ts"));
    }

    let (same_node, other_node) = split_by_node(&listeners, &live, &writes.node_of);
    let h = listeners.shared.merged();
    let window_us = listeners.shared.last_us.load(Ordering::Relaxed).saturating_sub(t0_us).max(1);
    let mut report = Report {
        target: target.name.clone(),
        generator: load::Generator::Sdk.name().into(),
        scenario: sc.name.clone(),
        connections: sc.connections as u64,
        up,
        connect_errors: sc.connections as u64 - up,
        disconnects: listeners.shared.disconnects.load(Ordering::Relaxed),
        ramp_s,
        rate: sc.rate,
        seconds: sc.seconds,
        emitted: writes.ok,
        expected,
        received,
        lost: expected as i64 - received as i64,
        p50_ms: load::ms(h.value_at_quantile(0.50)),
        p95_ms: load::ms(h.value_at_quantile(0.95)),
        p99_ms: load::ms(h.value_at_quantile(0.99)),
        max_ms: load::ms(h.max()),
        delivered_per_s: received as f64 * 1e6 / window_us as f64,
        rss_before_kib: rss_before,
        rss_connected_kib: rss_connected,
        rss_peak_kib: rss_peak,
        kb_per_conn: crate::load::kb_per_conn(rss_connected, rss_before, up),
        kb_per_conn_after: crate::load::kb_per_conn(rss_after, rss_before, up),
        node_sockets,
        load_avg_1m: load_avg,
        writers: sc.writers as u64,
        writes_ok: writes.ok,
        writes_failed: writes.failed,
        writes_per_s: writes.ok as f64 / writes.elapsed.as_secs_f64().max(1e-9),
        write_p50_ms: load::ms(writes.latency.value_at_quantile(0.50)),
        write_p99_ms: load::ms(writes.latency.value_at_quantile(0.99)),
        writes_by_node: writes.by_node,
        log_entries: log.len() as u64,
        clients_with_gaps: with_gaps,
        out_of_order,
        unexpected: extra,
        same_node_p50_ms: same_node.map_or(0.0, |f| f.0),
        same_node_p99_ms: same_node.map_or(0.0, |f| f.1),
        other_node_p50_ms: other_node.map_or(0.0, |f| f.0),
        other_node_p99_ms: other_node.map_or(0.0, |f| f.1),
        server_emits: server_delay.map_or(0, |d| d.0),
        server_delay_mean_ms: server_delay.map_or(0.0, |d| d.1),
        server_delay_p50_ms: server_delay.map_or(0.0, |d| d.2),
        server_delay_p99_ms: server_delay.map_or(0.0, |d| d.3),
        backlog_at_writes_end: backlog,
        drain_s,
        ..Report::default()
    };
    usage0.fill(&usage1, wall, &mut report);
    drop(conns);
    Ok(report)
}

/// How many values two sorted, deduplicated lists share.
fn count_common(a: &[u64], b: &[u64]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_common_positions() {
        assert_eq!(count_common(&[1, 2, 3, 5, 8], &[2, 3, 4, 8, 9]), 3);
        assert_eq!(count_common(&[], &[1]), 0);
    }
}
