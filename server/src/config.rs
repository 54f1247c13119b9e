//! This module deals with the server's configuration: flags and `PULSE_*` environment
//! variables, with safe defaults (loopback only, demo on).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Pulse server: Socket.IO endpoint, REST API and the dashboard.
#[derive(Debug, Clone, Parser)]
#[command(name = "pulse-server", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PULSE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder with the built dashboard (trunk's output), served at `/`.
    #[arg(long, env = "PULSE_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Run the demo business generator.
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

    /// Largest accepted Socket.IO packet, in bytes.
    #[arg(long, env = "PULSE_MAX_PAYLOAD", default_value_t = 100_000)]
    pub max_payload: u64,
}

impl Config {
    /// Defaults, as if started with no flags and no environment.
    pub fn defaults() -> Config {
        Config::parse_from(["pulse-server"])
    }

    pub(crate) fn stats_interval(&self) -> Duration {
        Duration::from_millis(self.stats_interval_ms.max(50))
    }
}
