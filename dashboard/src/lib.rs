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
pub mod route;
pub mod rows;
pub mod session;
pub mod shell;
pub mod submit;
pub mod topics;

use leptos::prelude::*;

use components::toast::{ToastHost, Toasts};
use pages::{login::Login, overview::Overview};
use route::{Location, Page, Route};
use session::Auth;
use shell::Shell;

/// The dashboard: the sign-in page, and the pages behind the session guard (all but the
/// overview loaded on demand, see [`on_demand`]).
#[component]
pub fn App() -> impl IntoView {
    components::clock::provide_clock();
    Toasts::provide();
    Auth::provide();
    let location = Location::provide();
    // Which frame shows: moving between pages keeps the signed-in frame (and its connection).
    let frame = Memo::new(move |_| match location.route() {
        Route::Page(_) => Route::Page(Page::Overview),
        other => other,
    });
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        {move || match frame.get() {
            Route::Login => view! { <Login /> }.into_any(),
            Route::Page(_) => view! { <Shell /> }.into_any(),
            Route::NotFound => view! { <p class="empty pad">"Page not found."</p> }.into_any(),
        }}
        <ToastHost />
    }
}

/// The `T` a component above provided. Leptos' `expect_context`, without its panic message's
/// `{:?}` of the type name and caller, which brings string escaping into the bundle: a missing
/// context is a bug in the app's own tree, and the panic hook names the place anyway.
#[track_caller]
pub(crate) fn context<T: Clone + 'static>() -> T {
    match use_context::<T>() {
        Some(v) => v,
        None => panic!("a context the app provides is missing: {}", std::any::type_name::<T>()),
    }
}

/// The page `page` shows inside the signed-in frame.
pub(crate) fn page_view(page: Page) -> AnyView {
    match page {
        Page::Overview => view! { <Overview /> }.into_any(),
        Page::Deliveries => on_demand::deliveries_page(),
        Page::Payments => on_demand::payments_page(),
        Page::Customers => on_demand::customers_page(),
        Page::System => on_demand::system_page(),
        Page::Users => on_demand::users_page(),
        Page::Account => on_demand::account_page(),
    }
}
