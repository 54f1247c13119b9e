//! This module deals with what every handler shares, in one struct.

use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use socketioxide::SocketIo;

use crate::auth::{Keys, Passwords};
use crate::clock::Clock;
use crate::cluster::Node;
use crate::config::Config;
use crate::db::Db;
use crate::feed::broadcast::RoomLists;
use crate::feed::log::Feeds;
use crate::feed::stats::Dirty;
use crate::realtime::quota::Quota;
use crate::relay::Relay;
use crate::throttle::LoginThrottle;

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration the server started with.
    pub config: Arc<Config>,
    /// Wall-clock source for event timestamps, token expiry and demo dates.
    pub clock: Arc<dyn Clock>,
    /// The store (SQLite, or PostgreSQL shared by the nodes of a cluster).
    pub db: Db,
    /// This node.
    pub node: Arc<Node>,
    /// Redis, in a cluster: carries stats pushes between nodes.
    pub redis: Option<Arc<Relay>>,
    /// JWT keys.
    pub keys: Arc<Keys>,
    /// The Socket.IO handle, for broadcasting.
    pub io: SocketIo,
    /// How far this node has fanned out each tenant's log.
    pub(crate) log: Arc<Feeds>,
    /// The sockets of each room fanned out to, kept while no socket joins or leaves one.
    pub(crate) rooms: Arc<RoomLists>,
    /// Tenants whose statistics changed since the last push.
    pub(crate) stats_dirty: Arc<Dirty>,
    /// Password verification: the dummy hash, concurrency, a count of checks run.
    pub passwords: Arc<Passwords>,
    /// Failed-login budgets per account and per address.
    pub(crate) login_throttle: Arc<LoginThrottle>,
    /// Open sockets per user and per address, for the connection limits.
    pub(crate) quota: Arc<Quota>,
    /// Renders `/metrics`.
    pub(crate) metrics: PrometheusHandle,
    /// When the server started, for uptime.
    pub started: Instant,
}
