//! This module deals with sockets that are behind the log: a reconnecting socket with missed
//! entries, and a socket whose send queue filled up during live fan-out.
//!
//! socketioxide gives each socket a bounded queue (`send_queue` packets, see
//! [`crate::config`]) and fails a send when it is full; emitting into it blindly loses events
//! (a 750-entry replay lost most of them). So a socket that is behind is put in its tenant's
//! [`Feed::behind`] set, which live fan-out skips, and one task sends it the log from where it
//! is up to the feed's cursor, page by page, waiting whenever its queue is full. Pages come
//! from the entries this node fanned out last ([`super::log::Recent`], encoded once) when it
//! still holds them all, otherwise from the log in the database. When it has reached the
//! cursor, checked under the tenant's feed lock (fan-out moves the cursor only under that
//! lock), the socket leaves the set and takes live events again: no entry is skipped or sent
//! twice, and `seq` order holds.
//! A socket whose position is ahead of this node's cursor (it saw newer entries on another
//! node) waits, skipped by fan-out, until the cursor passes it.
//!
//! Entries of topics the socket is not subscribed to are skipped (see
//! [`crate::realtime::subscriptions`]).
//!
//! A catch-up never gives up on a socket that is still connected: a slow reader is waited
//! for as long as it reads at all, a failed read of the log (the database away) is retried,
//! and a position ahead of this node's cursor waits for the cursor. A reader that stopped
//! for good is closed by the engine's heartbeat; the client then resumes from its `lastSeq`
//! when it reconnects. (Giving up while connected would leave the socket skipped by live
//! fan-out and fed by nobody: it would silently receive nothing more.)

use std::time::Duration;

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use serde::Serialize;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};

use super::broadcast::envelope;
use super::log::Feed;
use crate::db;
use crate::realtime::admitted::Admitted;
use crate::realtime::subscriptions;
use crate::state::AppState;

/// Entries read from the log at once.
const PAGE: u64 = 256;
/// How long to wait before retrying a full queue.
const FULL_RETRY: Duration = Duration::from_millis(5);
/// How long to wait before reading the log again after a failed read or sync.
const RETRY: Duration = Duration::from_millis(500);

/// Why a socket is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// It just connected without a position: entries committed while it joined.
    Join,
    /// It reconnected with a `lastSeq` older than the head.
    Resume,
    /// Its send queue was full when a live entry went out.
    QueueFull,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::Join => "join",
            Why::Resume => "resume",
            Why::QueueFull => "queue_full",
        }
    }
}

/// Catches `socket` of `tenant_id` up from the entry after `after` (its tenant's entries and
/// its user's own), in a task of its own. The caller holds the tenant's lock as `feed` and
/// has not sent the socket anything after `after`.
pub(crate) fn start(
    state: &AppState,
    feed: &mut Feed,
    why: Why,
    socket: SocketRef,
    tenant_id: Id,
    after: u64,
) {
    if feed.behind.insert(socket.id) {
        metrics::counter!("pulse_catchups_total", "reason" => why.as_str()).increment(1);
        let user_id = Admitted::of(&socket).and_then(|a| a.caller.user_id);
        tokio::spawn(run(state.clone(), socket, tenant_id, user_id, after));
    }
}

/// Marks a socket behind before anything is sent to it (it is joining); [`spawn`] then
/// catches it up.
pub(crate) fn hold(feed: &mut Feed, sid: Sid) {
    feed.behind.insert(sid);
}

/// Catches up a socket already marked behind (see [`hold`]) from the entry after `after`.
pub(crate) fn spawn(state: &AppState, why: Why, socket: SocketRef, tenant_id: Id, after: u64) {
    metrics::counter!("pulse_catchups_total", "reason" => why.as_str()).increment(1);
    let user_id = Admitted::of(&socket).and_then(|a| a.caller.user_id);
    tokio::spawn(run(state.clone(), socket, tenant_id, user_id, after));
}

/// Forgets a socket that went away while behind.
pub(crate) fn forget(feed: &mut Feed, sid: Sid) {
    feed.behind.remove(&sid);
}

async fn run(state: AppState, socket: SocketRef, tenant_id: Id, user_id: Option<Id>, after: u64) {
    // Every entry up to `checked` that the socket may see has been sent to it.
    let mut checked = after;
    loop {
        if !socket.connected() {
            forget(&mut *state.log.lock(tenant_id).await, socket.id);
            return;
        }
        // Read per page: a subscription change holds from the next page on.
        let topics = subscriptions::of(&socket);
        let (cursor, kept) = {
            let feed = state.log.lock(tenant_id).await;
            let cursor = feed.cursor.unwrap_or(0);
            (cursor, feed.recent.since(checked, cursor, PAGE, user_id, topics))
        };
        if checked < cursor {
            if let Some((page, last)) = kept {
                for s in &page {
                    if !send(&socket, &s.event, &*s.payload).await {
                        forget(&mut *state.log.lock(tenant_id).await, socket.id);
                        return;
                    }
                }
                checked = last;
                continue;
            }
            let page = match read(&state, tenant_id, user_id, checked, cursor).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "catch-up read failed; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            let full = page.len() as u64 == PAGE;
            for e in page.iter().filter(|e| topics.admits(&e.event)) {
                if !send(&socket, &e.event, &envelope(e)).await {
                    // Closed. Usually its disconnect handler forgets it too; this covers a
                    // socket that closed before that handler was installed.
                    forget(&mut *state.log.lock(tenant_id).await, socket.id);
                    return;
                }
            }
            checked = match (full, page.last()) {
                (true, Some(last)) => last.seq,
                _ => cursor,
            };
            continue;
        }
        if checked > cursor {
            // The socket saw entries on another node that this node has not fanned out yet:
            // bring the feed to the log's head (the socket is skipped meanwhile) and look again.
            match super::broadcast::sync(&state, tenant_id).await {
                Ok(_) => tokio::time::sleep(FULL_RETRY).await,
                Err(e) => {
                    tracing::warn!(error = %e, "catch-up: sync failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
            continue;
        }
        let mut feed = state.log.lock(tenant_id).await;
        if feed.cursor.unwrap_or(0) == checked {
            // At the cursor, under the lock: from the next fan-out on, it is live.
            feed.behind.remove(&socket.id);
            return;
        }
    }
}

async fn read(
    state: &AppState,
    tenant_id: Id,
    user_id: Option<Id>,
    after: u64,
    upto: u64,
) -> Result<Vec<LoggedEvent>, sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    // No user (the server's own callers): tenant-wide entries only; ids start at 1.
    db::event_log::since(&mut conn, tenant_id, user_id.unwrap_or(0), after, upto, PAGE, None).await
}

/// Sends one entry, waiting while the socket's queue is full; false once the socket closed.
async fn send<T: Serialize + ?Sized>(socket: &SocketRef, event: &str, envelope: &T) -> bool {
    loop {
        match socket.emit(event, envelope) {
            Ok(()) => return true,
            Err(SendError::Socket(SocketError::InternalChannelFull)) if socket.connected() => {
                tokio::time::sleep(FULL_RETRY).await;
            }
            Err(err) => {
                tracing::debug!(error = %err, "catch-up stopped");
                return false;
            }
        }
    }
}
