//! This module deals with the ticking "now" that countdowns and "last updated" labels read,
//! so the page re-renders them twice a second without each keeping its own timer.

use std::time::Duration;

use leptos::prelude::*;
use web_time::{Instant, SystemTime, UNIX_EPOCH};

/// The current time as signals; provided once by [`provide_clock`].
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic now, for countdowns to SDK deadlines.
    pub instant: RwSignal<Instant>,
    /// Wall-clock now, ms since the epoch, for "3 s ago" against server timestamps.
    pub wall_ms: RwSignal<i64>,
}

/// Wall-clock milliseconds since the epoch.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Runs `f` every `period` while the calling owner lives: a timer left behind would run on
/// after signing out, and once more per sign-in.
pub fn every(period: Duration, f: impl Fn() + 'static) {
    if let Ok(h) = set_interval_with_handle(f, period) {
        on_cleanup(move || h.clear());
    }
}

/// Creates the clock, starts its timer and puts it in context.
pub fn provide_clock() -> Clock {
    let clock = Clock { instant: RwSignal::new(Instant::now()), wall_ms: RwSignal::new(wall_ms()) };
    set_interval(
        move || {
            clock.instant.set(Instant::now());
            clock.wall_ms.set(wall_ms());
        },
        Duration::from_millis(500),
    );
    provide_context(clock);
    clock
}
