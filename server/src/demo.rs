//! This module deals with the demo business: a generator that records deliveries and
//! payments at a steady rate so a fresh dashboard is alive, and the ticker that pushes
//! `stats:updated` to clients.

use std::time::Duration;

use pulse_protocol::events::STATS_UPDATED;

use crate::realtime::{current_stats, TENANT_ROOM};
use crate::state::AppState;

const CUSTOMERS: u32 = 40;
const PRICE_PER_LITER: f64 = 1.2;

/// Records a delivery every `1 / rate` seconds and a payment every fourth tick, forever.
pub(crate) async fn run_generator(state: AppState, rate: f64) {
    let period = Duration::from_secs_f64(1.0 / rate.clamp(0.01, 1000.0));
    let mut tick = tokio::time::interval(period);
    let mut rng = XorShift(state.clock.now_ms() as u64 | 1);
    for n in 0u64.. {
        tick.tick().await;
        let now = state.clock.now_ms();
        let customer = 1 + (rng.next() % CUSTOMERS as u64) as u32;
        let liters = 0.5 * (1 + rng.next() % 6) as f64;
        state
            .business
            .record_delivery(customer, liters, PRICE_PER_LITER, now);
        if n % 4 == 3 {
            let payer = 1 + (rng.next() % CUSTOMERS as u64) as u32;
            let owed = state.business.balance(payer);
            if owed > 0.0 {
                state.business.record_payment(payer, owed.min(5.0), now);
            }
        }
    }
}

/// Pushes the tenant's statistics to its room every `stats_interval`.
pub(crate) async fn run_stats_ticker(state: AppState) {
    let mut tick = tokio::time::interval(state.config.stats_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let stats = current_stats(&state);
        if let Err(e) = state.io.to(TENANT_ROOM).emit(STATS_UPDATED, &stats).await {
            tracing::warn!(error = %e, "stats broadcast failed");
        }
    }
}

/// Marsaglia's xorshift64: enough to vary demo data, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
