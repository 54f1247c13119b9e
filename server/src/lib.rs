//! The Pulse server, as a library: the Socket.IO endpoint, the REST API, the demo business
//! and the dashboard's files, in one axum app.
//!
//! `main.rs` only reads configuration and calls [`Server::bind`] then [`Server::run`]; tests
//! do the same on `127.0.0.1:0`, so they exercise the real thing.
//!
//! Principal types: [`Server`], [`AppState`], [`Config`].
#![warn(missing_docs, unreachable_pub)]

pub mod business;
pub mod clock;
pub mod config;
mod demo;
mod realtime;
mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;

pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use state::AppState;

/// The whole HTTP app for `state`, with the Socket.IO layer it was built with.
pub fn app(state: AppState, socket_layer: socketioxide::layer::SocketIoLayer) -> Router {
    routes::api()
        .merge(routes::dashboard(&state.config.dist))
        .layer(socket_layer)
        .layer(CompressionLayer::new())
        .layer(CorsLayer::permissive())
        .with_state(state)
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Server {
    /// Builds the state and binds `config.addr` (port 0 picks a free port).
    pub async fn bind(config: Config, clock: Arc<dyn Clock>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(config.addr).await?;
        let config = Arc::new(config);
        let business = Arc::new(business::Business::default());
        let (socket_layer, io) = SocketIo::builder()
            .ping_interval(Duration::from_millis(config.ping_interval_ms))
            .ping_timeout(Duration::from_millis(config.ping_timeout_ms))
            .max_payload(config.max_payload)
            .build_layer();
        let state = AppState {
            config,
            clock,
            business,
            io: io.clone(),
            started: Instant::now(),
        };
        realtime::register(&io, state.clone());
        let router = app(state.clone(), socket_layer);
        Ok(Server {
            listener,
            router,
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state, e.g. for tests that inspect the books.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then disconnects every socket and drains HTTP.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            listener,
            router,
            state,
        } = self;
        let mut tasks = Vec::new();
        if state.config.demo {
            tasks.push(tokio::spawn(demo::run_generator(
                state.clone(),
                state.config.demo_rate,
            )));
        }
        tasks.push(tokio::spawn(demo::run_stats_ticker(state.clone())));
        let io = state.io.clone();
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Upgraded WebSockets would keep the drain waiting forever.
                io.close().await;
            })
            .await;
        for t in tasks {
            t.abort();
        }
        result
    }
}
