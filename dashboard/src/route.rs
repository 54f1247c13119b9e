//! This module deals with which page the address shows: the path read as a [`Route`], links
//! that change it without reloading the app (the History API), and the browser's back and
//! forward buttons.
//!
//! The dashboard has eight flat routes and reads nothing else from the address. leptos_router,
//! which did this before, brought nested route matching, transitions, and query and parameter
//! maps the dashboard never used: 44 KB gzip of every visit's first load (bench/ANALYSIS.md,
//! twenty-fourth session).

use leptos::prelude::*;
use pulse_protocol::events::Topic;

/// A page behind the sign-in, in the navigation's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// `/`: today's figures, the chart, the activity feed.
    Overview,
    /// `/deliveries`.
    Deliveries,
    /// `/payments`.
    Payments,
    /// `/customers`.
    Customers,
    /// `/system`: the server's health and the connection.
    System,
    /// `/users`: admins only.
    Users,
    /// `/account`: one's own password.
    Account,
}

impl Page {
    /// Every page.
    pub const ALL: [Page; 7] = [
        Page::Overview,
        Page::Deliveries,
        Page::Payments,
        Page::Customers,
        Page::System,
        Page::Users,
        Page::Account,
    ];

    /// The topics the page receives while it is shown, beside those the frame always wants
    /// ([`crate::topics::always`]).
    pub fn topics(self) -> &'static [Topic] {
        match self {
            Page::Overview => &[Topic::Dashboard, Topic::Deliveries],
            Page::Deliveries => &[Topic::Deliveries, Topic::Customers],
            Page::Payments | Page::Customers => &[Topic::Customers],
            Page::System | Page::Users | Page::Account => &[],
        }
    }

    /// The page's path.
    pub fn path(self) -> &'static str {
        match self {
            Page::Overview => "/",
            Page::Deliveries => "/deliveries",
            Page::Payments => "/payments",
            Page::Customers => "/customers",
            Page::System => "/system",
            Page::Users => "/users",
            Page::Account => "/account",
        }
    }
}

/// What an address shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/login`.
    Login,
    /// A page of the signed-in frame.
    Page(Page),
    /// Anything else.
    NotFound,
}

impl Route {
    /// The route of `path` (the address's path, without query or fragment); one trailing
    /// slash is ignored.
    pub fn of(path: &str) -> Route {
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        if path == "/login" {
            return Route::Login;
        }
        Page::ALL.into_iter().find(|p| p.path() == path).map_or(Route::NotFound, Route::Page)
    }
}

/// The address's path, kept current; in context from [`Location::provide`].
#[derive(Clone, Copy)]
pub struct Location {
    path: RwSignal<String>,
}

impl Location {
    /// Reads the address, follows the back and forward buttons, and takes over clicks on
    /// links within the app. Once, at the app's start.
    pub fn provide() -> Location {
        let location = Location { path: RwSignal::new(current_path()) };
        provide_context(location);
        #[cfg(target_arch = "wasm32")]
        {
            // For the app's life: the handles are dropped without removing the listeners.
            let _ = window_event_listener(leptos::ev::popstate, move |_| {
                location.path.set(current_path());
            });
            let _ = window_event_listener(leptos::ev::click, move |e| {
                if let Some(to) = link_target(&e) {
                    e.prevent_default();
                    location.go(&to, false);
                    window().scroll_to_with_x_and_y(0.0, 0.0);
                }
            });
        }
        location
    }

    /// The route shown now.
    pub fn route(&self) -> Route {
        self.path.with(|p| Route::of(p))
    }

    /// Shows `to` (a path, with a query or fragment if any), as a new history entry or, with
    /// `replace`, in place of the current one.
    pub fn go(&self, to: &str, replace: bool) {
        #[cfg(target_arch = "wasm32")]
        {
            if let Ok(history) = window().history() {
                let _ = if replace {
                    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
                } else {
                    history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
                };
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = replace;
        let path = to.split(['?', '#']).next().unwrap_or(to).to_owned();
        self.path.set(if path.is_empty() { "/".to_owned() } else { path });
    }
}

/// The current [`Location`].
pub fn use_location() -> Location {
    crate::context::<Location>()
}

/// A navigation link: `aria-current="page"` while its page shows.
#[component]
pub fn NavLink(
    /// The page it goes to.
    page: Page,
    /// Its text.
    children: Children,
) -> impl IntoView {
    let location = use_location();
    let current = move || (location.route() == Route::Page(page)).then_some("page");
    view! { <a href=page.path() aria-current=current>{children()}</a> }
}

/// Takes the address to `path` in place of the current entry once mounted (a page the user
/// may not see, e.g. the signed-in frame when signed out).
#[component]
pub fn Redirect(
    /// Where to.
    path: &'static str,
) -> impl IntoView {
    let location = use_location();
    Effect::new(move |_| location.go(path, true));
}

fn current_path() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        if let Ok(path) = window().location().pathname() {
            return path;
        }
    }
    "/".to_owned()
}

/// Where a click goes when the app should show it itself: a plain left click on a link to a
/// page of this origin (not one opening elsewhere, downloading, or only moving to a fragment
/// of the page shown). The path with its query and fragment.
#[cfg(target_arch = "wasm32")]
fn link_target(e: &web_sys::MouseEvent) -> Option<String> {
    use wasm_bindgen::JsCast;
    if e.default_prevented()
        || e.button() != 0
        || e.meta_key()
        || e.ctrl_key()
        || e.shift_key()
        || e.alt_key()
    {
        return None;
    }
    let target = e.target()?.dyn_into::<web_sys::Element>().ok()?;
    let a = target.closest("a[href]").ok()??;
    if a.has_attribute("download")
        || a.get_attribute("target").is_some_and(|t| !t.is_empty() && t != "_self")
        || a.get_attribute("rel").is_some_and(|r| r.split_whitespace().any(|r| r == "external"))
    {
        return None;
    }
    let here = window().location();
    let url = web_sys::Url::new_with_base(&a.get_attribute("href")?, &here.href().ok()?).ok()?;
    if url.origin() != here.origin().ok()? {
        return None;
    }
    let (path, search, hash) = (url.pathname(), url.search(), url.hash());
    let same_page = here.pathname().ok()? == path && here.search().ok()? == search;
    if same_page && !hash.is_empty() {
        // The skip link and other fragments: the browser scrolls to them.
        return None;
    }
    Some(format!("{path}{search}{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_routes() {
        assert_eq!(Route::of("/login"), Route::Login);
        assert_eq!(Route::of("/login/"), Route::Login);
        assert_eq!(Route::of("/"), Route::Page(Page::Overview));
        assert_eq!(Route::of(""), Route::NotFound);
        for page in Page::ALL {
            assert_eq!(Route::of(page.path()), Route::Page(page));
        }
        assert_eq!(Route::of("/deliveries/"), Route::Page(Page::Deliveries));
        for other in ["/nope", "/deliveries/4", "/Deliveries", "/index.html"] {
            assert_eq!(Route::of(other), Route::NotFound, "{other}");
        }
    }
}
