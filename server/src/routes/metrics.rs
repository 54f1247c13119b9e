//! This module deals with `GET /metrics`: the Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// Renders every metric (see the crate docs for the list).
pub(super) async fn metrics_get(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("pulse_connections_open").set(state.io.sockets().len() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
