//! This module deals with which topics a socket receives: the set it asked for on connecting
//! (`topics` in the CONNECT auth; absent means every topic), kept in its
//! [`Admitted`], and changed by `module:subscribe` / `module:unsubscribe` (and the
//! `dashboard:subscribe` / `notification:subscribe` shorthands).
//!
//! Live fan-out reaches the sockets subscribed to an entry's topic only
//! ([`crate::feed::broadcast::Audience`]); a socket's replay and catch-up read its topics for
//! each page ([`crate::feed::catchup`]). A change
//! is made under the tenant's feed lock, which live fan-out holds while it moves the feed's
//! cursor: the ack's `head` is exactly the position from which the topic's entries reach the
//! socket, so a client that loads the topic's state over REST after the ack misses nothing.

use pulse_protocol::events::{Subscribed, Topic, Topics};
use socketioxide::extract::SocketRef;

use super::admitted::Admitted;
use crate::auth::Caller;
use crate::error::AppError;
use crate::feed::broadcast::{Room, RoomLists};
use crate::state::AppState;

/// The socket's topics (every topic for a socket that never said).
pub(crate) fn of(socket: &SocketRef) -> Topics {
    topics_of(Admitted::of(socket).as_ref())
}

/// The topics of a socket's admission; every topic where there is none.
fn topics_of(admitted: Option<&Admitted>) -> Topics {
    admitted.map_or_else(Topics::all, |a| a.topics())
}

/// Joins the rooms of `caller`'s socket: the tenant's and the user's. Call under the tenant's
/// feed lock.
pub(crate) fn join(rooms: &RoomLists, socket: &SocketRef, caller: &Caller) {
    socket.join(Room::Tenant(caller.tenant_id).name());
    if let Some(u) = caller.user_id {
        socket.join(Room::User(u).name());
    }
    rooms.changed();
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
    let admitted = Admitted::of(socket);
    let mut topics = topics_of(admitted.as_ref());
    let changed = if on { topics.insert(topic) } else { topics.remove(topic) };
    if changed {
        if let Some(a) = &admitted {
            a.set_topics(topics);
        }
        // The lists fan-out keeps are per topic.
        state.rooms.changed();
    }
    let head = feed.cursor.unwrap_or(0);
    Ok(Subscribed { topics, head })
}
