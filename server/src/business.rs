//! This module deals with the delivery business's running totals: deliveries and payments
//! recorded today, balances, and the event-log position. It is in memory for now; the
//! SQLite store and the per-tenant event log replace it (issue 4) behind the same calls.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use pulse_protocol::events::Stats;

const DAY_MS: i64 = 86_400_000;

/// One tenant's books.
#[derive(Debug, Default)]
pub struct Business {
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    seq: u64,
    day: i64,
    today: Stats,
    active_today: HashSet<u32>,
    balances: HashMap<u32, f64>,
}

impl Ledger {
    /// Starts a new day's counters when `now_ms` falls on a later day.
    fn roll(&mut self, now_ms: i64) {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            self.today = Stats {
                outstanding: self.today.outstanding,
                ..Stats::default()
            };
            self.active_today.clear();
        }
    }
}

impl Business {
    /// Records a delivery; the amount is always computed here, never trusted from a client.
    /// Returns the event-log position.
    pub fn record_delivery(&self, customer: u32, liters: f64, price: f64, now_ms: i64) -> u64 {
        let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        l.roll(now_ms);
        let amount = round2(liters * price);
        l.today.today_liters = round2(l.today.today_liters + liters);
        l.today.today_sales = round2(l.today.today_sales + amount);
        l.today.deliveries_today += 1;
        l.today.outstanding = round2(l.today.outstanding + amount);
        *l.balances.entry(customer).or_default() += amount;
        l.active_today.insert(customer);
        l.today.active_customers = l.active_today.len() as u32;
        l.seq += 1;
        l.seq
    }

    /// Records a payment against a customer's balance. Returns the event-log position.
    pub fn record_payment(&self, customer: u32, amount: f64, now_ms: i64) -> u64 {
        let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        l.roll(now_ms);
        l.today.today_collection = round2(l.today.today_collection + amount);
        l.today.outstanding = round2(l.today.outstanding - amount);
        *l.balances.entry(customer).or_default() -= amount;
        l.seq += 1;
        l.seq
    }

    /// A customer's unpaid balance.
    pub fn balance(&self, customer: u32) -> f64 {
        let l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        round2(l.balances.get(&customer).copied().unwrap_or_default())
    }

    /// Today's figures as of `now_ms`, and the log position they reflect.
    pub fn stats(&self, now_ms: i64) -> (u64, Stats) {
        let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        l.roll(now_ms);
        (l.seq, l.today.clone())
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_and_payments_move_the_figures() {
        let b = Business::default();
        let t = 10 * DAY_MS + 1000;
        assert_eq!(b.record_delivery(1, 2.5, 1.2, t), 1);
        assert_eq!(b.record_delivery(2, 1.0, 1.2, t), 2);
        assert_eq!(b.record_payment(1, 1.0, t), 3);
        let (seq, s) = b.stats(t);
        assert_eq!(seq, 3);
        assert_eq!(s.today_liters, 3.5);
        assert_eq!(s.today_sales, 4.2);
        assert_eq!(s.today_collection, 1.0);
        assert_eq!(s.outstanding, 3.2);
        assert_eq!((s.active_customers, s.deliveries_today), (2, 2));
        assert_eq!(b.balance(1), 2.0);
    }

    #[test]
    fn a_new_day_resets_today_but_keeps_balances() {
        let b = Business::default();
        b.record_delivery(1, 2.0, 1.0, 3 * DAY_MS);
        let (_, s) = b.stats(4 * DAY_MS);
        assert_eq!(
            (s.today_liters, s.deliveries_today, s.active_customers),
            (0.0, 0, 0)
        );
        assert_eq!(s.outstanding, 2.0);
    }
}
