//! This module deals with per-socket limits: a budget of client events (governor's GCRA,
//! which behaves as a token bucket: a burst, then a steady rate; an `error` event then a
//! disconnect when it runs dry) and the largest accepted event.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use pulse_protocol::{ErrorCode, WireError};
use socketioxide::extract::SocketRef;

use super::admitted::Admitted;
use crate::state::AppState;

/// A socket's event budget: `burst` events at once, refilled at `rate` per second (at least
/// one event every 10 s, and a burst of at least one).
pub(crate) fn quota(rate: f64, burst: f64) -> Quota {
    let period =
        Duration::try_from_secs_f64(1.0 / rate.max(0.1)).unwrap_or(Duration::from_secs(10));
    let burst =
        NonZeroU32::new(burst.clamp(1.0, f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// A new socket's budget (kept in its [`Admitted`]).
pub(crate) fn budget(state: &AppState) -> DefaultDirectRateLimiter {
    RateLimiter::direct(quota(state.config.event_rate, state.config.event_burst))
}

/// Admits one client event, or tells the client why not and disconnects it. A socket being
/// ended admits nothing more.
pub(crate) fn admit(socket: &SocketRef) -> Result<(), WireError> {
    if socket.extensions.get::<super::Ending>().is_some() {
        return Err(rate_limited());
    }
    let ok = Admitted::of(socket).is_none_or(|a| a.budget.check().is_ok());
    if ok {
        return Ok(());
    }
    let e = rate_limited();
    if super::end(socket, &e) {
        metrics::counter!("pulse_errors_total", "code" => "RATE_LIMITED").increment(1);
        tracing::info!(sid = %socket.id, "rate limit exceeded, disconnecting");
    }
    Err(e)
}

fn rate_limited() -> WireError {
    WireError::new(ErrorCode::RateLimited, "too many events on this connection; disconnecting")
}

/// Refuses a payload larger than `max_payload` bytes (as JSON).
pub(crate) fn check_size(state: &AppState, payload: &serde_json::Value) -> Result<(), WireError> {
    let size = serde_json::to_string(payload).map_or(usize::MAX, |s| s.len());
    if size as u64 > state.config.max_payload {
        return Err(WireError::new(
            ErrorCode::PayloadTooLarge,
            format!("payload is {size} bytes; the limit is {}", state.config.max_payload),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_socket_gets_a_burst_then_the_rate() {
        let clock = FakeRelativeClock::default();
        let b = RateLimiter::direct_with_clock(quota(2.0, 3.0), clock.clone());
        assert!((0..3).all(|_| b.check().is_ok()));
        assert!(b.check().is_err());
        clock.advance(Duration::from_millis(500));
        assert!(b.check().is_ok());
        clock.advance(Duration::from_millis(100));
        assert!(b.check().is_err());
    }

    #[test]
    fn odd_settings_still_make_a_budget() {
        let clock = FakeRelativeClock::default();
        let b = RateLimiter::direct_with_clock(quota(0.0, 0.0), clock.clone());
        assert!(b.check().is_ok() && b.check().is_err());
        clock.advance(Duration::from_secs(10));
        assert!(b.check().is_ok());
    }
}
