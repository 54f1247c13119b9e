//! This module deals with the targets that need more than one process: `pulse-pg` (one
//! `pulse-server` node on PostgreSQL) and `pulse-cluster` (PostgreSQL, Redis, two nodes and
//! HAProxy with the repository's `deploy/haproxy.cfg`; clients and writes go through
//! HAProxy). Each run gets fresh ones in a temporary directory, on free loopback ports.
//!
//! Everything started here is stopped by [`Cluster::stop`] or, on an error, a panic or an
//! interrupted run, by [`Cluster`]'s `Drop`: the balancer, the nodes and Redis are killed
//! (`kill_on_drop`), then PostgreSQL, which `pg_ctl` runs detached, is stopped with
//! `pg_ctl stop`, and only then is the directory removed.
//!
//! PostgreSQL refuses to run as root; when we are root its data directory belongs to the
//! `postgres` user and `initdb`/`pg_ctl` run through `runuser -u postgres --`.
//!
//! `deploy/haproxy.cfg` names three nodes (`PULSE_NODE1..3`, all required). The cluster here
//! has two: `PULSE_NODE3` points at a loopback port nobody listens on and is put in
//! maintenance through HAProxy's admin socket before any client connects, so `leastconn`
//! balances between the two real nodes only (pointing it at a real node would count that
//! node twice and give it about two thirds of the connections).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::load::{Part, Target, Wire};
use crate::servers::{free_port, login, pulse_command, wait_up};

/// Longest wait for any one part to come up.
const START_MAX: Duration = Duration::from_secs(60);

/// What starting a cluster needs.
#[derive(Debug, Clone)]
pub struct ClusterLaunch {
    /// The `pulse-server` binary (the one the single-node target runs).
    pub pulse_bin: PathBuf,
    /// HAProxy's configuration (`deploy/haproxy.cfg`).
    pub haproxy_cfg: PathBuf,
}

/// A PostgreSQL server started with `pg_ctl`; stopped on drop.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    port: u16,
    pid: u32,
    stopped: bool,
}

impl Postgres {
    /// `pg_ctl` (or `initdb`) as the user PostgreSQL accepts.
    fn pg_command(&self, tool: &str) -> std::process::Command {
        pg_command(&self.bin, tool, self.as_postgres)
    }

    fn stop_now(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let status = self
            .pg_command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-t", "30", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("pulse-bench: pg_ctl stop failed for {}", self.data.display());
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn pg_command(bin: &Path, tool: &str, as_postgres: bool) -> std::process::Command {
    if as_postgres {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        std::process::Command::new(bin.join(tool))
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn postgres_bin() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e} (is PostgreSQL installed?)", root.display()))?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| "no PostgreSQL initdb found".into())
}

/// Runs a blocking command off the runtime's workers; fails with its output unless it
/// succeeds.
async fn run(mut cmd: std::process::Command, what: &str) -> Result<(), String> {
    let what = what.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what}: {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Starts PostgreSQL in `dir/pg` on a free port, with a `pulse` superuser (trust
/// authentication, loopback only) and an empty `pulse` database. Settings are initdb's
/// defaults (e.g. `synchronous_commit = on`: every commit waits for its WAL flush).
async fn start_postgres(dir: &Path) -> Result<Postgres, String> {
    let bin = postgres_bin()?;
    // SAFETY: geteuid has no preconditions.
    let as_postgres = unsafe { libc::geteuid() } == 0;
    let data = dir.join("pg");
    std::fs::create_dir(&data).map_err(|e| e.to_string())?;
    if as_postgres {
        let mut chown = std::process::Command::new("chown");
        chown.arg("postgres").arg(&data);
        run(chown, "chown postgres").await?;
    }
    let mut initdb = pg_command(&bin, "initdb", as_postgres);
    initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", "pulse"]);
    run(initdb, "initdb").await?;
    let port = free_port().map_err(|e| e.to_string())?;
    // From here on the guard stops whatever pg_ctl may have started.
    let mut pg = Postgres { bin, data: data.clone(), as_postgres, port, pid: 0, stopped: false };
    let mut start = pg.pg_command("pg_ctl");
    start
        .arg("-D")
        .arg(&data)
        .arg("-o")
        .arg(format!("-p {port} -k {} -c listen_addresses=127.0.0.1", data.display()))
        .arg("-l")
        .arg(data.join("server.log"))
        .args(["-w", "-t", "60", "start"]);
    run(start, "pg_ctl start").await.map_err(|e| {
        let log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
        format!("{e}\n{}", tail(&log, 20))
    })?;
    let deadline = Instant::now() + START_MAX;
    loop {
        let ready = std::process::Command::new(pg.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() >= deadline {
            return Err("PostgreSQL did not accept connections".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut create = std::process::Command::new(pg.bin.join("psql"));
    create.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "pulse", "-d", "postgres"]);
    create.args(["-q", "-c", "CREATE DATABASE pulse"]);
    run(create, "CREATE DATABASE pulse").await?;
    let pidfile =
        std::fs::read_to_string(data.join("postmaster.pid")).map_err(|e| e.to_string())?;
    pg.pid = pidfile.lines().next().and_then(|l| l.trim().parse().ok()).ok_or("postmaster.pid")?;
    Ok(pg)
}

/// Starts `redis-server` on a free port, in memory only.
async fn start_redis(dir: &Path) -> Result<(Child, u16), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let rdir = dir.join("redis");
    std::fs::create_dir(&rdir).map_err(|e| e.to_string())?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly"])
        .arg("no")
        .arg("--dir")
        .arg(&rdir)
        .stdout(log_file(dir, "redis")?)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    let deadline = Instant::now() + START_MAX;
    loop {
        if redis_ping(port).await {
            return Ok((child, port));
        }
        if Instant::now() >= deadline {
            return Err("redis-server did not answer PING".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn redis_ping(port: u16) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"+PONG"))
    };
    tokio::time::timeout(Duration::from_secs(1), attempt).await.ok().flatten().unwrap_or(false)
}

/// A log file in the run's directory for a child's output.
fn log_file(dir: &Path, name: &str) -> Result<Stdio, String> {
    let f = std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
    Ok(Stdio::from(f))
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A secret shared by the nodes (a token one signs must verify on the other).
fn jwt_secret() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts one node: the single-node target's binary and settings, plus the shared store.
async fn start_node(
    launch: &ClusterLaunch,
    dir: &Path,
    name: &str,
    env: &[(&str, String)],
) -> Result<(Child, String), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let data = dir.join(name);
    std::fs::create_dir(&data).map_err(|e| e.to_string())?;
    let mut cmd = pulse_command(&launch.pulse_bin, port, &data);
    cmd.env("PULSE_NODE_ID", name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // pulse-server logs (tracing) to stdout; panics go to stderr.
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", launch.pulse_bin.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&url, "/health/live").await.map_err(|e| {
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        format!("{name}: {e}\n{}", tail(&log, 20))
    })?;
    Ok((child, url))
}

/// Sends one command to HAProxy's admin socket; returns the answer.
async fn haproxy_admin(socket: &Path, command: &str) -> Result<String, String> {
    let talk = async {
        let mut s = tokio::net::UnixStream::connect(socket).await?;
        s.write_all(format!("{command}\n").as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    tokio::time::timeout(Duration::from_secs(5), talk)
        .await
        .map_err(|_| format!("haproxy admin `{command}`: no answer"))?
        .map_err(|e| format!("haproxy admin `{command}`: {e}"))
}

/// Starts HAProxy with `deploy/haproxy.cfg` in front of `nodes` (two), the third server
/// slot in maintenance; waits until both nodes pass their health checks.
async fn start_haproxy(
    launch: &ClusterLaunch,
    dir: &Path,
    nodes: &[String],
) -> Result<(Child, String), String> {
    let lb_port = free_port().map_err(|e| e.to_string())?;
    // Nobody listens here: the third server of the config is never a real node.
    let nowhere = free_port().map_err(|e| e.to_string())?;
    let admin = dir.join("haproxy.sock");
    let hostport = |u: &String| u.trim_start_matches("http://").to_owned();
    let child = Command::new("haproxy")
        .arg("-f")
        .arg(&launch.haproxy_cfg)
        .arg("-db")
        .env("PULSE_LB_BIND", format!("127.0.0.1:{lb_port}"))
        .env("PULSE_NODE1", hostport(&nodes[0]))
        .env("PULSE_NODE2", hostport(&nodes[1]))
        .env("PULSE_NODE3", format!("127.0.0.1:{nowhere}"))
        .env("PULSE_LB_ADMIN", &admin)
        .stdout(Stdio::null())
        .stderr(log_file(dir, "haproxy")?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("haproxy: {e}"))?;
    let deadline = Instant::now() + START_MAX;
    while !admin.exists() {
        if Instant::now() >= deadline {
            let log = std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default();
            return Err(format!("haproxy did not start\n{}", tail(&log, 20)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    haproxy_admin(&admin, "set server pulse/node3 state maint").await?;
    // `show servers state pulse`: after a version line and a header, one line per server:
    // be_id be_name srv_id srv_name srv_addr srv_op_state … (2 = running).
    loop {
        let state = haproxy_admin(&admin, "show servers state pulse").await?;
        let running: Vec<&str> = state
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 5 && f[5] == "2").then(|| f[3])
            })
            .collect();
        if running.contains(&"node1") && running.contains(&"node2") && !running.contains(&"node3") {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!("haproxy: nodes not up after {START_MAX:?}:\n{state}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("http://127.0.0.1:{lb_port}");
    wait_up(&url, "/health").await?;
    Ok((child, url))
}

/// A running multi-process target. Stop it with [`Cluster::stop`]; dropping it stops it
/// too (synchronously).
pub struct Cluster {
    // Dropped in this order: the balancer, the nodes, Redis, PostgreSQL, then the directory.
    haproxy: Option<Child>,
    nodes: Vec<Child>,
    redis: Option<Child>,
    postgres: Option<Postgres>,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("pulse-bench-cluster.")
            .tempdir()
            .map_err(|e| e.to_string())?;
        // The postgres user must reach dir/pg.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .map_err(|e| e.to_string())?;
        Ok(Cluster { haproxy: None, nodes: Vec::new(), redis: None, postgres: None, dir })
    }

    /// Stops everything in order and says what the nodes logged (warnings and errors).
    pub async fn stop(mut self) {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill().await;
        }
        for mut n in self.nodes.drain(..) {
            let _ = n.kill().await;
        }
        if let Some(mut r) = self.redis.take() {
            let _ = r.kill().await;
        }
        if let Some(mut pg) = self.postgres.take() {
            let _ = tokio::task::spawn_blocking(move || pg.stop_now()).await;
        }
        self.report_logs();
    }

    /// Says what the nodes logged (at `warn`): server-side trouble during a run shows here.
    fn report_logs(&self) {
        for name in ["node1", "node2"] {
            report_log(name, &self.dir.path().join(format!("{name}.log")));
        }
    }
}

/// Prints, when a server logged more than its start-up lines, how many lines, how many of
/// them at each level, and the first and last ones (without colour codes).
pub(crate) fn report_log(name: &str, path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let plain: String = strip_ansi(&text);
    // The start-up banner and the missing-dashboard warning (the bench serves no dashboard)
    // are expected.
    let expected = ["no built dashboard here", "Pulse is running at", "Demo sign-in:"];
    let lines: Vec<&str> = plain
        .lines()
        .filter(|l| !l.trim().is_empty() && !expected.iter().any(|e| l.contains(e)))
        .collect();
    if lines.is_empty() {
        return;
    }
    let count = |level: &str| lines.iter().filter(|l| l.contains(level)).count();
    eprintln!(
        "pulse-bench: {name} logged {} lines ({} ERROR, {} WARN); first and last:",
        lines.len(),
        count("ERROR"),
        count("WARN")
    );
    let last = lines.len().saturating_sub(3).max(3);
    for l in lines.iter().take(3).chain(lines.iter().skip(last)) {
        eprintln!("  {}", l.chars().take(400).collect::<String>());
    }
}

/// `text` without ANSI escape sequences (the server's pretty log colours its levels).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts `pulse-pg`: PostgreSQL and one node on it (no Redis, no balancer).
pub async fn start_pulse_pg(launch: &ClusterLaunch) -> Result<(Target, Cluster), String> {
    let mut c = Cluster::new()?;
    let pg = start_postgres(c.dir.path()).await?;
    let db = format!("postgres://pulse@127.0.0.1:{}/pulse", pg.port);
    let pg_pid = pg.pid;
    c.postgres = Some(pg);
    let (node, url) = start_node(
        launch,
        c.dir.path(),
        "node1",
        &[("PULSE_DATABASE_URL", db), ("PULSE_JWT_SECRET", jwt_secret())],
    )
    .await?;
    let pid = node.id();
    c.nodes.push(node);
    wait_up(&url, "/health").await?;
    let token = login(&url).await?;
    let mut target = Target::single("pulse-pg", Wire::SocketIo, url, token, pid);
    target.parts = vec![Part { name: "postgres".into(), pid: pg_pid, node: false, tree: true }];
    Ok((target, c))
}

/// Starts `pulse-cluster`: PostgreSQL, Redis, node1 (which migrates and seeds the empty
/// database) then node2, and HAProxy in front of both.
pub async fn start_pulse_cluster(launch: &ClusterLaunch) -> Result<(Target, Cluster), String> {
    let mut c = Cluster::new()?;
    let pg = start_postgres(c.dir.path()).await?;
    let db = format!("postgres://pulse@127.0.0.1:{}/pulse", pg.port);
    let pg_pid = pg.pid;
    c.postgres = Some(pg);
    let (redis, redis_port) = start_redis(c.dir.path()).await?;
    let redis_pid = redis.id().unwrap_or(0);
    c.redis = Some(redis);
    let env = [
        ("PULSE_DATABASE_URL", db),
        ("PULSE_REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
        ("PULSE_JWT_SECRET", jwt_secret()),
    ];
    let mut parts = Vec::new();
    let mut urls = Vec::new();
    for name in ["node1", "node2"] {
        let (node, url) = start_node(launch, c.dir.path(), name, &env).await?;
        parts.push(Part {
            name: name.into(),
            pid: node.id().unwrap_or(0),
            node: true,
            tree: false,
        });
        c.nodes.push(node);
        urls.push(url);
    }
    let (haproxy, lb) = start_haproxy(launch, c.dir.path(), &urls).await?;
    parts.push(Part {
        name: "haproxy".into(),
        pid: haproxy.id().unwrap_or(0),
        node: false,
        tree: false,
    });
    c.haproxy = Some(haproxy);
    parts.push(Part { name: "postgres".into(), pid: pg_pid, node: false, tree: true });
    parts.push(Part { name: "redis".into(), pid: redis_pid, node: false, tree: false });
    let token = login(&lb).await?;
    let mut target = Target::single("pulse-cluster", Wire::SocketIo, lb, token, None);
    target.parts = parts;
    target.nodes = urls;
    Ok((target, c))
}
