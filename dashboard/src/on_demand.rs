//! This module deals with the pages whose code arrives when first needed. Built with the
//! `split` feature (as index.html builds the release), each is a wasm chunk of its own, cut
//! out of the main module by scripts/split-dashboard.mjs: the sign-in and the overview, what
//! every visit needs first, download without them. Without the feature (tests, native builds)
//! the same functions run the page at once.
//!
//! A chunk that cannot be fetched (offline before it was ever kept, a server gone) shows an
//! error with a retry, and the rest of the app goes on: the load is `fallible`, never a panic,
//! which in wasm would end the whole app.

use leptos::prelude::*;
use leptos::reactive::computed::ScopedFuture;
#[cfg(feature = "split")]
use leptos::wasm_split::wasm_split;
use leptos::wasm_split::SplitLoaderError;
use send_wrapper::SendWrapper;

use crate::pages::{
    account::Account, customers::Customers, deliveries::Deliveries, health::HealthPage,
    payments::Payments, users::Users,
};

/// Declares a page loaded on demand: `$shown` shows it (see [`page`]), `$load` builds it once
/// its code is here, `$preload` only fetches the code.
macro_rules! page_on_demand {
    ($shown:ident, $load:ident, $preload:ident, $page:ident) => {
        #[doc = concat!("The `", stringify!($page), "` page, once its code is here.")]
        pub fn $shown() -> AnyView {
            page(|| Box::pin($load()))
        }

        #[cfg(feature = "split")]
        #[wasm_split($load, wasm_split_path = ::leptos::wasm_split, fallible, preload($preload))]
        fn $load() -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <$page /> }.into_any())
        }

        #[cfg(not(feature = "split"))]
        async fn $load() -> Result<AnyView, SplitLoaderError> {
            Ok(view! { <$page /> }.into_any())
        }

        #[cfg(not(feature = "split"))]
        async fn $preload() -> Result<(), SplitLoaderError> {
            Ok(())
        }
    };
}

page_on_demand!(deliveries_page, deliveries, preload_deliveries, Deliveries);
page_on_demand!(payments_page, payments, preload_payments, Payments);
page_on_demand!(customers_page, customers, preload_customers, Customers);
page_on_demand!(system_page, system, preload_system, HealthPage);
page_on_demand!(users_page, users, preload_users, Users);
page_on_demand!(account_page, account, preload_account, Account);

/// The first figures are on screen: the code of every page loaded on demand is fetched now,
/// in the background, so a page opened later shows at once (and, through the service worker,
/// offline), without sharing a slow link with the first load and the sign-in. Once per page;
/// later calls do nothing.
pub fn first_figures_in() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    leptos::task::spawn_local(async {
        // A failure is not kept: opening the page tries again.
        let _ = preload_deliveries().await;
        let _ = preload_payments().await;
        let _ = preload_customers().await;
        let _ = preload_system().await;
        let _ = preload_users().await;
        let _ = preload_account().await;
    });
}

/// A page's code being fetched, and then its view.
type Load = std::pin::Pin<Box<dyn std::future::Future<Output = Result<AnyView, SplitLoaderError>>>>;

/// Where a page loaded on demand is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Code {
    Loading,
    Here,
    Unavailable,
}

/// A page shown when `load` has its code: "Loading…" until then, and an error with a retry
/// if the code could not be fetched. A task and a signal, not `Suspense`: nothing else in the
/// app suspends, and Leptos' async machinery cost more than this page's whole frame.
///
/// One function for every page (`load` is a plain function pointer returning a boxed
/// future): generic, it was compiled once per page into the first module.
fn page(load: fn() -> Load) -> AnyView {
    let code = RwSignal::new(Code::Loading);
    // The page's view, handed over once when it is here.
    let ready = StoredValue::new_local(None::<AnyView>);
    // The page's components read context as they are built (when its code is here): under
    // this page's owner, untracked, as `Suspense` would, also when a retry builds it.
    let owner = Owner::current().unwrap_or_default();
    let attempt = std::rc::Rc::new(move || {
        code.set(Code::Loading);
        let view = owner.with(|| ScopedFuture::new_untracked(load()));
        leptos::task::spawn_local(async move {
            let now = match view.await {
                Ok(view) => {
                    ready.set_value(Some(view));
                    Code::Here
                }
                Err(_) => Code::Unavailable,
            };
            // The page may be gone by now.
            let _ = code.try_set(now);
        });
    });
    attempt();
    let retry = SendWrapper::new(attempt);
    (move || match code.get() {
        Code::Loading => view! { <p class="empty pad" role="status">"Loading…"</p> }.into_any(),
        Code::Here => {
            ready.try_update_value(Option::take).flatten().unwrap_or_else(|| ().into_any())
        }
        Code::Unavailable => {
            let retry = std::rc::Rc::clone(&retry);
            view! { <PageUnavailable retry=move || retry() /> }.into_any()
        }
    })
    .into_any()
}

/// What shows when a page's code could not be fetched.
#[component]
fn PageUnavailable(retry: impl Fn() + 'static) -> impl IntoView {
    view! {
        <div class="card pad" role="alert" data-testid="page-unavailable">
            <p class="form-error">"This page could not be loaded: the server is out of reach."</p>
            <button class="btn" on:click=move |_| retry()>"Try again"</button>
        </div>
    }
}
