//! The Pulse admin dashboard: a Leptos (CSR) app on the Pulse SDK, built by trunk.
//!
//! Owns the pages, components and presentation logic. The connection, its policies and the
//! live state come from `pulse-sdk`; the signed-in frame ([`shell`]) creates one client per
//! session and shares it, with the live signals ([`live`]), through context.
//!
//! Principal type: the [`App`] component.
#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod chart;
pub mod components;
pub mod figures;
pub mod format;
pub mod live;
pub mod local;
pub mod on_demand;
pub mod pages;
pub mod pending;
pub mod rows;
pub mod session;
pub mod shell;
pub mod submit;
pub mod topics;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use components::toast::{ToastHost, Toasts};
use pages::{login::Login, overview::Overview};
use session::Auth;
use shell::Shell;

/// The dashboard: the sign-in page, and the pages behind the session guard (all but the
/// overview loaded on demand, see [`on_demand`]).
#[component]
pub fn App() -> impl IntoView {
    components::clock::provide_clock();
    Toasts::provide();
    Auth::provide();
    view! {
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <Routes fallback=|| view! { <p class="empty pad">"Page not found."</p> }>
                <Route path=path!("/login") view=Login />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=Overview />
                    <Route path=path!("deliveries") view=on_demand::deliveries_page />
                    <Route path=path!("payments") view=on_demand::payments_page />
                    <Route path=path!("customers") view=on_demand::customers_page />
                    <Route path=path!("system") view=on_demand::system_page />
                    <Route path=path!("users") view=on_demand::users_page />
                    <Route path=path!("account") view=on_demand::account_page />
                </ParentRoute>
            </Routes>
            <ToastHost />
        </Router>
    }
}
