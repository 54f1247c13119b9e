//! This module deals with sockets whose access token expires while they are open.
//!
//! A token is checked at CONNECT, and every action re-checks it; without this sweep a socket
//! whose token expired would go on receiving its tenant's events. Every
//! `expiry_check_ms` the open sockets are checked against the injected clock: an expired
//! one gets an `error` event (TOKEN_EXPIRED) and is disconnected. A client that has
//! refreshed its session reconnects with the new token (the SDK's connection machine asks
//! for new credentials on this `error` and DISCONNECT) and resumes from its `lastSeq`,
//! losing nothing.

use std::time::Duration;

use pulse_protocol::{ErrorCode, WireError};

use super::admitted::Admitted;
use crate::state::AppState;

/// Runs until aborted (on shutdown).
pub(crate) async fn run_sweeper(state: AppState) {
    let every = Duration::from_millis(state.config.expiry_check_ms.max(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let kicked = sweep(&state);
        if kicked > 0 {
            tracing::info!(sockets = kicked, "disconnected sockets whose token expired");
        }
    }
}

/// Disconnects every socket whose token has expired; returns how many.
fn sweep(state: &AppState) -> usize {
    let now = state.clock.now_ms();
    let mut kicked = 0;
    for socket in super::sockets(&state.io) {
        let expired =
            Admitted::of(&socket).is_some_and(|a| a.caller.expires_at.is_some_and(|at| at <= now));
        if !expired {
            continue;
        }
        let why = WireError::new(
            ErrorCode::TokenExpired,
            "the session token expired; reconnect with a fresh token",
        );
        if super::end(&socket, &why) {
            metrics::counter!("pulse_errors_total", "code" => ErrorCode::TokenExpired.as_str())
                .increment(1);
            kicked += 1;
        }
    }
    kicked
}
