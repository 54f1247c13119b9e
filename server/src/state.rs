//! This module deals with what every handler shares, in one struct.

use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use socketioxide::SocketIo;
use sqlx::SqlitePool;

use crate::auth::Keys;
use crate::clock::Clock;
use crate::config::Config;
use crate::events::log::TenantLocks;
use crate::events::stats::Dirty;
use crate::realtime::quota::Quota;

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration the server started with.
    pub config: Arc<Config>,
    /// Wall-clock source for event timestamps, token expiry and demo dates.
    pub clock: Arc<dyn Clock>,
    /// The SQLite store.
    pub db: SqlitePool,
    /// JWT keys.
    pub keys: Arc<Keys>,
    /// The Socket.IO handle, for broadcasting.
    pub io: SocketIo,
    /// Per-tenant locks that keep event-log order equal to broadcast order.
    pub(crate) log: Arc<TenantLocks>,
    /// Tenants whose statistics changed since the last push.
    pub(crate) stats_dirty: Arc<Dirty>,
    /// Open sockets per user and per address, for the connection limits.
    pub(crate) quota: Arc<Quota>,
    /// Renders `/metrics`.
    pub(crate) metrics: PrometheusHandle,
    /// When the server started, for uptime.
    pub started: Instant,
}
