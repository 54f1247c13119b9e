//! This module deals with sending logged events to rooms: `tenant:{id}` for tenant-wide
//! entries and `user:{id}` for a user's own, each as one `{ seq, ts, data }` argument.

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use pulse_protocol::Envelope;
use socketioxide::extract::SocketRef;
use socketioxide::SocketIo;

use super::log::Entry;

/// The room of every socket of a tenant.
pub(crate) fn tenant_room(tenant_id: Id) -> String {
    format!("tenant:{tenant_id}")
}

/// The room of every socket of one user.
pub(crate) fn user_room(user_id: Id) -> String {
    format!("user:{user_id}")
}

/// The wire form of a log entry.
pub(crate) fn envelope(e: &LoggedEvent) -> Envelope<&serde_json::Value> {
    Envelope { seq: e.seq, ts: e.ts, data: &e.data }
}

/// Emits committed entries in order. Call with the tenant's lock held.
pub(crate) async fn emit(io: &SocketIo, tenant_id: Id, entries: &[Entry]) {
    for e in entries {
        let room = match e.user_id {
            Some(u) => user_room(u),
            None => tenant_room(tenant_id),
        };
        if let Err(err) = io.to(room).emit(&e.event.event, &envelope(&e.event)).await {
            tracing::warn!(error = %err, event = %e.event.event, "broadcast failed");
        }
        metrics::counter!("pulse_events_emitted_total", "event" => e.event.event.clone())
            .increment(1);
    }
}

/// Sends one entry to one socket (replay).
pub(crate) fn emit_to(socket: &SocketRef, e: &LoggedEvent) {
    if let Err(err) = socket.emit(&e.event, &envelope(e)) {
        tracing::debug!(error = %err, "replay emit failed");
    }
}
