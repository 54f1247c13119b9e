//! This module deals with starting the servers under test as child processes, fresh for each
//! scenario so memory starts from the same baseline: `pulse-server` in bench mode on a
//! temporary data directory, `bench/node-server.mjs` (official socket.io@4) under node, the
//! raw TCP floor (`pulse-bench floor-server`, see [`crate::floor`]), and the multi-process
//! targets of [`crate::cluster`] (one node on PostgreSQL; two nodes behind HAProxy). All
//! listen on free loopback ports; all die with their [`Running`] handle.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cluster::{self, Cluster, ClusterLaunch};
use crate::load::{Target, Wire};

/// The demo tenant's admin, seeded into every fresh Pulse database.
pub const ADMIN_EMAIL: &str = "admin@pulse.demo";
/// Their password.
pub const ADMIN_PASSWORD: &str = "pulse-demo";

/// How to start each kind of server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// HAProxy's configuration for the cluster (`deploy/haproxy.cfg`).
    pub haproxy_cfg: PathBuf,
    /// The `pulse-server` binary (built with `--profile server`).
    pub pulse_bin: PathBuf,
    /// The Node.js server script.
    pub node_script: PathBuf,
    /// The `node` executable.
    pub node_bin: PathBuf,
    /// The `pulse-bench` executable, for the floor server.
    pub bench_bin: PathBuf,
}

/// A server process (or the processes of a cluster) and how to reach it; killed on drop.
pub struct Running {
    /// Where it is and how to sign in.
    pub target: Target,
    child: Option<Child>,
    cluster: Option<Cluster>,
    _data: Option<tempfile::TempDir>,
}

impl Running {
    /// Stops the server (SIGKILL: nothing of it is measured after the run); a cluster's
    /// parts in order, PostgreSQL with `pg_ctl stop`.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        if let Some(data) = &self._data {
            cluster::report_log(&self.target.name, &data.path().join("server.log"));
        }
        if let Some(cluster) = self.cluster.take() {
            cluster.stop().await;
        }
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Signs in as the demo admin and returns the JWT every connection reuses.
pub async fn login(url: &str) -> Result<String, String> {
    let res = reqwest::Client::new()
        .post(format!("{url}/api/auth/login"))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("login: {}", res.status()));
    }
    let session: serde_json::Value = res.json().await.map_err(|e| format!("login: {e}"))?;
    session["token"].as_str().map(str::to_owned).ok_or_else(|| "login: no token".into())
}

/// Waits (at most 30 s) until `GET {url}{path}` answers at all.
pub(crate) async fn wait_up(url: &str, path: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(format!("{url}{path}")).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{url} did not come up"))
}

/// Starts `pulse-server` in bench mode with every per-user, per-IP and per-socket limit
/// lifted, cheap password hashing (one sign-in per run), no demo generator, warnings only.
pub async fn start_pulse(bin: &Path) -> Result<Running, String> {
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}");
    // Its log (tracing writes to stdout) stays with its data; stop() reports it.
    let log = std::fs::File::create(data.path().join("server.log")).map_err(|e| e.to_string())?;
    let child = pulse_command(bin, port, data.path())
        .stdout(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    wait_up(&url, "/health").await?;
    let token = login(&url).await?;
    Ok(Running {
        target: Target::single("pulse", Wire::SocketIo, url, token, pid),
        child: Some(child),
        cluster: None,
        _data: Some(data),
    })
}

/// `pulse-server` with the bench settings above, listening on `127.0.0.1:port`, its data
/// (and, for lack of a dashboard build, its static files) in `data`. Every Pulse target
/// starts its nodes with this; the cluster adds its shared store to it.
pub(crate) fn pulse_command(bin: &Path, port: u16, data: &Path) -> Command {
    let mut cmd = crate::process::command(bin);
    cmd.env("PULSE_ADDR", format!("127.0.0.1:{port}"))
        .env("PULSE_DATA_DIR", data)
        .env("PULSE_DIST", data)
        .env("PULSE_DEMO", "false")
        .env("PULSE_BENCH", "true")
        .env("PULSE_MAX_CONN_PER_USER", "1000000")
        .env("PULSE_MAX_CONN_PER_IP", "1000000")
        .env("PULSE_EVENT_RATE", "1000000")
        .env("PULSE_EVENT_BURST", "1000000")
        .env("PULSE_ARGON2_M_COST_KIB", "64")
        // No periodic `stats:updated` to every socket (once a second by default): Node's
        // bench server sends nothing but ticks, and at 5k sockets those pushes were 5 % of
        // the bytes on the wire. Stats still follow the payments of the logged scenarios.
        .env("PULSE_STATS_INTERVAL_MS", "3600000")
        .env("RUST_LOG", "warn");
    cmd
}

/// Starts `program args… <port>` and waits until it prints `ready <port>`; returns the child
/// and the port.
async fn start_ready(program: &Path, args: &[&str]) -> Result<(Child, u16), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let name = program.display().to_string();
    let mut child = crate::process::command(program)
        .args(args)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{name}: {e}"))?;
    let stdout = child.stdout.take().ok_or(format!("{name}: no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| format!("{name} did not say ready"))?
        .map_err(|e| e.to_string())?;
    if !ready.as_deref().is_some_and(|l| l.starts_with("ready")) {
        return Err(format!("{name} said {ready:?}"));
    }
    Ok((child, port))
}

/// Starts the Node.js socket.io server.
pub async fn start_node(node: &Path, script: &Path) -> Result<Running, String> {
    let (child, port) = start_ready(node, &[&script.display().to_string()]).await?;
    let pid = child.id();
    let url = format!("http://127.0.0.1:{port}");
    // The Node.js server accepts any non-empty token without verifying it (see its header).
    Ok(Running {
        target: Target::single("node", Wire::SocketIo, url, "bench".into(), pid),
        child: Some(child),
        cluster: None,
        _data: None,
    })
}

/// Starts the raw TCP floor server (`pulse-bench floor-server <port>`).
pub async fn start_floor(bench: &Path) -> Result<Running, String> {
    let (child, port) = start_ready(bench, &["floor-server"]).await?;
    let pid = child.id();
    Ok(Running {
        target: Target::single(
            "floor",
            Wire::RawTcp,
            format!("127.0.0.1:{port}"),
            String::new(),
            pid,
        ),
        child: Some(child),
        cluster: None,
        _data: None,
    })
}

impl Launch {
    /// Starts a fresh server of kind `name` (`pulse`, `pulse-pg`, `pulse-cluster`, `node` or
    /// `floor`).
    pub async fn start(&self, name: &str) -> Result<Running, String> {
        let cl = ClusterLaunch {
            pulse_bin: self.pulse_bin.clone(),
            haproxy_cfg: self.haproxy_cfg.clone(),
        };
        let (target, cluster) = match name {
            "pulse" => return start_pulse(&self.pulse_bin).await,
            "node" => return start_node(&self.node_bin, &self.node_script).await,
            "floor" => return start_floor(&self.bench_bin).await,
            "pulse-pg" => cluster::start_pulse_pg(&cl).await?,
            "pulse-cluster" => cluster::start_pulse_cluster(&cl).await?,
            other => {
                return Err(format!(
                    "unknown target `{other}` (pulse, pulse-pg, pulse-cluster, node or floor)"
                ))
            }
        };
        Ok(Running { target, child: None, cluster: Some(cluster), _data: None })
    }
}
