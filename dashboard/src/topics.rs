//! This module deals with which topics the tab receives and the state it loads for them. The
//! frame always wants notifications and payments (the bell and the large-payment toasts work
//! on every page), and an admin's frame user accounts (rare, and the Users page then never
//! races its first load against its subscription); each page asks for its own topics while it is shown ([`use_topics`]), so a
//! tab on the Payments page is not sent every delivery. A topic newly wanted is subscribed
//! first and its state loaded over REST once the server's ack is in (the ack names the head
//! from which live events come), so nothing falls between the two.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use pulse_protocol::events::{
    Activity, Customer, Delivery, Notification, Payment, Stats, Topic, Topics,
};
use pulse_protocol::rest::Page;
use pulse_protocol::Envelope;
use pulse_sdk::store::Changes;
use pulse_sdk::Client;
use send_wrapper::SendWrapper;

use crate::api;
use crate::components::clock::wall_ms;
use crate::components::toast::{Toasts, Tone};
use crate::format;
use crate::live::Live;
use crate::pending::PulseClient;
use crate::route::Route;
use crate::session::Auth;

/// What the frame wants on every page.
pub const ALWAYS: [Topic; 2] = [Topic::Notifications, Topic::Payments];

/// What the frame of a user (an admin or not) wants on every page.
pub fn always(admin: bool) -> Topics {
    let mut t: Topics = ALWAYS.into_iter().collect();
    if admin {
        t.insert(Topic::Users);
    }
    t
}

/// What the frame joins with when `route` is shown first: what it always wants and the page's
/// topics (the page's own subscription follows, for the log head its lists load from). On the
/// overview, what boot.js joins with, so the client takes boot.js' socket over.
pub fn first_join(admin: bool, route: Route) -> Topics {
    let mut t = always(admin);
    if let Route::Page(p) = route {
        for one in p.topics() {
            t.insert(*one);
        }
    }
    t
}

/// How many of the pages shown want each topic (a table by topic: a hash map per frame
/// brought its own hashing code into the bundle).
#[derive(Default)]
struct Wants([u32; Topic::ALL.len()]);

impl Wants {
    fn of(topics: Topics) -> Wants {
        let mut w = Wants::default();
        for t in topics.iter() {
            *w.count(t) = 1;
        }
        w
    }

    fn count(&mut self, topic: Topic) -> &mut u32 {
        &mut self.0[topic as usize]
    }
}

/// The topics the pages shown want, counted, shared through context. `Copy`.
#[derive(Clone, Copy)]
pub struct Demand {
    wanted: StoredValue<Arc<Mutex<Wants>>>,
    client: StoredValue<PulseClient>,
    auth: Auth,
    live: Live,
    toasts: Toasts,
    /// Whether a load failed since the last one that went through.
    failed: StoredValue<bool>,
}

impl Demand {
    /// The demand of a signed-in frame following `client`, which was created with
    /// `always` as its topics.
    pub fn provide(
        client: &Client,
        always: Topics,
        auth: Auth,
        live: Live,
        toasts: Toasts,
    ) -> Demand {
        let d = Demand {
            wanted: StoredValue::new(Arc::new(Mutex::new(Wants::of(always)))),
            client: StoredValue::new(PulseClient(SendWrapper::new(client.clone()))),
            auth,
            live,
            toasts,
            failed: StoredValue::new(false),
        };
        provide_context(d);
        d
    }

    /// The topics wanted now.
    pub fn topics(&self) -> Topics {
        self.with(|w| Topic::ALL.into_iter().filter(|t| *w.count(*t) > 0).collect())
            .unwrap_or_default()
    }

    /// `None` once the signed-in frame is gone: a load or a page's cleanup may outlive it.
    fn with<R>(&self, f: impl FnOnce(&mut Wants) -> R) -> Option<R> {
        let arc = self.wanted.try_get_value()?;
        let mut g = arc.lock().unwrap_or_else(|e| e.into_inner());
        Some(f(&mut g))
    }

    fn client(&self) -> Option<Client> {
        self.client.try_with_value(PulseClient::client)
    }

    /// Wants `topic` once more: the first want subscribes and then loads its state.
    pub fn want(&self, topic: Topic) {
        let first = self.with(|w| {
            let n = w.count(topic);
            *n += 1;
            *n == 1
        });
        let (Some(true), Some(client)) = (first, self.client()) else { return };
        let d = *self;
        let subscribed = client.subscribe(topic);
        leptos::task::spawn_local(async move {
            // Without an answer (offline for longer than the ack timeout) load anyway: the
            // next CONNECT carries the topic, and its replay from the SDK's position
            // covers what the load cannot.
            let _ = subscribed.await;
            d.report(load(d.auth, d.live, client, &[topic]).await);
        });
    }

    /// Wants `topic` once less: the last release unsubscribes.
    pub fn release(&self, topic: Topic) {
        let last = self.with(|w| {
            let n = w.count(topic);
            *n = n.saturating_sub(1);
            *n == 0
        });
        let (Some(true), Some(client)) = (last, self.client()) else { return };
        // The answer changes nothing here: the next CONNECT carries the set anyway.
        let unsubscribed = client.unsubscribe(topic);
        leptos::task::spawn_local(async move {
            let _ = unsubscribed.await;
        });
    }

    /// Loads the state of every topic wanted (after signing in, or when the server asks for
    /// a resync).
    pub fn reload(&self) {
        let d = *self;
        let Some(client) = self.client() else { return };
        let topics: Vec<Topic> = self.topics().iter().collect();
        leptos::task::spawn_local(async move {
            d.report(load(d.auth, d.live, client, &topics).await);
        });
    }

    /// Loads again if a load failed since the last good one (e.g. the tab opened offline):
    /// called when the connection is up.
    pub fn reload_if_failed(&self) {
        if self.failed.try_get_value() == Some(true) {
            self.reload();
        }
    }

    fn report(&self, r: Result<(), api::ApiError>) {
        self.failed.try_set_value(r.is_err());
        if let Err(e) = r {
            self.toasts.push(
                format!("load-failed:{}", wall_ms() / 10_000),
                Tone::Error,
                "Could not load the latest data",
                e.to_string(),
            );
        }
    }
}

/// Wants `topics` while the calling component is shown.
pub fn use_topics(topics: &'static [Topic]) {
    let Some(d) = use_context::<Demand>() else { return };
    for t in topics {
        d.want(*t);
    }
    on_cleanup(move || {
        for t in topics {
            d.release(*t);
        }
    });
}

/// Loads what the socket does not bring for `topics`: the current figures and the first page
/// of their lists, merged with whatever live events arrived meanwhile. Then tells the SDK
/// where the log stood, so a reconnection replays from there.
async fn load(
    auth: Auth,
    live: Live,
    client: Client,
    topics: &[Topic],
) -> Result<(), api::ApiError> {
    // The stats' seq is the log head: every list read after it is at least that fresh.
    let stats: Envelope<Stats> = api::get(auth, "/api/stats").await?;
    let seq = stats.seq;
    // The figures show at once, not after the lists (a round trip each).
    live.merge_stats(stats);
    let mut changes = Changes::default();
    let mut loaded = Loaded::default();
    for t in topics {
        match t {
            Topic::Dashboard => {
                let page: Page<Activity> = api::get(auth, "/api/activity?limit=50").await?;
                loaded.activity = Some(page.items);
                changes.stats = true;
                changes.activity = true;
            }
            Topic::Deliveries => {
                let page: Page<Delivery> = api::get(auth, "/api/deliveries?limit=100").await?;
                loaded.deliveries = Some(page.items);
                changes.deliveries = true;
            }
            Topic::Payments => {
                let page: Page<Payment> = api::get(auth, "/api/payments?limit=100").await?;
                loaded.payments = Some(page.items);
                changes.payments = true;
            }
            Topic::Customers => {
                // Deactivated customers too: the customers page lists them; pickers leave
                // them out.
                let page: Page<Customer> =
                    api::get(auth, "/api/customers?limit=500&include_inactive=true").await?;
                loaded.customers = Some(page.items);
                changes.customers = true;
            }
            Topic::Notifications => {
                let page: Page<Notification> =
                    api::get(auth, "/api/notifications?limit=100").await?;
                loaded.notifications = Some(page.items);
                changes.notifications = true;
            }
            // The Users page loads its own list.
            Topic::Users => {}
        }
    }
    let chart = topics.contains(&Topic::Deliveries);
    live.update(move |s| {
        let mut c = Changes::default();
        if let Some(items) = loaded.customers {
            c |= s.merge_customers(items);
        }
        if let Some(items) = loaded.deliveries {
            c |= s.merge_deliveries(items);
        }
        if let Some(items) = loaded.payments {
            c |= s.merge_payments(items);
        }
        if let Some(items) = loaded.notifications {
            c |= s.merge_notifications(items);
        }
        if let Some(items) = loaded.activity {
            c |= s.merge_activity(items);
        }
        c |= changes;
        c
    });
    live.loaded();
    crate::on_demand::first_figures_in();
    if client.last_seq().is_none_or(|l| l < seq) {
        client.set_last_seq(seq);
    }
    if chart {
        // The chart's history: today's deliveries of the last hour.
        let hour_ago = wall_ms() - 3_600_000;
        let (items, _) = api::get_pages::<Delivery>(
            auth,
            &format!("/api/deliveries?date={}", format::day_of(wall_ms())),
            10,
            |items| items.last().is_some_and(|d| d.updated_at < hour_ago),
        )
        .await?;
        let recent: Vec<Delivery> =
            items.into_iter().filter(|d| d.updated_at >= hour_ago).collect();
        live.chart_history(&recent);
    }
    Ok(())
}

/// Lists read over REST, by topic.
#[derive(Default)]
struct Loaded {
    activity: Option<Vec<Activity>>,
    deliveries: Option<Vec<Delivery>>,
    payments: Option<Vec<Payment>>,
    customers: Option<Vec<Customer>>,
    notifications: Option<Vec<Notification>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Page;

    /// The topics the frame joins with on `page`, as the wire lists them.
    fn joined_on(page: Page, admin: bool) -> Vec<&'static str> {
        first_join(admin, Route::Page(page)).iter().map(|t| t.as_str()).collect()
    }

    /// boot.js joins with these literally; the SDK takes its socket over only if they are
    /// what the frame joins with on the overview, or the app would open a second socket.
    #[test]
    fn boot_js_joins_with_the_overview_topics() {
        let boot = include_str!("../boot.js");
        let quoted = |ts: &[&str]| ts.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>();
        let user = joined_on(Page::Overview, false);
        let line = format!("const topics = [{}];", quoted(&user).join(", "));
        assert!(boot.contains(&line), "boot.js should say {line}");
        // An admin's are a user's and then the one boot.js pushes, last on the wire.
        let admin = joined_on(Page::Overview, true);
        let (last, rest) = admin.split_last().unwrap();
        assert_eq!(rest, user);
        let push = format!("if (session.user?.role === 'admin') topics.push('{last}');");
        assert!(boot.contains(&push), "boot.js should say {push}");
    }
}
