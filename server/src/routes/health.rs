//! This module deals with `GET /health`: database and connections, 503 when degraded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pulse_protocol::rest::Health;

use crate::db;
use crate::state::AppState;

/// Whether the server and its database answer.
pub(super) async fn health_get(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (code, status, database) = match db::ping(&state.db).await {
        Ok(()) => (StatusCode::OK, "ok", "ok".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, "degraded", e.to_string()),
    };
    let health = Health {
        status: status.to_owned(),
        database,
        connections: state.io.sockets().len() as u64,
        uptime_s: state.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    (code, Json(health))
}
