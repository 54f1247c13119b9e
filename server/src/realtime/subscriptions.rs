//! This module deals with which topics a socket receives: the set it asked for on connecting
//! (`topics` in the CONNECT auth; absent means every topic), kept as [`Subscription`] in the
//! socket's extensions and as its rooms, and changed by `module:subscribe` /
//! `module:unsubscribe` (and the `dashboard:subscribe` / `notification:subscribe` shorthands).
//!
//! Live fan-out reaches a topic's room only ([`crate::feed::broadcast`]); a socket's replay
//! and catch-up read its [`Subscription`] for each page ([`crate::feed::catchup`]). A change
//! is made under the tenant's feed lock, which live fan-out holds while it moves the feed's
//! cursor: the ack's `head` is exactly the position from which the topic's entries reach the
//! socket, so a client that loads the topic's state over REST after the ack misses nothing.

use pulse_protocol::events::{Subscribed, Topic, Topics};
use socketioxide::extract::SocketRef;

use crate::auth::Caller;
use crate::error::AppError;
use crate::feed::broadcast::{tenant_room, user_room, RoomLists};
use crate::state::AppState;

/// The topics a socket receives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subscription(pub(crate) Topics);

/// The socket's topics (every topic for a socket that never said).
pub(crate) fn of(socket: &SocketRef) -> Topics {
    socket.extensions.get::<Subscription>().map_or_else(Topics::all, |s| s.0)
}

/// Joins the rooms of `caller`'s socket: the tenant's and the user's, and the tenant's room of
/// each topic of its [`Subscription`] (set on admission). Call under the tenant's feed lock.
pub(crate) fn join(rooms: &RoomLists, socket: &SocketRef, caller: &Caller) {
    socket.join(tenant_room(caller.tenant_id, None));
    if let Some(u) = caller.user_id {
        socket.join(user_room(u));
    }
    for t in of(socket).iter() {
        join_topic(socket, caller, t);
    }
    rooms.changed();
}

/// A topic's room is the tenant's: entries for the user alone go to the user's one room and
/// are filtered by topic when sent ([`user_room`]).
fn join_topic(socket: &SocketRef, caller: &Caller, t: Topic) {
    socket.join(tenant_room(caller.tenant_id, Some(t)));
}

fn leave_topic(socket: &SocketRef, caller: &Caller, t: Topic) {
    socket.leave(tenant_room(caller.tenant_id, Some(t)));
}

/// Subscribes the socket to `topic` (`on`) or unsubscribes it; answers the socket's topics
/// and the position from which the change holds.
pub(crate) async fn change(
    state: &AppState,
    socket: &SocketRef,
    caller: &Caller,
    topic: Topic,
    on: bool,
) -> Result<Subscribed, AppError> {
    let feed = state.log.lock(caller.tenant_id).await;
    let mut topics = of(socket);
    let changed = if on { topics.insert(topic) } else { topics.remove(topic) };
    if changed {
        socket.extensions.insert(Subscription(topics));
        if on {
            join_topic(socket, caller, topic);
        } else {
            leave_topic(socket, caller, topic);
        }
        state.rooms.changed();
    }
    let head = feed.cursor.unwrap_or(0);
    Ok(Subscribed { topics, head })
}
