//! This module deals with the live state the pages show. The SDK's [`LiveState`] folds the
//! client's events; here it is published to Leptos signals at most once per animation frame
//! (and at least every 250 ms in a background tab, where frames stop), so 500 events a
//! second cost one render per frame, not 500. This is the dashboard's one set of live
//! signals (the SDK has none of its own). Alongside: the per-minute chart
//! series, connection details for the health page, and toasts for news worth one (see
//! [`NewsPolicy`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leptos::prelude::*;
use pulse_protocol::events::{
    Activity, Alert, Customer, Delivery, Id, Level, Notification, Payment, Stats,
};
use pulse_protocol::Envelope;
use pulse_sdk::store::{Changes, Limits, LiveState};
use pulse_sdk::{Client, Event, Status, Subscription, Transport};

use crate::chart::{Bucket, MinuteSeries};
use crate::components::clock::{every, wall_ms};
use crate::components::toast::{NewsPolicy, Toasts, Tone};
use crate::format;

/// RTT samples kept for the sparkline.
const RTT_SAMPLES: usize = 40;
/// The last figures are stored at most this often.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);
/// Payment toasts are at least this far apart; what arrives in between is summed into the
/// next one.
const NEWS_GAP_MS: i64 = 3_000;

/// Connection details for the health page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkInfo {
    /// Socket.IO session id while connected.
    pub sid: Option<String>,
    /// Successful connections since the page loaded.
    pub connects: u32,
    /// Reconnection attempts since the page loaded.
    pub reconnect_attempts: u32,
    /// Why the last connection ended.
    pub last_disconnect: Option<String>,
    /// Wall-clock ms of the last (re)connection.
    pub connected_at: Option<i64>,
    /// Recent health-ping round trips, ms, oldest first.
    pub rtt_history: VecDeque<u32>,
    /// Server events received since the page loaded.
    pub events: u64,
    /// Why the server refused the connection, if it did.
    pub refused: Option<String>,
}

/// The live signals, shared through context. `Copy`.
#[derive(Clone, Copy)]
pub struct Live {
    /// Latest statistics.
    pub stats: RwSignal<Option<Envelope<Stats>>>,
    /// Recent deliveries, newest first.
    pub deliveries: RwSignal<VecDeque<Delivery>>,
    /// Recent payments, newest first.
    pub payments: RwSignal<VecDeque<Payment>>,
    /// Customers by id, with live balances.
    pub customers: RwSignal<BTreeMap<Id, Customer>>,
    /// Notifications, newest first.
    pub notifications: RwSignal<VecDeque<Notification>>,
    /// Unread notifications.
    pub unread: RwSignal<usize>,
    /// Activity feed, newest first.
    pub activity: RwSignal<VecDeque<Activity>>,
    /// Connection status.
    pub status: RwSignal<Status>,
    /// Last RTT, ms.
    pub rtt_ms: RwSignal<Option<u32>>,
    /// The transport carrying the session: a WebSocket, or long-polling where a proxy
    /// refuses WebSockets.
    pub transport: RwSignal<Option<Transport>>,
    /// Server time of the last event, ms.
    pub last_event_at: RwSignal<Option<i64>>,
    /// Connection details.
    pub link: RwSignal<LinkInfo>,
    /// Deliveries and sales per minute, last hour, oldest first.
    pub chart: RwSignal<Vec<Bucket>>,
    /// When the figures shown were current, while they come from this browser's last
    /// snapshot (the tab opened without reaching the server); `None` once loaded.
    pub stale_since: RwSignal<Option<i64>>,
    inner: StoredValue<Arc<Mutex<Inner>>>,
    toasts: Toasts,
}

struct Inner {
    state: LiveState,
    changes: Changes,
    link: LinkInfo,
    link_dirty: bool,
    series: MinuteSeries,
    chart_dirty: bool,
    policy: NewsPolicy,
    news_payments: Vec<Payment>,
    news_alerts: Vec<Envelope<Alert>>,
    news_notifications: Vec<Notification>,
    news_at: i64,
    scheduled: bool,
    /// Where the last figures are kept, once a user's snapshot is followed.
    snapshot_key: Option<String>,
    /// Whether the state changed since the last snapshot.
    unsaved: bool,
}

/// The figures a tab last showed, kept on this browser so a tab opened offline shows them,
/// marked with their time, rather than nothing.
struct Snapshot {
    saved_at: i64,
    stats: Option<Envelope<Stats>>,
    // Vecs, read from a `Value` like every REST page: the decoders are shared.
    deliveries: Vec<Delivery>,
    payments: Vec<Payment>,
    customers: Vec<Customer>,
    notifications: Vec<Notification>,
    activity: Vec<Activity>,
}
pulse_protocol::json_value!(Snapshot {
    saved_at,
    stats,
    deliveries,
    payments,
    customers,
    notifications,
    activity
});

/// Whether `c` changed a part the snapshot keeps.
fn in_snapshot(c: &Changes) -> bool {
    // Destructured: a part added to the state is kept or left out here on purpose.
    let Changes {
        stats,
        deliveries,
        payments,
        customers,
        notifications,
        activity,
        alerts: _,
        connection: _,
        last_event: _,
    } = *c;
    stats || deliveries || payments || customers || notifications || activity
}

impl Snapshot {
    fn of(s: &LiveState, saved_at: i64) -> Snapshot {
        Snapshot {
            saved_at,
            stats: s.stats.clone(),
            deliveries: s.deliveries.iter().cloned().collect(),
            payments: s.payments.iter().cloned().collect(),
            customers: s.customers.values().cloned().collect(),
            notifications: s.notifications.iter().cloned().collect(),
            activity: s.activity.iter().cloned().collect(),
        }
    }

    /// Puts the figures into `s`, which has none yet.
    fn restore(self, s: &mut LiveState) -> Changes {
        s.stats = self.stats;
        s.deliveries = self.deliveries.into();
        s.payments = self.payments.into();
        s.customers = self.customers.into_iter().map(|c| (c.id, c)).collect();
        s.notifications = self.notifications.into();
        s.activity = self.activity.into();
        Changes {
            stats: true,
            deliveries: true,
            payments: true,
            customers: true,
            notifications: true,
            activity: true,
            ..Changes::default()
        }
    }
}

/// What one frame publishes: the parts of the state that changed since the last frame (each
/// `None` when unchanged), the connection details and chart when dirty, and the toasts due.
struct Frame {
    stats: Option<Option<Envelope<Stats>>>,
    deliveries: Option<VecDeque<Delivery>>,
    payments: Option<VecDeque<Payment>>,
    customers: Option<BTreeMap<Id, Customer>>,
    notifications: Option<(VecDeque<Notification>, usize)>,
    activity: Option<VecDeque<Activity>>,
    connection: Option<(Status, Option<u32>, Option<Transport>)>,
    last_event_at: Option<Option<i64>>,
    link: Option<LinkInfo>,
    chart: Option<Vec<Bucket>>,
    news: Vec<News>,
    /// Payment news held back to keep toasts apart; another frame is due.
    held: bool,
}

impl Frame {
    /// Takes what changed out of `i`.
    fn take(i: &mut Inner, now: i64) -> Frame {
        // Destructured, not `..`: a part added to the SDK's state does not compile until the
        // dashboard publishes it (or says here why not).
        let Changes {
            stats,
            deliveries,
            payments,
            customers,
            notifications,
            activity,
            // Alerts are shown as toasts (`news`), not as a list.
            alerts: _,
            connection,
            last_event,
        } = std::mem::take(&mut i.changes);
        let s = &i.state;
        let mut news = Vec::new();
        if !i.news_payments.is_empty() && now - i.news_at >= NEWS_GAP_MS {
            i.news_at = now;
            news.push(payment_news(&std::mem::take(&mut i.news_payments)));
        }
        for a in i.news_alerts.drain(..) {
            let tone = match a.data.level {
                Level::Info => Tone::Info,
                _ => Tone::Warning,
            };
            news.push((
                vec![format!("alert:{}", a.seq)],
                tone,
                "System alert".into(),
                a.data.message,
            ));
        }
        for n in i.news_notifications.drain(..) {
            news.push((vec![format!("notification:{}", n.id)], Tone::Warning, n.title, n.body));
        }
        Frame {
            stats: stats.then(|| s.stats.clone()),
            deliveries: deliveries.then(|| s.deliveries.clone()),
            payments: payments.then(|| s.payments.clone()),
            customers: customers.then(|| s.customers.clone()),
            notifications: notifications.then(|| (s.notifications.clone(), s.unread())),
            activity: activity.then(|| s.activity.clone()),
            connection: connection.then(|| (s.status.clone(), s.rtt_ms, s.transport)),
            last_event_at: last_event.then_some(s.last_event_at),
            link: std::mem::take(&mut i.link_dirty).then(|| i.link.clone()),
            chart: std::mem::take(&mut i.chart_dirty).then(|| i.series.window(now)),
            news,
            held: !i.news_payments.is_empty(),
        }
    }
}

impl Live {
    /// Creates the signals and follows `client` while the returned subscription lives.
    pub fn attach(client: &Client, toasts: Toasts) -> (Live, Subscription) {
        let mut state = LiveState::new(Limits { recent: 100, notifications: 100 });
        state.status = client.status();
        let live = Live {
            stats: RwSignal::new(None),
            deliveries: RwSignal::new(VecDeque::new()),
            payments: RwSignal::new(VecDeque::new()),
            customers: RwSignal::new(BTreeMap::new()),
            notifications: RwSignal::new(VecDeque::new()),
            unread: RwSignal::new(0),
            activity: RwSignal::new(VecDeque::new()),
            status: RwSignal::new(state.status.clone()),
            rtt_ms: RwSignal::new(None),
            transport: RwSignal::new(None),
            last_event_at: RwSignal::new(None),
            link: RwSignal::new(LinkInfo::default()),
            chart: RwSignal::new(MinuteSeries::default().window(wall_ms())),
            stale_since: RwSignal::new(None),
            inner: StoredValue::new(Arc::new(Mutex::new(Inner {
                state,
                changes: Changes::default(),
                link: LinkInfo::default(),
                link_dirty: false,
                series: MinuteSeries::default(),
                chart_dirty: false,
                policy: NewsPolicy::load(),
                news_payments: Vec::new(),
                news_alerts: Vec::new(),
                news_notifications: Vec::new(),
                news_at: 0,
                scheduled: false,
                snapshot_key: None,
                unsaved: false,
            }))),
            toasts,
        };
        let sub = client.on_any(move |e| live.handle(e));
        // The chart slides with the clock even when nothing happens.
        every(Duration::from_secs(10), move || {
            live.with_inner(|i| {
                i.series.prune(wall_ms());
                i.chart_dirty = true;
            });
            live.schedule();
        });
        (live, sub)
    }

    fn with_inner<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        let arc = self.inner.try_get_value()?;
        let mut g = arc.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut g))
    }

    fn handle(&self, e: &Event) {
        self.with_inner(|i| {
            let c = i.state.apply(e);
            i.unsaved |= in_snapshot(&c);
            i.changes |= c;
            match e {
                Event::Message(_) => {
                    i.link.events += 1;
                    i.link_dirty = true;
                    if c.deliveries {
                        if let Some(d) = i.state.deliveries.front() {
                            if i.series.record(d.id, d.updated_at, d.amount) {
                                i.chart_dirty = true;
                            }
                        }
                    }
                    if c.payments {
                        if let Some(p) = i.state.payments.front() {
                            if i.policy.is_news(p.amount) {
                                push_bounded(&mut i.news_payments, p.clone());
                            }
                        }
                    }
                    if c.alerts {
                        if let Some(a) = i.state.alerts.front() {
                            push_bounded(&mut i.news_alerts, a.clone());
                        }
                    }
                    if let Event::Message(m) = e {
                        if m.event == pulse_protocol::events::NOTIFICATION_NEW {
                            if let Some(n) = i.state.notifications.front() {
                                push_bounded(&mut i.news_notifications, n.clone());
                            }
                        }
                    }
                }
                Event::Connected { sid, .. } => {
                    i.link.sid = Some(sid.clone());
                    i.link.connects += 1;
                    i.link.connected_at = Some(wall_ms());
                    i.link.refused = None;
                    i.link_dirty = true;
                }
                Event::Disconnected { reason } => {
                    i.link.sid = None;
                    i.link.last_disconnect = Some(reason.to_string());
                    i.link_dirty = true;
                }
                Event::ReconnectScheduled { .. } => {
                    i.link.reconnect_attempts += 1;
                    i.link_dirty = true;
                }
                Event::Rejected(err) => {
                    i.link.refused = Some(err.message.clone());
                    i.link_dirty = true;
                }
                Event::Rtt(d) => {
                    i.link.rtt_history.push_back(d.as_millis().min(u32::MAX as u128) as u32);
                    if i.link.rtt_history.len() > RTT_SAMPLES {
                        i.link.rtt_history.pop_front();
                    }
                    i.link_dirty = true;
                }
                _ => {}
            }
        });
        self.schedule();
    }

    /// Which news raises a toast.
    pub fn news_policy(&self) -> NewsPolicy {
        self.with_inner(|i| i.policy).unwrap_or_default()
    }

    /// Changes which news raises a toast (and keeps the choice on this browser).
    pub fn set_news_policy(&self, policy: NewsPolicy) {
        policy.save();
        self.with_inner(|i| i.policy = policy);
    }

    /// Changes the state directly (REST pages) and publishes at the next frame.
    pub fn update(&self, f: impl FnOnce(&mut LiveState) -> Changes) {
        self.with_inner(|i| {
            let c = f(&mut i.state);
            i.unsaved |= in_snapshot(&c);
            if c.deliveries {
                let now = wall_ms();
                let hour_ago = now - 3_600_000;
                for d in i.state.deliveries.iter().filter(|d| d.updated_at >= hour_ago) {
                    i.series.record(d.id, d.updated_at, d.amount);
                }
                i.chart_dirty = true;
            }
            i.changes |= c;
        });
        self.schedule();
    }

    /// Shows figures read elsewhere (REST, or index.html's while the app loaded), unless newer
    /// ones are in.
    pub fn merge_stats(&self, stats: Envelope<Stats>) {
        self.update(move |s| {
            let mut c = s.merge_stats(stats);
            c.stats = true;
            c
        });
    }

    /// Shows `user`'s last snapshot on this browser, if any, marked stale until the first
    /// load ([`Live::loaded`]), and keeps the snapshot up to date from now on.
    pub fn follow_snapshot(&self, user: Id) {
        let key = format!("pulse.snapshot.{user}");
        let stored = crate::local::get(&key).and_then(|t| crate::api::decode::<Snapshot>(&t).ok());
        let shown = self.with_inner(|i| {
            i.snapshot_key = Some(key);
            let snap = stored?;
            let at = snap.saved_at;
            i.changes |= snap.restore(&mut i.state);
            Some(at)
        });
        if let Some(at) = shown.flatten() {
            self.stale_since.set(Some(at));
            self.schedule();
        }
        let live = *self;
        every(SNAPSHOT_EVERY, move || live.save_snapshot());
    }

    fn save_snapshot(&self) {
        let now = wall_ms();
        let taken = self.with_inner(|i| {
            let key = i.snapshot_key.clone()?;
            std::mem::take(&mut i.unsaved).then(|| (key, Snapshot::of(&i.state, now)))
        });
        let Some(Some((key, snap))) = taken else { return };
        // Storage full: the figures are not kept, which only costs the next offline start.
        crate::local::set(&key, &crate::api::json(&snap));
    }

    /// Forgets the stored snapshot (signing out: the figures do not stay on this browser).
    pub fn forget_snapshot(&self) {
        if let Some(Some(key)) = self.with_inner(|i| i.snapshot_key.take()) {
            crate::local::remove(&key);
        }
    }

    /// The figures were loaded from the server: they are current.
    pub fn loaded(&self) {
        // Loads finish after signing out too, when the frame's signals are gone.
        if self.stale_since.try_get_untracked().flatten().is_some() {
            self.stale_since.set(None);
        }
    }

    /// A count that moves each time the connection is back while `error` holds a failed
    /// load: a page whose list could not load (the tab opened offline) tracks it to try again.
    pub fn retries(&self, error: RwSignal<Option<String>>) -> RwSignal<u32> {
        let retry = RwSignal::new(0u32);
        let connects = Memo::new({
            let link = self.link;
            move |_| link.with(|l| l.connects)
        });
        Effect::new(move |seen: Option<u32>| {
            let n = connects.get();
            if seen.is_some_and(|s| s != n) && error.get_untracked().is_some() {
                retry.update(|r| *r += 1);
            }
            n
        });
        retry
    }

    /// Folds REST-loaded deliveries into the chart (the last hour's history).
    pub fn chart_history(&self, items: &[Delivery]) {
        self.with_inner(|i| {
            // Oldest first, so ids remembered for edits fall off in age order.
            for d in items.iter().rev() {
                i.series.record(d.id, d.updated_at, d.amount);
            }
            i.chart_dirty = true;
        });
        self.schedule();
    }

    fn schedule(&self) {
        let first = self.with_inner(|i| !std::mem::replace(&mut i.scheduled, true));
        if first != Some(true) {
            return;
        }
        let live = *self;
        request_animation_frame(move || live.flush());
        set_timeout(move || live.flush(), Duration::from_millis(250));
    }

    fn flush(&self) {
        let now = wall_ms();
        let Some(f) = self.with_inner(|i| {
            i.scheduled = false;
            Frame::take(i, now)
        }) else {
            return;
        };
        // Signals are set with the lock released: effects they wake may read the store.
        if let Some(v) = f.stats {
            self.stats.set(v);
        }
        if let Some(v) = f.deliveries {
            self.deliveries.set(v);
        }
        if let Some(v) = f.payments {
            self.payments.set(v);
        }
        if let Some(v) = f.customers {
            self.customers.set(v);
        }
        if let Some((v, u)) = f.notifications {
            self.notifications.set(v);
            self.unread.set(u);
        }
        if let Some(v) = f.activity {
            self.activity.set(v);
        }
        if let Some((s, r, t)) = f.connection {
            self.status.set(s);
            self.rtt_ms.set(r);
            self.transport.set(t);
        }
        if let Some(v) = f.last_event_at {
            self.last_event_at.set(v);
        }
        if let Some(v) = f.link {
            self.link.set(v);
        }
        if let Some(v) = f.chart {
            self.chart.set(v);
        }
        for (keys, tone, title, body) in f.news {
            let mut keys = keys.into_iter();
            if let Some(first) = keys.next() {
                for k in keys {
                    self.toasts.remember(k);
                }
                self.toasts.push(first, tone, title, body);
            }
        }
        if f.held {
            let live = *self;
            set_timeout(move || live.schedule(), Duration::from_millis(NEWS_GAP_MS as u64));
        }
    }
}

type News = (Vec<String>, Tone, String, String);

fn push_bounded<T>(v: &mut Vec<T>, x: T) {
    if v.len() < 200 {
        v.push(x);
    }
}

/// The key a delivery's toast goes by: a delivery changed again is news again.
pub fn delivery_key(d: &Delivery) -> String {
    format!("delivery:{}:{}", d.id, d.updated_at)
}

/// The key a payment's toast goes by.
pub fn payment_key(p: &Payment) -> String {
    format!("payment:{}", p.id)
}

fn payment_news(ps: &[Payment]) -> News {
    let keys: Vec<String> = ps.iter().rev().map(payment_key).collect();
    let last = &ps[ps.len() - 1];
    let line = format!("{} from {}", format::money(last.amount), last.customer_name);
    if ps.len() == 1 {
        (keys, Tone::Info, "Large payment received".into(), line)
    } else {
        let total: f64 = ps.iter().map(|p| p.amount).sum();
        (
            keys,
            Tone::Info,
            format!("{} large payments received", ps.len()),
            format!("{} in all · latest {line}", format::money(total)),
        )
    }
}
