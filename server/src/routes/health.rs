//! This module deals with `GET /health` (this node, its database, Redis and peers; 503 when
//! the database does not answer) and `GET /health/live` (200 while the process serves and is
//! not draining: what a load balancer checks, so a node is not taken out when the shared
//! database is down, and is taken out before it closes its sockets on shutdown).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pulse_protocol::rest::{Health, Peer};

use crate::cluster;
use crate::state::AppState;

/// How long `/health` waits for the database.
const PING_WITHIN: Duration = Duration::from_secs(1);

/// Whether the server and its database answer, and who else serves the same store.
pub(super) async fn health_get(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    // A database that does not answer within a second is down for a health check: a monitor
    // must learn it at once, not after the pool's acquire timeout.
    let ping = tokio::time::timeout(PING_WITHIN, state.db.ping()).await;
    let (code, status, database) = match ping {
        Ok(Ok(())) => (StatusCode::OK, "ok", "ok".to_owned()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, "degraded", e.to_string()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "degraded",
            format!("no answer within {} ms", PING_WITHIN.as_millis()),
        ),
    };
    // Peers live in the same database: not asked when it is down.
    let peers = if code == StatusCode::OK {
        cluster::peers(&state)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(node, addr, seen_ms_ago)| Peer { node, addr, seen_ms_ago })
            .collect()
    } else {
        Vec::new()
    };
    let health = Health {
        status: status.to_owned(),
        database,
        connections: crate::realtime::sockets(&state.io).len() as u64,
        uptime_s: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        node: state.node.id.clone(),
        backend: state.db.backend().as_str().to_owned(),
        leader: state.node.is_leader(),
        redis: state.redis.as_ref().map(|r| r.status()),
        peers,
    };
    (code, Json(health))
}

/// The process serves HTTP and is not shutting down.
pub(super) async fn health_live(State(state): State<AppState>) -> StatusCode {
    if state.node.is_draining() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}
