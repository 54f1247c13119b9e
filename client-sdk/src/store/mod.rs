//! This module deals with the live state an application shows: stats, recent deliveries and
//! payments, customers touched, notifications with their unread count, the activity feed,
//! alerts, and the connection's status and RTT. [`LiveState::apply`] folds [`Event`]s into
//! it and says what changed; it is plain data, so any UI can wrap it: plain callbacks in
//! [`callbacks`]. For Leptos, the dashboard's `live.rs` is the worked example: it folds
//! events here and publishes the parts that changed to signals once per animation frame (an
//! SDK wrapper publishing on every event would cost one render per event at high rates).

pub mod callbacks;
mod model;

pub use model::{
    CustomerRecord, Fold, Model, NotificationRecord, Raw, RawKind, RawRow, Record, Typed,
};

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};

use pulse_protocol::events::Id;
use pulse_protocol::Envelope;

use crate::connection::{Event, Message, Status};
use crate::transport::Transport;

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

impl std::ops::BitOrAssign for Changes {
    fn bitor_assign(&mut self, b: Changes) {
        // Destructured, not `..`: a new part of the state must be merged here too.
        let Changes {
            stats,
            deliveries,
            payments,
            customers,
            notifications,
            activity,
            alerts,
            connection,
            last_event,
        } = b;
        self.stats |= stats;
        self.deliveries |= deliveries;
        self.payments |= payments;
        self.customers |= customers;
        self.notifications |= notifications;
        self.activity |= activity;
        self.alerts |= alerts;
        self.connection |= connection;
        self.last_event |= last_event;
    }
}

/// The live view of one tenant's business and of the connection, with payloads kept as
/// `M` says: typed by default, as JSON for JavaScript ([`Raw`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState<M: Model = Typed> {
    /// Latest statistics and the log position they reflect.
    pub stats: Option<Envelope<M::Stats>>,
    /// Recent deliveries, newest first, updated in place by id.
    pub deliveries: VecDeque<M::Delivery>,
    /// Recent payments, newest first.
    pub payments: VecDeque<M::Payment>,
    /// Customers seen in events, by id, with their latest balance.
    pub customers: BTreeMap<Id, M::Customer>,
    /// Balances seen in `balance:updated`, also for customers not (yet) in `customers`.
    pub balances: BTreeMap<Id, f64>,
    /// Notifications, newest first.
    pub notifications: VecDeque<M::Notification>,
    /// Activity feed, newest first.
    pub activity: VecDeque<M::Activity>,
    /// System alerts, newest first.
    pub alerts: VecDeque<Envelope<M::Alert>>,
    /// Connection status.
    pub status: Status,
    /// Last health-ping round trip, ms.
    pub rtt_ms: Option<u32>,
    /// The transport carrying the session (WebSocket or long-polling), if any.
    pub transport: Option<Transport>,
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
    /// An empty state keeping at most `limits`, with typed payloads.
    pub fn new(limits: Limits) -> Self {
        LiveState::empty(limits)
    }
}

impl<M: Model> LiveState<M> {
    /// An empty state keeping at most `limits`.
    pub fn empty(limits: Limits) -> Self {
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
            transport: None,
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
        *self = LiveState::empty(keep.3);
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
        self.notifications.iter().filter(|n| !n.read()).count()
    }

    /// Where data flows now: `websocket` or `polling` (Engine.IO long-polling) while live,
    /// `rest` while the REST fallback polls the event log, `none` otherwise.
    pub fn transport(&self) -> &'static str {
        match self.status {
            // A machine driven without the SDK's driver hears of no transport: its
            // `Io::Open` asks for a WebSocket.
            Status::Live => self.transport.unwrap_or(Transport::WebSocket).as_str(),
            Status::Polling { .. } => "rest",
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
            Event::Transport(t) => {
                self.transport = *t;
                c.connection = true;
            }
            Event::Message(m) => self.apply_message(m, &mut c),
            _ => {}
        }
        c
    }

    fn apply_message(&mut self, m: &Message, c: &mut Changes) {
        let first = m.args.first().map(crate::codec::Json::value);
        let fold = match M::read(&m.event, first.as_ref()) {
            None => return, // not a Pulse event: the application's own
            Some(Ok(fold)) => fold,
            Some(Err(())) => {
                self.malformed += 1;
                return;
            }
        };
        let limit = self.limits.recent;
        match fold {
            Fold::Epoch(epoch) => {
                if self.epoch.as_ref().is_some_and(|e| *e != epoch) {
                    *c = self.clear_data();
                }
                self.epoch = Some(epoch);
            }
            Fold::Resync => *c = self.clear_data(),
            Fold::Nothing => {}
            Fold::Stats(env) => {
                // An older snapshot (e.g. a poll that raced the socket) must not win.
                if self.stats.as_ref().is_some_and(|s| s.seq > env.seq) {
                    return;
                }
                self.touch(env.ts, c);
                self.stats = Some(env);
                c.stats = true;
            }
            Fold::Delivery(ts, d) => {
                self.touch(ts, c);
                upsert_front(&mut self.deliveries, d, limit);
                c.deliveries = true;
            }
            Fold::Payment(ts, p) => {
                self.touch(ts, c);
                upsert_front(&mut self.payments, p, limit);
                c.payments = true;
            }
            Fold::Customer(ts, cust) => {
                self.touch(ts, c);
                self.balances.insert(cust.key(), cust.balance());
                self.customers.insert(cust.key(), cust);
                c.customers = true;
            }
            Fold::Balance(ts, id, balance) => {
                self.touch(ts, c);
                self.balances.insert(id, balance);
                if let Some(cust) = self.customers.get_mut(&id) {
                    cust.set_balance(balance);
                }
                c.customers = true;
            }
            Fold::Activity(ts, a) => {
                self.touch(ts, c);
                upsert_front(&mut self.activity, a, limit);
                c.activity = true;
            }
            Fold::Notification(ts, n) => {
                self.touch(ts, c);
                upsert_front(&mut self.notifications, n, self.limits.notifications);
                c.notifications = true;
            }
            Fold::Read(ts, ids) => {
                self.touch(ts, c);
                for n in self.notifications.iter_mut().filter(|n| ids.contains(&n.key())) {
                    n.mark_read();
                }
                c.notifications = true;
            }
            Fold::Alert(env) => {
                self.touch(env.ts, c);
                self.alerts.push_front(env);
                self.alerts.truncate(limit);
                c.alerts = true;
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
    pub fn load_deliveries(&mut self, items: Vec<M::Delivery>) {
        self.deliveries = items.into_iter().take(self.limits.recent).collect();
    }

    /// Replaces the recent payments.
    pub fn load_payments(&mut self, items: Vec<M::Payment>) {
        self.payments = items.into_iter().take(self.limits.recent).collect();
    }

    /// Replaces the notifications.
    pub fn load_notifications(&mut self, items: Vec<M::Notification>) {
        self.notifications = items.into_iter().take(self.limits.notifications).collect();
    }

    /// Replaces the activity feed.
    pub fn load_activity(&mut self, items: Vec<M::Activity>) {
        self.activity = items.into_iter().take(self.limits.recent).collect();
    }

    /// Adds customers (e.g. the customer list).
    pub fn load_customers(&mut self, items: Vec<M::Customer>) {
        for c in items {
            self.balances.insert(c.key(), c.balance());
            self.customers.insert(c.key(), c);
        }
    }

    /// Takes statistics read over REST unless newer ones came live.
    pub fn merge_stats(&mut self, env: Envelope<M::Stats>) -> Changes {
        if self.stats.as_ref().is_some_and(|cur| cur.seq > env.seq) {
            return Changes::default();
        }
        self.stats = Some(env);
        Changes { stats: true, ..Changes::default() }
    }

    /// Merges a page of deliveries read over REST with those that came live. A delivery
    /// edited while its topic was not received is taken from the page when it is newer.
    pub fn merge_deliveries(&mut self, page: Vec<M::Delivery>) -> Changes {
        let mut have: Vec<_> = self.deliveries.drain(..).collect();
        merge_by(&mut have, page, true);
        self.load_deliveries(have);
        Changes { deliveries: true, ..Changes::default() }
    }

    /// Merges a page of payments read over REST with those that came live.
    pub fn merge_payments(&mut self, page: Vec<M::Payment>) -> Changes {
        let mut have: Vec<_> = self.payments.drain(..).collect();
        merge_by(&mut have, page, false);
        self.load_payments(have);
        Changes { payments: true, ..Changes::default() }
    }

    /// Merges a page of notifications read over REST with those that came live.
    pub fn merge_notifications(&mut self, page: Vec<M::Notification>) -> Changes {
        let mut have: Vec<_> = self.notifications.drain(..).collect();
        merge_by(&mut have, page, false);
        self.load_notifications(have);
        Changes { notifications: true, ..Changes::default() }
    }

    /// Merges a page of the activity feed read over REST with what came live.
    pub fn merge_activity(&mut self, page: Vec<M::Activity>) -> Changes {
        let mut have: Vec<_> = self.activity.drain(..).collect();
        merge_by(&mut have, page, false);
        self.load_activity(have);
        Changes { activity: true, ..Changes::default() }
    }

    /// Merges customers read over REST (a page of the list replaces what it names).
    pub fn merge_customers(&mut self, page: Vec<M::Customer>) -> Changes {
        self.load_customers(page);
        Changes { customers: true, ..Changes::default() }
    }
}

/// Merges `fresh` into `have` by key, newest first. A row already there wins (it came from
/// a live event, newer than the page), unless `edits` and the page's row changed later: a
/// topic that was not received for a while holds rows that changed meanwhile. A flag, not a
/// closure, so there is one copy of this (and of its sort) per row type in the package.
fn merge_by<T: Record>(have: &mut Vec<T>, fresh: Vec<T>, edits: bool) {
    for item in fresh {
        match have.iter().position(|x| x.key() == item.key()) {
            Some(i) if edits && item.at() > have[i].at() => have[i] = item,
            Some(_) => {}
            None => have.push(item),
        }
    }
    // The sort runs on (time, position) pairs, so it is compiled once, not once per row type.
    let order = newest_first(have.iter().map(Record::at).collect());
    let mut rows: Vec<Option<T>> = have.drain(..).map(Some).collect();
    have.extend(order.into_iter().filter_map(|i| rows[i].take()));
}

/// Positions of `times` newest first; equal times keep their order.
fn newest_first(times: Vec<i64>) -> Vec<usize> {
    let mut keyed: Vec<(Reverse<i64>, usize)> =
        times.into_iter().enumerate().map(|(i, t)| (Reverse(t), i)).collect();
    // Positions are unique, so an unstable sort gives the stable order.
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Puts `item` first, replacing a row with the same key wherever it was, and keeps at most
/// `cap` rows.
fn upsert_front<T: Record>(list: &mut VecDeque<T>, item: T, cap: usize) {
    if let Some(i) = list.iter().position(|x| x.key() == item.key()) {
        list.remove(i);
    }
    list.push_front(item);
    list.truncate(cap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulse_protocol::events::{Delivery, Stats};
    use pulse_protocol::events::{
        ACTIVITY_UPDATED, ALERT_SYSTEM, BALANCE_UPDATED, CONNECTION_STATUS, CUSTOMER_UPDATED,
        DELIVERY_UPDATED, ERROR, NOTIFICATION_NEW, NOTIFICATION_READ, PAYMENT_ADDED, PONG,
        STATS_UPDATED, USER_UPDATED,
    };
    use serde_json::{json, Value};
    use std::time::Duration;

    fn msg(event: &str, seq: u64, data: Value) -> Event {
        Event::Message(Message {
            event: event.into(),
            args: vec![json!({ "seq": seq, "ts": 1000 + seq as i64, "data": data }).into()],
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

    /// A row keyed by `.0`, ordered by `.1`; `.2` tells copies apart.
    #[derive(Debug, Clone, PartialEq, serde::Serialize)]
    struct Row(Id, i64, &'static str);

    impl Record for Row {
        fn key(&self) -> Id {
            self.0
        }
        fn at(&self) -> i64 {
            self.1
        }
    }

    #[test]
    fn merging_keeps_live_items_and_sorts() {
        let mut have = vec![Row(3, 30, "live"), Row(1, 10, "live")];
        let fresh = vec![Row(2, 20, "rest"), Row(3, 30, "rest")];
        merge_by(&mut have, fresh, false);
        assert_eq!(have, [Row(3, 30, "live"), Row(2, 20, "rest"), Row(1, 10, "live")]);
    }

    #[test]
    fn merging_takes_what_changed_while_unsubscribed() {
        let mut have = vec![Row(3, 10, "live"), Row(1, 10, "live")];
        let fresh = vec![Row(3, 12, "rest"), Row(1, 9, "rest")];
        merge_by(&mut have, fresh, true);
        assert_eq!(have, [Row(3, 12, "rest"), Row(1, 10, "live")]);
    }

    #[test]
    fn merging_keeps_the_order_of_equal_times() {
        let mut have = vec![Row(1, 5, "live"), Row(2, 7, "live"), Row(3, 5, "live")];
        merge_by(&mut have, vec![Row(4, 5, "rest"), Row(5, 9, "rest")], false);
        let keys: Vec<Id> = have.iter().map(|r| r.0).collect();
        assert_eq!(keys, [5, 2, 1, 3, 4]);
    }

    #[test]
    fn a_page_read_over_rest_merges_with_live_events() {
        let mut s = LiveState::default();
        s.apply(&msg(STATS_UPDATED, 9, stats(9.0)));
        let older: Envelope<Stats> =
            serde_json::from_value(json!({ "seq": 8, "ts": 1, "data": stats(8.0) })).unwrap();
        assert!(!s.merge_stats(older).any(), "older stats than the live ones lose");
        s.apply(&msg(DELIVERY_UPDATED, 10, delivery(2, 5.0)));
        let page: Vec<Delivery> =
            serde_json::from_value(json!([delivery(2, 1.0), delivery(1, 1.0)])).unwrap();
        assert!(s.merge_deliveries(page).deliveries);
        let rows: Vec<(Id, f64)> = s.deliveries.iter().map(|d| (d.id, d.quantity)).collect();
        assert_eq!(rows, [(2, 5.0), (1, 1.0)], "the live edit wins over the page's older row");
    }

    /// Every catalogue event, as the server sends it, and some that do not decode.
    fn every_event() -> Vec<Event> {
        let customer = |id: Id, balance: f64| {
            json!({ "id": id, "name": "Ravi", "phone": null, "address": "1 Road",
                    "price_per_liter": 1.2, "balance": balance, "active": true, "updated_at": 1 })
        };
        let notification = |id: Id| json!({ "id": id, "title": "t", "body": "b", "level": "info", "created_at": id, "read": false });
        let bare = |event: &str, arg: Value| {
            Event::Message(Message {
                event: event.into(),
                args: vec![arg.into()],
                attachments: vec![],
                ack_id: None,
            })
        };
        vec![
            msg(CONNECTION_STATUS, 0, json!({ "epoch": "e1", "head": 0, "node": "n" })),
            msg(STATS_UPDATED, 3, stats(10.5)),
            msg(DELIVERY_UPDATED, 4, delivery(1, 2.0)),
            msg(DELIVERY_UPDATED, 5, delivery(2, 3.0)),
            msg(DELIVERY_UPDATED, 6, delivery(1, 4.0)),
            msg(
                PAYMENT_ADDED,
                7,
                json!({ "id": 1, "customer_id": 7, "customer_name": "Ravi",
                "amount": 5.0, "method": "CASH", "date": "2026-01-01", "note": null, "created_at": 1 }),
            ),
            msg(CUSTOMER_UPDATED, 8, customer(7, 10.0)),
            msg(BALANCE_UPDATED, 9, json!({ "customer_id": 7, "balance": 4.5 })),
            msg(BALANCE_UPDATED, 10, json!({ "customer_id": 8, "balance": 1.0 })),
            msg(
                ACTIVITY_UPDATED,
                11,
                json!({ "seq": 11, "ts": 5, "actor": "a", "action": "x", "summary": "s" }),
            ),
            msg(NOTIFICATION_NEW, 12, notification(1)),
            msg(NOTIFICATION_NEW, 13, notification(2)),
            msg(NOTIFICATION_READ, 14, json!({ "ids": [1] })),
            msg(ALERT_SYSTEM, 15, json!({ "level": "warning", "message": "disk" })),
            msg(
                USER_UPDATED,
                16,
                json!({ "id": 3, "tenant_id": 1, "email": "a@b", "name": "A",
                "role": "staff", "active": true }),
            ),
            bare(PONG, json!({ "server_time": 1 })),
            bare(ERROR, json!({ "code": "RATE_LIMITED", "message": "slow down" })),
            // Malformed: a string for an id, a missing balance, no envelope.
            msg(DELIVERY_UPDATED, 17, json!({ "id": "x" })),
            msg(BALANCE_UPDATED, 18, json!({ "customer_id": 7 })),
            bare(PAYMENT_ADDED, json!("nope")),
            // Not Pulse's: ignored.
            bare("chat", json!({ "text": "hi" })),
            msg(STATS_UPDATED, 2, stats(1.0)),
        ]
    }

    /// A state's parts as JSON, for comparing two models.
    fn parts<M: Model>(s: &LiveState<M>) -> Value {
        json!({
            "stats": s.stats, "deliveries": s.deliveries, "payments": s.payments,
            "customers": s.customers.values().collect::<Vec<_>>(), "balances": s.balances,
            "notifications": s.notifications, "unread": s.unread(), "activity": s.activity,
            "alerts": s.alerts, "last_event_at": s.last_event_at, "malformed": s.malformed,
            "epoch": s.epoch,
        })
    }

    #[test]
    fn the_json_model_folds_every_event_as_the_typed_one() {
        let events = every_event();
        let names: Vec<&str> = events
            .iter()
            .filter_map(|e| if let Event::Message(m) = e { Some(m.event.as_str()) } else { None })
            .collect();
        for e in pulse_protocol::events::CATALOGUE {
            assert!(names.contains(&e.name), "{} has no sample here", e.name);
        }
        let mut typed = LiveState::default();
        let mut raw = LiveState::<Raw>::empty(Limits::default());
        for e in &events {
            assert_eq!(typed.apply(e), raw.apply(e), "{e:?}");
        }
        assert_eq!(parts(&typed), parts(&raw));
        assert_eq!((typed.malformed, typed.unread(), typed.deliveries.len()), (3, 1, 2));
        // And the same after a resync.
        let resync = Event::Message(Message {
            event: ERROR.into(),
            args: vec![json!({ "code": "RESYNC_REQUIRED", "message": "behind" }).into()],
            attachments: vec![],
            ack_id: None,
        });
        assert_eq!(typed.apply(&resync), raw.apply(&resync));
        assert_eq!(parts(&typed), parts(&raw));
        assert!(raw.stats.is_none() && raw.deliveries.is_empty());
    }

    #[test]
    fn applies_stats_status_and_rtt() {
        let mut s = LiveState::default();
        assert!(s.apply(&Event::Status(Status::Live)).connection);
        assert!(s.apply(&Event::Rtt(Duration::from_millis(12))).connection);
        let c = s.apply(&msg(STATS_UPDATED, 3, stats(10.5)));
        assert!(c.stats && c.last_event && !c.deliveries);
        assert_eq!((s.transport(), s.rtt_ms), ("websocket", Some(12)));
        assert!(s.apply(&Event::Transport(Some(Transport::Polling))).connection);
        assert_eq!(s.transport(), "polling");
        s.apply(&Event::Status(Status::Polling {
            attempt: 1,
            retry_at: None,
            every: Duration::from_secs(10),
        }));
        assert_eq!(s.transport(), "rest", "the REST fallback is not Engine.IO's polling");
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
            args: vec![json!("nope").into()],
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
            args: vec![json!({ "code": "RESYNC_REQUIRED", "message": "behind" }).into()],
            attachments: Vec::new(),
            ack_id: None,
        });
        s.apply(&resync);
        assert!(s.stats.is_none());
        assert_eq!(s.epoch.as_deref(), Some("new"));
    }
}
