//! This module deals with `stats:updated`: today's figures per tenant, pushed on a steady
//! interval (so an idle dashboard still sees fresh times) and soon after each change,
//! coalesced so a busy tenant gets at most one push per tick (250 ms at most).

use pulse_protocol::money::round_cents;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use pulse_protocol::events::{Id, ServerEvent, Stats, StatsUpdated, STATS_UPDATED};
use pulse_protocol::Envelope;

use crate::db;
use crate::error::AppError;
use crate::feed::broadcast::{fan_out, Audience, Room};
use crate::realtime::admitted::Admitted;
use crate::state::AppState;
use pulse_protocol::calendar;

/// Tenants whose figures changed since the last push.
#[derive(Debug, Default)]
pub(crate) struct Dirty(Mutex<HashSet<Id>>);

impl Dirty {
    /// Notes that a tenant's figures changed.
    pub(crate) fn mark(&self, tenant_id: Id) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant_id);
    }

    fn take(&self) -> HashSet<Id> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Today's figures for a tenant, stamped with the log head they were computed at.
pub(crate) async fn current(state: &AppState, tenant_id: Id) -> Result<Envelope<Stats>, AppError> {
    let ts = state.clock.now_ms();
    let today = calendar::day_of(ts);
    let mut conn = state.db.acquire().await?;
    // Read the head first: the figures then include at least everything up to it.
    let seq = db::event_log::head(&mut conn, tenant_id).await?;
    let (liters, sales, deliveries, active) =
        db::deliveries::day_totals(&mut conn, tenant_id, &today).await?;
    let collection = db::payments::day_total(&mut conn, tenant_id, &today).await?;
    let outstanding = db::customers::outstanding(&mut conn, tenant_id).await?;
    Ok(Envelope {
        seq,
        ts,
        data: Stats {
            today_liters: round_cents(liters),
            today_sales: round_cents(sales),
            today_collection: round_cents(collection),
            outstanding: round_cents(outstanding),
            active_customers: active,
            deliveries_today: deliveries,
        },
    })
}

/// Pushes `stats:updated` to changed tenants every tick, and to every tenant with sockets
/// every `stats_interval`. With Redis up, only the leader computes them, once for the
/// cluster, and publishes them to every node ([`crate::relay`]); otherwise each node pushes
/// to its own sockets.
pub(crate) async fn run_pusher(state: AppState) {
    let full_every = state.config.stats_interval();
    let tick_every = full_every.min(Duration::from_millis(250));
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_full = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let mut tenants = state.stats_dirty.take();
        let full = last_full.elapsed() >= full_every;
        if full {
            last_full = tokio::time::Instant::now();
        }
        let relay = state.redis.clone().filter(|r| r.is_up());
        if relay.is_some() && !state.node.is_leader() {
            continue;
        }
        if full {
            match &relay {
                Some(_) => match crate::cluster::tenants_with_sockets(&state).await {
                    Ok(ids) => tenants.extend(ids),
                    Err(e) => tracing::debug!(error = %e, "tenants of the cluster unknown"),
                },
                None => tenants.extend(connected_tenants(&state)),
            }
        }
        for tenant_id in tenants {
            let stats = match current(&state, tenant_id).await {
                Ok(stats) => stats,
                Err(e) => {
                    tracing::warn!(error = %e, tenant_id, "stats failed");
                    continue;
                }
            };
            if let Some(relay) = &relay {
                if relay.publish_stats(tenant_id, stats.clone()).await {
                    continue;
                }
            }
            push(&state, tenant_id, &stats);
        }
    }
}

/// Sends a tenant's figures to its sockets on this node subscribed to them. Not logged: a
/// socket whose queue is full misses this push and gets the next.
pub(crate) fn push(state: &AppState, tenant_id: Id, stats: &Envelope<Stats>) {
    let payload = match serde_json::value::to_raw_value(stats) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "stats not sent");
            return;
        }
    };
    let to = Audience { room: Room::Tenant(tenant_id), topic: StatsUpdated::TOPIC };
    fan_out(state, to, STATS_UPDATED, &payload, |_| true, || false);
    metrics::counter!("pulse_events_emitted_total", "event" => STATS_UPDATED).increment(1);
}

/// The tenants with sockets on this node.
pub(crate) fn connected_tenants(state: &AppState) -> HashSet<Id> {
    crate::realtime::sockets(&state.io)
        .iter()
        .filter_map(|s| Admitted::of(s).map(|a| a.caller.tenant_id))
        .collect()
}
