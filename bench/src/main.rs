//! `pulse-bench`: fan-out latency, throughput and memory of Pulse and of an official Node.js
//! socket.io@4 server, measured by the same generator in the same command.
//!
//! ```text
//! pulse-bench run --pulse-bin target/server/pulse-server --json results.jsonl \
//!     [--targets pulse,node,floor] [--scenarios 1k,5k,10k,100x1000,100x3000,acks]
//!     [--seconds 15] [--size 256]
//! pulse-bench report results.jsonl      # the Markdown tables, with Pulse / Node ratios
//! pulse-bench run --targets pulse,pulse-pg,pulse-cluster --scenarios log500x50,log1kx20 \
//!     --json cluster.jsonl                  # one node (SQLite, PostgreSQL) vs 2 nodes
//! pulse-bench report --cluster cluster.jsonl
//! ```
//! `scripts/bench` builds everything and runs both, plus criterion and the size report.
//!
//! Cluster targets: `pulse-pg` is one node on a fresh PostgreSQL; `pulse-cluster` is
//! PostgreSQL, Redis, two nodes and HAProxy (`deploy/haproxy.cfg`), clients and writes
//! through HAProxy ([`pulse_bench::cluster`]). The bench broadcaster is per node (it fans out
//! through the node's local adapter, not the log), so against a cluster every node is asked
//! to broadcast directly and each client expects its own node's ticks. The scenario that
//! takes the real path on every node is the logged one, `logN:R` (e.g. `log500x50`):
//! writers post real payments at R per second in total while N clients listen; latency is
//! from each entry's `ts` to the SDK handler, loss and order are checked per client against
//! `GET /api/events` ([`pulse_bench::logged`]).
//!
//! Method, for each scenario and each target, in turn:
//! 1. start a fresh server process on a free loopback port (Pulse: `PULSE_BENCH=1`, limits on
//!    connections per user/IP and events per socket lifted, demo generator off, a temporary
//!    database; sign in once as the demo admin and reuse the JWT for every connection. Node:
//!    `bench/node-server.mjs`, which accepts any non-empty token unverified);
//! 2. read the server's RSS (`/proc/<pid>/status` VmRSS), then open N native pulse-sdk
//!    [`pulse_sdk::Client`]s, 100 at a time, each batch waiting (at most 15 s) until all its
//!    members joined or failed; read RSS again after 0.5 s (KB per connection is the
//!    difference over N: idle connections, joined to the tenant room);
//! 3. `POST /api/bench/broadcast {rate, size, seconds}`: the server emits `bench:tick`
//!    `{ sent_at_us, due_at_us, n, pad }` to every connection `rate` times a second, on an absolute
//!    schedule, and answers with how many it emitted;
//! 4. every client's `on("bench:tick")` handler records `now_us − sent_at_us`, and apart
//!    `now_us − due_at_us` (a broadcaster behind its schedule shows there), in HDR
//!    histograms (1 µs to 60 s, 3 significant digits; bounded memory whatever N). Server and
//!    generator read the same OS wall clock, so no clock sync is involved. The handler runs
//!    after the SDK's WebSocket read, Engine.IO + Socket.IO decode and dispatch, so the SDK's
//!    own decode path is measured too;
//! 5. drain: wait until `emitted × connections` events arrived, or 3 s without progress, or
//!    20 s; then read the server's VmHWM (peak), the CPU used by the server
//!    (`/proc/<pid>/stat`) and by the generator (`getrusage`) from the broadcast's start to
//!    the last delivery (the wait for ticks that never come is not divided in); 0.5 s later,
//!    the RSS again, every connection idle: KB per connection after the run is what the run
//!    left behind (buffers and queues kept at their largest) against the same baseline.
//!
//! `acks`: one connection, 1,000 sequential `ping` emits each awaiting its ack (Pulse answers
//! with the server time and a `pong` event; the Node.js server does the same).
//!
//! Caveats, stated in the results too: generator and server share the machine (2 cores
//! here), so both compete for CPU and the figures are a lower bound on the server alone;
//! loopback only; 10k connections from one IP to one port need 10k ephemeral ports (checked
//! and printed at start), and RLIMIT_NOFILE is raised to its hard limit in-process.
//! The SDK client is configured without reconnection (a failure is counted, not retried),
//! without the 30 s health ping and without REST fallback, so only fan-out is on the wire.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pulse_bench::load::{self, Scenario};
use pulse_bench::report::{self, Report};
use pulse_bench::{logged, process, servers};

#[derive(Parser)]
#[command(name = "pulse-bench", about = "Pulse vs Node.js socket.io fan-out benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs scenarios against fresh servers and prints one row and one JSON line per run.
    Run(Box<RunArgs>),
    /// Prints the Markdown results tables of a JSON-lines file.
    Report {
        /// JSON lines written by `run --json`.
        file: PathBuf,
        /// The cluster comparison (one node on SQLite, on PostgreSQL, 2 nodes + HAProxy)
        /// instead of Pulse vs Node.
        #[arg(long)]
        cluster: bool,
    },
    /// The raw TCP floor server (started by `run` for the `floor` target).
    FloorServer {
        /// Loopback port to listen on.
        port: u16,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Servers to measure, in this order for every scenario: pulse, node, and floor (raw
    /// TCP, no protocol: what fan-out costs on this machine; broadcast scenarios only);
    /// pulse-pg (one node on PostgreSQL) and pulse-cluster (2 nodes + HAProxy).
    #[arg(long, value_delimiter = ',', default_value = "pulse,node,floor")]
    targets: Vec<String>,
    /// Scenarios: 1k (1,000 × 10/s), 5k (5,000 × 10/s), 10k (10,000 × 5/s),
    /// 100x1000 (100 × 1,000/s), 100x3000 (100 × 3,000/s: 300,000 deliveries/s offered, past
    /// what Node.js can serve, for throughput at saturation), acks (1 × 1,000 round trips),
    /// or custom N:R (e.g. 200:50). Logged path (Pulse targets only): log200x20 (200
    /// clients, 20 payments/s), log500x50 (500 clients, 50 payments/s), log1kx20 (1,000
    /// clients, 20 payments/s), log1kx100 and log5kx50 (past this machine's capacity: the
    /// backlog and its drain), or log:N:R.
    #[arg(long, value_delimiter = ',', default_value = "1k,5k,100x1000,100x3000,acks,10k")]
    scenarios: Vec<String>,
    /// Load generators, each running every broadcast scenario: sdk (the native pulse-sdk, in
    /// this process) and sioc (the official socket.io-client in `--sioc-workers` Node.js
    /// processes, `bench/sio-load.mjs`). The logged and ack scenarios use the SDK only.
    #[arg(long, value_delimiter = ',', default_value = "sdk")]
    generators: Vec<String>,
    /// Node.js worker processes of the sioc generator.
    #[arg(long, default_value_t = 2)]
    sioc_workers: usize,
    /// The sioc generator's script.
    #[arg(long, default_value = "bench/sio-load.mjs")]
    sioc_script: PathBuf,
    /// Pins the servers to these CPUs (`taskset -c` list, e.g. `0`) and the generator, with
    /// its Node.js workers, to `--generator-cpus`: neither competes for the other's core.
    #[arg(long, requires = "generator_cpus")]
    server_cpus: Option<String>,
    /// The generator's CPUs when `--server-cpus` is given (e.g. `1`).
    #[arg(long, requires = "server_cpus")]
    generator_cpus: Option<String>,
    /// Writers posting payments in the logged-path scenarios (R is shared between them).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// HAProxy's configuration for pulse-cluster.
    #[arg(long, default_value = "deploy/haproxy.cfg")]
    haproxy_cfg: PathBuf,
    /// Seconds of broadcasting per scenario.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Runs of each scenario per target, in rounds: every target runs once in a round before
    /// any runs again, so a slow minute of the shared machine falls on all of them. The report
    /// gives each figure's median and its spread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeat: u32,
    /// Bytes of each tick's argument.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// The pulse-server binary (`cargo build --profile server -p pulse-server`).
    #[arg(long, default_value = "target/server/pulse-server")]
    pulse_bin: PathBuf,
    /// The Node.js server script.
    #[arg(long, default_value = "bench/node-server.mjs")]
    node_script: PathBuf,
    /// The node executable.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Appends each run's JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Worker threads of this process's runtime, which runs the pulse-sdk generator
    /// (default: one per core). An experiment's lever: whether the generator's own wake-ups
    /// across threads shape the latency it reports.
    #[arg(long)]
    generator_threads: Option<usize>,
}

/// A named scenario, or `N:R` for a custom one.
fn scenario(
    name: &str,
    seconds: f64,
    size: usize,
    writers: usize,
) -> Result<Option<Scenario>, String> {
    let s = |label: &str, n, r| Ok(Some(Scenario::new(label, n, r, size, seconds)));
    let log = |n: usize, r: f64| {
        let label = format!("log: {n} clients x {r} payments/s");
        Ok(Some(Scenario::log(&label, n, r, seconds, writers)))
    };
    if let Some(custom) = name.strip_prefix("log:") {
        let (n, r) = custom.split_once(':').ok_or(format!("bad log scenario `{name}`"))?;
        let n: usize = n.parse().map_err(|_| format!("bad N in `{name}`"))?;
        let r: f64 = r.parse().map_err(|_| format!("bad R in `{name}`"))?;
        return log(n, r);
    }
    match name {
        "log200x20" => log(200, 20.0),
        "log500x50" => log(500, 50.0),
        "log1kx20" => log(1_000, 20.0),
        "log1kx100" => log(1_000, 100.0),
        "log5kx50" => log(5_000, 50.0),
        "1k" => s("1k x 10/s", 1_000, 10.0),
        "5k" => s("5k x 10/s", 5_000, 10.0),
        "10k" => s("10k x 5/s", 10_000, 5.0),
        "100x1000" => s("100 x 1000/s", 100, 1_000.0),
        "100x3000" => s("100 x 3000/s", 100, 3_000.0),
        "acks" => Ok(None),
        custom => {
            let (n, r) = custom.split_once(':').ok_or(format!("unknown scenario `{custom}`"))?;
            let n: usize = n.parse().map_err(|_| format!("bad N in `{custom}`"))?;
            let r: f64 = r.parse().map_err(|_| format!("bad R in `{custom}`"))?;
            s(&format!("{n} x {r}/s"), n, r)
        }
    }
}

async fn run(args: RunArgs) -> Result<(), String> {
    let nofile = process::raise_open_files();
    let ports = process::ephemeral_ports();
    eprintln!("open files limit {nofile}; ephemeral ports {ports:?}; {} cores shared by generator and server", 
        std::thread::available_parallelism().map_or(0, |n| n.get()));
    let launch = servers::Launch {
        haproxy_cfg: args.haproxy_cfg.clone(),
        pulse_bin: args.pulse_bin.clone(),
        node_script: args.node_script.clone(),
        node_bin: args.node.clone(),
        bench_bin: std::env::current_exe().map_err(|e| format!("own path: {e}"))?,
    };
    let mut json = match &args.json {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let generators = args
        .generators
        .iter()
        .map(|g| match g.as_str() {
            "sdk" => Ok(load::Generator::Sdk),
            "sioc" => Ok(load::Generator::SocketIoClient(load::NodeGenerator {
                node: args.node.clone(),
                script: args.sioc_script.clone(),
                workers: args.sioc_workers,
            })),
            other => Err(format!("unknown generator `{other}` (sdk, sioc)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    println!("{}", report::header());
    for name in &args.scenarios {
        let sc = scenario(name, args.seconds, args.size, args.writers)?;
        if let (Some(sc), Some((lo, hi))) = (&sc, ports) {
            if sc.connections as u32 > hi - lo {
                eprintln!(
                    "warning: {} connections but only {} ephemeral ports",
                    sc.connections,
                    hi - lo
                );
            }
        }
        let (generators, targets) = (&generators, &args.targets);
        for (round, generator, target) in (1..=args.repeat).flat_map(|round| {
            generators.iter().flat_map(move |g| targets.iter().map(move |t| (round, g, t)))
        }) {
            if sc.is_none() && target == "floor" {
                continue; // The floor has no acks.
            }
            if sc.as_ref().is_some_and(|s| s.writers > 0) && !target.starts_with("pulse") {
                eprintln!("{target} {name}: skipped (no event log to write through)");
                continue;
            }
            let broadcast = sc.as_ref().is_some_and(|s| s.writers == 0);
            if !matches!(generator, load::Generator::Sdk) && (!broadcast || target == "floor") {
                continue; // The other generator runs the Socket.IO broadcast scenarios.
            }
            let server = launch.start(target).await?;
            let result = match &sc {
                Some(sc) if sc.writers > 0 => logged::run_log(&server.target, sc).await,
                Some(sc) => load::run_broadcast_with(&server.target, sc, generator).await,
                None => load::run_acks(&server.target, 1_000).await,
            };
            server.stop().await;
            let r: Report = match result {
                Ok(mut r) => {
                    r.round = round;
                    if let (Some(s), Some(g)) = (&args.server_cpus, &args.generator_cpus) {
                        r.pinned = Some(format!("server on CPU {s}, generator on CPU {g}"));
                        // Its own tables, beside the unpinned runs of the same scenario.
                        r.scenario.push_str(", pinned");
                    }
                    r
                }
                Err(e) => {
                    eprintln!("{target} {name}: {e}");
                    continue;
                }
            };
            println!("{}", r.row());
            println!("{}", r.json());
            if let Some(f) = json.as_mut() {
                use std::io::Write;
                writeln!(f, "{}", r.json()).map_err(|e| e.to_string())?;
            }
            // Let the closed sockets of this run leave the kernel before the next one.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Report { file, cluster } => std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|text| {
                let reports = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str::<Report>(l).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                if cluster {
                    print!("{}", report::cluster_markdown(&reports));
                } else {
                    print!("{}", report::markdown(&reports));
                }
                Ok(())
            }),
        Cmd::FloorServer { port } => tokio::runtime::Builder::new_multi_thread()
            // Like pulse-server: tokio's default, one worker per core.
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(pulse_bench::floor::serve(port)).map_err(|e| e.to_string())),
        Cmd::Run(args) => match (&args.server_cpus, &args.generator_cpus) {
            // Before the runtime's threads exist, so they inherit the generator's CPUs.
            (Some(s), Some(g)) => process::pin(s, g),
            _ => Ok(()),
        }
        .and_then(|()| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                // One worker per core: the same machine also runs the server under test.
                .worker_threads(args.generator_threads.unwrap_or(cores).max(1))
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(async {
                        // An interrupted run drops what it started: the servers' handles kill
                        // them and stop PostgreSQL (see pulse_bench::cluster).
                        tokio::select! {
                            r = run(*args) => r,
                            s = interrupted() => Err(format!("interrupted by {s}")),
                        }
                    })
                })
        }),
    };
    if let Err(e) = result {
        eprintln!("pulse-bench: {e}");
        std::process::exit(1);
    }
}
