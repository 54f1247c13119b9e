//! This module deals with the signed-in frame: the route guard, the one SDK client per
//! session (its credentials are the session's, see [`crate::session::SocketCredentials`]:
//! refreshed tokens are used on the next reconnect, and a token the server refuses or ends
//! the socket for is refreshed by the SDK's request), the topics it wants on every page
//! ([`crate::topics`]), and the header every page shares (navigation, pending actions,
//! notifications, connection indicator, sign-out).

use leptos::prelude::*;
use pulse_protocol::events::Stats;
use pulse_protocol::{Envelope, ErrorCode, WireError};
use pulse_sdk::{Client, Config, Event};
use send_wrapper::SendWrapper;

use crate::components::connection_indicator::ConnectionIndicator;
use crate::components::fallback_banner::FallbackBanner;
use crate::components::notifications::NotificationBell;
use crate::components::toast::Toasts;
use crate::live::Live;
use crate::pending::{Pending, PulseClient};
use crate::route::{use_location, NavLink, Page, Redirect, Route};
use crate::session::Auth;
use crate::topics::{self, Demand};

/// The guard: the signed-in frame, or a redirect to the sign-in page.
#[component]
pub fn Shell() -> impl IntoView {
    let auth = crate::context::<Auth>();
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
    let auth = crate::context::<Auth>();
    let toasts = crate::context::<Toasts>();
    let location = use_location();
    let mut config = Config::new(server_origin());
    let always = topics::always(auth.is_admin());
    config.topics = Some(topics::first_join(auth.is_admin(), untrack(|| location.route())));
    // index.html's sign-in form signed in before the app came, and the app started with that
    // session, so the Login page (which takes the form) never showed. boot.js' socket goes to
    // the client (if it joined as the client would), and the figures it showed stay until
    // the app's own are in.
    let boot_stats = crate::pages::login::take_boot_page();
    let client = Client::connect_with_auth(config, auth.credentials());
    let (live, sub) = Live::attach(&client, toasts);
    if let Some(stats) = boot_stats.and_then(|t| crate::api::decode::<Envelope<Stats>>(&t).ok()) {
        live.merge_stats(stats);
    }
    let demand = Demand::provide(&client, always, auth, live, toasts);
    let pending = Pending::provide();
    // What this user's earlier page left: its figures (shown stale until loaded) and its
    // unanswered actions (sent again).
    if let Some(user) = auth.session.with_untracked(|s| s.as_ref().map(|s| s.user.id)) {
        live.follow_snapshot(user);
        pending.restore(&client, toasts, user);
    }
    provide_context(live);
    provide_context(PulseClient(SendWrapper::new(client.clone())));

    // A disabled account may not connect. (Expired or unknown tokens never get here: the
    // SDK asks the session for a fresh one and joins again, or stops once it is signed out.)
    let rejected = client.on_any(move |e| match e {
        Event::Rejected(err) if err.code == Some(ErrorCode::AccountDisabled) => auth.sign_out(),
        // The tab opened offline, or a load failed: load now that the server is reachable.
        Event::Connected { .. } => demand.reload_if_failed(),
        _ => {}
    });
    // Missed more than the server replays: reload the lists, then go on from the log head.
    let server_errors = client.on("error", move |m| {
        let code = m.args.first().and_then(|a| WireError::from_wire(&a.value())).map(|e| e.code);
        match code {
            Some(ErrorCode::ResyncRequired) => demand.reload(),
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
    });
    // Subscriptions live as long as this frame; dropping them would freeze the page.
    let _keep = StoredValue::new_local((sub, rejected, server_errors));
    demand.reload();

    let signout = {
        let c = SendWrapper::new(client);
        move |_| {
            c.disconnect();
            live.forget_snapshot();
            auth.log_out();
        }
    };
    let user =
        move || auth.session.with(|s| s.as_ref().map(|s| s.user.name.clone()).unwrap_or_default());
    let pending_count = move || pending.list.with(|l| l.len());
    // The chip comes and goes with the first and the last pending action, not with each.
    let any_pending = Memo::new(move |_| pending_count() > 0);
    // Only a change of page re-renders the page.
    let page = Memo::new(move |_| match location.route() {
        Route::Page(p) => Some(p),
        _ => None,
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Pulse"</a>
            <nav class="nav" aria-label="Main">
                <NavLink page=Page::Overview>"Overview"</NavLink>
                <NavLink page=Page::Deliveries>"Deliveries"</NavLink>
                <NavLink page=Page::Payments>"Payments"</NavLink>
                <NavLink page=Page::Customers>"Customers"</NavLink>
                <NavLink page=Page::System>"System"</NavLink>
                {move || auth.is_admin().then(|| view! { <NavLink page=Page::Users>"Users"</NavLink> })}
            </nav>
            <div class="spacer"></div>
            {move || any_pending.get().then(|| view! {
                <span class="chip warn" data-testid="pending-actions" role="status"
                    title=move || pending.list.with(|l| l.iter().map(|a| a.label.clone()).collect::<Vec<_>>().join("\n"))>
                    {move || format!("{} pending", pending_count())}
                </span>
            })}
            <NotificationBell />
            <ConnectionIndicator />
            <div class="user">
                <a class="user-name" href="/account" data-testid="account-link" title="Account and password">{user}</a>
                <button class="btn ghost small" data-testid="logout" on:click=signout>"Sign out"</button>
            </div>
        </header>
        <FallbackBanner />
        <main class="page">
            {move || page.get().map(crate::page_view)}
        </main>
    }
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
