//! This module deals with the Socket.IO namespace: what happens when a client connects, and
//! one handler per client event, named after it. Handlers get the [`AppState`] by closure
//! capture: the state holds the `SocketIo` handle, which only exists once the layer is built.

use std::future::Future;

use pulse_protocol::events::{Pong, Stats, PING, PONG, STATS_REQUEST};
use pulse_protocol::{Ack, Envelope};
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::SocketIo;

use crate::state::AppState;

/// The room of the (for now single) demo tenant; per-tenant rooms arrive with auth.
pub(crate) const TENANT_ROOM: &str = "tenant:1";

/// Installs the `/` namespace.
pub(crate) fn register(io: &SocketIo, state: AppState) {
    io.ns("/", move |socket: SocketRef| {
        let state = state.clone();
        async move { on_connect(socket, state) }
    });
}

/// Sets up a newly connected socket: rooms, then its event handlers.
fn on_connect(socket: SocketRef, state: AppState) {
    socket.join(TENANT_ROOM);
    socket.on(PING, with_state(&state, ping));
    socket.on(STATS_REQUEST, with_state(&state, stats_request));
}

/// Adapts `handler(socket, ack, state)` to socketioxide's extractor-based handler shape.
fn with_state<F, Fut>(
    state: &AppState,
    handler: F,
) -> impl Fn(SocketRef, AckSender) -> Fut + Clone + Send + Sync + 'static
where
    F: Fn(SocketRef, AckSender, AppState) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let state = state.clone();
    move |socket, ack| handler(socket, ack, state.clone())
}

/// `ping`: acks with the server time and also emits `pong`, as the seeds' clients expect.
async fn ping(socket: SocketRef, ack: AckSender, state: AppState) {
    let pong = Pong {
        server_time: state.clock.now_ms(),
    };
    let _ = ack.send(&Ack::Ok(pong));
    let _ = socket.emit(PONG, &pong);
}

/// `stats:request`: acks with the current statistics.
async fn stats_request(_socket: SocketRef, ack: AckSender, state: AppState) {
    let _ = ack.send(&Ack::Ok(current_stats(&state)));
}

/// Today's statistics in their wire envelope.
pub(crate) fn current_stats(state: &AppState) -> Envelope<Stats> {
    let ts = state.clock.now_ms();
    let (seq, data) = state.business.stats(ts);
    Envelope { seq, ts, data }
}
