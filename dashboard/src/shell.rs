//! This module deals with the signed-in frame: the route guard, the one SDK client per
//! session (its credentials are the session's, see [`crate::session::SocketCredentials`]:
//! refreshed tokens are used on the next reconnect, and a token the server refuses or ends
//! the socket for is refreshed by the SDK's request), the first pages loaded over REST, and
//! the header every page shares (navigation, pending actions, notifications, connection
//! indicator, sign-out).

use std::cmp::Reverse;

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use pulse_protocol::events::{Activity, Customer, Delivery, Notification, Payment, Stats};
use pulse_protocol::rest::Page;
use pulse_protocol::{Envelope, ErrorCode, WireError};
use pulse_sdk::store::Changes;
use pulse_sdk::{Client, Config, Event};
use send_wrapper::SendWrapper;

use crate::actions::{Pending, PulseClient};
use crate::api;
use crate::components::clock::wall_ms;
use crate::components::connection_indicator::ConnectionIndicator;
use crate::components::fallback_banner::FallbackBanner;
use crate::components::notifications::NotificationBell;
use crate::components::toast::Toasts;
use crate::format;
use crate::live::Live;
use crate::session::Auth;

/// The guard: the signed-in frame, or a redirect to the sign-in page.
#[component]
pub fn Shell() -> impl IntoView {
    let auth = expect_context::<Auth>();
    // Only signing in or out re-renders; a refreshed token keeps the same client.
    let signed_in = Memo::new(move |_| auth.session.with(|s| s.is_some()));
    move || {
        if signed_in.get() {
            view! { <SignedIn /> }.into_any()
        } else {
            view! { <Redirect path="/login" /> }.into_any()
        }
    }
}

#[component]
fn SignedIn() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let toasts = expect_context::<Toasts>();
    let client = Client::connect_with_auth(Config::new(server_origin()), auth.credentials());
    let (live, sub) = Live::attach(&client, toasts);
    let pending = Pending::provide();
    provide_context(live);
    provide_context(PulseClient(SendWrapper::new(client.clone())));

    // A disabled account may not connect. (Expired or unknown tokens never get here: the
    // SDK asks the session for a fresh one and joins again, or stops once it is signed out.)
    let rejected = client.on_any(move |e| {
        if let Event::Rejected(err) = e {
            if err.code == Some(ErrorCode::AccountDisabled) {
                auth.sign_out();
            }
        }
    });
    // Missed more than the server replays: reload the lists, then go on from the log head.
    let server_errors = {
        let c = SendWrapper::new(client.clone());
        client.on("error", move |m| {
            let code = m.args.first().and_then(WireError::from_wire).map(|e| e.code);
            match code {
                Some(ErrorCode::ResyncRequired) => {
                    let c = (*c).clone();
                    leptos::task::spawn_local(load_all(auth, live, c, toasts));
                }
                Some(ErrorCode::AccountDisabled) => {
                    toasts.push(
                        "account-disabled",
                        crate::components::toast::Tone::Error,
                        "Signed out",
                        "An admin disabled this account.",
                    );
                    auth.sign_out();
                }
                _ => {}
            }
        })
    };
    // Subscriptions live as long as this frame; dropping them would freeze the page.
    let _keep = StoredValue::new_local((sub, rejected, server_errors));
    leptos::task::spawn_local(load_all(auth, live, client.clone(), toasts));

    let signout = {
        let c = SendWrapper::new(client);
        move |_| {
            c.disconnect();
            auth.log_out();
        }
    };
    let user =
        move || auth.session.with(|s| s.as_ref().map(|s| s.user.name.clone()).unwrap_or_default());
    let pending_count = move || pending.list.with(|l| l.len());
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Pulse"</a>
            <nav class="nav" aria-label="Main">
                <A href="/" exact=true>"Overview"</A>
                <A href="/deliveries">"Deliveries"</A>
                <A href="/payments">"Payments"</A>
                <A href="/customers">"Customers"</A>
                <A href="/system">"System"</A>
                <Show when=move || auth.is_admin()>
                    <A href="/users">"Users"</A>
                </Show>
            </nav>
            <div class="spacer"></div>
            <Show when=move || { pending_count() > 0 }>
                <span class="chip warn" data-testid="pending-actions" role="status"
                    title=move || pending.list.with(|l| l.iter().map(|a| a.label.clone()).collect::<Vec<_>>().join("\n"))>
                    {move || format!("{} pending", pending_count())}
                </span>
            </Show>
            <NotificationBell />
            <ConnectionIndicator />
            <div class="user">
                <a class="user-name" href="/account" data-testid="account-link" title="Account and password">{user}</a>
                <button class="btn ghost small" data-testid="logout" on:click=signout>"Sign out"</button>
            </div>
        </header>
        <FallbackBanner />
        <main class="page">
            <Outlet />
        </main>
    }
}

/// Loads what the socket does not bring: the current figures and the first page of every
/// list, merged with whatever live events arrived meanwhile. Then tells the SDK where the
/// log stood, so a reconnection replays from there.
async fn load_all(auth: Auth, live: Live, client: Client, toasts: Toasts) {
    let r = async {
        let stats: Envelope<Stats> = api::get(auth, "/api/stats").await?;
        let seq = stats.seq;
        // Deactivated customers too: the customers page lists them; pickers leave them out.
        let customers: Page<Customer> =
            api::get(auth, "/api/customers?limit=500&include_inactive=true").await?;
        let deliveries: Page<Delivery> = api::get(auth, "/api/deliveries?limit=100").await?;
        let payments: Page<Payment> = api::get(auth, "/api/payments?limit=100").await?;
        let notes: Page<Notification> = api::get(auth, "/api/notifications?limit=100").await?;
        let activity: Page<Activity> = api::get(auth, "/api/activity?limit=50").await?;
        live.update(|s| {
            if s.stats.as_ref().is_none_or(|cur| cur.seq <= stats.seq) {
                s.stats = Some(stats);
            }
            s.load_customers(customers.items);
            let mut ds: Vec<Delivery> = s.deliveries.drain(..).collect();
            merge_by(&mut ds, deliveries.items, |d| d.id, |d| Reverse(d.updated_at));
            s.load_deliveries(ds);
            let mut ps: Vec<Payment> = s.payments.drain(..).collect();
            merge_by(&mut ps, payments.items, |p| p.id, |p| Reverse(p.created_at));
            s.load_payments(ps);
            let mut ns: Vec<Notification> = s.notifications.drain(..).collect();
            merge_by(&mut ns, notes.items, |n| n.id, |n| Reverse(n.created_at));
            s.load_notifications(ns);
            let mut acts: Vec<Activity> = s.activity.drain(..).collect();
            merge_by(&mut acts, activity.items, |a| a.seq as i64, |a| Reverse(a.seq));
            s.load_activity(acts);
            Changes {
                stats: true,
                deliveries: true,
                payments: true,
                customers: true,
                notifications: true,
                activity: true,
                ..Changes::default()
            }
        });
        if client.last_seq().is_none_or(|l| l < seq) {
            client.set_last_seq(seq);
        }
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
        Ok::<(), api::ApiError>(())
    }
    .await;
    if let Err(e) = r {
        toasts.push(
            format!("load-failed:{}", wall_ms() / 10_000),
            crate::components::toast::Tone::Error,
            "Could not load the latest data",
            e.to_string(),
        );
    }
}

/// Merges `fresh` into `have` by key (an item already there wins: it came from a live
/// event, newer than the page) and sorts.
fn merge_by<T, K: Eq + Copy, S: Ord>(
    have: &mut Vec<T>,
    fresh: Vec<T>,
    key: impl Fn(&T) -> K,
    sort: impl Fn(&T) -> S,
) {
    for item in fresh {
        let k = key(&item);
        if !have.iter().any(|x| key(x) == k) {
            have.push(item);
        }
    }
    have.sort_by_key(|x| sort(x));
}

/// Where the server is: the page's own origin (the server serves the dashboard, and
/// `trunk serve` proxies `/api` and `/socket.io` to it).
fn server_origin() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
            return origin;
        }
    }
    "http://127.0.0.1:3000".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_live_items_and_sorts() {
        let mut have = vec![(3, "live"), (1, "live")];
        merge_by(&mut have, vec![(2, "rest"), (3, "rest")], |x| x.0, |x| Reverse(x.0));
        assert_eq!(have, [(3, "live"), (2, "rest"), (1, "live")]);
    }
}
