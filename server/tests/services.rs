//! Real PostgreSQL, Redis and HAProxy processes for tests (the Debian packages), each on a
//! free loopback port with its own temporary directory, stopped when dropped.
//!
//! Everything here is plain synchronous `std::process` code: starting PostgreSQL takes about
//! a second, and a test that calls it from async code just blocks its thread meanwhile.
//!
//! A value that is never dropped (the shared PostgreSQL in a static) or a test binary that is
//! killed would leave processes behind, so every process started here also gets a detached
//! [`Watchdog`]: a small `bash` loop in its own session that waits for this test process to
//! end and then stops the process and removes its directory.

#![allow(dead_code)] // Each test module uses a different part.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A port nothing listens on right now (bound on 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// A fresh directory under the system temp dir (removed by its owner, not automatically).
fn fresh_dir(kind: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pulse-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The last `lines` lines of a log file, for failure messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Sends `signal` (e.g. "TERM", "KILL") to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Waits up to `timeout` for `child` to exit; whether it did.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Runs a `bash` command once this test process has ended, unless dropped first. Lives in
/// its own session, so it survives the test binary being killed.
pub struct Watchdog(Child);

impl Watchdog {
    pub fn spawn(cleanup: &str) -> Watchdog {
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; {cleanup}",
            std::process::id()
        );
        let child = Command::new("setsid")
            .args(["bash", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn watchdog (setsid bash)");
        Watchdog(child)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// A PostgreSQL 15 server on 127.0.0.1:`port`, user `pulse` (trust), data in a temporary
/// directory owned by `postgres`. Durability is off (`fsync`, `synchronous_commit`,
/// `full_page_writes`): a crash of the machine is not what these tests are about, and a
/// clean or immediate stop of the server still loses nothing committed.
pub struct Postgres {
    port: u16,
    root: PathBuf,
    _watchdog: Watchdog,
}

fn pg_command(program: &str) -> Command {
    let path = format!("{PG_BIN}/{program}");
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    text
}

impl Postgres {
    /// initdb in a fresh directory, then starts the server on a free port and waits until it
    /// accepts connections.
    pub fn start() -> Postgres {
        let root = fresh_dir("pg");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&root);
                    c
                },
                "chown postgres",
            );
        }
        run(
            {
                let mut c = Command::new("chmod");
                c.arg("700").arg(&root);
                c
            },
            "chmod",
        );
        let data = root.join("data");
        let mut initdb = pg_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "pulse",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let watchdog = Watchdog::spawn(&format!(
            "{} {PG_BIN}/pg_ctl -D '{}' stop -m immediate; rm -rf '{}'",
            if is_root() { "runuser -u postgres --" } else { "" },
            data.display(),
            root.display()
        ));
        let pg = Postgres { port: free_port(), root, _watchdog: watchdog };
        pg.start_again();
        pg
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("log")
    }

    /// Starts the (stopped) server again on the same port and directory; waits until ready.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.root.display()
        );
        let mut cmd = pg_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        let out = cmd.stdin(Stdio::null()).output().expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}\n--- log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log_path(), 30)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "pulse"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready:\n{}",
                tail(&self.log_path(), 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pg_ctl_stop(&self, mode: &str) {
        let mut cmd = pg_command("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(["-w", "-t", "60", "-m", mode, "stop"]);
        let out = cmd.stdin(Stdio::null()).output().expect("pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop -m {mode}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A clean, fast shutdown (open sessions are ended, the server checkpoints).
    pub fn stop(&self) {
        self.pg_ctl_stop("fast");
    }

    /// An immediate shutdown: every server process quits at once, like a crash; the next
    /// start recovers from the WAL.
    pub fn kill(&self) {
        self.pg_ctl_stop("immediate");
    }

    /// `postgres://pulse@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://pulse@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL through `psql` on database `db`; returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U"])
            .arg("pulse")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db)
            .arg("-c")
            .arg(sql);
        run(cmd, &format!("psql {sql}"))
    }

    /// Creates database `name` (letters, digits and `_`); returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "db name {name}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut cmd = pg_command("pg_ctl");
        cmd.arg("-D").arg(self.data()).args(["-w", "-m", "immediate", "stop"]);
        let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One PostgreSQL server per test binary, started on first use, stopped by its watchdog when
/// the binary ends. Tests each create their own database on it.
pub fn shared_postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(Postgres::start)
}

/// A database name not used before by this test binary.
pub fn unique_db_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------
// Redis

/// A Redis 7 server on 127.0.0.1:`port`, nothing persisted.
pub struct Redis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl Redis {
    /// Starts redis-server on a free port; waits until it answers PING.
    pub fn start() -> Redis {
        let mut r =
            Redis { port: free_port(), dir: fresh_dir("redis"), child: None, watchdog: None };
        r.start_again();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Starts the (stopped) server again on the same port.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("redis log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("redis-server");
        self.watchdog = Some(Watchdog::spawn(&format!(
            "kill -9 {}; rm -rf '{}'",
            child.id(),
            self.dir.display()
        )));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ping() {
            assert!(Instant::now() < deadline, "redis not up:\n{}", tail(&self.log_path(), 20));
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Whether the server answers PING.
    pub fn ping(&self) -> bool {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
    }

    /// SIGTERM (Redis exits at once, nothing to save), then waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            if !wait_exit(&mut c, Duration::from_secs(5)) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.watchdog = None;
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.watchdog = None;
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// HAProxy

/// The repository's `deploy/haproxy.cfg`.
pub fn haproxy_cfg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg")
}

/// HAProxy 2.6 in the foreground with `deploy/haproxy.cfg` in front of three backends.
pub struct Haproxy {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
    _watchdog: Watchdog,
}

impl Haproxy {
    /// Starts HAProxy on a free port; waits until it accepts connections.
    pub fn start(backends: &[SocketAddr; 3]) -> Haproxy {
        let cfg = haproxy_cfg();
        assert!(cfg.exists(), "{} does not exist yet", cfg.display());
        let dir = fresh_dir("haproxy");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let env = [
            ("PULSE_LB_BIND", addr.to_string()),
            ("PULSE_NODE1", backends[0].to_string()),
            ("PULSE_NODE2", backends[1].to_string()),
            ("PULSE_NODE3", backends[2].to_string()),
            ("PULSE_LB_ADMIN", dir.join("admin.sock").display().to_string()),
        ];
        let (child, watchdog) = spawn_haproxy(&cfg, &dir, &env);
        let mut h = Haproxy { addr, dir, child, _watchdog: watchdog };
        // The admin socket is created after the frontend listens.
        let admin = h.dir.join("admin.sock");
        wait_haproxy(&mut h.child, &h.dir, || {
            wait_tcp(addr, Duration::from_millis(100)) && admin.exists()
        });
        h
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// HAProxy's log (stderr).
    pub fn log(&self) -> String {
        tail(&self.dir.join("haproxy.log"), 40)
    }

    /// A Runtime API command (e.g. `show servers state`, `set server pulse/node2 state
    /// maint`); returns the answer.
    pub fn admin(&self, command: &str) -> String {
        let mut s = std::os::unix::net::UnixStream::connect(self.dir.join("admin.sock"))
            .expect("haproxy admin socket");
        s.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------

/// The services themselves: start, use, stop, start again, and clean up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_redis_and_haproxy_start_stop_and_restart() {
    let t = Instant::now();
    let pg = tokio::task::block_in_place(Postgres::start);
    let url = pg.create_database("services_check");
    assert_eq!(url, format!("postgres://pulse@127.0.0.1:{}/services_check", pg.port()));
    pg.psql("services_check", "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)");
    tokio::task::block_in_place(|| {
        pg.stop();
        pg.start_again();
    });
    assert_eq!(pg.psql("services_check", "SELECT sum(x) FROM t").trim(), "3");
    tokio::task::block_in_place(|| {
        pg.kill();
        pg.start_again();
    });
    assert_eq!(pg.psql("services_check", "SELECT count(*) FROM t").trim(), "2");
    let pg_root = pg.root.clone();
    drop(pg);
    assert!(!pg_root.exists(), "postgres dir removed");

    let shared = tokio::task::block_in_place(shared_postgres);
    let name = unique_db_name("svc");
    shared.create_database(&name);
    assert_eq!(shared.psql(&name, "SELECT 1").trim(), "1");

    let mut redis = tokio::task::block_in_place(Redis::start);
    assert!(redis.ping());
    redis.stop();
    assert!(!redis.ping());
    tokio::task::block_in_place(|| redis.start_again());
    assert!(redis.ping());

    // Three tiny backends that name themselves.
    let mut backends = Vec::new();
    let mut tasks = Vec::new();
    for i in 1..=3 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        backends.push(listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/health/live", axum::routing::get(|| async { "ok" }))
            .route("/", axum::routing::get(move || async move { format!("node{i}") }));
        tasks.push(tokio::spawn(async move { axum::serve(listener, app).await }));
    }
    let lb =
        tokio::task::block_in_place(|| Haproxy::start(&[backends[0], backends[1], backends[2]]));
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..12 {
        // A new client each time: no cookie, so leastconn/round-robin spreads them.
        let body = reqwest::get(lb.url()).await.unwrap().text().await.unwrap();
        names.insert(body);
    }
    assert!(names.iter().all(|n| n.starts_with("node")), "{names:?}\n{}", lb.log());
    assert!(lb.admin("show servers state").contains("node3"));
    // A backend going away: HAProxy marks it down and the others serve.
    tasks.pop().unwrap().abort();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for _ in 0..6 {
        let body = reqwest::get(lb.url()).await.unwrap().text().await.unwrap();
        assert_ne!(body, "node3", "{}", lb.log());
    }
    drop(lb);
    drop(redis);
    eprintln!("services check took {:?}", t.elapsed());
}

/// Starts `haproxy -f cfg -db` with `env`, its output in `dir/haproxy.log`; the watchdog kills
/// it (and removes `dir`) if the test process dies first.
fn spawn_haproxy(cfg: &Path, dir: &Path, env: &[(&str, String)]) -> (Child, Watchdog) {
    let log = std::fs::File::create(dir.join("haproxy.log")).expect("haproxy log");
    let child = Command::new("haproxy")
        .arg("-f")
        .arg(cfg)
        .arg("-db")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("haproxy");
    let watchdog = Watchdog::spawn(&format!("kill -9 {}; rm -rf '{}'", child.id(), dir.display()));
    (child, watchdog)
}

/// Waits until `ready` (which waits a little itself), failing with HAProxy's log if it exits
/// or 10 s pass.
fn wait_haproxy(child: &mut Child, dir: &Path, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        let exited = child.try_wait().ok().flatten();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "haproxy did not start ({exited:?}):\n{}",
            tail(&dir.join("haproxy.log"), 40)
        );
    }
}

/// A self-signed certificate for 127.0.0.1 made by openssl: the certificate as PEM (what a
/// client trusts), and certificate plus key in one file (what HAProxy serves).
pub struct TestCert {
    pub cert_pem: String,
    pub bundle: PathBuf,
}

/// Makes a fresh key and certificate named `name` in `dir`.
pub fn self_signed_cert(dir: &Path, name: &str) -> TestCert {
    let (key, cert) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.crt")));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN=pulse-test-{name}")])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let bundle = dir.join(format!("{name}.pem"));
    std::fs::write(&bundle, format!("{cert_pem}{}", std::fs::read_to_string(&key).unwrap()))
        .unwrap();
    TestCert { cert_pem, bundle }
}

/// HAProxy alone in front of one backend, as a deployment has a proxy between users and
/// Pulse: terminating TLS with a [`TestCert`], or refusing WebSocket upgrades as some
/// corporate proxies do.
pub struct Proxy {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
    _watchdog: Watchdog,
}

impl Proxy {
    /// Terminates TLS with `cert`.
    pub fn tls(backend: SocketAddr, cert: &TestCert) -> Proxy {
        Proxy::start("tls-proxy", backend, &format!("ssl crt {}", cert.bundle.display()), "")
    }

    /// Plain HTTP that answers every WebSocket upgrade with 403.
    pub fn refusing_websockets(backend: SocketAddr) -> Proxy {
        let deny = "  http-request deny deny_status 403 if { hdr(upgrade) -i websocket }\n";
        Proxy::start("ws-refusing-proxy", backend, "", deny)
    }

    /// Starts it on a free port; waits until it accepts connections.
    fn start(kind: &str, backend: SocketAddr, bind_options: &str, rules: &str) -> Proxy {
        let dir = fresh_dir(kind);
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  \
                 timeout server 60s\n  timeout tunnel 60s\n\
                 frontend front\n  bind {addr} {bind_options}\n{rules}  default_backend pulse\n\
                 backend pulse\n  server s1 {backend}\n"
            ),
        )
        .unwrap();
        let (child, watchdog) = spawn_haproxy(&cfg, &dir, &[]);
        let mut p = Proxy { addr, dir, child, _watchdog: watchdog };
        wait_haproxy(&mut p.child, &p.dir, || wait_tcp(addr, Duration::from_millis(100)));
        p
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
