//! This module deals with `GET /metrics`: the Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// Renders every metric (see the crate docs for the list).
pub(super) async fn metrics_get(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("pulse_connections_open").set(crate::realtime::sockets(&state.io).len() as f64);
    if let Some(rss) = proc_status_kib("VmRSS:") {
        metrics::gauge!("pulse_process_resident_memory_bytes").set(rss * 1024.0);
    }
    if let Some(max) = open_files_limit() {
        // Each socket holds one file descriptor; keep some for the database, logs and files.
        metrics::gauge!("pulse_connections_max").set((max - FD_RESERVE).max(0.0));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// File descriptors kept for other uses than sockets.
const FD_RESERVE: f64 = 256.0;

/// A `kB` line of /proc/self/status (Linux).
fn proc_status_kib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit on open files (Linux), which bounds the sockets a node can hold.
fn open_files_limit() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}
