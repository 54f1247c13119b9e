//! This module deals with the signed-in session: logging in, keeping the session across
//! reloads (localStorage), refreshing the access token a minute before it expires, and
//! signing out. Tabs share one session: a refresh or a sign-out in one tab reaches the others
//! through the `storage` event, and a tab about to refresh first adopts a newer session
//! another tab stored, because refresh tokens are single-use. [`Auth::refresh`] is the one
//! place the dashboard obtains a fresh token: on its timer, on a REST 401, and when the
//! socket's credentials are refused or its session is ended at expiry ([`SocketCredentials`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leptos::prelude::*;
use pulse_protocol::events::ConnectAuth;
use pulse_protocol::rest::{LoginRequest, RefreshRequest, Session};
use pulse_sdk::backoff::{Backoff, BackoffConfig};
use pulse_sdk::{AuthFuture, Credentials, NeedAuth, Renewal};

use crate::api::{self, ApiError};
use crate::components::clock::wall_ms;

/// The localStorage key (browser only; natively there is no storage).
const KEY: &str = "pulse.session";
/// Refresh this long before the access token expires.
const REFRESH_AHEAD_MS: i64 = 60_000;

/// How [`Auth::refresh`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Refreshed {
    /// There is a valid session afterwards, refreshed here or by another tab.
    Yes,
    /// The refresh was refused (the session is over), or there was no session: signed out.
    SignedOut,
    /// The server could not be reached or failed for a passing reason: the session is kept and
    /// the refresh tried again.
    Unavailable(String),
}

/// Whether a failed refresh is worth trying again: the server was away, failing or
/// overloaded, which says nothing about the session. Anything else (401, 403) refused it.
fn passing(e: &ApiError) -> bool {
    matches!(e, ApiError::Network(_) | ApiError::Status(408 | 429 | 500.., _))
}

/// What the socket is told after a refresh: the new token, none (signed out), or to ask
/// again later. `token` is the session's token after the refresh.
fn renewal(refreshed: Refreshed, token: Option<String>, refused: Option<&str>) -> Renewal {
    match (refreshed, token) {
        (Refreshed::Yes, Some(t)) if Some(t.as_str()) != refused => {
            Renewal::Renewed(ConnectAuth::with_token(t))
        }
        // Still the refused token: a refresh that did not go through; not a reason to give
        // up on a session that may yet be refreshed.
        (Refreshed::Yes, Some(_)) => Renewal::Unavailable("the token was not renewed".into()),
        (Refreshed::Unavailable(why), Some(_)) => Renewal::Unavailable(why),
        (_, None) | (Refreshed::SignedOut, _) => Renewal::Refused,
    }
}

/// The session, shared through context. `Copy`.
#[derive(Clone, Copy)]
pub struct Auth {
    /// The current session; `None` when signed out.
    pub session: RwSignal<Option<Session>>,
    /// The access token for the SDK's credentials, which are read outside the reactive system.
    token: StoredValue<Arc<Mutex<Option<String>>>>,
    timer: StoredValue<Option<TimeoutHandle>>,
    refreshing: StoredValue<bool>,
    /// When to try again after a refresh failed for a passing reason: jittered and growing,
    /// so that the tabs left open across a server restart do not all ask at the same moment.
    retry: StoredValue<Backoff>,
}

impl Auth {
    /// Restores the stored session, schedules its refresh, follows other tabs, and puts
    /// the result in context.
    pub fn provide() -> Auth {
        let auth = Auth::new(wall_ms() as u64);
        auth.adopt(storage::load());
        #[cfg(target_arch = "wasm32")]
        {
            let handle = window_event_listener(leptos::ev::storage, move |e| {
                if e.key().as_deref() == Some(KEY) {
                    auth.adopt(storage::load());
                }
            });
            // The listener lives as long as the app; nothing to remove.
            std::mem::forget(handle);
        }
        provide_context(auth);
        auth
    }

    /// A signed-out session whose retry jitter comes from `seed`.
    fn new(seed: u64) -> Auth {
        Auth {
            session: RwSignal::new(None),
            token: StoredValue::new(Arc::new(Mutex::new(None))),
            timer: StoredValue::new(None),
            refreshing: StoredValue::new(false),
            retry: StoredValue::new(Backoff::new(BackoffConfig::default(), seed)),
        }
    }

    /// How long to wait before the next try after a refresh failed for a passing reason.
    fn retry_delay(&self) -> Duration {
        self.retry.try_update_value(Backoff::next_delay).unwrap_or(Duration::from_secs(5))
    }

    /// The socket's credentials, for `Client::connect_with_auth`.
    pub fn credentials(&self) -> SocketCredentials {
        SocketCredentials { auth: *self, token: self.token.get_value() }
    }

    /// Whether the signed-in user is an admin (who manages customers and users). The
    /// server enforces the same rule; this only hides controls that would be refused.
    pub fn is_admin(&self) -> bool {
        self.session.with(|s| s.as_ref().is_some_and(|s| s.user.role == "admin"))
    }

    /// The current access token.
    pub fn token(&self) -> Option<String> {
        self.token.with_value(|t| t.lock().ok().and_then(|t| t.clone()))
    }

    /// Takes `s` as the session without storing it (it came from storage).
    fn adopt(&self, s: Option<Session>) {
        if let Ok(mut t) = self.token.get_value().lock() {
            *t = s.as_ref().map(|s| s.token.clone());
        }
        self.schedule(s.as_ref().map(|s| s.expires_at));
        // Equal sessions do not notify, so a tab re-reading the same session re-renders nothing.
        if self.session.with_untracked(|cur| cur != &s) {
            self.session.set(s);
        }
    }

    /// Takes the stored session: index.html's sign-in form signed in while the app loaded.
    pub fn restore(&self) {
        self.adopt(storage::load());
    }

    /// Takes `s` as the session and stores it for reloads and other tabs.
    pub fn set(&self, s: Option<Session>) {
        storage::save(s.as_ref());
        self.adopt(s);
    }

    fn schedule(&self, expires_at: Option<i64>) {
        if let Some(h) = self.timer.get_value() {
            h.clear();
        }
        let Some(exp) = expires_at else {
            self.timer.set_value(None);
            return;
        };
        let wait = (exp - REFRESH_AHEAD_MS - wall_ms()).max(0) as u64;
        let auth = *self;
        let handle = set_timeout_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    auth.refresh().await;
                });
            },
            Duration::from_millis(wait),
        )
        .ok();
        self.timer.set_value(handle);
    }

    /// Signs in; the session is stored and every tab follows.
    pub async fn login(&self, email: String, password: String) -> Result<(), ApiError> {
        let s: Session =
            api::public("POST", "/api/auth/login", Some(&LoginRequest { email, password })).await?;
        self.set(Some(s));
        Ok(())
    }

    /// Gets a fresh access token. A refused refresh signs out; one that failed for a
    /// passing reason keeps the session and is tried again shortly.
    pub async fn refresh(&self) -> Refreshed {
        let Some(current) = self.session.get_untracked() else { return Refreshed::SignedOut };
        // Another tab may have refreshed already: its session is newer and ours is spent.
        if let Some(stored) = storage::load() {
            if stored.expires_at > current.expires_at && stored.expires_at > wall_ms() {
                self.adopt(Some(stored));
                return Refreshed::Yes;
            }
        }
        if self.refreshing.get_value() {
            // Another caller is refreshing: wait for its outcome, so nobody takes the old
            // token for a new one (the socket would give up on it, a REST call fail again).
            for _ in 0..300 {
                pause_ms(50).await;
                if !self.refreshing.get_value() {
                    break;
                }
            }
            return match self.session.with_untracked(|s| s.as_ref().map(|s| s.token.clone())) {
                None => Refreshed::SignedOut,
                Some(t) if t != current.token => Refreshed::Yes,
                Some(_) => Refreshed::Unavailable("the session was not refreshed".into()),
            };
        }
        self.refreshing.set_value(true);
        let req = RefreshRequest { refresh_token: current.refresh_token.clone() };
        let r: Result<Session, ApiError> =
            api::public("POST", "/api/auth/refresh", Some(&req)).await;
        self.refreshing.set_value(false);
        match r {
            Ok(s) => {
                self.retry.update_value(Backoff::reset);
                self.set(Some(s));
                Refreshed::Yes
            }
            Err(e) if passing(&e) => {
                // The server is away, not the session: try again shortly.
                let delay = self.retry_delay().as_millis() as i64;
                self.schedule(Some(wall_ms() + REFRESH_AHEAD_MS + delay));
                Refreshed::Unavailable(e.to_string())
            }
            Err(_) => {
                // Refused: maybe another tab used the refresh token a moment ago.
                match storage::load() {
                    Some(stored) if stored.refresh_token != current.refresh_token => {
                        self.adopt(Some(stored));
                        Refreshed::Yes
                    }
                    _ => {
                        self.sign_out();
                        Refreshed::SignedOut
                    }
                }
            }
        }
    }

    /// Forgets the session here and in every tab.
    pub fn sign_out(&self) {
        self.set(None);
    }

    /// Signs out for good: forgets the session here and in every tab at once, and asks the
    /// server to end it, so a copy of its refresh token is worthless and its sockets close.
    pub fn log_out(&self) {
        let token = self.token();
        self.sign_out();
        if let Some(token) = token {
            leptos::task::spawn_local(async move {
                // Nothing to do about a failure: the session is gone from this browser, and
                // what the server keeps expires on its own.
                let _ = api::logout(&token).await;
            });
        }
    }
}

/// What the SDK asks for CONNECT credentials: the current access token, and after a refusal
/// (an expired or invalid token) a refreshed one.
#[derive(Clone)]
pub struct SocketCredentials {
    auth: Auth,
    /// Read outside the reactive system: the SDK's driver asks before every attempt.
    token: Arc<Mutex<Option<String>>>,
}

impl SocketCredentials {
    fn token(&self) -> Option<String> {
        self.token.lock().ok().and_then(|t| t.clone())
    }
}

impl Credentials for SocketCredentials {
    fn current(&self) -> Option<ConnectAuth> {
        self.token().map(ConnectAuth::with_token)
    }

    fn renew(&self, need: &NeedAuth) -> AuthFuture {
        let me = self.clone();
        let refused = need.refused.clone();
        Box::pin(async move {
            // A token refreshed ahead of expiry (here or in another tab) is new enough;
            // otherwise refresh now. A refused refresh signs out: no credentials then, and
            // one that failed for a passing reason is asked for again by the SDK.
            let refreshed = match me.token() {
                Some(t) if Some(&t) != refused.as_ref() => Refreshed::Yes,
                _ => me.auth.refresh().await,
            };
            renewal(refreshed, me.token(), refused.as_deref())
        })
    }
}

/// Waits `ms` on the page's timers.
#[cfg(target_arch = "wasm32")]
async fn pause_ms(ms: i32) {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let set = web_sys::window()
            .map(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms));
        if !matches!(set, Some(Ok(_))) {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(timer).await;
}

/// Natively there is no page and nothing to wait for.
#[cfg(not(target_arch = "wasm32"))]
async fn pause_ms(_ms: i32) {}

mod storage {
    use pulse_protocol::rest::Session;

    use super::KEY;

    pub(super) fn load() -> Option<Session> {
        crate::api::decode(&crate::local::get(KEY)?).ok()
    }

    pub(super) fn save(s: Option<&Session>) {
        match s {
            Some(s) => {
                crate::local::set(KEY, &crate::api::json(s));
            }
            None => crate::local::remove(KEY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_failing_for_a_passing_reason_keeps_the_socket_asking_and_a_refusal_ends_it() {
        // The server away or failing: the session stays, the SDK asks again later.
        for e in [
            ApiError::Network("connection refused".into()),
            ApiError::Status(503, None),
            ApiError::Status(500, None),
            ApiError::Status(408, None),
            ApiError::Status(429, None),
        ] {
            assert!(passing(&e), "{e:?}");
        }
        // The session refused: signed out.
        for e in [ApiError::Unauthorized("revoked".into()), ApiError::Status(403, None)] {
            assert!(!passing(&e), "{e:?}");
        }
        let t = |s: &str| Some(s.to_owned());
        assert_eq!(
            renewal(Refreshed::Unavailable("HTTP 503".into()), t("old"), Some("old")),
            Renewal::Unavailable("HTTP 503".into())
        );
        assert_eq!(renewal(Refreshed::SignedOut, None, Some("old")), Renewal::Refused);
        assert_eq!(
            renewal(Refreshed::Yes, t("new"), Some("old")),
            Renewal::Renewed(ConnectAuth::with_token("new"))
        );
        // A refresh that left the refused token in place is not a reason to stop.
        assert!(matches!(renewal(Refreshed::Yes, t("old"), Some("old")), Renewal::Unavailable(_)));
    }

    #[test]
    fn a_refresh_that_keeps_failing_is_tried_again_later_each_time_with_jitter() {
        let delays = |seed| {
            let auth = Auth::new(seed);
            let d: Vec<u128> = (0..6).map(|_| auth.retry_delay().as_millis()).collect();
            auth.retry.update_value(Backoff::reset);
            (d, auth.retry_delay().as_millis())
        };
        let (a, a_after_success) = delays(1);
        let (b, _) = delays(2);
        // Two tabs do not ask in step.
        assert_ne!(a[0], b[0]);
        assert!((500..=1500).contains(&a[0]), "{a:?}");
        // Later tries wait longer, never more than 5 s.
        assert!(a[3] > a[0] && a.iter().all(|d| *d <= 5000), "{a:?}");
        // A refresh that went through starts over.
        assert!((500..=1500).contains(&a_after_success), "{a_after_success}");
    }
}
