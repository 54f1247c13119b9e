//! This module deals with the server's configuration: flags and `PULSE_*` environment
//! variables, with safe defaults (loopback only; demo mode only on a loopback address; a JWT
//! secret generated and kept in the data directory when none is given), and the `admin`
//! command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// What an empty database starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The demo business and its public accounts are seeded into an empty database, and the
    /// demo generator records deliveries: for trying Pulse, never for real data.
    Demo,
    /// No demo data, no generator: the first admin is made with `pulse-server admin create`.
    Production,
}

impl Mode {
    /// The name used in flags and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Demo => "demo",
            Mode::Production => "production",
        }
    }
}

/// The shortest `PULSE_JWT_SECRET` accepted, in bytes (HS256 wants at least its 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A command instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manage accounts in the configured database (`--data-dir` or `--database-url`).
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
}

/// Account commands.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminAction {
    /// Create a business and its first admin. The password is read from standard input (a
    /// prompt without echo on a terminal; the first line otherwise).
    Create {
        /// The admin's sign-in email.
        #[arg(long)]
        email: String,
        /// The admin's display name.
        #[arg(long, default_value = "Admin")]
        name: String,
        /// The business (tenant) this admin runs; created by this command.
        #[arg(long)]
        business: String,
    },
    /// Copy the SQLite database to a new file while the server runs (a consistent snapshot;
    /// writers are not stopped). PostgreSQL has its own tools (pg_dump).
    Backup {
        /// The new file; an existing file is never overwritten.
        #[arg(long)]
        to: PathBuf,
    },
}

/// Pulse server: Socket.IO endpoint, REST API and the dashboard.
#[derive(Debug, Clone, Parser)]
#[command(name = "pulse-server", version, about)]
pub struct Config {
    /// A command to run instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `demo` or `production`. Unset: demo when listening on a loopback address; on any
    /// other address the server refuses to start until the mode is chosen.
    #[arg(long, env = "PULSE_MODE", value_enum)]
    pub mode: Option<Mode>,

    /// Address to listen on.
    #[arg(long, env = "PULSE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder with the built dashboard (trunk's output), served at `/`.
    #[arg(long, env = "PULSE_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Folder for the SQLite database (`pulse.db`) and the generated JWT secret.
    #[arg(long, env = "PULSE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// The store: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. When absent, the SQLite
    /// file `<data-dir>/pulse.db`. Several nodes share one PostgreSQL database (a cluster).
    #[arg(long, env = "PULSE_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Redis, for reaching sockets on other nodes (`redis://HOST:PORT`). Needed only when
    /// several nodes share one PostgreSQL database.
    #[arg(long, env = "PULSE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's name in /health, /metrics and logs (default: the host name and port).
    #[arg(long, env = "PULSE_NODE_ID")]
    pub node_id: Option<String>,

    /// Secret for signing JWTs, at least 32 bytes. When absent, one is generated on first
    /// start and kept in `<data-dir>/jwt-secret`.
    #[arg(long, env = "PULSE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of an access token (JWT), in seconds.
    #[arg(long, env = "PULSE_TOKEN_TTL_S", default_value_t = 900)]
    pub token_ttl_s: u64,

    /// How often open sockets are checked for an expired access token, in milliseconds; an
    /// expired one gets an `error` (TOKEN_EXPIRED) and is disconnected.
    #[arg(long, env = "PULSE_EXPIRY_CHECK_MS", default_value_t = 1000)]
    pub expiry_check_ms: u64,

    /// Lifetime of a refresh token, in seconds.
    #[arg(long, env = "PULSE_REFRESH_TTL_S", default_value_t = 30 * 86_400)]
    pub refresh_ttl_s: u64,

    /// Run the demo business generator (demo mode only).
    #[arg(long, env = "PULSE_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo: bool,

    /// Demo deliveries recorded per second.
    #[arg(long, env = "PULSE_DEMO_RATE", default_value_t = 1.0)]
    pub demo_rate: f64,

    /// How often `stats:updated` is pushed to clients, in milliseconds.
    #[arg(long, env = "PULSE_STATS_INTERVAL_MS", default_value_t = 1000)]
    pub stats_interval_ms: u64,

    /// Engine.IO ping interval, in milliseconds.
    #[arg(long, env = "PULSE_PING_INTERVAL_MS", default_value_t = 25_000)]
    pub ping_interval_ms: u64,

    /// Engine.IO ping timeout, in milliseconds.
    #[arg(long, env = "PULSE_PING_TIMEOUT_MS", default_value_t = 20_000)]
    pub ping_timeout_ms: u64,

    /// Largest accepted Socket.IO event or REST body, in bytes. Larger events get a
    /// PAYLOAD_TOO_LARGE error; frames over 4× this close the connection.
    #[arg(long, env = "PULSE_MAX_PAYLOAD", default_value_t = 100_000)]
    pub max_payload: u64,

    /// Packets queued for one socket before live fan-out skips it and catches it up from the
    /// recent entries or the log instead (when it reads again). Bigger rides out a busy
    /// client's pauses without catch-ups; the bound is what a socket that stopped reading
    /// holds on the server (a packet is one event, ~0.2-1 KB). 1,024 wrote no faster than
    /// 128 in the churn soak (both kept up with 1,050 entries/s) and held 15 MiB more.
    #[arg(long, env = "PULSE_SEND_QUEUE", default_value_t = 128)]
    pub send_queue: usize,

    /// Open sockets allowed per user; one more is refused with RATE_LIMITED.
    #[arg(long, env = "PULSE_MAX_CONN_PER_USER", default_value_t = 5)]
    pub max_conn_per_user: usize,

    /// Proxies (e.g. the load balancer) whose `X-Forwarded-For` header names the client,
    /// comma-separated IP addresses. From any other peer the header is ignored.
    #[arg(long, env = "PULSE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Open sockets allowed per client IP address.
    #[arg(long, env = "PULSE_MAX_CONN_PER_IP", default_value_t = 50)]
    pub max_conn_per_ip: usize,

    /// Sustained client events per second allowed on one socket (token bucket refill).
    #[arg(long, env = "PULSE_EVENT_RATE", default_value_t = 20.0)]
    pub event_rate: f64,

    /// Burst of client events allowed on one socket (token bucket size).
    #[arg(long, env = "PULSE_EVENT_BURST", default_value_t = 40.0)]
    pub event_burst: f64,

    /// Most missed events replayed to a reconnecting socket; beyond that it gets
    /// RESYNC_REQUIRED and reloads through REST.
    #[arg(long, env = "PULSE_REPLAY_LIMIT", default_value_t = 10_000)]
    pub replay_limit: u64,

    /// Failed sign-ins allowed per account (email) before attempts on it are refused with
    /// RATE_LIMITED; one more comes back every `login-window-s` / this.
    #[arg(long, env = "PULSE_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_failures_per_account: u32,

    /// Failed sign-ins allowed per client IP address (any accounts) before its attempts are
    /// refused with RATE_LIMITED; one more comes back every `login-window-s` / this.
    #[arg(long, env = "PULSE_LOGIN_FAILURES_PER_IP", default_value_t = 20)]
    pub login_failures_per_ip: u32,

    /// Seconds over which a spent failed-login budget refills completely.
    #[arg(long, env = "PULSE_LOGIN_WINDOW_S", default_value_t = 300.0)]
    pub login_window_s: f64,

    /// Browser origins (`scheme://host[:port]`, comma-separated) allowed to call the API and
    /// open the Socket.IO endpoint cross-origin. None by default: same origin only.
    #[arg(long, env = "PULSE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Memory cost of argon2id password hashing, in KiB (OWASP's 19 MiB by default).
    #[arg(long, env = "PULSE_ARGON2_M_COST_KIB", default_value_t = 19_456, global = true)]
    pub argon2_m_cost_kib: u32,

    /// Bench mode: enables `POST /api/bench/broadcast` for the load generator in `bench/`
    /// (admins only). Never on in production. `PULSE_BENCH=1` (or `true`) turns it on.
    #[arg(long, env = "PULSE_BENCH", value_parser = clap::builder::FalseyValueParser::new())]
    pub bench: bool,

    /// On SIGTERM, how long to keep serving while `/health/live` answers 503, so a load
    /// balancer moves new connections elsewhere before this node closes its sockets (a
    /// rolling restart). 0 for a single node.
    #[arg(long, env = "PULSE_DRAIN_MS", default_value_t = 0)]
    pub drain_ms: u64,

    /// Log line format.
    #[arg(long, env = "PULSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

impl Config {
    /// Defaults, as if started with no flags and no environment.
    pub fn defaults() -> Config {
        Config::parse_from(["pulse-server"])
    }

    /// The SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("pulse.db")
    }

    /// The mode this configuration runs in, or why it may not start.
    pub fn resolved_mode(&self) -> Result<Mode, String> {
        match self.mode {
            Some(mode) => Ok(mode),
            None if self.addr.ip().is_loopback() => Ok(Mode::Demo),
            None => Err(format!(
                "listening on {} (not loopback) needs an explicit mode: PULSE_MODE=production \
                 (no demo data), or PULSE_MODE=demo to expose the public demo accounts",
                self.addr
            )),
        }
    }

    /// Why the configured JWT secret is refused, if it is.
    pub fn jwt_secret_problem(&self) -> Option<String> {
        let len = self.jwt_secret.as_ref()?.len();
        (len < MIN_JWT_SECRET_BYTES).then(|| {
            format!(
                "PULSE_JWT_SECRET has {len} bytes; at least {MIN_JWT_SECRET_BYTES} are needed \
                 (e.g. `head -c 48 /dev/urandom | base64`)"
            )
        })
    }

    pub(crate) fn login_window(&self) -> Duration {
        Duration::try_from_secs_f64(self.login_window_s.max(0.001)).unwrap_or(Duration::MAX)
    }

    pub(crate) fn stats_interval(&self) -> Duration {
        Duration::from_millis(self.stats_interval_ms.max(50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let c = Config::defaults();
        assert!(c.addr.ip().is_loopback());
        assert_eq!(c.max_conn_per_user, 5);
        assert!(c.jwt_secret.is_none());
        assert!(!c.bench);
        assert!(c.cors_origins.is_empty(), "same origin only unless configured");
        assert_eq!(c.db_path(), PathBuf::from("data/pulse.db"));
        assert_eq!(c.resolved_mode(), Ok(Mode::Demo));
        assert!(c.command.is_none());
    }

    #[test]
    fn a_public_address_needs_an_explicit_mode() {
        let c = Config::parse_from(["pulse-server", "--addr", "0.0.0.0:3000"]);
        assert!(c.resolved_mode().unwrap_err().contains("PULSE_MODE"));
        let c = Config::parse_from(["pulse-server", "--addr", "0.0.0.0:3000", "--mode", "demo"]);
        assert_eq!(c.resolved_mode(), Ok(Mode::Demo));
        let c = Config::parse_from(["pulse-server", "--mode", "production"]);
        assert_eq!(c.resolved_mode(), Ok(Mode::Production));
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let short = Config::parse_from(["pulse-server", "--jwt-secret", "hunter2"]);
        assert!(short.jwt_secret_problem().unwrap().contains("7 bytes"));
        let long = Config::parse_from(["pulse-server", "--jwt-secret", &"x".repeat(32)]);
        assert_eq!(long.jwt_secret_problem(), None);
        assert_eq!(Config::defaults().jwt_secret_problem(), None);
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        let source = include_str!("config.rs");
        let vars: Vec<&str> =
            source.split("env = \"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        assert!(vars.len() > 20, "{vars:?}");
        for var in vars {
            assert!(readme.contains(&format!("| `{var}` |")), "{var} is not in the README's table");
        }
    }

    #[test]
    fn admin_create_parses() {
        let c = Config::parse_from([
            "pulse-server",
            "--data-dir",
            "/srv/pulse",
            "admin",
            "create",
            "--email",
            "boss@example.com",
            "--business",
            "Acme Dairy",
        ]);
        let Some(Command::Admin { action: AdminAction::Create { email, name, business } }) =
            c.command
        else {
            panic!("not parsed as admin create: {:?}", c.command);
        };
        assert_eq!(
            (email.as_str(), name.as_str(), business.as_str()),
            ("boss@example.com", "Admin", "Acme Dairy")
        );
        assert_eq!(c.data_dir, PathBuf::from("/srv/pulse"));
    }
}
