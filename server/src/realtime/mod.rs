//! This module deals with the Socket.IO `/` namespace: the connect middleware (auth in
//! `auth.rs`, connection limits in `quota.rs`), resuming a reconnecting socket from its
//! `lastSeq`, the rooms `tenant:{id}` and `user:{id}`, one handler per client event
//! (`handlers.rs`) behind the per-socket limits (`limits.rs`), ending sockets whose token
//! expired (`expiry.rs`), and the request head each socket keeps (`head.rs`).
//!
//! Handlers are installed by the middleware, before the CONNECT packet goes out, so a client
//! that emits right after connecting never races an uninstalled handler. The connect handler
//! then joins the rooms and, for a socket resuming with missed entries, starts its catch-up
//! from the log, under the tenant's lock (see [`crate::events`]), so missed events strictly
//! precede live ones.

pub(crate) mod expiry;
mod handlers;
pub(crate) mod head;
pub(crate) mod limits;
pub(crate) mod quota;

use std::sync::Arc;

use pulse_protocol::events::{ConnectAuth, ERROR};
use pulse_protocol::{ErrorCode, WireError};
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide::SocketIo;

use crate::auth::{self, Caller, ResumeFrom};
use crate::db;
use crate::events::broadcast::{tenant_room, user_room};
use crate::events::catchup::{self, Why};
use crate::state::AppState;
use quota::Seat;

/// Installs the `/` namespace.
pub(crate) fn register(io: &SocketIo, state: AppState) {
    let mw_state = state.clone();
    let middleware = move |socket: SocketRef, auth: TryData<ConnectAuth>| {
        let state = mw_state.clone();
        async move {
            auth::authenticate_socket(state.clone(), socket.clone(), auth).await?;
            limits::install(&socket, &state);
            handlers::install(&socket, &state);
            Ok::<(), auth::ConnectRefusal>(())
        }
    };
    let on_connect = move |socket: SocketRef| {
        let state = state.clone();
        async move { connected(socket, state).await }
    };
    io.ns("/", on_connect.with(middleware));
}

/// Joins the socket's rooms and, if it resumes with missed entries, starts catching it up,
/// all under the tenant's lock.
async fn connected(socket: SocketRef, state: AppState) {
    let Some(caller) = socket.extensions.get::<Caller>() else {
        // The middleware always sets it; without it the socket may see nothing.
        let _ = socket.disconnect();
        return;
    };
    metrics::gauge!("pulse_connections_active").increment(1.0);
    let tenant_id = caller.tenant_id;
    let log_state = state.clone();
    socket.on_disconnect(move |socket: SocketRef, reason: DisconnectReason| async move {
        metrics::gauge!("pulse_connections_active").decrement(1.0);
        // Free the connection slot now, not when the last handle to the socket is dropped.
        socket.extensions.remove::<Arc<Seat>>();
        catchup::forget(&mut *log_state.log.lock(tenant_id).await, socket.id);
        if matches!(reason, DisconnectReason::PacketParsingError) {
            // socketioxide closes the connection on a malformed packet; count it.
            metrics::counter!("pulse_errors_total", "code" => "MALFORMED_PACKET").increment(1);
            tracing::info!("socket closed: malformed packet");
        }
    });
    let resume = socket.extensions.get::<ResumeFrom>().and_then(|r| r.0);
    let mut feed = state.log.lock(tenant_id).await;
    let head = match log_head(&state, tenant_id).await {
        Ok(h) => h,
        Err(e) => {
            // Without the log's head the socket could miss entries: refuse it for now; the
            // client retries with backoff and resumes once the database answers.
            tracing::warn!(error = %e, "connect: log unavailable");
            let _ = socket.emit(ERROR, &unavailable());
            let _ = socket.disconnect();
            return;
        }
    };
    // The first socket of the tenant here: fan-out starts at the head; older entries reach
    // sockets through their catch-up.
    let cursor = *feed.cursor.get_or_insert(head);
    if let (Some(last_seq), Some(user_id)) = (resume, caller.user_id) {
        let resumed = if last_seq > head {
            Err(WireError::new(
                ErrorCode::ResyncRequired,
                format!(
                    "lastSeq {last_seq} is ahead of the log (head {head}): reload through REST, then continue from seq {head}"
                ),
            ))
        } else {
            missed(&state, &caller, user_id, last_seq).await.map_err(|e| e.into_wire())
        };
        match resumed {
            Ok(Missed::None) if last_seq <= cursor => {}
            Ok(Missed::None | Missed::Some) => {
                catchup::start(&state, &mut feed, Why::Resume, socket.clone(), tenant_id, last_seq)
            }
            Ok(Missed::TooMany { head }) => {
                let limit = state.config.replay_limit;
                let _ = socket.emit(
                    ERROR,
                    &WireError::new(
                        ErrorCode::ResyncRequired,
                        format!(
                            "more than {limit} events were missed; reload through REST, then continue from seq {head}"
                        ),
                    ),
                );
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "replay refused");
                let _ = socket.emit(ERROR, &e);
            }
        }
    }
    socket.join(tenant_room(tenant_id));
    if let Some(u) = caller.user_id {
        socket.join(user_room(u));
    }
}

async fn log_head(state: &AppState, tenant_id: i64) -> Result<u64, sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    db::event_log::head(&mut conn, tenant_id).await
}

fn unavailable() -> WireError {
    WireError::new(ErrorCode::Unavailable, "the database is unavailable; retry shortly")
}

/// What a resuming socket missed.
enum Missed {
    None,
    Some,
    /// More than the replay limit: the client reloads through REST instead.
    TooMany {
        head: u64,
    },
}

async fn missed(
    state: &AppState,
    caller: &Caller,
    user_id: i64,
    last_seq: u64,
) -> Result<Missed, crate::error::AppError> {
    let limit = state.config.replay_limit;
    let mut conn = state.db.acquire().await?;
    // Only the count matters here; the catch-up reads the entries page by page.
    let missed =
        db::event_log::count_since(&mut conn, caller.tenant_id, user_id, last_seq, limit + 1)
            .await?;
    Ok(if missed > limit {
        let head = db::event_log::head(&mut conn, caller.tenant_id).await?;
        Missed::TooMany { head }
    } else if missed == 0 {
        Missed::None
    } else {
        metrics::counter!("pulse_events_replayed_total").increment(missed);
        Missed::Some
    })
}
