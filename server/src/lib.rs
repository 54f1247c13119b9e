//! The Pulse server, as a library: auth, tenants, the store (an SQLite file, or PostgreSQL
//! shared by the nodes of a cluster), the per-tenant event log and its ordered fan-out on
//! every node, the Socket.IO endpoint, the REST API, the demo business, metrics and limits, and the
//! dashboard's files, in one axum app.
//!
//! Owns everything behind the wire types of `pulse-protocol`; leaves the client side (the
//! SDK, the dashboard) out. `main.rs` only reads configuration and calls [`Server::bind`]
//! then [`Server::run`]; tests do the same on `127.0.0.1:0`, so they exercise the real thing.
//!
//! Metrics at `GET /metrics`: `pulse_connections_active` (gauge), `pulse_events_emitted_total`
//! by `event` (counter; `rate()` gives events per second), `pulse_ack_latency_seconds` by
//! `event` (histogram), `pulse_errors_total` by `code`, `pulse_events_replayed_total`,
//! `pulse_catchups_total` by `reason`; for operating a cluster: `pulse_node_info` by `node`,
//! `pulse_leader`, `pulse_fanout_delay_seconds` (histogram: commit to emit on this node),
//! `pulse_log_lag_entries` (how far this node's fan-out was behind the log at the last
//! sweep), `pulse_database_up`, `pulse_redis_up`, `pulse_process_resident_memory_bytes`,
//! `pulse_connections_max` (open-files limit less a reserve).
//!
//! Principal types: [`Server`], [`AppState`], [`Config`].
#![warn(missing_docs, unreachable_pub)]
// An application's library: its docs are for the people who work on it, and a module's doc
// may point at the private item that does the work (`cargo doc --document-private-items`
// resolves those links; without it they show as plain code).
#![allow(rustdoc::private_intra_doc_links)]

pub mod accounts;
pub mod actions;
pub mod auth;
mod bench;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
mod feed;
mod peer;
mod realtime;
pub mod relay;
mod routes;
pub mod state;
mod throttle;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use socketioxide::{ParserConfig, SocketIo};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use clock::{Clock, SystemClock};
pub use config::{Config, Mode};
pub use state::AppState;

use routes::security::Origins;

/// Bytes each WebSocket reads at once (see `Server::bind`).
const WS_READ_BUFFER: usize = 256;

/// Binary attachments one Socket.IO packet may carry (see `Server::bind`).
const BINARY_ATTACHMENTS: usize = 16;

/// The whole HTTP app for `state`, with the Socket.IO layer it was built with.
pub fn app(state: AppState, socket_layer: socketioxide::layer::SocketIoLayer) -> Router {
    let max_body = state.config.max_payload.min(usize::MAX as u64) as usize;
    let api = routes::api(max_body);
    // The benchmark broadcaster exists only in bench mode (`--bench`).
    let api = if state.config.bench { api.merge(bench::routes()) } else { api };
    // After every route is in: a method a route does not take answers in the one error shape.
    let api = api.method_not_allowed_fallback(error::method_not_allowed);
    // Checked by `Server::bind`; an app built otherwise with a bad list allows no origin.
    let origins = Arc::new(Origins::parse(&state.config.cors_origins).unwrap_or_default());
    let cors = origins.cors();
    let [nosniff, referrer, frames, csp] = routes::security::default_headers();
    api.merge(routes::dashboard(&state.config.dist))
        .layer(socket_layer)
        // After the origin check, which reads headers the kept head leaves out.
        .layer(tower::util::MapRequestLayer::new(realtime::head::own_head))
        .layer(axum::middleware::from_fn_with_state(origins, routes::security::socket_origin))
        .layer(CompressionLayer::new())
        .layer(tower::util::option_layer(cors))
        .layer(nosniff)
        .layer(referrer)
        .layer(frames)
        .layer(csp)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder; all
/// servers in a process, e.g. in tests, share it).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("pulse_ack_latency_seconds".into()),
                    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
                )
                .expect("static buckets are valid")
                .set_buckets_for_metric(
                    Matcher::Full("pulse_fanout_delay_seconds".into()),
                    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
                )
                .expect("static buckets are valid");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Registers the metrics that alerts and dashboards watch, so they are exported (at zero)
/// before the first event of their kind: a rule on a missing series never fires.
fn register_metrics(redis: bool) {
    metrics::counter!("pulse_errors_total", "code" => "INTERNAL").increment(0);
    metrics::counter!("pulse_catchups_total", "reason" => "resume").increment(0);
    metrics::counter!("pulse_events_replayed_total").increment(0);
    metrics::counter!("pulse_login_throttled_total").increment(0);
    metrics::counter!("pulse_events_emitted_total", "event" => "stats:updated").increment(0);
    let _ = metrics::histogram!("pulse_fanout_delay_seconds");
    let _ = metrics::histogram!("pulse_ack_latency_seconds", "event" => "ping");
    metrics::gauge!("pulse_connections_active").increment(0.0);
    metrics::gauge!("pulse_log_lag_entries").set(0.0);
    metrics::gauge!("pulse_database_up").set(1.0);
    metrics::gauge!("pulse_leader").set(0.0);
    if redis {
        metrics::gauge!("pulse_redis_up").set(0.0);
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding, or the data directory.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or migrating the database, or seeding it.
    #[error("database: {0}")]
    Db(String),
    /// A setting that may not be used as given.
    #[error("configuration: {0}")]
    Config(String),
}

impl From<StartError> for std::io::Error {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Io(e) => e,
            StartError::Db(m) => std::io::Error::other(m),
            StartError::Config(m) => std::io::Error::new(std::io::ErrorKind::InvalidInput, m),
        }
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
    seeded: bool,
    accounts: bool,
}

impl Server {
    /// Opens the database (creating, migrating and seeding it as needed), loads or creates
    /// the JWT secret, and binds `config.addr` (port 0 picks a free port).
    pub async fn bind(config: Config, clock: Arc<dyn Clock>) -> std::io::Result<Server> {
        Ok(Self::try_bind(config, clock).await?)
    }

    async fn try_bind(mut config: Config, clock: Arc<dyn Clock>) -> Result<Server, StartError> {
        let mode = config.resolved_mode().map_err(StartError::Config)?;
        if let Some(problem) = config.jwt_secret_problem() {
            return Err(StartError::Config(problem));
        }
        config.mode = Some(mode);
        // Production never runs the generator, whatever PULSE_DEMO says.
        config.demo &= mode == Mode::Demo;
        std::fs::create_dir_all(&config.data_dir)?;
        // Install the recorder before anything records a metric.
        let metrics = prometheus();
        let url = config.database_url.clone().unwrap_or_else(|| db::sqlite_url(&config.db_path()));
        let db = db::Db::open(&url).await.map_err(|e| StartError::Db(e.to_string()))?;
        let keys = Arc::new(auth::Keys::load(&config)?);
        Origins::parse(&config.cors_origins).map_err(|e| {
            StartError::Io(std::io::Error::other(format!("PULSE_CORS_ORIGINS: {e}")))
        })?;
        let passwords = Arc::new(
            auth::Passwords::new(config.argon2_m_cost_kib)
                .map_err(|e| StartError::Io(std::io::Error::other(e.to_string())))?,
        );
        let login_throttle = Arc::new(throttle::LoginThrottle::new(
            config.login_failures_per_account,
            config.login_failures_per_ip,
            config.login_window(),
        ));
        let listener = listen(config.addr)?;
        let addr = listener.local_addr()?;
        let node_id = config.node_id.clone().unwrap_or_else(|| default_node_id(addr));
        let node = Arc::new(cluster::Node::new(node_id, addr.to_string()));
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(
                relay::Relay::new(url).map_err(|e| StartError::Db(format!("redis: {e}")))?,
            )),
            None => None,
        };
        let config = Arc::new(config);
        // The engine's own cap closes the connection; it sits well above `max_payload` so
        // that moderately oversized events get a clear PAYLOAD_TOO_LARGE answer instead.
        // Engine.IO's `max_payload` bounds polling only: a WebSocket's frame and message
        // caps are tungstenite's (16 and 64 MiB by default), which a client could fill,
        // signed in or not, before anything read what it sent.
        let frame_cap = config.max_payload.saturating_mul(4).max(16_384);
        let ws_cap = usize::try_from(frame_cap).unwrap_or(usize::MAX);
        let (socket_layer, io) = SocketIo::builder()
            .ping_interval(Duration::from_millis(config.ping_interval_ms))
            .ping_timeout(Duration::from_millis(config.ping_timeout_ms))
            .max_payload(frame_cap)
            .ws_max_frame_size(ws_cap)
            .ws_max_message_size(ws_cap)
            // Binary attachments (Pulse's events are JSON) are held until their event is
            // whole: socketioxide allows 10,000 of them and 10 MB per socket by default.
            .with_parser(
                ParserConfig::common()
                    .max_incoming_binaries(BINARY_ATTACHMENTS)
                    .max_incoming_binary_buf_size(ws_cap),
            )
            // Every socket keeps this buffer for its life (tungstenite's default is 128 KiB,
            // engineioxide's 4 KiB). Clients send small frames; a larger one (a CONNECT with
            // its token) grows it to fit. 1 KiB held 0.5 KB more per idle connection.
            .ws_read_buffer_size(WS_READ_BUFFER)
            .max_buffer_size(config.send_queue)
            .build_layer();
        let quota = realtime::quota::Quota::new(config.max_conn_per_user, config.max_conn_per_ip);
        register_metrics(redis.is_some());
        let state = AppState {
            config,
            clock,
            db,
            node,
            redis,
            keys,
            io: io.clone(),
            log: Arc::default(),
            rooms: Arc::default(),
            stats_dirty: Arc::default(),
            quota,
            passwords,
            login_throttle,
            metrics,
            started: Instant::now(),
        };
        let seeded = match mode {
            Mode::Demo => {
                demo::seed_if_empty(&state).await.map_err(|e| StartError::Db(e.to_string()))?
            }
            Mode::Production => false,
        };
        let accounts = accounts::any(&state.db).await.map_err(|e| StartError::Db(e.to_string()))?;
        realtime::register(&io, state.clone());
        let router = app(state.clone(), socket_layer);
        Ok(Server { listener, router, state, seeded, accounts })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Whether this start seeded an empty database with the demo business.
    pub fn seeded(&self) -> bool {
        self.seeded
    }

    /// The mode it runs in.
    pub fn mode(&self) -> Mode {
        self.state.config.mode.unwrap_or(Mode::Demo)
    }

    /// Whether anyone can sign in yet (in production, not until `admin create`).
    pub fn has_accounts(&self) -> bool {
        self.accounts
    }

    /// Serves until `shutdown` completes. Then: stop the demo generator and stats pushes,
    /// close every socket, let in-flight HTTP requests finish, and checkpoint the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server { listener, router, state, .. } = self;
        let mut tasks = Vec::new();
        if state.config.demo {
            tasks.push(tokio::spawn(demo::run_generator(state.clone(), state.config.demo_rate)));
        }
        tasks.push(tokio::spawn(feed::stats::run_pusher(state.clone())));
        tasks.push(tokio::spawn(feed::tail::run(state.clone())));
        tasks.push(tokio::spawn(cluster::run_election(state.clone())));
        tasks.push(tokio::spawn(cluster::run_heartbeat(state.clone())));
        tasks.push(tokio::spawn(relay::run(state.clone())));
        tasks.push(tokio::spawn(realtime::expiry::run_sweeper(state.clone())));
        tasks.push(tokio::spawn(throttle::run_sweeper(
            state.login_throttle.clone(),
            state.config.login_window(),
        )));
        let io = state.io.clone();
        let node = state.node.clone();
        let drain = Duration::from_millis(state.config.drain_ms);
        let background = tasks.iter().map(|t| t.abort_handle()).collect::<Vec<_>>();
        // Real-time pushes are small frames: without TCP_NODELAY a frame can wait for the
        // client's delayed ACK (up to 40 ms on Linux) behind the previous one (Nagle).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let result =
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    // Behind a load balancer: fail its health check first and keep serving
                    // until it has moved new connections elsewhere, so clients that reconnect
                    // when their socket closes land on a live node at once.
                    if drain > Duration::ZERO {
                        node.start_draining();
                        tracing::info!(?drain, "draining before shutdown");
                        tokio::time::sleep(drain).await;
                    }
                    // Stop producing first, so nothing is half-broadcast while sockets close.
                    for t in background {
                        t.abort();
                    }
                    // Upgraded WebSockets would keep the drain waiting forever.
                    io.close().await;
                })
                .await;
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        if let Err(e) = state.db.flush().await {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
        state.db.close().await;
        result
    }
}

/// The host's name and the port: unique per node on one machine and across machines.
fn default_node_id(addr: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "pulse".to_owned());
    format!("{host}:{}", addr.port())
}

/// Binds `addr` with a deep accept backlog: after a restart every dashboard reconnects at
/// once, and tokio's default of 128 drops the excess SYNs, which clients then retry only
/// after 1, 3, 7… s (measured in bench/ANALYSIS.md).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
