//! This module deals with sending logged events to rooms: `tenant:{id}` for tenant-wide
//! entries and `user:{id}` for a user's own, each as one `{ seq, ts, data }` argument, to
//! each socket in turn so that one with a full queue is noticed and caught up.

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use pulse_protocol::Envelope;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError, SocketIo};

use super::catchup::{self, Why};
use super::log::{Entry, Feed};
use crate::state::AppState;

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

/// Emits committed entries in order, socket by socket. Call with the tenant's lock held as
/// `feed`. A socket whose queue is full misses nothing: it is caught up from the log from that
/// entry on ([`super::catchup`]), and sockets already behind are skipped.
pub(crate) fn emit(state: &AppState, feed: &mut Feed, tenant_id: Id, entries: &[Entry]) {
    for e in entries {
        let room = match e.user_id {
            Some(u) => user_room(u),
            None => tenant_room(tenant_id),
        };
        let payload = match serde_json::value::to_raw_value(&envelope(&e.event)) {
            Ok(p) => p,
            Err(err) => {
                tracing::error!(error = %err, event = %e.event.event, "entry not serializable");
                continue;
            }
        };
        let full =
            fan_out(&state.io, room, &e.event.event, &payload, |s| !feed.behind.contains(&s.id));
        for socket in full {
            catchup::start(state, feed, Why::QueueFull, socket, tenant_id, e.event.seq - 1);
        }
        metrics::counter!("pulse_events_emitted_total", "event" => e.event.event.clone())
            .increment(1);
    }
}

/// Sends `payload` (serialized once) as `event` to each socket of `room` that `live`
/// accepts; returns the sockets whose queue was full, which got nothing.
pub(crate) fn fan_out(
    io: &SocketIo,
    room: String,
    event: &str,
    payload: &RawValue,
    mut live: impl FnMut(&SocketRef) -> bool,
) -> Vec<SocketRef> {
    let mut full = Vec::new();
    for socket in io.to(room).sockets() {
        if !live(&socket) {
            continue;
        }
        match socket.emit(event, payload) {
            Ok(()) => {}
            Err(SendError::Socket(SocketError::InternalChannelFull)) => full.push(socket),
            Err(err) => tracing::debug!(error = %err, "fan-out to a closing socket"),
        }
    }
    full
}
