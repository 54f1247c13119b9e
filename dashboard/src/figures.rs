//! This module deals with the comparison against yesterday. The server's `Stats` carry
//! today's figures only, so yesterday's are summed here from yesterday's deliveries and
//! payments up to the same time of day, which is the fair comparison for a day in progress.

use std::collections::BTreeSet;

use pulse_protocol::events::{Delivery, Payment, Stats};

/// Headline figures of one day up to some time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayFigures {
    /// Liters delivered.
    pub liters: f64,
    /// Value of the deliveries.
    pub sales: f64,
    /// Payments collected.
    pub collection: f64,
    /// Deliveries recorded.
    pub deliveries: u32,
    /// Customers with at least one delivery.
    pub active_customers: u32,
}

impl DayFigures {
    /// Sums the deliveries and payments recorded at or before `until_ms`.
    pub fn until(deliveries: &[Delivery], payments: &[Payment], until_ms: i64) -> DayFigures {
        let mut f = DayFigures::default();
        let mut customers = BTreeSet::new();
        for d in deliveries.iter().filter(|d| d.updated_at <= until_ms) {
            f.liters += d.quantity;
            f.sales += d.amount;
            f.deliveries += 1;
            customers.insert(d.customer_id);
        }
        f.collection = payments.iter().filter(|p| p.created_at <= until_ms).map(|p| p.amount).sum();
        f.active_customers = customers.len() as u32;
        f
    }
}

/// How the outstanding balance moved today: what was delivered minus what was collected.
/// Exact, unlike the other changes, because balances only move through those two.
pub fn outstanding_change(today: &Stats) -> f64 {
    today.today_sales - today.today_collection
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_protocol::events::PaymentMethod;

    fn delivery(id: i64, customer_id: i64, qty: f64, at: i64) -> Delivery {
        Delivery {
            id,
            customer_id,
            customer_name: "c".into(),
            date: "2026-11-21".into(),
            quantity: qty,
            price_per_liter: 2.0,
            amount: qty * 2.0,
            updated_at: at,
        }
    }

    fn payment(amount: f64, at: i64) -> Payment {
        Payment {
            id: at,
            customer_id: 1,
            customer_name: "c".into(),
            amount,
            method: PaymentMethod::Cash,
            date: "2026-11-21".into(),
            note: None,
            created_at: at,
        }
    }

    #[test]
    fn sums_up_to_the_same_time_of_day() {
        let ds = [delivery(1, 1, 2.0, 100), delivery(2, 1, 1.0, 200), delivery(3, 2, 4.0, 900)];
        let ps = [payment(5.0, 150), payment(7.0, 950)];
        let f = DayFigures::until(&ds, &ps, 500);
        assert_eq!(
            f,
            DayFigures {
                liters: 3.0,
                sales: 6.0,
                collection: 5.0,
                deliveries: 2,
                active_customers: 1
            }
        );
        assert_eq!(DayFigures::until(&ds, &ps, 1_000).active_customers, 2);
    }

    #[test]
    fn outstanding_moves_by_sales_minus_collection() {
        let s = Stats { today_sales: 120.0, today_collection: 45.5, ..Stats::default() };
        assert_eq!(outstanding_change(&s), 74.5);
    }
}
