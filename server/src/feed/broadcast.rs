//! This module deals with sending logged events to this node's sockets, in `seq` order from
//! the tenant's feed cursor: to the tenant's sockets for tenant-wide entries and to the
//! user's for a user's own, of those the ones subscribed to the entry's topic (an
//! [`Audience`]), each as one `{ seq, ts, data }` argument, socket by socket so that one with
//! a full queue is noticed and caught up.
//!
//! Entries reach [`advance`] two ways: the node that committed them passes them in (no read
//! back), and other nodes' commits arrive as a position to reach ([`super::tail`]), read from
//! the shared log. Either way a gap below the first entry at hand is read from the log
//! first, so no entry is skipped, whichever node wrote it and whichever wake-up came first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pulse_protocol::events::{Id, Topic, ERROR, USER_UPDATED};
use pulse_protocol::rest::LoggedEvent;
use pulse_protocol::Envelope;
use pulse_protocol::{ErrorCode, WireError};
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError, SocketIo};

use super::catchup::{self, Why};
use super::log::{Entry, FeedGuard, Sent};
use crate::db;
use crate::error::AppError;
use crate::realtime::admitted::Admitted;
use crate::realtime::subscriptions;
use crate::state::AppState;

/// A socketioxide room of this node's sockets: each socket joins its tenant's and its user's
/// ([`crate::realtime::subscriptions::join`]), and no other. A room per topic cost every
/// socket six more rooms, their names and their places in two sets (~0.6 KB per connection):
/// topics are told apart in the lists [`RoomLists`] keeps instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Room {
    Tenant(Id),
    User(Id),
}

impl Room {
    /// The room's name in socketioxide.
    pub(crate) fn name(self) -> String {
        match self {
            Room::Tenant(id) => format!("tenant:{id}"),
            Room::User(id) => format!("user:{id}"),
        }
    }
}

/// Who on this node an event goes to: the sockets of `room` subscribed to `topic`, or all of
/// them for an event without a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Audience {
    pub(crate) room: Room,
    pub(crate) topic: Option<Topic>,
}

impl Audience {
    fn accepts(self, socket: &SocketRef) -> bool {
        self.topic.is_none_or(|t| subscriptions::of(socket).contains(t))
    }
}

/// The wire form of a log entry.
pub(crate) fn envelope(e: &LoggedEvent) -> Envelope<&serde_json::Value> {
    Envelope { seq: e.seq, ts: e.ts, data: &e.data }
}

/// Fans out a tenant's log on this node up to `upto` (committed), using `local` (entries the
/// caller just committed, in order) where they fit and the log for the rest.
pub(crate) async fn advance(
    state: &AppState,
    tenant_id: Id,
    upto: u64,
    local: &[Entry],
) -> Result<(), AppError> {
    let mut feed = state.log.lock(tenant_id).await;
    let Some(cursor) = feed.cursor else {
        // No socket of the tenant has connected here: nothing to send, and a socket that
        // connects later starts from the log.
        return Ok(());
    };
    if cursor >= upto {
        return Ok(());
    }
    let first_local = local.iter().find(|e| e.event.seq > cursor).map(|e| e.event.seq);
    let gap_end = first_local.map_or(upto, |s| s - 1);
    let rest: Vec<Entry> =
        local.iter().filter(|e| e.event.seq > gap_end && e.event.seq <= upto).cloned().collect();
    if gap_end > cursor {
        let mut conn = state.db.acquire().await?;
        let gap = db::event_log::range(&mut conn, tenant_id, cursor, gap_end).await?;
        drop(conn);
        emit(state, &mut feed, tenant_id, &gap, !rest.is_empty());
        feed.cursor = Some(gap_end);
    }
    emit(state, &mut feed, tenant_id, &rest, false);
    feed.cursor = Some(upto);
    Ok(())
}

/// Fans out a tenant's log on this node up to the log's head.
pub(crate) async fn sync(state: &AppState, tenant_id: Id) -> Result<u64, AppError> {
    let head = {
        let mut conn = state.db.acquire().await?;
        db::event_log::head(&mut conn, tenant_id).await?
    };
    advance(state, tenant_id, head, &[]).await?;
    Ok(head)
}

/// Emits committed entries in order, socket by socket. Call with the tenant's lock held as
/// `feed`; `more` says entries follow these. A socket whose queue is full misses nothing: it
/// is caught up from the log from that entry on ([`super::catchup`]), and sockets already
/// behind are skipped.
///
/// Only an entry with nothing behind it (the last one, none to follow, no task waiting for
/// the feed) may be written to sockets in this turn ([`fan_out`]'s `direct`): while the feed
/// is behind, each socket's writer (in its connection's task) writes what gathered at once.
fn emit(state: &AppState, feed: &mut FeedGuard, tenant_id: Id, entries: &[Entry], more: bool) {
    for (i, e) in entries.iter().enumerate() {
        let last = !more && i + 1 == entries.len();
        let sent = match Sent::new(e) {
            Ok(s) => Arc::new(s),
            Err(err) => {
                tracing::error!(error = %err, event = %e.event.event, "entry not serializable");
                continue;
            }
        };
        // Only the sockets subscribed to the entry's topic (see `realtime::subscriptions`).
        let to = Audience {
            room: sent.user_id.map_or(Room::Tenant(tenant_id), Room::User),
            topic: sent.topic,
        };
        let feed_now: &FeedGuard = feed;
        let full = fan_out(
            state,
            to,
            &sent.event,
            &sent.payload,
            |s| !feed_now.behind.contains(&s.id),
            || last && !feed_now.contended(),
        );
        // Kept before any catch-up starts, so that the catch-up finds it.
        feed.recent.push(sent);
        for socket in full {
            catchup::start(state, feed, Why::QueueFull, socket, tenant_id, e.event.seq - 1);
        }
        if e.event.event == USER_UPDATED {
            end_if_disabled(state, e);
        }
        metrics::counter!("pulse_events_emitted_total", "event" => e.event.event.clone())
            .increment(1);
        let delay = state.clock.now_ms().saturating_sub(e.event.ts).max(0) as f64 / 1000.0;
        metrics::histogram!("pulse_fanout_delay_seconds").record(delay);
    }
}

/// Ends the sockets of a user whose own `user:updated` entry says they were disabled, on
/// this node, with an `error` saying why. The entry went out first, so a client learns the
/// reason from both.
fn end_if_disabled(state: &AppState, e: &Entry) {
    let Some(user_id) = e.user_id else { return };
    let disabled = e.event.data.get("id").and_then(|v| v.as_i64()) == Some(user_id)
        && e.event.data.get("active").and_then(|v| v.as_bool()) == Some(false);
    let Some(ns) = state.io.of("/") else { return };
    if !disabled {
        return;
    }
    let why = WireError::new(ErrorCode::AccountDisabled, "this account was disabled by an admin");
    for socket in ns.to(Room::User(user_id).name()).sockets() {
        let _ = socket.emit(ERROR, &why);
        let _ = socket.disconnect();
        metrics::counter!("pulse_errors_total", "code" => ErrorCode::AccountDisabled.as_str())
            .increment(1);
    }
}

/// Rooms up to this size are written in the adapter's order: the sort reads each socket's
/// extensions, and at 300,000 deliveries/s to 100-socket rooms it took about a tenth of the
/// server's core (bench/ANALYSIS.md, eleventh session).
const FAN_OUT_SMALL_ROOM: usize = 256;

/// When a socket was admitted on this node, relative to the others: fan-out writes a large
/// room's sockets in this order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival(u64);

impl Arrival {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Arrival(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Each audience's sockets as the last fan-out to it found them, in the order it writes them,
/// kept until a socket of this node joins or leaves a room or changes its topics. Collecting
/// and sorting a room of 5,000 took 2.5–3.3 ms before each broadcast's first write, about the
/// median latency Pulse had above Node.js there (bench/ANALYSIS.md, eighteenth session).
///
/// Every change of membership or of topics Pulse makes calls [`RoomLists::changed`] after
/// it, and so does a fan-out that finds a socket closed. A kept list may so hold a closing
/// socket for one fan-out (its emit fails), but never lacks one that joined or subscribed:
/// both happen under the tenant's feed lock, which the logged path's fan-out holds too.
#[derive(Default)]
pub(crate) struct RoomLists(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    /// Counts membership changes: a list read across one is not kept.
    generation: u64,
    lists: HashMap<Audience, Arc<Vec<SocketRef>>>,
}

impl RoomLists {
    /// Forgets every list: call once a socket joined or left a room, changed its topics, or
    /// disconnected.
    pub(crate) fn changed(&self) {
        let mut kept = self.lock();
        kept.generation += 1;
        kept.lists.clear();
    }

    /// The sockets of `to` in the order a fan-out writes them: a large audience's in the order
    /// they arrived. `None` once the namespace is closed (shutdown).
    fn sockets(&self, io: &SocketIo, to: Audience) -> Option<Arc<Vec<SocketRef>>> {
        let generation = {
            let kept = self.lock();
            if let Some(list) = kept.lists.get(&to) {
                return Some(Arc::clone(list));
            }
            kept.generation
        };
        // Once the server closes its namespace at shutdown, `io.to` would panic.
        let ns = io.of("/")?;
        let mut sockets = ns.to(to.room.name()).sockets();
        sockets.retain(|s| to.accepts(s));
        if sockets.len() > FAN_OUT_SMALL_ROOM {
            // Every socket in a room was admitted (`realtime::connect`), so has its arrival.
            sockets.sort_by_cached_key(|s| Admitted::of(s).map_or(u64::MAX, |a| a.arrival.0));
        }
        let list = Arc::new(sockets);
        let mut kept = self.lock();
        // Membership or topics changed while the room was read: this list may lack a socket;
        // not kept.
        if kept.generation == generation {
            kept.lists.insert(to, Arc::clone(&list));
        }
        Some(list)
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Each update is one step (an insert, or a count and a clear): whole after a panic.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends `payload` (serialized once) as `event` to each socket of `to` that `live`
/// accepts, a large audience's in the order they arrived; returns the sockets whose queue was
/// full, which got nothing.
///
/// Why in arrival order (a room is a hash set): sockets' state, ours and the kernel's, was
/// allocated as they connected, so walking them in that order is walking memory in order, as
/// Node.js' socket.io does with its insertion-ordered map. Measured at 5,000 sockets on one
/// core: one broadcast's writes took a sixth less time, and the load generator on the same
/// host a tenth less CPU.
///
/// Why `direct`: an emit allowed by it is written to the socket in this turn when nothing is
/// queued for that socket and it was not written in the last 10 ms (vendor/README.md), as
/// Node.js' `ws` writes, instead of waiting for the socket's writer to run after the
/// whole loop; at 5,000 and 10,000 sockets that took a fifth to a quarter off p50 and p99
/// (bench/ANALYSIS.md, fourteenth and fifteenth sessions). The caller says when not: while
/// more is waiting behind this payload, writes in its turn would make every delivery its own
/// system call exactly when the server has least time, where queued, each writer writes
/// several at once; the event log past capacity collapsed without this rule (fourteenth
/// session). `direct` is asked before every socket, so a fan-out that falls behind midway
/// stops writing directly.
///
/// Why the loop gives the runtime no turn, though an emit only queues the packet and
/// engineioxide's per-socket writer writes it after the loop (on one core the first of
/// 5,000 sockets waits for the whole loop): a turn every 16 sockets let each writer run with
/// one packet, one write each, where under load it takes several entries in one. Through the
/// event log one node then delivered 51,000 deliveries/s where it delivers 185,000 without
/// them (1,000 clients × 100 payments/s), and fell behind at 500 × 50/s (bench/ANALYSIS.md,
/// twelfth session).
pub(crate) fn fan_out(
    state: &AppState,
    to: Audience,
    event: &str,
    payload: &RawValue,
    mut live: impl FnMut(&SocketRef) -> bool,
    direct: impl Fn() -> bool,
) -> Vec<SocketRef> {
    let mut full = Vec::new();
    // None at shutdown; a change that commits meanwhile is in the log and reaches clients
    // when they resume elsewhere.
    let Some(sockets) = state.rooms.sockets(&state.io, to) else {
        return full;
    };
    let writes = engineioxide::DirectWrites::enter();
    let mut closed = false;
    for socket in sockets.iter() {
        if !live(socket) {
            continue;
        }
        writes.allow(direct());
        match socket.emit(event, payload) {
            Ok(()) => {}
            Err(SendError::Socket(SocketError::InternalChannelFull)) => full.push(socket.clone()),
            Err(err) => {
                tracing::debug!(error = %err, "fan-out to a closing socket");
                closed = true;
            }
        }
    }
    if closed {
        // A kept list still holds it: read the room afresh next time.
        state.rooms.changed();
    }
    full
}
