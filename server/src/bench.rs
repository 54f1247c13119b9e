//! This module deals with the benchmark broadcaster, a test load for `pulse-bench` (the load
//! generator in `bench/`): `POST /api/bench/broadcast {rate, size, seconds, event?, seq?}` emits
//! `event` (default `bench:tick`) with `{ sent_at_us, due_at_us, n, pad }` to the caller's tenant room
//! `rate` times a second for `seconds`, then answers `{ emitted, sockets, elapsed_ms }`. With
//! `seq`, each tick also carries one, as an event-log entry does (see [`Tick::seq`]).
//!
//! Off by default: the route exists only when the server runs with `--bench` /
//! `PULSE_BENCH=1`, and only an `admin` of the tenant may call it. Ticks bypass the event
//! log on purpose: the benchmark measures fan-out (socketioxide, the WebSocket writes), not
//! SQLite. `sent_at_us` is the operating system's clock, not the injected [`crate::Clock`],
//! because the generator compares it with its own OS clock on the same host.
//!
//! The schedule is absolute (tick `n` is due at `start + n / rate`); a late wake-up sends
//! every tick already due, so the server never silently sends fewer than asked, and
//! `elapsed_ms` shows when it could not keep up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use pulse_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppJson};
use crate::feed::broadcast::{fan_out, Audience, Room};
use crate::state::AppState;

/// Most ticks per second and longest run one request may ask for; bounds every loop.
const MAX_RATE: f64 = 100_000.0;
const MAX_SECONDS: f64 = 600.0;
/// Largest `pad`, well under the engine's frame cap.
const MAX_SIZE: usize = 64 * 1024;

/// What to broadcast.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BenchBroadcast {
    /// Ticks per second.
    rate: f64,
    /// Bytes of the serialized tick argument (at least the fixed fields).
    size: usize,
    /// How long to broadcast.
    seconds: f64,
    /// Event name; `bench:tick` by default.
    event: Option<String>,
    /// Give each tick a `seq`, so a client applies it as a log entry (once, by its `seq`) when
    /// `event` names one.
    #[serde(default)]
    seq: bool,
}

/// What was broadcast.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct BenchReport {
    /// Ticks sent.
    emitted: u64,
    /// Sockets in the room when the run started.
    sockets: u64,
    /// Wall time of the run.
    elapsed_ms: u64,
    /// Per-socket sends the server gave up on (e.g. a socket's send buffer was full, or it
    /// was closing): loss on the server's side of the wire.
    dropped: u64,
}

/// One tick, the argument of the event.
#[derive(Debug, Serialize)]
struct Tick<'a> {
    sent_at_us: u64,
    /// When the schedule wanted it sent (same clock): a broadcaster behind its schedule shows
    /// in `sent_at_us − due_at_us`, which latency from the send leaves out.
    due_at_us: u64,
    n: u64,
    /// The tick's due time in µs: it grows within a run and from one run to the next, as a
    /// log's `seq` does, so a client that drops entries at or below the last one drops none.
    /// (The ticks are still not in the log: nothing catches them up.)
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    pad: &'a str,
}

/// The bench routes; merged into the app only in bench mode.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/bench/broadcast", post(bench_broadcast))
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The `pad` that makes a tick serialize to about `size` bytes.
fn pad_for(size: usize, seq: bool) -> String {
    // `{"sent_at_us":1763790000000000,"due_at_us":1763790000000000,"n":123456,"pad":""}` is
    // about 80 bytes; `"seq":1763790000000000,` 23 more.
    let fixed = if seq { 103 } else { 80 };
    "x".repeat(size.min(MAX_SIZE).saturating_sub(fixed))
}

async fn bench_broadcast(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<BenchBroadcast>,
) -> Result<Json<BenchReport>, AppError> {
    let user_id = caller.user_id.ok_or_else(|| AppError::forbidden("admins only"))?;
    let mut conn = state.db.acquire().await?;
    let user = db::users::by_id(&mut conn, user_id).await?;
    drop(conn);
    if user.is_none_or(|u| u.role != "admin") {
        return Err(AppError::forbidden("admins only"));
    }
    if !(req.rate > 0.0 && req.rate <= MAX_RATE && req.seconds > 0.0 && req.seconds <= MAX_SECONDS)
    {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            format!("rate must be in (0, {MAX_RATE}] and seconds in (0, {MAX_SECONDS}]"),
        ));
    }
    let event = req.event.clone().unwrap_or_else(|| "bench:tick".to_owned());
    Ok(Json(broadcast(&state, caller.tenant_id, &event, &req).await))
}

/// Runs the schedule; returns when the last tick is sent.
async fn broadcast(
    state: &AppState,
    tenant_id: pulse_protocol::events::Id,
    event: &str,
    req: &BenchBroadcast,
) -> BenchReport {
    let to = Audience { room: Room::Tenant(tenant_id), topic: None };
    let total = (req.rate * req.seconds).round() as u64;
    let period = Duration::from_secs_f64(1.0 / req.rate);
    let pad = pad_for(req.size, req.seq);
    let sockets = state.io.of("/").map_or(0, |ns| ns.to(to.room.name()).sockets().len()) as u64;
    // Read before `start`, so no tick counts as sent before it was due.
    let start_us = now_us();
    let start = tokio::time::Instant::now();
    let (mut n, mut dropped) = (0u64, 0u64);
    while n < total {
        let due = start + period.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        // Everything due by now goes out, so a slow wake-up does not shrink the run. In one
        // burst: the sockets' writers run on the other workers meanwhile, and after it.
        let now = tokio::time::Instant::now();
        while n < total && start + period.mul_f64(n as f64) <= now {
            let due_at_us = start_us + period.mul_f64(n as f64).as_micros() as u64;
            let seq = req.seq.then_some(due_at_us);
            let tick = Tick { sent_at_us: now_us(), due_at_us, n, seq, pad: &pad };
            // The same per-socket fan-out as logged events; ticks are not in the log, so a
            // socket with a full queue cannot be caught up and its tick counts as dropped.
            match serde_json::value::to_raw_value(&tick) {
                Ok(payload) => {
                    // In this turn only while no later tick is due: a broadcaster behind
                    // its schedule queues, so that writes gather (`fan_out`).
                    let next_due = start + period.mul_f64((n + 1) as f64);
                    let on_time = || n + 1 >= total || tokio::time::Instant::now() < next_due;
                    let full = fan_out(state, to, event, &payload, |_| true, on_time);
                    dropped += full.len() as u64;
                }
                Err(e) => tracing::warn!(error = %e, "bench tick not sent"),
            }
            n += 1;
        }
    }
    BenchReport { emitted: n, sockets, elapsed_ms: start.elapsed().as_millis() as u64, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_serialize_to_about_the_asked_size() {
        let now = now_us();
        for seq in [None, Some(now - 1_000)] {
            let pad = pad_for(256, seq.is_some());
            let tick = Tick { sent_at_us: now, due_at_us: now - 1_000, n: 12_345, seq, pad: &pad };
            let json = serde_json::to_string(&tick).unwrap();
            assert!((250..=262).contains(&json.len()), "{} bytes: {json}", json.len());
        }
        // Tiny sizes keep the fixed fields; huge ones are capped.
        assert_eq!(pad_for(10, false), "");
        assert_eq!(pad_for(10 * MAX_SIZE, false).len(), MAX_SIZE - 80);
    }
}
