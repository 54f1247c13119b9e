//! This module deals with per-socket limits: a token bucket on client events (an `error`
//! event then a disconnect when it runs dry) and the largest accepted event.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pulse_protocol::{ErrorCode, WireError};
use socketioxide::extract::SocketRef;

use crate::state::AppState;

/// A token bucket: `burst` events at once, refilled at `rate` per second.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    pub(crate) fn new(rate: f64, burst: f64, now: Instant) -> Bucket {
        Bucket { tokens: burst, last: now, rate, burst }
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The socket's bucket, kept in its extensions.
#[derive(Debug, Clone)]
struct SocketBucket(Arc<Mutex<Bucket>>);

/// Gives a new socket its bucket.
pub(crate) fn install(socket: &SocketRef, state: &AppState) {
    let b = Bucket::new(
        state.config.event_rate.max(0.1),
        state.config.event_burst.max(1.0),
        Instant::now(),
    );
    socket.extensions.insert(SocketBucket(Arc::new(Mutex::new(b))));
}

/// Admits one client event, or tells the client why not and disconnects it. A socket being
/// ended admits nothing more.
pub(crate) fn admit(socket: &SocketRef) -> Result<(), WireError> {
    if socket.extensions.get::<super::Ending>().is_some() {
        return Err(rate_limited());
    }
    let ok = socket
        .extensions
        .get::<SocketBucket>()
        .is_none_or(|b| b.0.lock().unwrap_or_else(|e| e.into_inner()).take(Instant::now()));
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
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 3.0, t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(500)));
        assert!(!b.take(t0 + Duration::from_millis(600)));
    }
}
