//! This module deals with the overview chart's numbers: deliveries and their value per minute
//! over the last hour, folded from delivery events. A delivery edited later stays in the
//! minute it was first seen, with its new amount, so an edit never counts twice. Pure data;
//! the SVG is `components::minute_chart`.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;

use pulse_protocol::events::Id;

/// Minutes shown.
pub const MINUTES: usize = 60;
const MINUTE_MS: i64 = 60_000;
/// Ids remembered for edits; beyond this (500 events/s for minutes) the oldest are
/// forgotten, and an edit of a forgotten delivery counts as a new one.
const SEEN_CAP: usize = 20_000;

/// One minute of the chart.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    /// Minutes since the epoch.
    pub minute: i64,
    /// Deliveries recorded in that minute.
    pub deliveries: u32,
    /// Their value.
    pub sales: f64,
}

/// The per-minute series with what is needed to fold edits in.
#[derive(Debug, Clone, Default)]
pub struct MinuteSeries {
    buckets: BTreeMap<i64, Bucket>,
    seen: FxHashMap<Id, (i64, f64)>,
    order: VecDeque<Id>,
}

impl MinuteSeries {
    /// Folds in delivery `id` worth `amount`, recorded at `at_ms`. Returns whether the
    /// series changed.
    pub fn record(&mut self, id: Id, at_ms: i64, amount: f64) -> bool {
        if let Some((minute, old)) = self.seen.get_mut(&id) {
            if (*old - amount).abs() < 1e-9 {
                return false;
            }
            if let Some(b) = self.buckets.get_mut(minute) {
                b.sales += amount - *old;
            }
            *old = amount;
            return true;
        }
        let minute = at_ms.div_euclid(MINUTE_MS);
        let b = self.buckets.entry(minute).or_insert(Bucket { minute, ..Bucket::default() });
        b.deliveries += 1;
        b.sales += amount;
        self.seen.insert(id, (minute, amount));
        self.order.push_back(id);
        if self.order.len() > SEEN_CAP {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Drops minutes that fell out of the hour ending at `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        let first = now_ms.div_euclid(MINUTE_MS) - (MINUTES as i64 - 1);
        self.buckets = self.buckets.split_off(&first);
        while let Some(id) = self.order.front() {
            match self.seen.get(id) {
                Some((m, _)) if *m >= first => break,
                _ => {
                    let id = *id;
                    self.order.pop_front();
                    self.seen.remove(&id);
                }
            }
        }
    }

    /// The hour ending at `now_ms`, oldest minute first, with empty minutes as zeros.
    pub fn window(&self, now_ms: i64) -> Vec<Bucket> {
        let last = now_ms.div_euclid(MINUTE_MS);
        (last - MINUTES as i64 + 1..=last)
            .map(|m| {
                self.buckets.get(&m).copied().unwrap_or(Bucket { minute: m, ..Bucket::default() })
            })
            .collect()
    }
}

/// A round axis maximum at or above `x`: 1, 2 or 5 times a power of ten.
pub fn nice_ceiling(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    // The power of ten at or below `x`, found by steps: `powf` and `log10` would bring
    // libm's (about 2 KB) into the bundle for this alone.
    let mut p = 1.0;
    while p * 10.0 <= x {
        p *= 10.0;
    }
    while p > x {
        p /= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|v| *v >= x - 1e-9).unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;

    #[test]
    fn buckets_by_minute_and_counts_edits_once() {
        let mut s = MinuteSeries::default();
        assert!(s.record(1, T0 + 1_000, 2.0));
        assert!(s.record(2, T0 + 59_999, 3.0));
        assert!(s.record(3, T0 + 60_000, 1.5));
        // An edit of delivery 1 a minute later: same bucket, new amount, not a new delivery.
        assert!(s.record(1, T0 + 70_000, 5.0));
        assert!(!s.record(1, T0 + 80_000, 5.0), "a replayed event changes nothing");
        let w = s.window(T0 + 60_000);
        assert_eq!(w.len(), MINUTES);
        let (prev, last) = (w[MINUTES - 2], w[MINUTES - 1]);
        assert_eq!((prev.deliveries, prev.sales), (2, 8.0));
        assert_eq!((last.deliveries, last.sales), (1, 1.5));
        assert!(w[..MINUTES - 2].iter().all(|b| b.deliveries == 0 && b.sales == 0.0));
        assert_eq!(w[0].minute + MINUTES as i64 - 1, last.minute);
    }

    #[test]
    fn the_window_slides_and_prunes() {
        let mut s = MinuteSeries::default();
        s.record(1, T0, 1.0);
        s.record(2, T0 + 30 * 60_000, 1.0);
        let later = T0 + 60 * 60_000;
        assert_eq!(s.window(later).iter().map(|b| b.deliveries).sum::<u32>(), 1);
        s.prune(later);
        assert_eq!(s.buckets.len(), 1);
        assert!(!s.seen.contains_key(&1) && s.seen.contains_key(&2));
        // Forgotten: an edit of delivery 1 now counts in the current minute.
        s.record(1, later, 4.0);
        assert_eq!(s.window(later)[MINUTES - 1].deliveries, 1);
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(420.0), 500.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
        assert_eq!(nice_ceiling(1000.5), 2000.0);
        assert_eq!(nice_ceiling(0.1), 0.1);
        assert_eq!(nice_ceiling(0.07), 0.1);
        assert_eq!(nice_ceiling(2.5e9), 5e9);
    }
}
