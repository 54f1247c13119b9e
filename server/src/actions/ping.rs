//! This module deals with `ping`: the server's time, for RTT and clock skew.

use pulse_protocol::events::Pong;

use crate::state::AppState;

/// The server's clock now.
pub(crate) fn ping(state: &AppState) -> Pong {
    Pong { server_time: state.clock.now_ms() }
}
