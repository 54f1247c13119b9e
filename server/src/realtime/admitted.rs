//! This module deals with what admitting a socket settled ([`super::connect`]) and everything
//! that serves the socket afterwards reads: who it is, when it arrived, its topics, its budget
//! of client events and its connection slot, as one entry in the socket's extensions.
//!
//! One entry, not one per value: socketioxide keeps extensions in a hash map of boxes, and six
//! entries cost every socket a table of eight slots and six allocations (~0.45 KB per
//! connection, heaptrack); each `get` also cloned its value, the caller's strings for every
//! client event.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use governor::DefaultDirectRateLimiter;
use pulse_protocol::events::Topics;
use socketioxide::extract::SocketRef;

use super::quota::Seat;
use crate::auth::Caller;
use crate::feed::broadcast::Arrival;

/// A socket's admission, shared: a copy is a pointer.
#[derive(Clone)]
pub(crate) struct Admitted(Arc<Admission>);

pub(crate) struct Admission {
    pub(crate) caller: Caller,
    /// When it was admitted on this node, relative to the others (fan-out's order).
    pub(crate) arrival: Arrival,
    /// Its budget of client events ([`super::limits`]).
    pub(crate) budget: DefaultDirectRateLimiter,
    /// Its topics ([`super::subscriptions`]).
    topics: Mutex<Topics>,
    /// Its connection slot, given back when it disconnects rather than when the last handle
    /// to the socket is dropped.
    seat: Mutex<Option<Seat>>,
}

impl Deref for Admitted {
    type Target = Admission;

    fn deref(&self) -> &Admission {
        &self.0
    }
}

impl Admitted {
    /// Admits `socket`: from here on [`Admitted::of`] finds this.
    pub(crate) fn insert(
        socket: &SocketRef,
        caller: Caller,
        topics: Topics,
        budget: DefaultDirectRateLimiter,
        seat: Seat,
    ) {
        socket.extensions.insert(Admitted(Arc::new(Admission {
            caller,
            arrival: Arrival::next(),
            budget,
            topics: Mutex::new(topics),
            seat: Mutex::new(Some(seat)),
        })));
    }

    /// The socket's admission; `None` before the connect middleware admitted it.
    pub(crate) fn of(socket: &SocketRef) -> Option<Admitted> {
        socket.extensions.get::<Admitted>()
    }
}

impl Admission {
    pub(crate) fn topics(&self) -> Topics {
        *lock(&self.topics)
    }

    pub(crate) fn set_topics(&self, topics: Topics) {
        *lock(&self.topics) = topics;
    }

    /// Gives the connection slot back (once).
    pub(crate) fn give_back_seat(&self) {
        lock(&self.seat).take();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is one store: whole after a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
