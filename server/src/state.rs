//! This module deals with what every handler shares, in one struct.

use std::sync::Arc;
use std::time::Instant;

use socketioxide::SocketIo;

use crate::business::Business;
use crate::clock::Clock;
use crate::config::Config;

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration the server started with.
    pub config: Arc<Config>,
    /// Wall-clock source for event timestamps.
    pub clock: Arc<dyn Clock>,
    /// The business's books.
    pub business: Arc<Business>,
    /// The Socket.IO handle, for broadcasting.
    pub io: SocketIo,
    /// When the server started, for uptime.
    pub started: Instant,
}
