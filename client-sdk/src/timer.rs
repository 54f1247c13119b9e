//! This module deals with the connection's deadlines, kept in one table so the next wake-up
//! is a single `min` and no timer can be forgotten.

use crate::time::Instant;

/// Every deadline the connection machine can set, except per-ack deadlines (see `acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Opening the transport and joining the namespace must finish by then.
    Connect,
    /// The server's next ping must arrive by then (pingInterval + pingTimeout).
    Heartbeat,
    /// The next reconnection attempt starts then.
    Reconnect,
    /// The next application health ping is sent then.
    HealthPing,
    /// The next fallback poll starts then.
    Poll,
    /// The fallback poll in flight is abandoned then.
    PollTimeout,
    /// New credentials asked for with `Io::NeedAuth` must have arrived by then.
    Auth,
}

const COUNT: usize = 7;

#[derive(Debug, Default, Clone)]
pub(crate) struct TimerTable {
    data: [Option<Instant>; COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, t: Timer, at: Instant) {
        self.data[t as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, t: Timer) {
        self.data[t as usize] = None;
    }

    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.data[t as usize]
    }

    /// True if `t` is set and due at `now`.
    pub(crate) fn is_due(&self, t: Timer, now: Instant) -> bool {
        self.get(t).is_some_and(|at| at <= now)
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }
}
