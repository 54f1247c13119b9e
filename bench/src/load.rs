//! This module deals with generating load with the native pulse-sdk: opening N authenticated
//! [`Client`]s in bounded batches, asking the server to broadcast, timing every `bench:tick`
//! from its `sent_at_us` to the moment the SDK hands it to our handler (so the SDK's
//! WebSocket read, Engine.IO/Socket.IO decode and dispatch are inside the measurement), and
//! the sequential emit-with-ack round trips.
//!
//! Every wait is bounded twice, in count and in time: the ramp waits at most
//! [`Scenario::batch_wait`] per batch, the wait for delivery after a broadcast at most
//! [`COMPLETE_MAX`] (other drains [`DRAIN_MAX`]), and no loop runs more than its deadline
//! allows.
//!
//! After a broadcast to one server the generator waits until every connection still up has
//! every tick, however late: a tick that comes more than a second after the broadcaster said
//! it was done is counted as *late*, and only ticks that a connection which dropped never got
//! are *lost* (with why it dropped and who closed it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use pulse_protocol::events::ConnectAuth;
use pulse_sdk::{Client, Config, DisconnectReason, Event, Json, Status, Subscription};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::floor;
use crate::process;
use crate::report::Report;
pub use crate::sioc::NodeGenerator;

/// Longest wait for events still in flight after the server says it is done.
pub const DRAIN_MAX: Duration = Duration::from_secs(20);
/// A drain also ends when nothing arrived for this long.
const DRAIN_QUIET: Duration = Duration::from_secs(3);
/// A broadcast's drain waits while a connection still up misses ticks, however slowly they
/// come, up to this: a server that falls behind delivers late, and late is not lost.
pub const COMPLETE_MAX: Duration = Duration::from_secs(120);
/// A tick received more than this after the broadcaster said it was done is "late".
const LATE_AFTER: Duration = Duration::from_secs(1);
/// Histograms are sharded so the two runtime threads rarely contend on one lock.
const SHARDS: usize = 16;
/// Latencies above this (60 s) are clamped; they would mean the run is broken anyway.
pub(crate) const MAX_LATENCY_US: u64 = 60_000_000;
/// Tick numbers above this are refused as malformed (a bit set per number and connection).
const MAX_TICKS: u64 = 1 << 24;

/// A broadcast scenario: N connections, R broadcasts a second of P bytes for S seconds.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name in tables, e.g. `5k x 10/s`.
    pub name: String,
    /// Connections to open.
    pub connections: usize,
    /// Broadcasts per second.
    pub rate: f64,
    /// Bytes of each tick's argument.
    pub size: usize,
    /// Seconds of broadcasting.
    pub seconds: f64,
    /// Connections started together; the next batch starts when this one has settled.
    pub batch: usize,
    /// Longest wait for one batch to settle.
    pub batch_wait: Duration,
    /// Writers of the logged-path scenario ([`run_log`](crate::logged::run_log)); 0 for a
    /// broadcast scenario. The `rate` is then payments per second, all writers together.
    pub writers: usize,
}

impl Scenario {
    /// A scenario with the default ramp: 100 at a time (under the 128-connection accept
    /// backlog tokio's `TcpListener::bind` gives the Pulse server; a larger burst overflows
    /// it and the dropped SYNs are retried only after 1, 3, 7… s), at most 15 s per batch.
    pub fn new(name: &str, connections: usize, rate: f64, size: usize, seconds: f64) -> Self {
        Scenario {
            name: name.into(),
            connections,
            rate,
            size,
            seconds,
            batch: 100,
            batch_wait: Duration::from_secs(15),
            writers: 0,
        }
    }

    /// A logged-path scenario: N connections, `writers` clients posting `rate` payments a
    /// second between them for `seconds` ([`run_log`](crate::logged::run_log)).
    pub fn log(name: &str, connections: usize, rate: f64, seconds: f64, writers: usize) -> Self {
        Scenario { writers: writers.max(1), ..Scenario::new(name, connections, rate, 0, seconds) }
    }
}

/// How the generator talks to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Socket.IO through the native pulse-sdk; the broadcast is asked for over HTTP.
    SocketIo,
    /// The raw TCP floor ([`crate::floor`]).
    RawTcp,
}

/// A server under test: where it is, a token its CONNECT accepts, and its process (for
/// memory and CPU), if known.
#[derive(Debug, Clone)]
pub struct Target {
    /// `pulse`, `pulse-pg`, `pulse-cluster`, `node` or `floor`.
    pub name: String,
    /// How to reach it.
    pub wire: Wire,
    /// `http://127.0.0.1:PORT` (Socket.IO) or `127.0.0.1:PORT` (raw TCP). For a cluster, the
    /// load balancer: every client and every write goes through it.
    pub url: String,
    /// Sent as `{ token }` in CONNECT and as the bearer of the broadcast request.
    pub token: String,
    /// The server's process id (a single process; `None` for a cluster, see `parts`).
    pub pid: Option<u32>,
    /// The other processes that serve it (cluster nodes, PostgreSQL, Redis, HAProxy), whose
    /// memory and CPU are reported too. Empty for a single process.
    pub parts: Vec<Part>,
    /// Each node's own URL, bypassing the balancer, for what must reach every node (the bench
    /// broadcaster, `/metrics`). Empty: `url` is the only node.
    pub nodes: Vec<String>,
}

impl Target {
    /// A target served by one process.
    pub fn single(name: &str, wire: Wire, url: String, token: String, pid: Option<u32>) -> Target {
        Target { name: name.into(), wire, url, token, pid, parts: Vec::new(), nodes: Vec::new() }
    }

    /// The pids of the Pulse nodes: the single process, or the parts that are nodes.
    pub(crate) fn node_pids(&self) -> Vec<u32> {
        self.pid.into_iter().chain(self.parts.iter().filter(|p| p.node).map(|p| p.pid)).collect()
    }

    /// The URLs of the nodes themselves.
    pub(crate) fn node_urls(&self) -> Vec<String> {
        if self.nodes.is_empty() {
            vec![self.url.clone()]
        } else {
            self.nodes.clone()
        }
    }

    /// Resident memory of the nodes together, KiB (`VmRSS`, or `VmHWM` with `peak`).
    pub(crate) fn nodes_kib(&self, f: fn(u32) -> Option<u64>) -> u64 {
        self.node_pids().into_iter().filter_map(f).sum()
    }
}

/// The servers' RSS after half a second with nothing asked of them: taken with every
/// connection up (joining rooms and allocations settled) and again once the run's work is
/// done, so what a run leaves behind per connection (buffers and queues kept at their
/// largest) shows against the first.
pub(crate) async fn rss_settled(target: &Target) -> u64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    target.nodes_kib(process::rss_kib)
}

/// `(rss − rss_before) / up`, in KB (1,000 bytes); 0 with no connection.
pub(crate) fn kb_per_conn(rss_kib: u64, rss_before_kib: u64, up: u64) -> f64 {
    if up > 0 {
        rss_kib.saturating_sub(rss_before_kib) as f64 * 1.024 / up as f64
    } else {
        0.0
    }
}

/// One process of a target made of several.
#[derive(Debug, Clone)]
pub struct Part {
    /// `node1`, `postgres`, `redis`, `haproxy`.
    pub name: String,
    /// Its process id (for PostgreSQL, the postmaster).
    pub pid: u32,
    /// A Pulse node: counted in the server's memory and CPU.
    pub node: bool,
    /// Count the CPU of its child processes too (PostgreSQL's backends).
    pub tree: bool,
}

/// CPU counters at one instant, to subtract.
pub(crate) struct Usage {
    nodes: Duration,
    parts: Vec<(String, Duration)>,
    own: Duration,
    machine: Option<(u64, u64)>,
}

impl Usage {
    pub(crate) fn now(target: &Target) -> Usage {
        Usage {
            nodes: target.node_pids().into_iter().filter_map(process::cpu_time).sum(),
            parts: target
                .parts
                .iter()
                .filter(|p| !p.node)
                .map(|p| {
                    let t = if p.tree {
                        process::tree_cpu_time(p.pid)
                    } else {
                        process::cpu_time(p.pid)
                    };
                    (p.name.clone(), t.unwrap_or_default())
                })
                .collect(),
            own: process::own_cpu_time(),
            machine: process::machine_cpu_ticks(),
        }
    }

    /// Fills the CPU figures of `r` for the window from `self` to `end`.
    pub(crate) fn fill(&self, end: &Usage, wall: Duration, r: &mut Report) {
        r.server_cpu_pct = cpu_pct(end.nodes.saturating_sub(self.nodes), wall);
        r.generator_cpu_pct = cpu_pct(end.own.saturating_sub(self.own), wall);
        r.other_cpu_pct = self
            .parts
            .iter()
            .zip(&end.parts)
            .map(|((name, a), (_, b))| (name.clone(), cpu_pct(b.saturating_sub(*a), wall)))
            .collect();
        r.machine_cpu_pct = match self.machine.zip(end.machine) {
            Some((a, b)) => process::machine_cpu_pct(a, b),
            None => 0.0,
        };
    }
}

/// The broadcaster's answer (the same shape from Pulse and from the Node.js server).
#[derive(Debug, Deserialize)]
struct Broadcast {
    emitted: u64,
    /// How long the broadcaster took to send them; past the run's length, it fell behind its
    /// schedule, and that delay is not in the latency (measured from the actual send).
    #[serde(default)]
    elapsed_ms: u64,
    #[serde(default)]
    dropped: u64,
    /// Sockets in the tenant room of the node that broadcast (Pulse only).
    #[serde(default)]
    sockets: Option<u64>,
}

/// What a generator counted over a run, whichever generator it was.
pub(crate) struct Tally {
    pub(crate) received: u64,
    pub(crate) duplicated: u64,
    pub(crate) late: u64,
    pub(crate) malformed: u64,
    /// Ticks never received by connections that dropped.
    pub(crate) lost_on_dropped: u64,
    /// Ticks not yet received by connections still up.
    pub(crate) undelivered: u64,
    pub(crate) disconnects: u64,
    /// Wall clock of the latest receipt, µs since the epoch.
    pub(crate) last_us: u64,
    pub(crate) reasons: BTreeMap<String, u64>,
    /// Latency from each tick's send.
    pub(crate) latency: Histogram<u64>,
    /// Latency from when each tick was due.
    pub(crate) from_due: Histogram<u64>,
    /// The generator's CPU when it runs in processes of its own; `None`: this process's.
    pub(crate) cpu: Option<Duration>,
}

/// Counters shared by every client's handlers.
pub(crate) struct Shared {
    /// Events that arrived; for numbered ticks, distinct ones only (see `ticks`).
    pub(crate) received: AtomicU64,
    /// Per connection, the tick numbers it received (one bit per `n`), so that a duplicate
    /// is counted as one and cannot make up for a loss in `received`.
    ticks: Vec<Mutex<Vec<u64>>>,
    /// Per connection, the distinct ticks it received.
    counts: Vec<AtomicU64>,
    /// Ticks a connection received again.
    pub(crate) duplicated: AtomicU64,
    /// Ticks whose `sent_at_us` could not be read.
    malformed: AtomicU64,
    /// Wall clock of the latest receipt, µs since the epoch.
    pub(crate) last_us: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    /// Why connections dropped, by who closed them (see [`closed_by`]).
    reasons: Mutex<BTreeMap<&'static str, u64>>,
    /// Per connection, whether it dropped.
    gone: Vec<AtomicBool>,
    /// Ticks received after this (µs since the epoch) count as late; set when the
    /// broadcaster answers.
    late_after_us: AtomicU64,
    /// Ticks received after `late_after_us`.
    late: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
    /// Latency from when each tick was due (`due_at_us`), where ticks carry it.
    from_due: Vec<Mutex<Histogram<u64>>>,
}

impl Shared {
    /// Counters for `connections` whose ticks are numbered (none: events are only counted).
    pub(crate) fn new(connections: usize) -> Shared {
        let h = || Mutex::new(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds"));
        Shared {
            received: AtomicU64::new(0),
            ticks: (0..connections).map(|_| Mutex::new(Vec::new())).collect(),
            counts: (0..connections).map(|_| AtomicU64::new(0)).collect(),
            duplicated: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            reasons: Mutex::new(BTreeMap::new()),
            gone: (0..connections).map(|_| AtomicBool::new(false)).collect(),
            late_after_us: AtomicU64::new(u64::MAX),
            late: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| h()).collect(),
            from_due: (0..SHARDS).map(|_| h()).collect(),
        }
    }

    /// Counts one event sent at `sent_us` and received now, by connection `index`; `tick` is
    /// its number when ticks are numbered. A tick the connection already had is only counted
    /// in `duplicated`.
    pub(crate) fn record(&self, index: usize, sent_us: u64, tick: Option<u64>) {
        self.record_tick(index, sent_us, None, tick);
    }

    /// [`Shared::record`], also counting the latency from `due_us`, when the tick was due.
    pub(crate) fn record_tick(
        &self,
        index: usize,
        sent_us: u64,
        due_us: Option<u64>,
        tick: Option<u64>,
    ) {
        if let (Some(n), Some(seen)) = (tick, self.ticks.get(index)) {
            if n >= MAX_TICKS {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() <= word {
                seen.resize(word + 1, 0);
            }
            if seen[word] & bit != 0 {
                self.duplicated.fetch_add(1, Ordering::Relaxed);
                return;
            }
            seen[word] |= bit;
            self.counts[index].fetch_add(1, Ordering::Relaxed);
        }
        let now = now_us();
        let latency = now.saturating_sub(sent_us).clamp(1, MAX_LATENCY_US);
        let shard = &self.latency[index % SHARDS];
        shard.lock().unwrap_or_else(|e| e.into_inner()).record(latency).ok();
        if let Some(due_us) = due_us {
            let latency = now.saturating_sub(due_us).clamp(1, MAX_LATENCY_US);
            let shard = &self.from_due[index % SHARDS];
            shard.lock().unwrap_or_else(|e| e.into_inner()).record(latency).ok();
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        self.last_us.fetch_max(now, Ordering::Relaxed);
        if now > self.late_after_us.load(Ordering::Relaxed) {
            self.late.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts connection `index` as dropped, for `reason`.
    pub(crate) fn dropped(&self, index: usize, reason: &DisconnectReason) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
        if let Some(g) = self.gone.get(index) {
            g.store(true, Ordering::Relaxed);
        }
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        *reasons.entry(closed_by(reason)).or_default() += 1;
    }

    /// Ticks missing, of `per_conn` each, on connections that dropped and on those still up.
    fn missing(&self, per_conn: u64) -> (u64, u64) {
        let mut on = (0, 0);
        for (i, got) in self.counts.iter().enumerate() {
            let missing = per_conn.saturating_sub(got.load(Ordering::Relaxed));
            if self.gone[i].load(Ordering::Relaxed) {
                on.0 += missing;
            } else {
                on.1 += missing;
            }
        }
        on
    }

    pub(crate) fn merged(&self) -> Histogram<u64> {
        merge(&self.latency)
    }

    /// The counts so far; `per_conn`: ticks each connection should have (one node).
    fn tally(&self, per_conn: Option<u64>) -> Tally {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (lost_on_dropped, undelivered) = per_conn.map_or((0, 0), |p| self.missing(p));
        let reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        Tally {
            received: load(&self.received),
            duplicated: load(&self.duplicated),
            late: load(&self.late),
            malformed: load(&self.malformed),
            lost_on_dropped,
            undelivered,
            disconnects: load(&self.disconnects),
            last_us: load(&self.last_us),
            reasons: reasons.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            latency: self.merged(),
            from_due: merge(&self.from_due),
            cpu: None,
        }
    }
}

/// The shards of a latency histogram as one.
fn merge(shards: &[Mutex<Histogram<u64>>]) -> Histogram<u64> {
    let mut all = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds");
    for h in shards {
        all.add(&*h.lock().unwrap_or_else(|e| e.into_inner())).expect("same bounds");
    }
    all
}

/// Who ended a connection, as a report's row names it.
pub(crate) fn closed_by(reason: &DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::Client => "client: closed",
        DisconnectReason::PingTimeout => "client: server's heartbeat missed",
        DisconnectReason::HealthCheck => "client: health ping unanswered",
        DisconnectReason::Decode(_) => "client: undecodable frame",
        DisconnectReason::Server => "server: closed",
        DisconnectReason::Auth(_) => "server: ended the session (auth)",
        DisconnectReason::Transport(_) => "transport closed (either side)",
    }
}

pub(crate) fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// SDK settings for load: no reconnection (a failure is counted, not hidden by a retry), no
/// 30 s health ping (it would add N acked events per 30 s that are not fan-out), no REST
/// polling fallback.
pub(crate) fn client_config(url: &str) -> Config {
    let mut c = Config::new(url);
    c.reconnection = false;
    c.health_interval = None;
    c.poll_interval = None;
    c.connect_timeout = Duration::from_secs(30);
    c
}

/// One connection with its handlers; dropping it disconnects.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) _subs: Vec<Subscription>,
}

fn open(target: &Target, shared: &Arc<Shared>, index: usize) -> Conn {
    let token = target.token.clone();
    let client = Client::connect_with_auth(client_config(&target.url), move || {
        Some(ConnectAuth::with_token(&token))
    });
    let s = shared.clone();
    let tick = client.on("bench:tick", move |m| {
        let tick = m.args.first().map(Json::value);
        let tick = tick.as_ref();
        let n = tick.and_then(|a| a.get("n")).and_then(|v| v.as_u64());
        match (tick.and_then(|a| a.get("sent_at_us")).and_then(|v| v.as_u64()), n) {
            (Some(sent), Some(n)) => {
                let due = tick.and_then(|a| a.get("due_at_us")).and_then(|v| v.as_u64());
                s.record_tick(index, sent, due, Some(n));
            }
            _ => {
                s.malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let s = shared.clone();
    // Joins are read from `Client::status`, not counted from events: the client may join
    // before this subscription exists. Drops happen after the ramp, when it does.
    let status = client.on_any(move |e| {
        if let Event::Disconnected { reason } = e {
            s.dropped(index, reason);
        }
    });
    Conn { client, _subs: vec![tick, status] }
}

/// Sleeps in small steps until `done` or `deadline`; returns whether `done` held.
pub(crate) async fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn cpu_pct(cpu: Duration, wall: Duration) -> f64 {
    if wall.is_zero() {
        0.0
    } else {
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    }
}

/// Runs one broadcast scenario against `target` and measures it.
///
/// A cluster's broadcaster is per node: `POST /api/bench/broadcast` sends ticks to the
/// sockets of the node that serves the request only (server/src/bench.rs fans out through
/// the node's local adapter; ticks bypass the shared log on purpose). So for a target with
/// several nodes every node is asked directly, at once, and a client expects the ticks of
/// the node it is connected to: `expected = Σ emitted × sockets` over the nodes' answers.
pub async fn run_broadcast(target: &Target, sc: &Scenario) -> Result<Report, String> {
    run_broadcast_with(target, sc, &Generator::Sdk).await
}

/// Which client library generates the load.
#[derive(Debug, Clone)]
pub enum Generator {
    /// The native pulse-sdk, in this process.
    Sdk,
    /// The official socket.io-client in Node.js worker processes ([`crate::sioc`]).
    SocketIoClient(NodeGenerator),
}

impl Generator {
    /// Its name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Generator::Sdk => "pulse-sdk",
            Generator::SocketIoClient(_) => "socket.io-client",
        }
    }
}

/// [`run_broadcast`] with the connections opened by `generator`.
pub async fn run_broadcast_with(
    target: &Target,
    sc: &Scenario,
    generator: &Generator,
) -> Result<Report, String> {
    let load_avg = process::load_average().unwrap_or(0.0);
    let rss_before = target.nodes_kib(process::rss_kib);
    let shared = Arc::new(Shared::new(sc.connections));

    let ramp_start = Instant::now();
    let mut node_fleet = None;
    let fleet = match (target.wire, generator) {
        (Wire::SocketIo, Generator::SocketIoClient(g)) => {
            if !target.nodes.is_empty() {
                return Err("the socket.io-client generator runs against one node only".into());
            }
            node_fleet = Some(g.open(target, sc.connections).await?);
            Fleet::Clients(Vec::new())
        }
        (Wire::SocketIo, Generator::Sdk) => {
            Fleet::Clients(ramp_clients(sc, |i| open(target, &shared, i)).await)
        }
        (Wire::RawTcp, _) => Fleet::Readers(ramp_readers(target, sc, &shared).await),
    };
    let ramp_s = ramp_start.elapsed().as_secs_f64();
    let up = node_fleet.as_ref().map_or_else(|| fleet.up(), |f| f.up);
    let rss_connected = rss_settled(target).await;

    if let Some(f) = node_fleet.as_mut() {
        f.go().await?;
    }
    let usage0 = Usage::now(target);
    let t0 = Instant::now();
    let t0_us = now_us();
    let answers = match target.wire {
        Wire::SocketIo => {
            let mut asks = tokio::task::JoinSet::new();
            for url in target.node_urls() {
                let (token, sc) = (target.token.clone(), sc.clone());
                asks.spawn(async move { ask_broadcast(&url, &token, &sc).await });
            }
            let mut answers = Vec::new();
            while let Some(a) = asks.join_next().await {
                answers.push(a.map_err(|e| format!("broadcast task: {e}"))??);
            }
            answers
        }
        Wire::RawTcp => vec![Broadcast {
            emitted: floor::go(&target.url, sc.rate, sc.size, sc.seconds).await?,
            elapsed_ms: t0.elapsed().as_millis() as u64,
            dropped: 0,
            sockets: None,
        }],
    };
    let emitted: u64 = answers.iter().map(|b| b.emitted).sum();
    let dropped: u64 = answers.iter().map(|b| b.dropped).sum();
    let expected = if answers.len() == 1 {
        answers[0].emitted * up
    } else {
        answers.iter().map(|b| b.emitted * b.sockets.unwrap_or(0)).sum()
    };
    let node_sockets: Vec<u64> = if answers.len() > 1 {
        answers.iter().map(|b| b.sockets.unwrap_or(0)).collect()
    } else {
        Vec::new()
    };

    let late_after_us = now_us() + LATE_AFTER.as_micros() as u64;
    shared.late_after_us.store(late_after_us, Ordering::Relaxed);
    // One node: wait until every connection still up has every tick, however late (bounded
    // by COMPLETE_MAX); then what is missing is on connections that dropped. A cluster's
    // clients expect their own node's ticks, unknown here: the quiet drain.
    let per_conn =
        (answers.len() == 1 && target.wire == Wire::SocketIo).then(|| answers[0].emitted);
    let t = match (node_fleet, per_conn) {
        (Some(f), Some(per_conn)) => f.finish(per_conn, late_after_us).await?,
        (Some(_), None) => return Err("the socket.io-client generator needs one node".into()),
        (None, Some(per_conn)) => {
            let deadline = Instant::now() + COMPLETE_MAX;
            wait_until(deadline, || shared.missing(per_conn).1 == 0).await;
            shared.tally(Some(per_conn))
        }
        (None, None) => {
            drain(&shared, expected).await;
            shared.tally(None)
        }
    };
    let wall = t0.elapsed();
    let usage1 = Usage::now(target);
    let rss_peak = target.nodes_kib(process::peak_rss_kib);
    let rss_after = rss_settled(target).await;

    let window_us = t.last_us.saturating_sub(t0_us).max(1);
    // The slowest node's broadcaster: its end bounds the run's work.
    let broadcast = Duration::from_millis(answers.iter().map(|b| b.elapsed_ms).max().unwrap_or(0));
    let (h, due) = (&t.latency, &t.from_due);
    let mut report = Report {
        target: target.name.clone(),
        generator: generator.name().into(),
        scenario: sc.name.clone(),
        connections: sc.connections as u64,
        up,
        connect_errors: sc.connections as u64 - up,
        disconnects: t.disconnects,
        ramp_s,
        rate: sc.rate,
        size: sc.size as u64,
        seconds: sc.seconds,
        emitted,
        broadcast_s: broadcast.as_secs_f64(),
        server_dropped: dropped,
        expected,
        received: t.received,
        lost: expected as i64 - t.received as i64,
        duplicated: t.duplicated,
        late: t.late,
        lost_on_dropped: t.lost_on_dropped,
        undelivered: t.undelivered,
        disconnect_reasons: t.reasons.clone(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        due_p50_ms: ms(due.value_at_quantile(0.50)),
        due_p99_ms: ms(due.value_at_quantile(0.99)),
        delivered_per_s: t.received as f64 * 1e6 / window_us as f64,
        rss_before_kib: rss_before,
        rss_connected_kib: rss_connected,
        rss_peak_kib: rss_peak,
        kb_per_conn: kb_per_conn(rss_connected, rss_before, up),
        kb_per_conn_after: kb_per_conn(rss_after, rss_before, up),
        node_sockets,
        load_avg_1m: load_avg,
        ..Report::default()
    };
    // CPU over the deliveries' window: from the broadcast's start to the last delivery, or to
    // the broadcaster's end if later. Waiting for ticks that never come (up to COMPLETE_MAX)
    // adds idle time, not work: divided by it, a saturated run read as an idle one.
    let busy = Duration::from_micros(window_us).max(broadcast).min(wall);
    usage0.fill(&usage1, busy, &mut report);
    if let Some(cpu) = t.cpu {
        // Its processes' own count, not this process's (which only waited).
        report.generator_cpu_pct = cpu_pct(cpu, busy);
    }
    if t.malformed > 0 {
        return Err(format!("{} ticks without a readable sent_at_us and n", t.malformed));
    }
    // Connections close as `fleet` drops here; the server sees N disconnects.
    drop(fleet);
    Ok(report)
}

/// Waits until `expected` events arrived, or none arrived for [`DRAIN_QUIET`], or
/// [`DRAIN_MAX`].
pub(crate) async fn drain(shared: &Shared, expected: u64) {
    drain_within(shared, expected, DRAIN_MAX, DRAIN_QUIET).await
}

/// Waits until `expected` events arrived, or none arrived for `quiet`, or `max`.
pub(crate) async fn drain_within(shared: &Shared, expected: u64, max: Duration, quiet: Duration) {
    let end = Instant::now() + max;
    let mut last = (shared.received.load(Ordering::Relaxed), Instant::now());
    wait_until(end, || {
        let got = shared.received.load(Ordering::Relaxed);
        if got != last.0 {
            last = (got, Instant::now());
        }
        got >= expected || last.1.elapsed() >= quiet
    })
    .await;
}

/// The open connections of a run; dropping them closes every one.
pub(crate) enum Fleet {
    Clients(Vec<Conn>),
    Readers(Vec<JoinHandle<()>>),
}

impl Fleet {
    /// Connections that joined (SDK: `Live`; raw TCP: connected and subscribed).
    pub(crate) fn up(&self) -> u64 {
        match self {
            Fleet::Clients(c) => c.iter().filter(|c| c.client.status() == Status::Live).count(),
            Fleet::Readers(r) => r.len(),
        }
        .try_into()
        .unwrap_or(u64::MAX)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Fleet::Readers(readers) = self {
            // Aborting a reader drops its socket.
            readers.iter().for_each(JoinHandle::abort);
        }
    }
}

/// Ramp: one batch at a time, each waiting (bounded) until every member joined or failed
/// (with reconnection off, a failure leaves the client `Offline`). `open(i)` opens client `i`
/// with its handlers.
pub(crate) async fn ramp_clients(sc: &Scenario, mut open: impl FnMut(usize) -> Conn) -> Vec<Conn> {
    let mut conns: Vec<Conn> = Vec::with_capacity(sc.connections);
    for start in (0..sc.connections).step_by(sc.batch.max(1)) {
        let end = (start + sc.batch.max(1)).min(sc.connections);
        conns.extend((start..end).map(&mut open));
        let settled = || conns[start..end].iter().all(|c| c.client.status() != Status::Connecting);
        wait_until(Instant::now() + sc.batch_wait, settled).await;
    }
    conns
}

/// The same ramp for raw TCP subscribers; one that fails to connect in time is not up.
async fn ramp_readers(target: &Target, sc: &Scenario, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut readers = Vec::with_capacity(sc.connections);
    for start in (0..sc.connections).step_by(sc.batch.max(1)) {
        let end = (start + sc.batch.max(1)).min(sc.connections);
        let mut batch = tokio::task::JoinSet::new();
        for i in start..end {
            let (url, size, shared) = (target.url.clone(), sc.size, shared.clone());
            batch.spawn(async move { floor::subscribe(&url, size, shared, i).await });
        }
        let deadline = tokio::time::sleep(sc.batch_wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = batch.join_next() => match joined {
                    Some(Ok(Ok(reader))) => readers.push(reader),
                    Some(_) => {}
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
    }
    readers
}

/// `POST /api/bench/broadcast` on one node (`url`); answers when the broadcast is over.
async fn ask_broadcast(url: &str, token: &str, sc: &Scenario) -> Result<Broadcast, String> {
    let answer = reqwest::Client::new()
        .post(format!("{url}/api/bench/broadcast"))
        .bearer_auth(token)
        .json(&json!({ "rate": sc.rate, "size": sc.size, "seconds": sc.seconds }))
        .timeout(Duration::from_secs_f64(sc.seconds * 2.0 + 60.0))
        .send()
        .await
        .map_err(|e| format!("broadcast request: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!(
            "broadcast request: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        ));
    }
    answer.json().await.map_err(|e| format!("broadcast answer: {e}"))
}

/// One connection, `count` sequential `ping` emits each awaiting its ack: the round trip
/// through the SDK, the server's handler and back.
pub async fn run_acks(target: &Target, count: u64) -> Result<Report, String> {
    let load_avg = process::load_average().unwrap_or(0.0);
    let rss_before = target.nodes_kib(process::rss_kib);
    let token = target.token.clone();
    let mut config = client_config(&target.url);
    config.ack_timeout = Duration::from_secs(10);
    let client = Client::connect_with_auth(config, move || Some(ConnectAuth::with_token(&token)));
    client
        .wait_for(|s| *s == Status::Live, Duration::from_secs(10))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let rss_connected = target.nodes_kib(process::rss_kib);
    let mut h = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).expect("bounds");
    let usage0 = Usage::now(target);
    let t0 = Instant::now();
    let mut ok = 0u64;
    for _ in 0..count {
        let started = Instant::now();
        if client.emit_with_ack("ping", vec![], None).await.is_ok() {
            ok += 1;
            h.record((started.elapsed().as_micros() as u64).clamp(1, MAX_LATENCY_US)).ok();
        }
    }
    let wall = t0.elapsed();
    let usage1 = Usage::now(target);
    let mut report = Report {
        target: target.name.clone(),
        generator: Generator::Sdk.name().into(),
        scenario: format!("1 x {count} acks"),
        connections: 1,
        up: 1,
        rate: 0.0,
        emitted: count,
        expected: count,
        received: ok,
        lost: count as i64 - ok as i64,
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        delivered_per_s: ok as f64 / wall.as_secs_f64().max(1e-9),
        rss_before_kib: rss_before,
        rss_connected_kib: rss_connected,
        rss_peak_kib: target.nodes_kib(process::peak_rss_kib),
        load_avg_1m: load_avg,
        ..Report::default()
    };
    usage0.fill(&usage1, wall, &mut report);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_tick_cannot_make_up_for_a_lost_one() {
        let s = Shared::new(2);
        let sent = now_us();
        // Connection 0 gets tick 0 twice and never tick 1; connection 1 gets both.
        for (conn, n) in [(0, 0), (0, 0), (1, 0), (1, 1)] {
            s.record(conn, sent, Some(n));
        }
        assert_eq!(s.received.load(Ordering::Relaxed), 3);
        assert_eq!(s.duplicated.load(Ordering::Relaxed), 1);
        // Out of range numbers are malformed, not a huge allocation.
        s.record(1, sent, Some(u64::MAX));
        assert_eq!(s.malformed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn only_ticks_a_dropped_connection_never_got_are_lost_and_late_ones_are_counted() {
        let s = Shared::new(3);
        let sent = now_us();
        // Three ticks each: 0 gets all, 1 gets one and drops, 2 (still up) has two so far.
        for (conn, n) in [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1)] {
            s.record(conn, sent, Some(n));
        }
        s.dropped(1, &DisconnectReason::PingTimeout);
        assert_eq!(s.missing(3), (2, 1), "2 lost with connection 1, 1 still owed to 2");
        // The broadcaster is done: what comes after the window is late, and completes 2.
        s.late_after_us.store(now_us(), Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        s.record(2, sent, Some(2));
        assert_eq!((s.missing(3), s.late.load(Ordering::Relaxed)), ((2, 0), 1));
        let reasons = s.reasons.lock().unwrap().clone();
        assert_eq!(reasons, BTreeMap::from([("client: server's heartbeat missed", 1)]));
        assert_eq!(s.disconnects.load(Ordering::Relaxed), 1);
    }
}
