//! The Pulse admin dashboard: a Leptos (CSR) app on the Pulse SDK, built by trunk.
//!
//! Owns the pages, components and presentation logic. The connection, its policies and the
//! live state come from `pulse-sdk`; [`App`] creates one client, turns its state into
//! signals and shares both through context.
//!
//! Principal type: the [`App`] component.
#![warn(missing_docs, unreachable_pub)]

pub mod components;
pub mod format;
pub mod routes;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use pulse_sdk::store::leptos::LiveSignals;
use pulse_sdk::{Client, Config};
use send_wrapper::SendWrapper;

use components::connection_indicator::ConnectionIndicator;
use routes::overview::Overview;

/// The SDK client, shared through context. It is not `Send` in the browser, hence the wrapper.
#[derive(Clone)]
pub struct PulseClient(pub SendWrapper<Client>);

/// The dashboard: header with the connection indicator, and the routed pages.
#[component]
pub fn App() -> impl IntoView {
    components::clock::provide_clock();
    let client = Client::connect(Config::new(server_origin()));
    let (live, subscription) = LiveSignals::attach(&client, Default::default());
    // The subscription lives as long as the app; dropping it would freeze the signals.
    let _keep = StoredValue::new_local(subscription);
    provide_context(live);
    provide_context(PulseClient(SendWrapper::new(client)));
    view! {
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Pulse"</a>
                <span class="brand-sub">"Delivery operations"</span>
                <div class="spacer"></div>
                <ConnectionIndicator />
            </header>
            <main class="page">
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=path!("/") view=Overview />
                </Routes>
            </main>
        </Router>
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
