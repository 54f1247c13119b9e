//! This module deals with exposing [`LiveState`] to Leptos: one signal per part, set only
//! when that part changed, so a component showing the RTT does not re-render when a payment
//! arrives.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use pulse_protocol::events::{
    Activity, Alert, Customer, Delivery, Id, Notification, Payment, Stats,
};
use pulse_protocol::Envelope;

use super::{Changes, Limits, LiveState};
use crate::client::{Client, Subscription};
use crate::connection::Status;

/// Leptos signals mirroring a client's [`LiveState`]. `Copy`: pass it to components freely.
#[derive(Debug, Clone, Copy)]
pub struct LiveSignals {
    /// Latest statistics.
    pub stats: RwSignal<Option<Envelope<Stats>>>,
    /// Recent deliveries, newest first.
    pub deliveries: RwSignal<VecDeque<Delivery>>,
    /// Recent payments, newest first.
    pub payments: RwSignal<VecDeque<Payment>>,
    /// Customers seen, by id.
    pub customers: RwSignal<BTreeMap<Id, Customer>>,
    /// Latest balances, by customer id.
    pub balances: RwSignal<BTreeMap<Id, f64>>,
    /// Notifications, newest first.
    pub notifications: RwSignal<VecDeque<Notification>>,
    /// Unread notifications.
    pub unread: RwSignal<usize>,
    /// Activity feed, newest first.
    pub activity: RwSignal<VecDeque<Activity>>,
    /// System alerts, newest first.
    pub alerts: RwSignal<VecDeque<Envelope<Alert>>>,
    /// Connection status.
    pub status: RwSignal<Status>,
    /// Last health-ping round trip, ms.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// Server time of the last event, ms since the epoch.
    pub last_event_at: RwSignal<Option<i64>>,
    state: StoredValue<Arc<Mutex<LiveState>>>,
}

impl LiveSignals {
    /// Creates the signals and keeps them in sync with `client` while the returned
    /// subscription lives.
    pub fn attach(client: &Client, limits: Limits) -> (LiveSignals, Subscription) {
        let initial = LiveState { status: client.status(), ..LiveState::new(limits) };
        let signals = LiveSignals {
            stats: RwSignal::new(None),
            deliveries: RwSignal::new(VecDeque::new()),
            payments: RwSignal::new(VecDeque::new()),
            customers: RwSignal::new(BTreeMap::new()),
            balances: RwSignal::new(BTreeMap::new()),
            notifications: RwSignal::new(VecDeque::new()),
            unread: RwSignal::new(0),
            activity: RwSignal::new(VecDeque::new()),
            alerts: RwSignal::new(VecDeque::new()),
            status: RwSignal::new(initial.status.clone()),
            rtt_ms: RwSignal::new(None),
            last_event_at: RwSignal::new(None),
            state: StoredValue::new(Arc::new(Mutex::new(initial))),
        };
        let sub = client.on_any(move |event| {
            signals.update(|s| s.apply(event));
        });
        (signals, sub)
    }

    /// Changes the state (e.g. loads a first page over REST) and refreshes the signals of
    /// the parts `f` says it changed.
    pub fn update(&self, f: impl FnOnce(&mut LiveState) -> Changes) {
        let Some(state) = self.state.try_get_value() else { return };
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        let c = f(&mut s);
        self.publish(&s, c);
    }

    fn publish(&self, s: &LiveState, c: Changes) {
        if c.stats {
            self.stats.set(s.stats.clone());
        }
        if c.deliveries {
            self.deliveries.set(s.deliveries.clone());
        }
        if c.payments {
            self.payments.set(s.payments.clone());
        }
        if c.customers {
            self.customers.set(s.customers.clone());
            self.balances.set(s.balances.clone());
        }
        if c.notifications {
            self.notifications.set(s.notifications.clone());
            self.unread.set(s.unread());
        }
        if c.activity {
            self.activity.set(s.activity.clone());
        }
        if c.alerts {
            self.alerts.set(s.alerts.clone());
        }
        if c.connection {
            self.status.set(s.status.clone());
            self.rtt_ms.set(s.rtt_ms);
        }
        if c.last_event {
            self.last_event_at.set(s.last_event_at);
        }
    }
}
