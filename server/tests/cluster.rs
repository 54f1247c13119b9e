//! A real cluster: three `pulse-server` processes on one PostgreSQL database with Redis,
//! behind HAProxy (`deploy/haproxy.cfg`), and many native SDK clients connected through the
//! balancer. Nodes are separate processes so that one can be SIGKILLed.
//!
//! What every scenario checks, against the event log itself (`GET /api/events`, paged, per
//! user):
//! - every SDK client ends up with exactly the entries visible to its user, in `seq` order,
//!   none missing (the SDK drops an entry at or below the last one it applied, so a
//!   duplicate or a reordered entry the server sends shows up as a missing one here);
//! - a few raw WebSocket probes (Engine.IO/Socket.IO by hand, reconnecting with `lastSeq`
//!   like the SDK) record every entry exactly as the server sent it, so duplicates and
//!   reordering are seen as such, with the node each connection was on (HAProxy's cookie);
//! - every payment a writer or an emitter got an answer for exists exactly once (by note).
//!
//! Only one cluster runs at a time (two would not fit on a 2-core machine), and each loop is
//! bounded in count and in time. `PULSE_CLUSTER_CLIENTS` changes the number of SDK clients
//! of the load scenarios; `PULSE_CLUSTER_SERVER_BIN` runs another build of the server as the
//! nodes (e.g. `target/server/pulse-server`, much faster than the debug build); `PULSE_CLUSTER_LOG`
//! sets the nodes' RUST_LOG.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pulse_protocol::events::{is_logged, ConnectAuth, PAYMENT_ADD};
use pulse_protocol::{Ack, ErrorCode};
use pulse_sdk::{Client, Event, Json, Status, Subscription, Transport};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::fixture::{DEMO, OTHER, PASSWORD};
use crate::services::{self, free_port, Haproxy, Postgres, Redis, Watchdog};

/// The same JWT secret on every node (48 characters).
const SECRET: &str = "cluster-test-secret-0123456789abcdef0123456789ab";
const STAFF: &str = "staff@pulse.demo";

/// One cluster at a time in this test binary.
static CLUSTER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn log(t0: Instant, msg: impl AsRef<str>) {
    eprintln!("[{:>6.2}s] {}", t0.elapsed().as_secs_f64(), msg.as_ref());
}

/// Connections a probe made: (connection number, node, last seq when it connected).
type Conns = Arc<Mutex<Vec<(u32, String, Option<u64>)>>>;

// ---------------------------------------------------------------------------------------
// Nodes and the cluster

/// One `pulse-server` process; `start` again reuses its port, directory and environment.
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl Node {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    pub fn log_tail(&self, lines: usize) -> String {
        services::tail(&self.log_path(), lines)
    }

    /// Log lines containing `pat` (ANSI colours removed): how many, and the first `max`.
    pub fn grep(&self, pat: &str, max: usize) -> (usize, Vec<String>) {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(strip_ansi).collect();
        // A panic's message is on the line after "panicked at"; its first frame in
        // pulse_server (RUST_BACKTRACE=1) says where it came from.
        let hits: Vec<String> = (0..lines.len())
            .filter(|&i| lines[i].contains(pat))
            .map(|i| {
                if pat != "panicked" {
                    return lines[i].clone();
                }
                let message = lines.get(i + 1).cloned().unwrap_or_default();
                let end = lines.len().min(i + 80);
                let frame = (i + 1..end).find(|&k| lines[k].contains("pulse_server::")).map_or(
                    String::new(),
                    |k| {
                        let at = lines.get(k + 1).map_or("", |l| l.trim());
                        format!(" [in {} {at}]", lines[k].trim())
                    },
                );
                format!("{} {message}{frame}", lines[i])
            })
            .collect();
        (hits.len(), hits.into_iter().take(max).collect())
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.id);
        let mut log = OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let _ = writeln!(log, "===== test harness: starting {} on {}", self.id, self.addr);
        // PULSE_CLUSTER_SERVER_BIN: another build of the server (e.g. an optimized one).
        let bin = std::env::var("PULSE_CLUSTER_SERVER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pulse-server").to_owned());
        let child = Command::new(bin)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pulse-server binary");
        self.watchdog = Some(Watchdog::spawn(&format!("kill -9 {}", child.id())));
        self.child = Some(child);
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL: no graceful anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.watchdog = None;
    }

    /// SIGTERM and wait for the exit (SIGKILL after 30 s); returns how long it took.
    pub fn stop(&mut self) -> Duration {
        let t = Instant::now();
        if let Some(mut c) = self.child.take() {
            services::signal(c.id(), "TERM");
            if !services::wait_exit(&mut c, Duration::from_secs(30)) {
                eprintln!("{} ignored SIGTERM for 30 s; killing it", self.id);
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.watchdog = None;
        t.elapsed()
    }

    /// Waits until `GET /health` answers 200 (the process must stay up meanwhile).
    pub async fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        loop {
            if let Ok(r) = http.get(format!("{}/health", self.url())).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                self.is_running(),
                "{} exited during start-up:\n{}",
                self.id,
                self.log_tail(40)
            );
            assert!(
                Instant::now() < deadline,
                "{} not healthy within {timeout:?}:\n{}",
                self.id,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// PostgreSQL, Redis, three nodes and HAProxy, all on loopback, in one temporary folder.
pub struct Cluster {
    pub t0: Instant,
    pub nodes: Vec<Node>,
    pub lb: Haproxy,
    pub redis: Redis,
    pub pg: Postgres,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts everything and waits until the balancer sees three healthy nodes. `node1`
    /// starts first (it migrates and seeds the empty database), then the other two together.
    pub async fn start(t0: Instant) -> Cluster {
        let (pg, redis) = tokio::task::block_in_place(|| (Postgres::start(), Redis::start()));
        let db_url = pg.create_database("pulse");
        log(t0, format!("postgres {} and redis {} up", pg.port(), redis.url()));
        let dir = tempfile::Builder::new().prefix("pulse-cluster-test.").tempdir().unwrap();
        let mut nodes = Vec::new();
        for i in 1..=3 {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            // A stand-in dashboard, so the node does not warn about a missing one.
            std::fs::write(node_dir.join("index.html"), "<!doctype html>").unwrap();
            let rust_log = std::env::var("PULSE_CLUSTER_LOG")
                .unwrap_or_else(|_| "info,socketioxide=warn,engineioxide=warn".into());
            let env = [
                ("PULSE_ADDR", addr.to_string()),
                ("PULSE_DATA_DIR", node_dir.display().to_string()),
                ("PULSE_DIST", node_dir.display().to_string()),
                ("PULSE_DATABASE_URL", db_url.clone()),
                ("PULSE_REDIS_URL", redis.url()),
                ("PULSE_NODE_ID", format!("node{i}")),
                ("PULSE_JWT_SECRET", SECRET.into()),
                ("PULSE_DEMO", "false".into()),
                ("PULSE_ARGON2_M_COST_KIB", "64".into()),
                ("PULSE_STATS_INTERVAL_MS", "200".into()),
                ("PULSE_PING_INTERVAL_MS", "2000".into()),
                ("PULSE_PING_TIMEOUT_MS", "2000".into()),
                // On SIGTERM, HAProxy takes the node out (2 failed checks, 1 s apart) before
                // it closes its sockets: what a rolling restart should do.
                ("PULSE_DRAIN_MS", "2500".into()),
                // Every client comes from 127.0.0.1, and many share a user.
                ("PULSE_MAX_CONN_PER_USER", "10000".into()),
                ("PULSE_MAX_CONN_PER_IP", "10000".into()),
                ("PULSE_EVENT_RATE", "100000".into()),
                ("PULSE_EVENT_BURST", "100000".into()),
                ("RUST_LOG", rust_log),
                ("NO_COLOR", "1".into()),
                ("RUST_BACKTRACE", "1".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            nodes.push(Node {
                id: format!("node{i}"),
                addr,
                dir: node_dir,
                env,
                child: None,
                watchdog: None,
            });
        }
        nodes[0].start();
        nodes[0].wait_healthy(Duration::from_secs(60)).await;
        nodes[1].start();
        nodes[2].start();
        nodes[1].wait_healthy(Duration::from_secs(60)).await;
        nodes[2].wait_healthy(Duration::from_secs(60)).await;
        log(t0, "three nodes healthy");
        let lb = tokio::task::block_in_place(|| {
            Haproxy::start(&[nodes[0].addr, nodes[1].addr, nodes[2].addr])
        });
        let c = Cluster { t0, nodes, lb, redis, pg, _dir: dir };
        c.wait_lb_up(&[true, true, true], Duration::from_secs(15)).await;
        log(t0, format!("haproxy on {} sees three nodes", c.lb.addr()));
        c
    }

    pub fn url(&self) -> String {
        self.lb.url()
    }

    /// Which nodes HAProxy considers up now (`show servers state`: srv_op_state 2).
    pub fn lb_up(&self) -> [bool; 3] {
        let state = self.lb.admin("show servers state pulse");
        let mut up = [false; 3];
        for line in state.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 6 && f[1] == "pulse" {
                if let Some(i) = ["node1", "node2", "node3"].iter().position(|n| *n == f[3]) {
                    // srv_op_state 2 = running; srv_admin_state 0 = not in maintenance.
                    up[i] = f[5] == "2" && f[6] == "0";
                }
            }
        }
        up
    }

    pub async fn wait_lb_up(&self, want: &[bool; 3], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.lb_up() != *want {
            assert!(
                Instant::now() < deadline,
                "haproxy sees {:?}, want {want:?}:\n{}",
                self.lb_up(),
                self.lb.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sockets open on each node (each node's own `/health`; `None` when it does not answer).
    pub async fn connections(&self) -> Vec<Option<u64>> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
        let mut out = Vec::new();
        for n in &self.nodes {
            let v: Option<Value> = match http.get(format!("{}/health", n.url())).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            out.push(v.and_then(|v| v["connections"].as_u64()));
        }
        out
    }

    /// Every node's log tail, HAProxy's, PostgreSQL's and Redis's: printed when a test fails.
    pub fn dump(&self) {
        for n in &self.nodes {
            let tail: Vec<String> = n.log_tail(60).lines().map(strip_ansi).collect();
            eprintln!("----- {} ({}) log tail -----\n{}", n.id, n.addr, tail.join("\n"));
        }
        eprintln!("----- haproxy -----\n{}", self.lb.log());
        eprintln!("----- postgres -----\n{}", services::tail(&self.pg.log_path(), 30));
        eprintln!("----- redis -----\n{}", services::tail(&self.redis.log_path(), 10));
    }

    /// WARN/ERROR lines of every node's log (at most `max` per node), for the report.
    pub fn warnings(&self, max: usize) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            for level in [" WARN ", " ERROR ", "panicked"] {
                let (count, lines) = n.grep(level, max);
                if count > 0 {
                    s += &format!("  {}: {count} line(s) with {level:?}, e.g.:\n", n.id);
                    for l in lines {
                        s += &format!("    {}\n", l.chars().take(300).collect::<String>());
                    }
                }
            }
        }
        s
    }
}

/// A log line without terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Users, REST

pub struct User {
    pub email: &'static str,
    pub token: String,
    /// 0 = the demo tenant, 1 = the other tenant.
    pub tenant: usize,
    /// A customer of the user's tenant.
    pub customer: i64,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn sign_in(base: &str, email: &'static str, tenant: usize) -> User {
    let http = http();
    let session: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("session");
    let token = session["token"].as_str().expect("token").to_owned();
    let customers: Value = http
        .get(format!("{base}/api/customers?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = customers["items"][0]["id"].as_i64().expect("a customer");
    User { email, token, tenant, customer }
}

/// admin and staff of the demo tenant, and the other tenant's admin.
async fn sign_in_all(base: &str) -> Vec<User> {
    vec![sign_in(base, DEMO, 0).await, sign_in(base, STAFF, 0).await, sign_in(base, OTHER, 1).await]
}

/// The log head of `user`'s tenant.
async fn head(base: &str, user: &User) -> u64 {
    let page: Value = http()
        .get(format!("{base}/api/events?since=0&limit=1"))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("events page");
    page["head"].as_u64().expect("head")
}

/// The log entries after `since` visible to `user`: `(seq, event)`, paged 500 at a time.
async fn log_for(base: &str, user: &User, since: u64) -> Vec<(u64, String)> {
    let http = http();
    let mut out = Vec::new();
    let mut since = since;
    for _ in 0..1000 {
        let page: Value = http
            .get(format!("{base}/api/events?since={since}&limit=500"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("events")
            .json()
            .await
            .expect("events page");
        let events = page["events"].as_array().expect("events array");
        if events.is_empty() {
            break;
        }
        for e in events {
            out.push((e["seq"].as_u64().unwrap(), e["event"].as_str().unwrap().to_owned()));
        }
        since = out.last().unwrap().0;
        if since >= page["head"].as_u64().unwrap() {
            break;
        }
    }
    out
}

/// Payments of the user's tenant whose note starts with `prefix`: note → how many.
async fn payments_by_note(base: &str, user: &User, prefix: &str) -> BTreeMap<String, usize> {
    let http = http();
    let mut out = BTreeMap::new();
    let mut offset = 0;
    for _ in 0..200 {
        let page: Value = http
            .get(format!("{base}/api/payments?limit=500&offset={offset}"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("payments")
            .json()
            .await
            .expect("payments page");
        let items = page["items"].as_array().expect("items");
        for p in items {
            if let Some(note) = p["note"].as_str().filter(|n| n.starts_with(prefix)) {
                *out.entry(note.to_owned()).or_insert(0) += 1;
            }
        }
        offset += items.len();
        if items.is_empty() || offset as u64 >= page["total"].as_u64().unwrap_or(0) {
            break;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Writers: REST payments straight to the nodes

#[derive(Debug, Default, Clone)]
pub struct WriterStats {
    /// Payments answered 200, with their keys (= notes).
    pub done: Vec<String>,
    /// Failed attempts that were retried, by cause.
    pub retried: BTreeMap<String, usize>,
    pub max_latency: Duration,
    pub elapsed: Duration,
}

/// Records payments `prefix-0`, `prefix-1`, … (note = idempotency key) one every `period`,
/// starting with node `urls[0]`, until `stop` or `max`. A failed attempt (no answer, 5xx) is
/// retried with the same key on the next node, for at most 45 s.
async fn writer(
    urls: Vec<String>,
    user_token: String,
    customer: i64,
    prefix: String,
    period: Duration,
    max: usize,
    stop: Arc<AtomicBool>,
) -> WriterStats {
    let http = http();
    let mut stats = WriterStats::default();
    let started = Instant::now();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut node = 0;
    for i in 0..max {
        tick.tick().await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("{prefix}-{i}");
        // Every 20th is "large" and notifies each user of the tenant (user-scoped entries).
        let amount = if i % 20 == 19 { 160.0 } else { 1.0 };
        let body =
            json!({ "customer_id": customer, "amount": amount, "method": "CASH", "note": key });
        let t = Instant::now();
        loop {
            let url = &urls[node % urls.len()];
            let res = http
                .post(format!("{url}/api/payments"))
                .bearer_auth(&user_token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            let cause = match res {
                Ok(r) if r.status().is_success() => break,
                Ok(r) if r.status().is_server_error() => {
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    let code = v["code"].as_str().or(v["error"]["code"].as_str()).unwrap_or("?");
                    format!("{status} {code}")
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    panic!("payment {key} refused on {url}: {status} {text}");
                }
                Err(e) if e.is_timeout() => "timeout".to_owned(),
                Err(e) if e.is_connect() => "connect error".to_owned(),
                Err(_) => "transport error".to_owned(),
            };
            *stats.retried.entry(cause.clone()).or_insert(0) += 1;
            assert!(
                t.elapsed() < Duration::from_secs(45),
                "payment {key} still failing after 45 s (last: {cause} from {url})"
            );
            node += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stats.max_latency = stats.max_latency.max(t.elapsed());
        stats.done.push(key);
    }
    stats.elapsed = started.elapsed();
    stats
}

// ---------------------------------------------------------------------------------------
// SDK clients

fn sdk_config(url: &str) -> pulse_sdk::Config {
    let mut c = pulse_sdk::Config::new(url);
    c.backoff.initial = Duration::from_millis(100);
    c.backoff.max = Duration::from_millis(1000);
    c.connect_timeout = Duration::from_secs(5);
    c.ack_timeout = Duration::from_secs(5);
    c.poll_interval = Some(Duration::from_secs(1));
    c.send_buffer = 10_000;
    c
}

fn connect(url: &str, token: &str, transports: &[Transport]) -> Client {
    let token = token.to_owned();
    let mut config = sdk_config(url);
    config.transports = transports.to_vec();
    Client::connect_with_auth(config, move || Some(ConnectAuth::with_token(&token)))
}

/// The SDK's default: a WebSocket, long-polling where one cannot be opened.
const DEFAULT_TRANSPORTS: &[Transport] = &[Transport::WebSocket, Transport::Polling];

/// What one SDK client saw.
#[derive(Default)]
pub struct Record {
    /// Log entries the SDK handed to the application: (seq, event, when).
    pub entries: Vec<(u64, String, Instant)>,
    /// Status changes: (when, live?).
    pub live: Vec<(Instant, bool)>,
    pub connects: u32,
    pub disconnects: Vec<String>,
    pub rejected: Vec<String>,
    /// `error` events from the server.
    pub errors: Vec<String>,
    /// The node of each connection, from `connection:status`.
    pub nodes: Vec<String>,
}

pub struct Consumer {
    pub user: usize,
    pub client: Client,
    pub rec: Arc<Mutex<Record>>,
    _sub: Subscription,
}

fn consumer(url: &str, users: &[User], user: usize, transports: &[Transport]) -> Consumer {
    let client = connect(url, &users[user].token, transports);
    let rec: Arc<Mutex<Record>> = Arc::default();
    let r = rec.clone();
    let sub = client.on_any(move |e| {
        let now = Instant::now();
        let mut r = r.lock().unwrap();
        match e {
            Event::Message(m) if is_logged(&m.event) => {
                if let Some(seq) = m.args.first().and_then(|a| a.value()["seq"].as_u64()) {
                    r.entries.push((seq, m.event.clone(), now));
                }
            }
            Event::Message(m) if m.event == "error" => {
                r.errors.push(m.args.first().map(|a| a.to_string()).unwrap_or_default())
            }
            Event::Message(m) if m.event == "connection:status" => {
                let first = m.args.first().map(Json::value).unwrap_or_default();
                let node = first["data"]["node"].as_str();
                r.nodes.push(node.unwrap_or("?").to_owned())
            }
            Event::Status(s) => r.live.push((now, *s == Status::Live)),
            Event::Connected { .. } => r.connects += 1,
            Event::Disconnected { reason } => r.disconnects.push(format!("{reason:?}")),
            Event::Rejected(err) => r.rejected.push(err.message.clone()),
            _ => {}
        }
    });
    Consumer { user, client, rec, _sub: sub }
}

async fn all_live(clients: impl Iterator<Item = &Client>, timeout: Duration) {
    let waits = clients.map(|c| c.wait_for(|s| *s == Status::Live, timeout));
    let results = futures_util::future::join_all(waits).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} client(s) not live: {:?}", failed.len(), failed.first());
}

impl Consumer {
    /// Longest time without being live, within `[from, to]`.
    fn longest_outage(&self, from: Instant, to: Instant) -> Duration {
        let r = self.rec.lock().unwrap();
        let mut live = true; // live at `from` (checked by the caller)
        let mut down_since = from;
        let mut worst = Duration::ZERO;
        for &(t, l) in &r.live {
            if t < from {
                live = l;
                continue;
            }
            if t > to {
                break;
            }
            if live && !l {
                down_since = t;
            } else if !live && l {
                worst = worst.max(t - down_since.max(from));
            }
            live = l;
        }
        if !live {
            worst = worst.max(to - down_since.max(from));
        }
        worst
    }

    /// Longest time between two log entries arriving, within `[from, to]`.
    fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let r = self.rec.lock().unwrap();
        let mut last = from;
        let mut worst = Duration::ZERO;
        for &(_, _, t) in &r.entries {
            if t < from || t > to {
                continue;
            }
            worst = worst.max(t - last);
            last = t;
        }
        worst.max(to.saturating_duration_since(last))
    }
}

// ---------------------------------------------------------------------------------------
// Raw probes: Socket.IO over a raw WebSocket, every frame recorded

/// Entries one raw probe received, exactly as sent: (seq, event, connection number).
pub struct RawProbe {
    pub user: usize,
    pub seen: Arc<Mutex<Vec<(u64, String, u32)>>>,
    /// Per connection: (number, node from HAProxy's cookie, lastSeq sent).
    pub conns: Conns,
    /// CONNECT refusals and `error` events: (connection number, text).
    pub errors: Arc<Mutex<Vec<(u32, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn raw_probe(lb: SocketAddr, users: &[User], user: usize) -> RawProbe {
    let seen: Arc<Mutex<Vec<(u64, String, u32)>>> = Arc::default();
    let conns: Conns = Arc::default();
    let errors: Arc<Mutex<Vec<(u32, String)>>> = Arc::default();
    let (s, c, e, token) = (seen.clone(), conns.clone(), errors.clone(), users[user].token.clone());
    let task = tokio::spawn(async move {
        let mut pos = Position::default();
        for n in 1..=10_000u32 {
            raw_connection(lb, &token, n, &mut pos, &s, &c, &e).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    RawProbe { user, seen, conns, errors, task }
}

/// Where a raw probe is in the log, as the SDK keeps it: the last `seq` and the log's epoch.
#[derive(Default)]
struct Position {
    last: Option<u64>,
    epoch: Option<String>,
}

/// One connection, until it ends. The node it is on comes from HAProxy's cookie, then from
/// the server's `connection:status`.
async fn raw_connection(
    lb: SocketAddr,
    token: &str,
    n: u32,
    pos: &mut Position,
    seen: &Mutex<Vec<(u64, String, u32)>>,
    conns: &Mutex<Vec<(u32, String, Option<u64>)>>,
    errors: &Mutex<Vec<(u32, String)>>,
) {
    let url = format!("ws://{lb}/socket.io/?EIO=4&transport=websocket");
    let Ok(Ok((mut ws, response))) =
        tokio::time::timeout(Duration::from_secs(3), tokio_tungstenite::connect_async(url)).await
    else {
        return;
    };
    let node = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("PULSE_NODE="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .unwrap_or_else(|| "?".into());
    let mut auth = json!({ "token": token });
    if let Some(l) = pos.last {
        auth["lastSeq"] = json!(l);
        if let Some(e) = &pos.epoch {
            auth["epoch"] = json!(e);
        }
    }
    conns.lock().unwrap().push((n, node, pos.last));
    let mut joined = false;
    loop {
        // Pings come every 2 s; silence for 8 s means the link is dead.
        let frame = match tokio::time::timeout(Duration::from_secs(8), ws.next()).await {
            Ok(Some(Ok(f))) => f,
            _ => return,
        };
        let text = match frame {
            WsMessage::Text(t) => t.to_string(),
            WsMessage::Close(_) => return,
            _ => continue,
        };
        if text.starts_with('0') && !joined {
            if ws.send(WsMessage::Text(format!("40{auth}").into())).await.is_err() {
                return;
            }
        } else if text == "2" {
            if ws.send(WsMessage::Text("3".into())).await.is_err() {
                return;
            }
        } else if text.starts_with("40") {
            joined = true;
        } else if let Some(refusal) = text.strip_prefix("44") {
            errors.lock().unwrap().push((n, format!("CONNECT refused: {refusal}")));
            return;
        } else if text.starts_with("41") || text == "1" {
            return;
        } else if let Some(rest) = text.strip_prefix("42") {
            let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let Ok(Value::Array(a)) = serde_json::from_str::<Value>(json) else { continue };
            let (Some(name), Some(payload)) = (a.first().and_then(Value::as_str), a.get(1)) else {
                continue;
            };
            if name == "connection:status" {
                if let Some(node) = payload["data"]["node"].as_str() {
                    if let Some(c) = conns.lock().unwrap().iter_mut().find(|c| c.0 == n) {
                        c.1 = node.to_owned();
                    }
                }
                if let Some(e) = payload["data"]["epoch"].as_str() {
                    if pos.epoch.as_deref().is_some_and(|old| old != e) {
                        errors.lock().unwrap().push((n, format!("epoch changed to {e}")));
                        pos.last = None;
                    }
                    pos.epoch = Some(e.to_owned());
                }
            } else if name == "error" {
                errors.lock().unwrap().push((n, payload.to_string()));
            } else if let (true, Some(seq)) = (is_logged(name), payload["seq"].as_u64()) {
                seen.lock().unwrap().push((seq, name.to_owned(), n));
                pos.last = Some(pos.last.map_or(seq, |l| l.max(seq)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Keyed emits over the socket

#[derive(Debug, Default, Clone)]
pub struct EmitterStats {
    pub done: Vec<String>,
    pub ack_timeouts: usize,
    pub refused: BTreeMap<String, usize>,
    pub other_errors: BTreeMap<String, usize>,
    /// Emits started before `mark` was set and answered after it.
    pub in_flight_at_mark: usize,
}

/// `payment:add` with an idempotency key (= note) over the socket, one every `period`,
/// until `stop` or `max`. An answer that times out is asked again with the same key; a
/// refusal with UNAVAILABLE or INTERNAL is retried after 200 ms; at most 45 s per payment.
async fn emitter(
    client: Client,
    customer: i64,
    prefix: String,
    period: Duration,
    max: usize,
    stop: Arc<AtomicBool>,
    mark: Arc<Mutex<Option<Instant>>>,
) -> EmitterStats {
    let mut stats = EmitterStats::default();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..max {
        tick.tick().await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("{prefix}-{i}");
        let payload = json!({
            "customer_id": customer, "amount": 1.0, "method": "CASH",
            "note": key, "idempotency_key": key,
        });
        let t = Instant::now();
        loop {
            assert!(t.elapsed() < Duration::from_secs(45), "emit {key} unanswered for 45 s");
            match client.emit_with_ack(PAYMENT_ADD, vec![payload.clone()], None).await {
                Ok(reply) => {
                    let ack: Ack<Value> = serde_json::from_value(reply.args[0].clone())
                        .unwrap_or_else(|e| panic!("ack shape of {key}: {e}: {:?}", reply.args));
                    match ack.into_result() {
                        Ok(_) => break,
                        Err(e)
                            if matches!(e.code, ErrorCode::Unavailable | ErrorCode::Internal) =>
                        {
                            *stats.refused.entry(e.code.as_str().to_owned()).or_insert(0) += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Err(e) => panic!("emit {key} refused: {e}"),
                    }
                }
                Err(pulse_sdk::Error::AckTimeout) => stats.ack_timeouts += 1,
                Err(e) => {
                    *stats.other_errors.entry(e.to_string()).or_insert(0) += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        // Answered now, after the mark, but started before it: it was in flight then.
        if mark.lock().unwrap().is_some_and(|m| t < m) {
            stats.in_flight_at_mark += 1;
        }
        stats.done.push(key);
    }
    stats
}

// ---------------------------------------------------------------------------------------
// Verification

/// Waits until every client and probe holds its user's last entry, then compares each with
/// the log. Returns a summary line; panics with the evidence when something is off.
async fn verify(
    cluster: &Cluster,
    base: &str,
    users: &[User],
    since: &[u64],
    consumers: &[Consumer],
    probes: &[RawProbe],
    settle: Duration,
) -> String {
    let t0 = cluster.t0;
    let mut truth = Vec::new();
    for u in users {
        truth.push(log_for(base, u, since[u.tenant]).await);
    }
    let last: Vec<u64> = truth.iter().map(|t| t.last().map_or(0, |e| e.0)).collect();
    let deadline = Instant::now() + settle;
    loop {
        let behind_c = consumers
            .iter()
            .filter(|c| c.rec.lock().unwrap().entries.last().map_or(0, |e| e.0) < last[c.user])
            .count();
        let behind_p = probes
            .iter()
            .filter(|p| p.seen.lock().unwrap().last().map_or(0, |e| e.0) < last[p.user])
            .count();
        if behind_c + behind_p == 0 {
            break;
        }
        if Instant::now() >= deadline {
            log(
                t0,
                format!(
                    "after {settle:?}: {behind_c} client(s) and {behind_p} probe(s) still behind"
                ),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await; // let any duplicate arrive

    let mut problems = Vec::new();
    // seq -> how many clients missed it
    let mut missed_by: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    let mut bad_clients = 0;
    // Differing clients by the nodes they were on.
    let mut bad_paths: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in consumers.iter().enumerate() {
        let r = c.rec.lock().unwrap();
        let got: Vec<(u64, String)> = r
            .entries
            .iter()
            .filter(|e| e.0 > since[users[c.user].tenant])
            .map(|e| (e.0, e.1.clone()))
            .collect();
        let want = &truth[c.user];
        if got != *want {
            bad_clients += 1;
            let want_set: BTreeSet<u64> = want.iter().map(|e| e.0).collect();
            let got_set: BTreeSet<u64> = got.iter().map(|e| e.0).collect();
            let missing: Vec<u64> = want_set.difference(&got_set).copied().collect();
            let extra: Vec<u64> = got_set.difference(&want_set).copied().collect();
            for s in &missing {
                *missed_by.entry((c.user, *s)).or_insert(0) += 1;
            }
            let unordered = got.windows(2).filter(|w| w[0].0 >= w[1].0).count();
            if problems.len() < 12 {
                problems.push(format!(
                    "client {i} ({}): got {} of {} entries; missing {} (first {:?}); not in the log {:?}; out of order {unordered}; \
                     nodes {:?}, disconnects {:?}, rejected {:?}, error events {:?}",
                    users[c.user].email,
                    got.len(),
                    want.len(),
                    missing.len(),
                    &missing[..missing.len().min(15)],
                    &extra[..extra.len().min(10)],
                    r.nodes,
                    &r.disconnects[..r.disconnects.len().min(4)],
                    r.rejected,
                    &r.errors[..r.errors.len().min(3)],
                ));
            }
            *bad_paths.entry(r.nodes.join("->")).or_insert(0) += 1;
        }
    }
    let not_live: Vec<String> = consumers
        .iter()
        .enumerate()
        .filter(|(_, c)| c.client.status() != Status::Live)
        .take(10)
        .map(|(i, c)| {
            let r = c.rec.lock().unwrap();
            format!("client {i}: {:?}, refused {:?}", c.client.status(), r.rejected)
        })
        .collect();
    if !not_live.is_empty() {
        problems.push(format!("clients not live at the end: {}", not_live.join("; ")));
    }
    if !bad_paths.is_empty() {
        problems.push(format!("differing clients by the nodes they were on: {bad_paths:?}"));
    }
    if !missed_by.is_empty() {
        let mut by_seq: Vec<_> = missed_by.iter().collect();
        by_seq.sort_by(|a, b| b.1.cmp(a.1));
        let names: HashMap<(usize, u64), &str> = truth
            .iter()
            .enumerate()
            .flat_map(|(u, t)| t.iter().map(move |e| ((u, e.0), e.1.as_str())))
            .collect();
        let top: Vec<String> = by_seq
            .iter()
            .take(15)
            .map(|((u, s), n)| {
                format!(
                    "seq {s} {} (user {}) missed by {n}",
                    names.get(&(*u, *s)).unwrap_or(&"?"),
                    users[*u].email
                )
            })
            .collect();
        problems.push(format!("most-missed entries: {}", top.join("; ")));
    }
    for (i, p) in probes.iter().enumerate() {
        let seen = p.seen.lock().unwrap();
        let conns = p.conns.lock().unwrap();
        let node_of = |n: u32| conns.iter().find(|c| c.0 == n).map_or("?".into(), |c| c.1.clone());
        let got: Vec<(u64, String)> = seen
            .iter()
            .filter(|e| e.0 > since[users[p.user].tenant])
            .map(|e| (e.0, e.1.clone()))
            .collect();
        let want = &truth[p.user];
        if got != *want {
            let mut counts: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
            for e in seen.iter() {
                counts.entry(e.0).or_default().push(e.2);
            }
            let dup: Vec<String> = counts
                .iter()
                .filter(|(_, v)| v.len() > 1)
                .take(10)
                .map(|(s, v)| {
                    format!(
                        "{s} via {}",
                        v.iter()
                            .map(|n| format!("#{n}@{}", node_of(*n)))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            let want_set: BTreeSet<u64> = want.iter().map(|e| e.0).collect();
            let missing: Vec<u64> =
                want_set.iter().filter(|s| !counts.contains_key(s)).take(15).copied().collect();
            let n_missing = want_set.iter().filter(|s| !counts.contains_key(s)).count();
            let reorder: Vec<String> = seen
                .windows(2)
                .filter(|w| w[0].0 >= w[1].0)
                .take(8)
                .map(|w| {
                    format!(
                        "{}#{}@{} then {}#{}@{}",
                        w[0].0,
                        w[0].2,
                        node_of(w[0].2),
                        w[1].0,
                        w[1].2,
                        node_of(w[1].2)
                    )
                })
                .collect();
            problems.push(format!(
                "raw probe {i} ({}): got {} of {} entries; duplicates [{}]; missing {n_missing} (first {missing:?}); \
                 out of order [{}]; connections (number, node, lastSeq sent) {:?}; errors {:?}",
                users[p.user].email,
                got.len(),
                want.len(),
                dup.join("; "),
                reorder.join("; "),
                &conns[..conns.len().min(8)],
                p.errors.lock().unwrap().iter().take(4).collect::<Vec<_>>(),
            ));
        }
    }
    let summary = format!(
        "log: {} entries for {}, {} for {}, {} for {}; {} SDK clients and {} raw probes checked",
        truth[0].len(),
        users[0].email,
        truth[1].len(),
        users[1].email,
        truth[2].len(),
        users[2].email,
        consumers.len(),
        probes.len()
    );
    if !problems.is_empty() {
        panic!(
            "{summary}\n{bad_clients} SDK client(s) differ from the log.\n{}\nnode warnings:\n{}",
            problems.join("\n"),
            cluster.warnings(6)
        );
    }
    summary
}

/// Every payment answered exists exactly once, and no other with these prefixes does.
async fn verify_payments(base: &str, user: &User, prefix: &str, answered: &[String]) -> String {
    let notes = payments_by_note(base, user, prefix).await;
    let twice: Vec<_> = notes.iter().filter(|(_, n)| **n > 1).take(20).collect();
    let answered_set: BTreeSet<&String> = answered.iter().collect();
    let missing: Vec<_> = answered.iter().filter(|k| !notes.contains_key(*k)).take(20).collect();
    let unknown: Vec<_> = notes.keys().filter(|k| !answered_set.contains(k)).take(20).collect();
    assert!(
        twice.is_empty() && missing.is_empty(),
        "payments with prefix {prefix}: applied twice {twice:?}; answered but absent {missing:?}; \
         applied but never answered {unknown:?}"
    );
    format!("{} payments '{prefix}*' each applied once", answered.len())
}

fn clients_wanted(default: usize) -> usize {
    std::env::var("PULSE_CLUSTER_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// (a) Writes land on all three nodes at once; 30 clients spread over the nodes by the
/// balancer each get exactly their user's entries, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_fans_out_writes_from_every_node_to_every_client_once_in_order() {
    let _one = CLUSTER_LOCK.lock().await;
    let t0 = Instant::now();
    let cluster = Cluster::start(t0).await;
    let base = cluster.url();
    let users = sign_in_all(&base).await;

    // 12 admins, 12 staff (same tenant, different notifications), 6 of the other tenant.
    // Every third one on long-polling alone: each of its requests must reach the node that
    // holds its session, which HAProxy's cookie (kept by the SDK) sees to.
    let polling = |i: usize| i % 3 == 2;
    let consumers: Vec<Consumer> = (0..30)
        .map(|i| {
            let transports =
                if polling(i) { &[Transport::Polling][..] } else { DEFAULT_TRANSPORTS };
            consumer(&base, &users, [0, 1, 0, 1, 2][i % 5], transports)
        })
        .collect();
    all_live(consumers.iter().map(|c| &c.client), Duration::from_secs(30)).await;
    let probes: Vec<RawProbe> = (0..3).map(|u| raw_probe(cluster.lb.addr(), &users, u)).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spread = cluster.connections().await;
    log(t0, format!("30 clients + 3 probes live; sockets per node {spread:?}"));
    assert!(
        spread.iter().all(|c| c.unwrap_or(0) >= 5),
        "the balancer should spread 33 sockets over three nodes: {spread:?}"
    );

    let since = [head(&base, &users[0]).await, head(&base, &users[2]).await];
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = cluster.nodes.iter().map(Node::url).collect();
    let mut tasks = Vec::new();
    for w in 0..3 {
        // Writer w writes on node w+1 (and moves on only if that node fails).
        let rotated: Vec<String> = (0..3).map(|k| urls[(w + k) % 3].clone()).collect();
        tasks.push(tokio::spawn(writer(
            rotated,
            users[0].token.clone(),
            users[0].customer,
            format!("a-w{w}"),
            Duration::from_millis(5),
            100,
            stop.clone(),
        )));
    }
    // The other tenant writes too, on node 2.
    tasks.push(tokio::spawn(writer(
        vec![urls[1].clone()],
        users[2].token.clone(),
        users[2].customer,
        "a-other".into(),
        Duration::from_millis(20),
        30,
        stop.clone(),
    )));
    let mut done = Vec::new();
    let mut other_done = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let s = t.await.expect("writer");
        log(
            t0,
            format!(
                "writer {i}: {} payments in {:?}, max latency {:?}, retried {:?}",
                s.done.len(),
                s.elapsed,
                s.max_latency,
                s.retried
            ),
        );
        if i < 3 {
            done.extend(s.done);
        } else {
            other_done.extend(s.done);
        }
    }
    let summary =
        verify(&cluster, &base, &users, &since, &consumers, &probes, Duration::from_secs(20)).await;
    log(t0, &summary);
    log(t0, verify_payments(&base, &users[0], "a-w", &done).await);
    log(t0, verify_payments(&base, &users[2], "a-other", &other_done).await);
    // The polled sessions stayed on their nodes: never dropped, never upgraded.
    for (i, c) in consumers.iter().enumerate().filter(|(i, _)| polling(*i)) {
        let r = c.rec.lock().unwrap();
        assert_eq!((r.connects, &r.disconnects), (1, &vec![]), "polling consumer {i}");
        assert_eq!(c.client.transport(), Some(Transport::Polling), "consumer {i}");
    }
    let warn = cluster.warnings(5);
    if !warn.is_empty() {
        log(t0, format!("node warnings:\n{warn}"));
    }
    log(t0, "scenario a done");
}

/// Shared by the load scenarios: consumers (admins and staff of the demo tenant) through the
/// balancer, raw probes, and writers.
struct Load {
    consumers: Vec<Consumer>,
    probes: Vec<RawProbe>,
    since: [u64; 2],
}

async fn load_clients(cluster: &Cluster, users: &[User], n: usize) -> Load {
    let base = cluster.url();
    let t = Instant::now();
    let mut consumers = Vec::new();
    // In batches, so that 200 handshakes do not all time out together on a debug build.
    for batch in 0..n.div_ceil(25) {
        let new: Vec<Consumer> = (batch * 25..n.min(batch * 25 + 25))
            .map(|i| consumer(&base, users, i % 2, DEFAULT_TRANSPORTS))
            .collect();
        all_live(new.iter().map(|c| &c.client), Duration::from_secs(30)).await;
        consumers.extend(new);
    }
    let probes: Vec<RawProbe> =
        (0..6).map(|i| raw_probe(cluster.lb.addr(), users, i % 2)).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    log(
        cluster.t0,
        format!(
            "{n} clients + 6 probes live in {:?}; sockets per node {:?}",
            t.elapsed(),
            cluster.connections().await
        ),
    );
    let since = [head(&base, &users[0]).await, head(&base, &users[2]).await];
    Load { consumers, probes, since }
}

fn entries_rate(summary_entries: usize, elapsed: Duration) -> f64 {
    summary_entries as f64 / elapsed.as_secs_f64()
}

/// (b) A node is SIGKILLed under load: every client comes back through the balancer on a
/// surviving node with every entry once, in order, and keyed emits that were in flight on the
/// dead node are applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_a_node_killed_under_load() {
    let _one = CLUSTER_LOCK.lock().await;
    let t0 = Instant::now();
    let mut cluster = Cluster::start(t0).await;
    let base = cluster.url();
    let users = sign_in_all(&base).await;

    // The emitters all on node3, the one to be killed: the others in maintenance meanwhile.
    cluster.lb.admin("set server pulse/node1 state maint");
    cluster.lb.admin("set server pulse/node2 state maint");
    let emitters: Vec<Client> =
        (0..4).map(|_| connect(&base, &users[0].token, DEFAULT_TRANSPORTS)).collect();
    all_live(emitters.iter(), Duration::from_secs(20)).await;
    cluster.lb.admin("set server pulse/node1 state ready");
    cluster.lb.admin("set server pulse/node2 state ready");
    cluster.wait_lb_up(&[true, true, true], Duration::from_secs(10)).await;
    log(t0, format!("4 emitters on node3: sockets per node {:?}", cluster.connections().await));

    let load = load_clients(&cluster, &users, clients_wanted(200)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mark: Arc<Mutex<Option<Instant>>> = Arc::default();
    let survivors = [cluster.nodes[0].url(), cluster.nodes[1].url()];
    let mut writers = Vec::new();
    for w in 0..2 {
        let rotated = vec![survivors[w].clone(), survivors[1 - w].clone()];
        writers.push(tokio::spawn(writer(
            rotated,
            users[0].token.clone(),
            users[0].customer,
            format!("b-w{w}"),
            Duration::from_millis(25),
            2000,
            stop.clone(),
        )));
    }
    let mut emit_tasks = Vec::new();
    for (e, client) in emitters.iter().enumerate() {
        emit_tasks.push(tokio::spawn(emitter(
            client.clone(),
            users[0].customer,
            format!("b-e{e}"),
            Duration::from_millis(50),
            1000,
            stop.clone(),
            mark.clone(),
        )));
    }
    let write_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    log(t0, "SIGKILL node3");
    *mark.lock().unwrap() = Some(Instant::now());
    let kill_at = Instant::now();
    cluster.nodes[2].kill();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for (i, t) in writers.into_iter().enumerate() {
        let s = t.await.expect("writer");
        log(
            t0,
            format!(
                "writer {i}: {} payments in {:?}, max latency {:?}, retried {:?}",
                s.done.len(),
                s.elapsed,
                s.max_latency,
                s.retried
            ),
        );
        written.extend(s.done);
    }
    let write_time = write_start.elapsed();
    let mut emitted = Vec::new();
    let mut in_flight = 0;
    for (i, t) in emit_tasks.into_iter().enumerate() {
        let s = t.await.expect("emitter");
        log(t0, format!("emitter {i}: {} payments, ack timeouts {}, refused {:?}, errors {:?}, in flight at the kill {}", s.done.len(), s.ack_timeouts, s.refused, s.other_errors, s.in_flight_at_mark));
        in_flight += s.in_flight_at_mark;
        emitted.extend(s.done);
    }
    let reconnected = load
        .consumers
        .iter()
        .filter(|c| c.rec.lock().unwrap().live.iter().any(|(t, l)| *t > kill_at && *l))
        .count();
    log(
        t0,
        format!(
            "{reconnected} of {} clients reconnected after the kill; sockets per node {:?}",
            load.consumers.len(),
            cluster.connections().await
        ),
    );
    // Every client is now served by a surviving node (the last connection:status it got).
    let on_dead: Vec<usize> = (0..load.consumers.len())
        .filter(|&i| {
            let r = load.consumers[i].rec.lock().unwrap();
            r.nodes.last().is_none_or(|n| n == "node3") || r.live.last().is_some_and(|l| !l.1)
        })
        .collect();
    assert!(on_dead.is_empty(), "clients not live on node1 or node2: {on_dead:?}");
    let summary = verify(
        &cluster,
        &base,
        &users,
        &load.since,
        &load.consumers,
        &load.probes,
        Duration::from_secs(30),
    )
    .await;
    let n = log_for(&base, &users[0], load.since[0]).await.len();
    log(
        t0,
        format!("{summary}; about {:.0} entries/s for each client", entries_rate(n, write_time)),
    );
    log(t0, verify_payments(&base, &users[0], "b-w", &written).await);
    log(t0, verify_payments(&base, &users[0], "b-e", &emitted).await);
    assert!(reconnected > 0, "no client was on the killed node");
    assert!(in_flight > 0, "no keyed emit was in flight at the kill");
    let warn = cluster.warnings(5);
    if !warn.is_empty() {
        log(t0, format!("node warnings:\n{warn}"));
    }
    log(t0, "scenario b done");
}

/// (c) Rolling restart (SIGTERM, start, healthy, next) of all three nodes under load:
/// nothing lost, and no client without service for more than 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_rolling_restart_under_load_loses_nothing() {
    let _one = CLUSTER_LOCK.lock().await;
    let t0 = Instant::now();
    let mut cluster = Cluster::start(t0).await;
    let base = cluster.url();
    let users = sign_in_all(&base).await;
    let load = load_clients(&cluster, &users, clients_wanted(200)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = cluster.nodes.iter().map(Node::url).collect();
    let mut writers = Vec::new();
    for w in 0..2 {
        let rotated: Vec<String> = (0..3).map(|k| urls[(w + k) % 3].clone()).collect();
        writers.push(tokio::spawn(writer(
            rotated,
            users[0].token.clone(),
            users[0].customer,
            format!("c-w{w}"),
            Duration::from_millis(25),
            4000,
            stop.clone(),
        )));
    }
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..3 {
        let took = cluster.nodes[i].stop();
        log(t0, format!("{} stopped (SIGTERM) in {took:?}", cluster.nodes[i].id));
        let t = Instant::now();
        cluster.nodes[i].start();
        cluster.nodes[i].wait_healthy(Duration::from_secs(60)).await;
        cluster.wait_lb_up(&[true, true, true], Duration::from_secs(20)).await;
        log(
            t0,
            format!(
                "{} healthy again and back in the balancer after {:?}",
                cluster.nodes[i].id,
                t.elapsed()
            ),
        );
        assert!(took < Duration::from_secs(10), "{} took {took:?} to stop", cluster.nodes[i].id);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to = Instant::now();
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for (i, t) in writers.into_iter().enumerate() {
        let s = t.await.expect("writer");
        log(
            t0,
            format!(
                "writer {i}: {} payments in {:?}, max latency {:?}, retried {:?}",
                s.done.len(),
                s.elapsed,
                s.max_latency,
                s.retried
            ),
        );
        written.extend(s.done);
    }
    let outages: Vec<Duration> =
        load.consumers.iter().map(|c| c.longest_outage(from, to)).collect();
    let gaps: Vec<Duration> = load.consumers.iter().map(|c| c.longest_gap(from, to)).collect();
    let worst_outage = outages.iter().max().copied().unwrap_or_default();
    let worst_gap = gaps.iter().max().copied().unwrap_or_default();
    let mut sorted = gaps.clone();
    sorted.sort();
    log(
        t0,
        format!(
            "longest time not live {worst_outage:?}; longest gap between entries: worst {worst_gap:?}, median {:?}; \
             clients that reconnected at least once: {}",
            sorted[sorted.len() / 2],
            load.consumers.iter().filter(|c| c.rec.lock().unwrap().connects > 1).count()
        ),
    );
    let summary = verify(
        &cluster,
        &base,
        &users,
        &load.since,
        &load.consumers,
        &load.probes,
        Duration::from_secs(30),
    )
    .await;
    log(t0, &summary);
    log(t0, verify_payments(&base, &users[0], "c-w", &written).await);
    assert!(worst_outage < Duration::from_secs(10), "a client was not live for {worst_outage:?}");
    assert!(worst_gap < Duration::from_secs(10), "a client got no entry for {worst_gap:?}");
    let warn = cluster.warnings(5);
    if !warn.is_empty() {
        log(t0, format!("node warnings:\n{warn}"));
    }
    log(t0, "scenario c done");
}

/// (d) PostgreSQL restarted, then Redis restarted, under load: writes that fail meanwhile
/// are retried with the same key; clients recover and nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_recovers_from_postgres_and_redis_restarts_under_load() {
    let _one = CLUSTER_LOCK.lock().await;
    let t0 = Instant::now();
    let mut cluster = Cluster::start(t0).await;
    let base = cluster.url();
    let users = sign_in_all(&base).await;
    let emitters: Vec<Client> =
        (0..3).map(|_| connect(&base, &users[0].token, DEFAULT_TRANSPORTS)).collect();
    all_live(emitters.iter(), Duration::from_secs(20)).await;
    let load = load_clients(&cluster, &users, clients_wanted(100)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mark: Arc<Mutex<Option<Instant>>> = Arc::default();
    let urls: Vec<String> = cluster.nodes.iter().map(Node::url).collect();
    let mut writers = Vec::new();
    for w in 0..2 {
        let rotated: Vec<String> = (0..3).map(|k| urls[(w + k) % 3].clone()).collect();
        writers.push(tokio::spawn(writer(
            rotated,
            users[0].token.clone(),
            users[0].customer,
            format!("d-w{w}"),
            Duration::from_millis(25),
            4000,
            stop.clone(),
        )));
    }
    let mut emit_tasks = Vec::new();
    for (e, client) in emitters.iter().enumerate() {
        emit_tasks.push(tokio::spawn(emitter(
            client.clone(),
            users[0].customer,
            format!("d-e{e}"),
            Duration::from_millis(60),
            1000,
            stop.clone(),
            mark.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    log(t0, "PostgreSQL: fast stop");
    *mark.lock().unwrap() = Some(Instant::now());
    tokio::task::block_in_place(|| cluster.pg.stop());
    // What /health says meanwhile (and how long it takes to say it).
    let probe_url = format!("{}/health", cluster.nodes[0].url());
    let health_probe = tokio::spawn(async move {
        let t = Instant::now();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let r = http.get(probe_url).send().await;
        let status = match r {
            Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => format!("no answer: {e}"),
        };
        (status, t.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    log(t0, "starting PostgreSQL again");
    tokio::task::block_in_place(|| cluster.pg.start_again());
    log(t0, "PostgreSQL up again");
    let (status, took) = health_probe.await.unwrap();
    log(t0, format!("node1 GET /health sent 0.0 s into the outage: {status} after {took:?}"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    log(t0, "Redis: stop");
    cluster.redis.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.redis.start_again());
    log(t0, "Redis up again");
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for (i, t) in writers.into_iter().enumerate() {
        let s = t.await.expect("writer");
        log(
            t0,
            format!(
                "writer {i}: {} payments in {:?}, max latency {:?}, retried {:?}",
                s.done.len(),
                s.elapsed,
                s.max_latency,
                s.retried
            ),
        );
        written.extend(s.done);
    }
    let mut emitted = Vec::new();
    for (i, t) in emit_tasks.into_iter().enumerate() {
        let s = t.await.expect("emitter");
        log(
            t0,
            format!(
                "emitter {i}: {} payments, ack timeouts {}, refused {:?}, errors {:?}",
                s.done.len(),
                s.ack_timeouts,
                s.refused,
                s.other_errors
            ),
        );
        emitted.extend(s.done);
    }
    let summary = verify(
        &cluster,
        &base,
        &users,
        &load.since,
        &load.consumers,
        &load.probes,
        Duration::from_secs(30),
    )
    .await;
    log(t0, &summary);
    log(t0, verify_payments(&base, &users[0], "d-w", &written).await);
    log(t0, verify_payments(&base, &users[0], "d-e", &emitted).await);
    let warn = cluster.warnings(5);
    if !warn.is_empty() {
        log(t0, format!("node warnings:\n{warn}"));
    }
    log(t0, "scenario d done");
}

/// Three nodes started together on an empty database: it is migrated and seeded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_started_together_seed_the_database_once() {
    let _one = CLUSTER_LOCK.lock().await;
    let t0 = Instant::now();
    let pg = tokio::task::block_in_place(Postgres::start);
    let redis = tokio::task::block_in_place(Redis::start);
    let db_url = pg.create_database("pulse");
    let dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Node> = (1..=3)
        .map(|i| {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            let env = [
                ("PULSE_ADDR", addr.to_string()),
                ("PULSE_DATA_DIR", node_dir.display().to_string()),
                ("PULSE_DIST", node_dir.display().to_string()),
                ("PULSE_DATABASE_URL", db_url.clone()),
                ("PULSE_REDIS_URL", redis.url()),
                ("PULSE_NODE_ID", format!("node{i}")),
                ("PULSE_JWT_SECRET", SECRET.into()),
                ("PULSE_DEMO", "false".into()),
                ("PULSE_ARGON2_M_COST_KIB", "64".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            Node { id: format!("node{i}"), addr, dir: node_dir, env, child: None, watchdog: None }
        })
        .collect();
    for n in nodes.iter_mut() {
        n.start();
    }
    for n in nodes.iter_mut() {
        n.wait_healthy(Duration::from_secs(60)).await;
    }
    log(t0, "three nodes started together are healthy");
    let tenants = pg.psql("pulse", "SELECT count(*) FROM tenants").trim().to_owned();
    let users = pg.psql("pulse", "SELECT count(*) FROM users").trim().to_owned();
    let customers = pg.psql("pulse", "SELECT count(*) FROM customers").trim().to_owned();
    if tenants != "2" || users != "3" || customers != "45" {
        for n in &nodes {
            eprintln!("----- {} -----\n{}", n.id, n.log_tail(30));
        }
    }
    assert_eq!(
        (tenants.as_str(), users.as_str(), customers.as_str()),
        ("2", "3", "45"),
        "seeded once"
    );
    // Every node serves the same data: a sign-in on one is good on the others.
    let admin = sign_in(&nodes[0].url(), DEMO, 0).await;
    for n in &nodes {
        assert_eq!(head(&n.url(), &admin).await, head(&nodes[0].url(), &admin).await);
    }
}
