//! This module deals with entries other nodes write: PostgreSQL LISTEN/NOTIFY wakes this node
//! when another commits to a tenant's log, and it fans them out from the log
//! ([`super::broadcast::advance`]); a sweep every second reads each tenant's head in case a
//! wake-up was lost (the listener reconnecting, the database restarting), and reports how far
//! this node was behind (`pulse_log_lag_entries`). On SQLite only the sweep runs: it retries a
//! fan-out that failed after its commit.

use std::time::Duration;

use sqlx::postgres::PgListener;

use super::broadcast;
use crate::db::{self, Backend};
use crate::state::AppState;

/// How often every tenant with sockets here is checked against the log's head.
const SWEEP: Duration = Duration::from_secs(1);

/// Runs until aborted.
pub(crate) async fn run(state: AppState) {
    match state.db.backend() {
        Backend::Sqlite => loop {
            tokio::time::sleep(SWEEP).await;
            sweep(&state).await;
        },
        Backend::Postgres => loop {
            match listen(&state).await {
                Ok(l) => follow(&state, l).await,
                Err(e) => {
                    metrics::gauge!("pulse_database_up").set(0.0);
                    tracing::warn!(error = %e, "cannot listen for other nodes' writes; retrying");
                    tokio::time::sleep(SWEEP).await;
                }
            }
        },
    }
}

async fn listen(state: &AppState) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect(state.db.url()).await?;
    l.listen(db::event_log::CHANNEL).await?;
    Ok(l)
}

/// Follows wake-ups until the listener fails for good; sweeps after every (re)connection,
/// since notifications sent meanwhile are gone.
async fn follow(state: &AppState, mut listener: PgListener) {
    sweep(state).await;
    let mut tick = tokio::time::interval(SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            n = listener.try_recv() => match n {
                Ok(Some(n)) => {
                    let Some((tenant_id, upto)) = db::event_log::parse_notification(n.payload())
                    else {
                        continue;
                    };
                    state.stats_dirty.mark(tenant_id);
                    if let Err(e) = broadcast::advance(state, tenant_id, upto, &[]).await {
                        tracing::warn!(error = %e, tenant_id, "fan-out of another node's write failed");
                    }
                }
                // The connection dropped; the next call reconnects. Catch up meanwhile.
                Ok(None) => {
                    metrics::gauge!("pulse_database_up").set(0.0);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    sweep(state).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listener failed");
                    return;
                }
            },
            _ = tick.tick() => sweep(state).await,
        }
    }
}

/// Brings every tenant's feed on this node to the log's head.
async fn sweep(state: &AppState) {
    let mut lag = 0;
    let mut ok = true;
    for tenant_id in state.log.tenants() {
        let before = state.log.lock(tenant_id).await.cursor;
        let Some(before) = before else { continue };
        match broadcast::sync(state, tenant_id).await {
            Ok(head) => lag = lag.max(head.saturating_sub(before)),
            Err(e) => {
                ok = false;
                tracing::debug!(error = %e, tenant_id, "sweep failed");
            }
        }
    }
    if ok {
        ok = state.db.ping().await.is_ok();
    }
    metrics::gauge!("pulse_database_up").set(if ok { 1.0 } else { 0.0 });
    metrics::gauge!("pulse_log_lag_entries").set(lag as f64);
}
