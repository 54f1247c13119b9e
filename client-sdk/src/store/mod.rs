//! This module deals with the live state an application shows: stats, recent deliveries and
//! payments, customers touched, notifications with their unread count, the activity feed,
//! alerts, and the connection's status and RTT. [`LiveState::apply`] folds [`Event`]s into
//! it and says what changed; it is plain data, so any UI can wrap it: Leptos signals in
//! `leptos` (feature `leptos`), plain callbacks in [`callbacks`].

pub mod callbacks;
#[cfg(feature = "leptos")]
pub mod leptos;

use std::collections::{BTreeMap, VecDeque};

use pulse_protocol::events::{
    Activity, Alert, BalanceUpdated, ConnectionStatus, Customer, Delivery, Id, Notification,
    NotificationsRead, Payment, Stats, ACTIVITY_UPDATED, ALERT_SYSTEM, BALANCE_UPDATED,
    CONNECTION_STATUS, CUSTOMER_UPDATED, DELIVERY_UPDATED, ERROR, NOTIFICATION_NEW,
    NOTIFICATION_READ, PAYMENT_ADDED, STATS_UPDATED,
};
use pulse_protocol::{Envelope, ErrorCode, WireError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::connection::{Event, Message, Status};

/// How much history the store keeps; older entries fall off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Recent deliveries, payments, activity entries and alerts kept.
    pub recent: usize,
    /// Notifications kept.
    pub notifications: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { recent: 50, notifications: 100 }
    }
}

/// Which parts of the state an event changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// `stats`.
    pub stats: bool,
    /// `deliveries`.
    pub deliveries: bool,
    /// `payments`.
    pub payments: bool,
    /// `customers`.
    pub customers: bool,
    /// `notifications` (and so `unread()`).
    pub notifications: bool,
    /// `activity`.
    pub activity: bool,
    /// `alerts`.
    pub alerts: bool,
    /// `status`, `rtt_ms`.
    pub connection: bool,
    /// `last_event_at`.
    pub last_event: bool,
}

impl Changes {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        *self != Changes::default()
    }
}

/// The live view of one tenant's business and of the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState {
    /// Latest statistics and the log position they reflect.
    pub stats: Option<Envelope<Stats>>,
    /// Recent deliveries, newest first, updated in place by id.
    pub deliveries: VecDeque<Delivery>,
    /// Recent payments, newest first.
    pub payments: VecDeque<Payment>,
    /// Customers seen in events, by id, with their latest balance.
    pub customers: BTreeMap<Id, Customer>,
    /// Balances seen in `balance:updated`, also for customers not (yet) in `customers`.
    pub balances: BTreeMap<Id, f64>,
    /// Notifications, newest first.
    pub notifications: VecDeque<Notification>,
    /// Activity feed, newest first.
    pub activity: VecDeque<Activity>,
    /// System alerts, newest first.
    pub alerts: VecDeque<Envelope<Alert>>,
    /// Connection status.
    pub status: Status,
    /// Last health-ping round trip, ms.
    pub rtt_ms: Option<u32>,
    /// Server time of the last event applied, ms since the epoch.
    pub last_event_at: Option<i64>,
    /// Events that did not decode as their catalogue type (a server/client version skew).
    pub malformed: u64,
    /// The epoch of the log this state was built from (`connection:status`).
    pub epoch: Option<String>,
    limits: Limits,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState::new(Limits::default())
    }
}

impl LiveState {
    /// An empty state keeping at most `limits`.
    pub fn new(limits: Limits) -> Self {
        LiveState {
            stats: None,
            deliveries: VecDeque::new(),
            payments: VecDeque::new(),
            customers: BTreeMap::new(),
            balances: BTreeMap::new(),
            notifications: VecDeque::new(),
            activity: VecDeque::new(),
            alerts: VecDeque::new(),
            status: Status::Offline,
            rtt_ms: None,
            last_event_at: None,
            malformed: 0,
            epoch: None,
            limits,
        }
    }

    /// Forgets every business figure and list (not the connection): they belong to a log
    /// that was replaced or that the client fell too far behind. The application reloads
    /// them (over REST) and live events rebuild the rest.
    pub fn clear_data(&mut self) -> Changes {
        let keep = (self.status.clone(), self.rtt_ms, self.epoch.take(), self.limits);
        *self = LiveState::new(keep.3);
        (self.status, self.rtt_ms, self.epoch) = (keep.0, keep.1, keep.2);
        Changes {
            stats: true,
            deliveries: true,
            payments: true,
            customers: true,
            notifications: true,
            activity: true,
            alerts: true,
            ..Changes::default()
        }
    }

    /// Unread notifications among those kept.
    pub fn unread(&self) -> usize {
        self.notifications.iter().filter(|n| !n.read).count()
    }

    /// Where the connection carries data: `websocket`, `polling` or `none`.
    pub fn transport(&self) -> &'static str {
        match self.status {
            Status::Live => "websocket",
            Status::Polling { .. } => "polling",
            _ => "none",
        }
    }

    /// Folds one event in and says what changed.
    pub fn apply(&mut self, event: &Event) -> Changes {
        let mut c = Changes::default();
        match event {
            Event::Status(s) => {
                self.status = s.clone();
                c.connection = true;
            }
            Event::Rtt(d) => {
                self.rtt_ms = Some(d.as_millis().min(u32::MAX as u128) as u32);
                c.connection = true;
            }
            Event::Message(m) => self.apply_message(m, &mut c),
            _ => {}
        }
        c
    }

    fn apply_message(&mut self, m: &Message, c: &mut Changes) {
        let limit = self.limits.recent;
        match m.event.as_str() {
            CONNECTION_STATUS => {
                if let Some(env) = self.decode::<ConnectionStatus>(m) {
                    let replaced = self.epoch.as_ref().is_some_and(|e| *e != env.data.epoch);
                    if replaced {
                        *c = self.clear_data();
                    }
                    self.epoch = Some(env.data.epoch);
                }
            }
            ERROR => {
                let code = m.args.first().and_then(WireError::from_wire).map(|e| e.code);
                let resync = code == Some(ErrorCode::ResyncRequired);
                if resync {
                    *c = self.clear_data();
                }
            }
            STATS_UPDATED => {
                if let Some(env) = self.decode::<Stats>(m) {
                    // An older snapshot (e.g. a poll that raced the socket) must not win.
                    if self.stats.as_ref().is_some_and(|s| s.seq > env.seq) {
                        return;
                    }
                    self.touch(env.ts, c);
                    self.stats = Some(env);
                    c.stats = true;
                }
            }
            DELIVERY_UPDATED => {
                if let Some(env) = self.decode::<Delivery>(m) {
                    self.touch(env.ts, c);
                    upsert_front(&mut self.deliveries, env.data, |d| d.id, limit);
                    c.deliveries = true;
                }
            }
            PAYMENT_ADDED => {
                if let Some(env) = self.decode::<Payment>(m) {
                    self.touch(env.ts, c);
                    upsert_front(&mut self.payments, env.data, |p| p.id, limit);
                    c.payments = true;
                }
            }
            CUSTOMER_UPDATED => {
                if let Some(env) = self.decode::<Customer>(m) {
                    self.touch(env.ts, c);
                    self.balances.insert(env.data.id, env.data.balance);
                    self.customers.insert(env.data.id, env.data);
                    c.customers = true;
                }
            }
            BALANCE_UPDATED => {
                if let Some(env) = self.decode::<BalanceUpdated>(m) {
                    self.touch(env.ts, c);
                    let b = env.data;
                    self.balances.insert(b.customer_id, b.balance);
                    if let Some(cust) = self.customers.get_mut(&b.customer_id) {
                        cust.balance = b.balance;
                    }
                    c.customers = true;
                }
            }
            ACTIVITY_UPDATED => {
                if let Some(env) = self.decode::<Activity>(m) {
                    self.touch(env.ts, c);
                    upsert_front(&mut self.activity, env.data, |a| a.seq as Id, limit);
                    c.activity = true;
                }
            }
            NOTIFICATION_NEW => {
                if let Some(env) = self.decode::<Notification>(m) {
                    self.touch(env.ts, c);
                    let cap = self.limits.notifications;
                    upsert_front(&mut self.notifications, env.data, |n| n.id, cap);
                    c.notifications = true;
                }
            }
            NOTIFICATION_READ => {
                if let Some(env) = self.decode::<NotificationsRead>(m) {
                    self.touch(env.ts, c);
                    for n in self.notifications.iter_mut().filter(|n| env.data.ids.contains(&n.id))
                    {
                        n.read = true;
                    }
                    c.notifications = true;
                }
            }
            ALERT_SYSTEM => {
                if let Some(env) = self.decode::<Alert>(m) {
                    self.touch(env.ts, c);
                    self.alerts.push_front(env);
                    self.alerts.truncate(limit);
                    c.alerts = true;
                }
            }
            _ => {}
        }
    }

    fn decode<T: DeserializeOwned>(&mut self, m: &Message) -> Option<Envelope<T>> {
        match m.args.first().map(Envelope::<T>::deserialize) {
            Some(Ok(env)) => Some(env),
            _ => {
                self.malformed += 1;
                None
            }
        }
    }

    fn touch(&mut self, ts: i64, c: &mut Changes) {
        if self.last_event_at.is_none_or(|t| ts > t) {
            self.last_event_at = Some(ts);
            c.last_event = true;
        }
    }

    /// Replaces the recent deliveries, e.g. with a first page loaded over REST.
    pub fn load_deliveries(&mut self, items: Vec<Delivery>) {
        self.deliveries = items.into_iter().take(self.limits.recent).collect();
    }

    /// Replaces the recent payments.
    pub fn load_payments(&mut self, items: Vec<Payment>) {
        self.payments = items.into_iter().take(self.limits.recent).collect();
    }

    /// Replaces the notifications.
    pub fn load_notifications(&mut self, items: Vec<Notification>) {
        self.notifications = items.into_iter().take(self.limits.notifications).collect();
    }

    /// Replaces the activity feed.
    pub fn load_activity(&mut self, items: Vec<Activity>) {
        self.activity = items.into_iter().take(self.limits.recent).collect();
    }

    /// Adds customers (e.g. the customer list).
    pub fn load_customers(&mut self, items: Vec<Customer>) {
        for c in items {
            self.balances.insert(c.id, c.balance);
            self.customers.insert(c.id, c);
        }
    }
}

/// Puts `item` first, replacing an entry with the same key wherever it was, and keeps at
/// most `cap` entries.
fn upsert_front<T>(list: &mut VecDeque<T>, item: T, key: impl Fn(&T) -> Id, cap: usize) {
    let k = key(&item);
    if let Some(i) = list.iter().position(|x| key(x) == k) {
        list.remove(i);
    }
    list.push_front(item);
    list.truncate(cap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::time::Duration;

    fn msg(event: &str, seq: u64, data: Value) -> Event {
        Event::Message(Message {
            event: event.into(),
            args: vec![json!({ "seq": seq, "ts": 1000 + seq as i64, "data": data })],
            attachments: vec![],
            ack_id: None,
        })
    }

    fn delivery(id: Id, qty: f64) -> Value {
        json!({ "id": id, "customer_id": 1, "customer_name": "Asha", "date": "2026-11-22",
                "quantity": qty, "price_per_liter": 1.2, "amount": qty * 1.2, "updated_at": 1 })
    }

    fn stats(liters: f64) -> Value {
        json!({ "today_liters": liters, "today_sales": 0.0, "today_collection": 0.0,
                "outstanding": 0.0, "active_customers": 0, "deliveries_today": 0 })
    }

    #[test]
    fn applies_stats_status_and_rtt() {
        let mut s = LiveState::default();
        assert!(s.apply(&Event::Status(Status::Live)).connection);
        assert!(s.apply(&Event::Rtt(Duration::from_millis(12))).connection);
        let c = s.apply(&msg(STATS_UPDATED, 3, stats(10.5)));
        assert!(c.stats && c.last_event && !c.deliveries);
        assert_eq!((s.transport(), s.rtt_ms), ("websocket", Some(12)));
        assert_eq!(s.stats.as_ref().unwrap().data.today_liters, 10.5);
        assert_eq!(s.last_event_at, Some(1003));
    }

    #[test]
    fn older_stats_snapshots_do_not_win() {
        let mut s = LiveState::default();
        s.apply(&msg(STATS_UPDATED, 5, stats(50.0)));
        assert!(!s.apply(&msg(STATS_UPDATED, 4, stats(40.0))).any());
        assert_eq!(s.stats.as_ref().unwrap().seq, 5);
    }

    #[test]
    fn deliveries_update_in_place_and_stay_bounded() {
        let mut s = LiveState::new(Limits { recent: 3, notifications: 3 });
        for id in 1..=4 {
            s.apply(&msg(DELIVERY_UPDATED, id as u64, delivery(id, 1.0)));
        }
        let ids: Vec<Id> = s.deliveries.iter().map(|d| d.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        s.apply(&msg(DELIVERY_UPDATED, 5, delivery(3, 9.0)));
        let ids: Vec<Id> = s.deliveries.iter().map(|d| d.id).collect();
        assert_eq!(ids, [3, 4, 2], "the edited row moves up, no duplicate");
        assert_eq!(s.deliveries[0].quantity, 9.0);
    }

    #[test]
    fn notifications_count_unread_and_sync_read_state() {
        let mut s = LiveState::default();
        for id in 1..=3 {
            s.apply(&msg(
                NOTIFICATION_NEW,
                id as u64,
                json!({ "id": id, "title": "t", "body": "b", "level": "info", "created_at": 1, "read": false }),
            ));
        }
        assert_eq!(s.unread(), 3);
        let c = s.apply(&msg(NOTIFICATION_READ, 9, json!({ "ids": [1, 3] })));
        assert!(c.notifications);
        assert_eq!(s.unread(), 1);
    }

    #[test]
    fn balances_follow_balance_events() {
        let mut s = LiveState::default();
        s.apply(&msg(
            CUSTOMER_UPDATED,
            1,
            json!({ "id": 7, "name": "Ravi", "price_per_liter": 1.2, "balance": 10.0, "active": true, "updated_at": 1 }),
        ));
        s.apply(&msg(BALANCE_UPDATED, 2, json!({ "customer_id": 7, "balance": 4.5 })));
        s.apply(&msg(BALANCE_UPDATED, 3, json!({ "customer_id": 8, "balance": 1.0 })));
        assert_eq!(s.customers[&7].balance, 4.5);
        assert_eq!(s.balances[&8], 1.0);
    }

    #[test]
    fn malformed_events_are_counted_not_applied() {
        let mut s = LiveState::default();
        let bad = Event::Message(Message {
            event: PAYMENT_ADDED.into(),
            args: vec![json!("nope")],
            attachments: vec![],
            ack_id: None,
        });
        assert!(!s.apply(&bad).any());
        assert_eq!((s.payments.len(), s.malformed), (0, 1));
    }

    #[test]
    fn a_replaced_log_or_a_resync_clears_the_figures_and_lists() {
        let mut s = LiveState::default();
        let status = |epoch: &str| {
            msg("connection:status", 0, json!({ "epoch": epoch, "head": 0, "node": "n" }))
        };
        s.apply(&status("old"));
        s.apply(&msg("stats:updated", 500, stats(9.0)));
        s.apply(&msg("payment:added", 501, json!({ "id": 1, "customer_id": 2, "customer_name": "A", "amount": 5.0, "method": "CASH", "date": "2026-01-01", "note": null, "created_at": 1 })));
        assert!(s.stats.is_some() && !s.payments.is_empty());
        s.apply(&status("old"));
        assert!(s.stats.is_some(), "the same log keeps its state");
        let c = s.apply(&status("new"));
        assert!(c.stats && c.payments);
        assert!(s.stats.is_none() && s.payments.is_empty(), "another log: nothing of the old one");
        // The new log's stats are taken although their seq is lower.
        s.apply(&msg("stats:updated", 3, stats(1.0)));
        assert_eq!(s.stats.as_ref().map(|e| e.seq), Some(3));
        let resync = Event::Message(Message {
            event: "error".into(),
            args: vec![json!({ "code": "RESYNC_REQUIRED", "message": "behind" })],
            attachments: Vec::new(),
            ack_id: None,
        });
        s.apply(&resync);
        assert!(s.stats.is_none());
        assert_eq!(s.epoch.as_deref(), Some("new"));
    }
}
