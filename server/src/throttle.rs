//! This module deals with throttling sign-in. Failed logins are counted per account (the email
//! as typed, trimmed and lower-cased, whether or not it exists) and per client address, each in
//! a keyed GCRA limiter (`governor`). Once either budget is spent, attempts on that key are
//! refused with RATE_LIMITED and a wait *before* any password is checked, so guessing on gains
//! nothing. A budget refills evenly over the window, one failure at a time, so nobody is shut
//! out for longer than one refill (window / budget) after the failures stop.
//!
//! Only failures are counted, so a user who signs in often is never throttled. governor
//! charges a cell whenever it says yes and cannot look without charging, so each key also
//! remembers until when it is closed: from the failure that spent its budget until the next
//! cell is back.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Failed-login budgets per account and per client address.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    accounts: Budget<String>,
    addresses: Budget<IpAddr>,
}

impl LoginThrottle {
    /// `per_account` and `per_ip` failures, each budget refilled evenly over `window`.
    pub(crate) fn new(per_account: u32, per_ip: u32, window: Duration) -> LoginThrottle {
        LoginThrottle {
            accounts: Budget::new(per_account, window),
            addresses: Budget::new(per_ip, window),
        }
    }

    /// How long the caller must wait before `email` may be tried from `ip`, if either budget
    /// is spent.
    pub(crate) fn wait(&self, email: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let account = self.accounts.wait(&account_key(email), now);
        let address = ip.and_then(|ip| self.addresses.wait(&ip, now));
        account.max(address)
    }

    /// Counts a failed attempt on `email` from `ip`.
    pub(crate) fn failed(&self, email: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        self.accounts.failed(account_key(email), now);
        if let Some(ip) = ip {
            self.addresses.failed(ip, now);
        }
    }

    /// Forgets keys whose budgets are full again, so memory follows recent failures only.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        self.accounts.sweep(now);
        self.addresses.sweep(now);
    }
}

/// Forgets refilled budgets every `window` until aborted (on shutdown).
pub(crate) async fn run_sweeper(throttle: std::sync::Arc<LoginThrottle>, window: Duration) {
    let mut tick = tokio::time::interval(window.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        throttle.sweep();
    }
}

/// One email, however it was typed.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One kind of key's failure budget.
#[derive(Debug)]
struct Budget<K: Hash + Eq + Clone> {
    failures: Limiter<K>,
    /// Keys whose budget is spent, and when the next failure may be made.
    closed: Mutex<HashMap<K, Instant>>,
    /// How long one failure takes to come back.
    refill: Duration,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    fn new(size: u32, window: Duration) -> Budget<K> {
        let size = NonZeroU32::new(size.max(1)).unwrap_or(NonZeroU32::MIN);
        let refill = (window / size.get()).max(Duration::from_millis(1));
        let quota = Quota::with_period(refill)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(size);
        Budget {
            failures: RateLimiter::dashmap(quota).with_middleware(),
            closed: Mutex::default(),
            refill,
        }
    }

    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = *self.closed().get(key)?;
        (until > now).then(|| until - now)
    }

    fn failed(&self, key: K, now: Instant) {
        let until = match self.failures.check_key(&key) {
            Ok(state) if state.remaining_burst_capacity() > 0 => return,
            // That was the last failure the budget allowed: one comes back after a refill.
            Ok(_) => now + self.refill,
            // Failures that raced past the gate while the budget ran out.
            Err(not_until) => now + not_until.wait_time_from(self.failures.clock().now()),
        };
        let mut closed = self.closed();
        let entry = closed.entry(key).or_insert(until);
        *entry = (*entry).max(until);
    }

    fn sweep(&self, now: Instant) {
        self.failures.retain_recent();
        self.closed().retain(|_, until| *until > now);
    }

    fn closed(&self) -> MutexGuard<'_, HashMap<K, Instant>> {
        // Each update is one insert or removal: a panicking holder leaves nothing half-done.
        self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const AWAY: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));

    #[test]
    fn an_account_closes_after_its_budget_of_failures_whatever_the_case_of_the_email() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(300));
        for _ in 0..2 {
            t.failed("a@x.demo", HOME);
            assert_eq!(t.wait("a@x.demo", HOME), None);
        }
        t.failed(" A@X.demo", AWAY);
        let wait = t.wait("a@x.demo", None).expect("closed for everyone");
        assert!(wait <= Duration::from_secs(100) && wait > Duration::from_secs(90), "{wait:?}");
        assert_eq!(t.wait("b@x.demo", HOME), None, "other accounts are open");
    }

    #[test]
    fn an_address_closes_across_accounts_and_successes_cost_nothing() {
        let t = LoginThrottle::new(100, 2, Duration::from_secs(60));
        // No failure, no charge: any number of successful sign-ins leave the budget whole.
        assert_eq!(t.wait("a@x.demo", HOME), None);
        t.failed("a@x.demo", HOME);
        t.failed("b@x.demo", HOME);
        assert!(t.wait("c@x.demo", HOME).is_some());
        assert_eq!(t.wait("c@x.demo", AWAY), None);
    }

    #[test]
    fn a_budget_reopens_after_one_refill() {
        let t = LoginThrottle::new(1, 100, Duration::from_millis(40));
        t.failed("a@x.demo", HOME);
        assert!(t.wait("a@x.demo", HOME).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(t.wait("a@x.demo", HOME), None);
        t.sweep();
        assert!(t.accounts.closed().is_empty());
    }
}
