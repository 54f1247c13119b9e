//! This module deals with the per-user and per-address connection limits.
//!
//! Open sockets are counted as they come and go, so a CONNECT costs one map lookup. (Counting
//! by walking every open socket made ramping up to N connections cost O(N²): visible in the
//! benchmark's ramp profile.) A socket holds a [`Seat`] in its extensions; the seat gives its
//! place back when the socket disconnects or, whatever path it takes, when it is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use pulse_protocol::events::Id;

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// `max_conn_per_user` sockets of this user are open.
    User,
    /// `max_conn_per_ip` sockets from this address are open.
    Ip,
}

/// Open sockets per user and per client address, and the limits.
#[derive(Debug)]
pub(crate) struct Quota {
    max_per_user: usize,
    max_per_ip: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// `None`: sockets of callers without a user (service tokens), counted together.
    users: HashMap<Option<Id>, usize>,
    ips: HashMap<IpAddr, usize>,
}

impl Quota {
    /// Limits for one server.
    pub(crate) fn new(max_per_user: usize, max_per_ip: usize) -> Arc<Quota> {
        Arc::new(Quota { max_per_user, max_per_ip, counts: Mutex::default() })
    }

    /// Takes a seat for a socket of `user` from `ip` (no address: only the user limit
    /// applies), or says which limit is reached. Nothing is counted on refusal.
    pub(crate) fn take(
        self: &Arc<Self>,
        user: Option<Id>,
        ip: Option<IpAddr>,
    ) -> Result<Seat, Full> {
        let mut counts = self.lock();
        if counts.users.get(&user).copied().unwrap_or(0) >= self.max_per_user {
            return Err(Full::User);
        }
        if let Some(ip) = ip {
            if counts.ips.get(&ip).copied().unwrap_or(0) >= self.max_per_ip {
                return Err(Full::Ip);
            }
            *counts.ips.entry(ip).or_default() += 1;
        }
        *counts.users.entry(user).or_default() += 1;
        Ok(Seat { quota: Arc::clone(self), user, ip })
    }

    /// Open sockets of `user`.
    #[cfg(test)]
    fn of_user(&self, user: Option<Id>) -> usize {
        self.lock().users.get(&user).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every update is one step.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn give_back(&self, user: Option<Id>, ip: Option<IpAddr>) {
        let mut counts = self.lock();
        decrement(&mut counts.users, user);
        if let Some(ip) = ip {
            decrement(&mut counts.ips, ip);
        }
    }
}

/// Drops the entry at zero, so the maps hold only users and addresses with open sockets.
fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

/// One open socket's place in the counts; given back on drop.
#[derive(Debug)]
pub(crate) struct Seat {
    quota: Arc<Quota>,
    user: Option<Id>,
    ip: Option<IpAddr>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.quota.give_back(self.user, self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const AWAY: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn a_user_gets_max_seats_and_a_dropped_seat_frees_one() {
        let q = Quota::new(2, 100);
        let a = q.take(Some(1), HOME).expect("first");
        let _b = q.take(Some(1), AWAY).expect("second");
        assert_eq!(q.take(Some(1), HOME).unwrap_err(), Full::User);
        assert!(q.take(Some(2), HOME).is_ok(), "another user is not affected");
        drop(a);
        assert!(q.take(Some(1), HOME).is_ok());
    }

    #[test]
    fn an_address_gets_max_seats_across_users() {
        let q = Quota::new(100, 2);
        let _a = q.take(Some(1), HOME).unwrap();
        let _b = q.take(Some(2), HOME).unwrap();
        assert_eq!(q.take(Some(3), HOME).unwrap_err(), Full::Ip);
        assert!(q.take(Some(3), AWAY).is_ok());
        assert!(q.take(Some(3), None).is_ok(), "no address: only the user limit applies");
    }

    #[test]
    fn a_refusal_counts_nothing_and_empty_entries_are_dropped() {
        let q = Quota::new(1, 1);
        let a = q.take(Some(1), HOME).unwrap();
        assert_eq!(q.take(Some(2), HOME).unwrap_err(), Full::Ip);
        assert_eq!(q.of_user(Some(2)), 0, "the refused user holds nothing");
        drop(a);
        let counts = q.lock();
        assert!(counts.users.is_empty() && counts.ips.is_empty());
    }
}
