//! This module deals with how long to wait before the next reconnection attempt: exponential
//! growth with jitter, as socket.io-client does, from a seeded generator so tests can assert
//! exact delays.

use std::time::Duration;

/// Reconnection delay policy. Defaults match socket.io-client: 1 s start, ×2, 5 s cap, ±50 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Delay before the first attempt.
    pub initial: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Upper bound on any delay, jitter included.
    pub max: Duration,
    /// Jitter as a fraction of the delay, in `0.0..=1.0`.
    pub randomization: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            factor: 2.0,
            max: Duration::from_secs(5),
            randomization: 0.5,
        }
    }
}

/// Delays for consecutive attempts; [`Backoff::reset`] after a successful connection.
///
/// ```
/// use std::time::Duration;
/// use pulse_sdk::backoff::{Backoff, BackoffConfig};
///
/// let mut b = Backoff::new(BackoffConfig::default(), 7);
/// let first = b.next_delay();
/// assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1500));
/// for _ in 0..10 {
///     assert!(b.next_delay() <= Duration::from_secs(5)); // capped, jitter included
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempts: u32,
    rng: SplitMix64,
}

/// A tiny, well-known PRNG (SplitMix64): enough for jitter and idempotency-key nonces, and
/// deterministic under a seed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl Backoff {
    /// A policy whose jitter comes from `seed`.
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Backoff { config, attempts: 0, rng: SplitMix64(seed) }
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let c = &self.config;
        let base = c.initial.as_secs_f64() * c.factor.powi(self.attempts.min(64) as i32);
        self.attempts = self.attempts.saturating_add(1);
        let jitter = c.randomization.clamp(0.0, 1.0);
        // Uniform in [base·(1−j), base·(1+j)].
        let r = self.rng.next_f64() * 2.0 - 1.0;
        let secs = (base * (1.0 + jitter * r)).min(c.max.as_secs_f64()).max(0.0);
        Duration::from_secs_f64(secs)
    }

    /// Starts over after a successful connection.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_jitter_delays_double_up_to_the_cap() {
        let cfg = BackoffConfig { randomization: 0.0, ..BackoffConfig::default() };
        let mut b = Backoff::new(cfg, 1);
        let got: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(got, [1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(b.attempts(), 6);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_bounds_and_is_seeded() {
        let mut a = Backoff::new(BackoffConfig::default(), 42);
        let mut b = Backoff::new(BackoffConfig::default(), 42);
        let mut c = Backoff::new(BackoffConfig::default(), 43);
        let mut differs = false;
        for attempt in 0..50 {
            let (da, db, dc) = (a.next_delay(), b.next_delay(), c.next_delay());
            assert_eq!(da, db, "same seed, same delays");
            differs |= da != dc;
            let base = 1000.0 * 2f64.powi(attempt.min(3));
            let ms = da.as_secs_f64() * 1000.0;
            assert!(ms >= base * 0.5 - 1e-6, "attempt {attempt}: {ms} too small");
            assert!(ms <= 5000.0 + 1e-6, "attempt {attempt}: {ms} over the cap");
        }
        assert!(differs, "other seed, other delays");
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        for _ in 0..10_000 {
            assert!(b.next_delay() <= Duration::from_secs(5));
        }
    }
}
