//! This module deals with the Socket.IO `/` namespace: the connect middleware (admission in
//! `connect.rs`, what it settled in `admitted.rs`, connection limits in `quota.rs`), resuming
//! a reconnecting socket from its `lastSeq`, its topics (`subscriptions.rs`), the table of
//! client events each
//! socket's one handler reads (`handlers.rs`) behind the per-socket limits (`limits.rs`),
//! ending sockets whose token expired (`expiry.rs`), and the request head each socket keeps
//! (`head.rs`).
//!
//! Handlers are installed by the middleware, before the CONNECT packet goes out, so a client
//! that emits right after connecting never races an uninstalled handler. The middleware also
//! enrols the socket in its tenant's fan-out (its rooms joined, marked behind at a known
//! position, under the tenant's feed lock); the connect handler then sends
//! `connection:status` (the log's epoch and head), refuses a resume from another log or from
//! ahead of it (RESYNC_REQUIRED), and catches the socket up from the log (see
//! [`crate::feed`]), so missed events strictly precede live ones and none slips by while
//! it connects.
//!
//! The server ends a socket (rate limit, expired token) with [`end`]: an `error` event saying
//! why, then DISCONNECT; the socket then lingers in the namespace until its client closes the
//! connection (bounded by [`LINGER`]), so the client always reads both before the transport
//! goes (see [`linger`]).

pub(crate) mod admitted;
mod connect;
pub(crate) mod expiry;
mod handlers;
pub(crate) mod head;
pub(crate) mod limits;
pub(crate) mod quota;
pub(crate) mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use pulse_protocol::events::{ConnectionStatus, CONNECTION_STATUS, ERROR};
use pulse_protocol::Envelope;
use pulse_protocol::{ErrorCode, WireError};
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;

use crate::auth::{self, Caller};
use crate::db;
use crate::error::AppError;
use crate::feed::catchup::{self, Why};
use crate::feed::log::Recent;
use crate::state::AppState;
use admitted::Admitted;
use connect::{ConnectRefusal, ResumeFrom};

/// Installs the `/` namespace.
pub(crate) fn register(io: &SocketIo, state: AppState) {
    // Each socket's handler keeps a pointer to it, not a copy of its handles.
    let shared = Arc::new(state.clone());
    let middleware = move |socket: SocketRef, auth: TryData<serde_json::Value>| {
        let shared = Arc::clone(&shared);
        let state = AppState::clone(&shared);
        async move {
            connect::authenticate_socket(state.clone(), socket.clone(), auth).await?;
            handlers::install(&socket, shared);
            enroll(&socket, &state).await.map_err(|e| ConnectRefusal(e.into_wire()))?;
            Ok::<(), ConnectRefusal>(())
        }
    };
    let on_connect = move |socket: SocketRef| {
        let state = state.clone();
        async move { connected(socket, state).await }
    };
    io.ns("/", on_connect.with(middleware));
}

/// What the connect handler sends a socket the middleware enrolled: the log's identity, a
/// refusal to resume if any, and the entries from `after` on. Taken by the handler: what a
/// socket keeps in its extensions it keeps for its life, and past seven entries their map
/// doubles (about 0.3 KB more per connection).
#[derive(Debug, Clone)]
struct Start {
    status: Envelope<ConnectionStatus>,
    resync: Option<WireError>,
    after: u64,
    /// The client asked to resume from a position.
    resumed: bool,
}

/// Marks a socket whose connect handler ran (it counts in `pulse_connections_active`).
#[derive(Debug, Clone, Copy)]
struct Connected;

/// Marks a socket the server ended with [`end`]; its further events are dropped unanswered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending;

/// Longest time an ended socket waits for its client to close the connection.
const LINGER: Duration = Duration::from_secs(2);

/// Ends a socket: an `error` event with `why`, then DISCONNECT (reason "io server
/// disconnect" for socket.io-client). Returns false if the socket was already being ended,
/// so each socket is told once.
pub(crate) fn end(socket: &SocketRef, why: &WireError) -> bool {
    if socket.extensions.insert(Ending).is_some() {
        return false;
    }
    let _ = socket.emit(ERROR, why);
    let _ = socket.clone().disconnect();
    true
}

/// This node's sockets in `/`: none once the server has begun shutting down, when the
/// namespace is gone (socketioxide's `SocketIo::sockets` panics then, and HTTP requests on
/// kept-alive connections are still served).
pub(crate) fn sockets(io: &SocketIo) -> Vec<SocketRef> {
    io.of("/").map(|ns| ns.sockets()).unwrap_or_default()
}

/// Keeps an ended socket in the namespace until its client has closed the connection (it
/// does so on reading the DISCONNECT), at most [`LINGER`].
///
/// socketioxide removes a socket from its namespace when its disconnect handler returns; a
/// client event still in flight after that makes it close the whole transport at once, and
/// engineioxide's writer may then drop the packets queued before (seen with a flooding
/// socket.io-client: a bare "transport close", the `error` and DISCONNECT lost). While the
/// socket lingers, such events reach it and are dropped.
async fn linger(io: &SocketIo, socket: &SocketRef) {
    socket.leave_all();
    // The namespace is gone too once the server is shutting down (`io.get_socket` would panic).
    let gone = |sid: Sid| io.of("/").is_none_or(|ns| ns.get_socket(sid).is_none());
    let _ = tokio::time::timeout(LINGER, async {
        while !gone(socket.id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Makes the socket part of its tenant's fan-out before the CONNECT packet goes out, so that
/// an entry committed once the client is connected cannot pass it by: under the tenant's feed
/// lock it joins its rooms and is marked behind (live fan-out skips it) at a known position;
/// [`connected`] then catches it up from there, replay first. Refuses (UNAVAILABLE) when the
/// log cannot be read.
async fn enroll(socket: &SocketRef, state: &AppState) -> Result<(), AppError> {
    let Some(admitted) = Admitted::of(socket) else {
        return Err(AppError::unauthorized("not signed in"));
    };
    let caller = &admitted.caller;
    let tenant_id = caller.tenant_id;
    let mut feed = state.log.lock(tenant_id).await;
    let (head, epoch) = {
        let mut conn = state.db.acquire().await?;
        let head = db::event_log::head(&mut conn, tenant_id).await?;
        let epoch = state.log.epoch(&mut conn, tenant_id, state.clock.now_ms()).await?;
        if feed.cursor.is_none() {
            // The first socket of the tenant here: fan-out starts at the head; older entries
            // reach sockets through their catch-up, from the log's tail kept in memory.
            let after = head.saturating_sub(Recent::MAX_ENTRIES as u64);
            let tail = db::event_log::range(&mut conn, tenant_id, after, head).await?;
            feed.start_at(head, &tail);
        }
        (head, epoch)
    };
    let cursor = feed.cursor.unwrap_or(head);
    // Taken: only this needs it (see `Start`).
    let (last_seq, client_epoch) =
        socket.extensions.remove::<ResumeFrom>().map(|r| (r.0, r.1)).unwrap_or_default();
    let resumed = last_seq.is_some();
    let mut resync = None;
    let mut after = cursor;
    if let (Some(last_seq), Some(user_id)) = (last_seq, caller.user_id) {
        if client_epoch.as_ref().is_some_and(|e| *e != epoch) {
            resync = Some(format!(
                "the event log was replaced (epoch {epoch}): reload through REST, then continue from seq {head}"
            ));
        } else if last_seq > head {
            resync = Some(format!(
                "lastSeq {last_seq} is ahead of the log (head {head}): reload through REST, then continue from seq {head}"
            ));
        } else {
            match missed(state, caller, user_id, last_seq).await? {
                Missed::TooMany { head } => {
                    let limit = state.config.replay_limit;
                    resync = Some(format!(
                        "more than {limit} events were missed; reload through REST, then continue from seq {head}"
                    ));
                }
                Missed::Some | Missed::None => after = last_seq,
            }
        }
    }
    subscriptions::join(&state.rooms, socket, caller);
    catchup::hold(&mut feed, socket.id);
    let status = Envelope {
        seq: head,
        ts: state.clock.now_ms(),
        data: ConnectionStatus { epoch, head, node: state.node.id.clone() },
    };
    let resync = resync.map(|m| WireError::new(ErrorCode::ResyncRequired, m));
    socket.extensions.insert(Start { status, resync, after, resumed });
    let log_state = state.clone();
    socket.on_disconnect(move |socket: SocketRef, reason: DisconnectReason| async move {
        if socket.extensions.get::<Connected>().is_some() {
            metrics::gauge!("pulse_connections_active").decrement(1.0);
        }
        if let Some(a) = Admitted::of(&socket) {
            a.give_back_seat();
        }
        catchup::forget(&mut *log_state.log.lock(tenant_id).await, socket.id);
        if matches!(reason, DisconnectReason::PacketParsingError) {
            // socketioxide closes the connection on a malformed packet; count it.
            metrics::counter!("pulse_errors_total", "code" => "MALFORMED_PACKET").increment(1);
            tracing::info!("socket closed: malformed packet");
        }
        let ended = matches!(reason, DisconnectReason::ServerNSDisconnect);
        if ended && socket.extensions.get::<Ending>().is_some() {
            linger(&log_state.io, &socket).await;
        }
        // socketioxide takes the socket out of its rooms once this returns: a list kept
        // meanwhile may still hold it, until a fan-out finds it closed (`fan_out`).
        log_state.rooms.changed();
    });
    Ok(())
}

/// Tells the socket which log it follows, refuses a resume that cannot be honoured, and
/// catches it up from where [`enroll`] left it: missed entries strictly before live ones.
async fn connected(socket: SocketRef, state: AppState) {
    let (Some(admitted), Some(start)) =
        (Admitted::of(&socket), socket.extensions.remove::<Start>())
    else {
        // The middleware always sets both; without them the socket may see nothing.
        let _ = socket.disconnect();
        return;
    };
    socket.extensions.insert(Connected);
    metrics::gauge!("pulse_connections_active").increment(1.0);
    let _ = socket.emit(CONNECTION_STATUS, &start.status);
    if let Some(e) = &start.resync {
        tracing::info!(message = %e.message, "resume refused");
        let _ = socket.emit(ERROR, e);
    }
    let why = if start.resumed && start.resync.is_none() { Why::Resume } else { Why::Join };
    catchup::spawn(&state, why, socket.clone(), admitted.caller.tenant_id, start.after);
}

/// Ends the sockets of signed-out session `session_id` on this node: each gets an `error`
/// (UNAUTHORIZED, saying it was signed out) before it is disconnected. Returns how many.
pub(crate) fn end_session(state: &AppState, session_id: &str) -> usize {
    let why = WireError::new(ErrorCode::Unauthorized, auth::SIGNED_OUT);
    let mut ended = 0;
    for socket in sockets(&state.io) {
        let ours = Admitted::of(&socket)
            .is_some_and(|a| a.caller.session_id.as_deref() == Some(session_id));
        if ours {
            let _ = socket.emit(ERROR, &why);
            let _ = socket.disconnect();
            ended += 1;
        }
    }
    ended
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
