//! This module deals with the sign-in page.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::session::Auth;

/// Email and password; on success the session is stored and the overview opens.
#[component]
pub fn Login() -> impl IntoView {
    let auth = crate::context::<Auth>();
    let location = crate::route::use_location();
    // What was typed into index.html's sign-in form while the app loaded. Not when signed in
    // already: then index.html shows the figures, which the signed-in frame takes over.
    let signed_in = auth.session.with_untracked(|s| s.is_some());
    let mut boot = if signed_in { None } else { take_boot_form() }.unwrap_or_default();
    let email = RwSignal::new(boot.email);
    let password = RwSignal::new(boot.password);
    let error = RwSignal::new(boot.error.take());
    let busy = RwSignal::new(false);
    // Already signed in (another tab, a reload): straight to the dashboard.
    Effect::new(move |_| {
        if auth.session.with(|s| s.is_some()) {
            // In place of the sign-in: Back does not return to a form that forwards at once.
            location.go("/", true);
        }
    });
    // Signs in, or, given the sign-in index.html's script started (which stores the session
    // itself), takes its outcome. One flow for both, so the app has one future for it.
    let sign_in = move |started: Option<BootSignIn>| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let refusal = match started {
                Some(p) => {
                    let refusal = boot_refusal(p).await;
                    if refusal.is_none() {
                        auth.restore();
                    }
                    refusal
                }
                None => match auth.login(email.get_untracked(), password.get_untracked()).await {
                    Ok(()) => None,
                    Err(ApiError::Unauthorized(_)) => Some("Wrong email or password.".to_owned()),
                    Err(other) => Some(format!("Could not sign in: {other}.")),
                },
            };
            busy.set(false);
            error.set(refusal);
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in(None);
    };
    // "Sign in" was clicked before the app was there: index.html's script has signed in, or
    // is signing in, already; without that script (an older page), sign in now.
    if boot.pending {
        sign_in(boot.signing_in.take());
    }
    // The caret stays in the field it was in.
    let (email_field, password_field) = (NodeRef::new(), NodeRef::new());
    Effect::new(move |_| {
        let field: NodeRef<leptos::html::Input> = match boot.focused.as_deref() {
            Some("email") => email_field,
            Some("password") => password_field,
            _ => return,
        };
        if let Some(input) = field.get() {
            let _ = input.focus();
        }
    });
    view! {
        <main class="login">
            <form class="card login-card" on:submit=submit aria-describedby="login-error">
                <h1 class="brand">"Pulse"</h1>
                <p class="muted">"Sign in to watch today's deliveries live."</p>
                <label class="field">
                    <span>"Email"</span>
                    <input type="email" name="email" autocomplete="username" required data-testid="login-email"
                        node_ref=email_field prop:value=email on:input=move |e| email.set(event_target_value(&e)) />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" required data-testid="login-password"
                        node_ref=password_field prop:value=password on:input=move |e| password.set(event_target_value(&e)) />
                </label>
                <p id="login-error" class="form-error" role="alert">{move || error.get()}</p>
                <button class="btn primary" type="submit" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}

/// What index.html's plain sign-in form held when the app took over.
#[derive(Default)]
struct BootForm {
    email: String,
    password: String,
    /// "Sign in" was clicked (boot.js held it).
    pending: bool,
    /// The field that had the focus: `email` or `password`.
    focused: Option<String>,
    /// What the plain form said about a sign-in that failed before the app came.
    error: Option<String>,
    /// The sign-in index.html's script started (see [`BootSignIn`]).
    signing_in: Option<BootSignIn>,
}

/// The sign-in index.html's script started (`form.signIn`): a promise of the message to
/// show if it failed, or of nothing once the session is stored.
#[cfg(target_arch = "wasm32")]
type BootSignIn = js_sys::Promise;
#[cfg(not(target_arch = "wasm32"))]
type BootSignIn = std::convert::Infallible;

/// Removes what index.html shows while the app loads, if it is still there: the app is signed
/// in (the plain form signed in, and the app started with the stored session). Leaves the
/// socket boot.js opened to the SDK's next client ([`pulse_sdk::hand_over`]), and returns the
/// figures boot.js showed live meanwhile (`Envelope<Stats>` as JSON), so they stay on screen.
pub(crate) fn take_boot_page() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let boot = web_sys::window()?.document()?.get_element_by_id("boot")?;
        // Taken off the element first: boot.js closes a socket still there once it is gone.
        let key = wasm_bindgen::JsValue::from_str("socket");
        let socket = js_sys::Reflect::get(&boot, &key).ok().filter(|s| s.is_object());
        if let Some(socket) = socket {
            let _ = js_sys::Reflect::delete_property(&boot, &key);
            pulse_sdk::hand_over(socket.unchecked_into());
        }
        boot.remove();
        boot.get_attribute("data-stats")
    }
    #[cfg(not(target_arch = "wasm32"))]
    None
}

/// Takes index.html's sign-in form out of the page, with what was typed into it.
fn take_boot_form() -> Option<BootForm> {
    #[cfg(target_arch = "wasm32")]
    {
        let doc = web_sys::window()?.document()?;
        let boot = doc.get_element_by_id("boot")?;
        let value = |selector: &str| {
            let input = doc.query_selector(selector).ok()??;
            js_sys::Reflect::get(&input, &"value".into()).ok()?.as_string()
        };
        let focused = doc.active_element().filter(|e| e.closest("#boot").ok().flatten().is_some());
        let form = doc.get_element_by_id("boot-login");
        let said = doc.query_selector("#boot-login .form-error").ok().flatten();
        let signing_in = form
            .as_ref()
            .and_then(|f| js_sys::Reflect::get(f, &"signIn".into()).ok())
            .filter(|p| p.is_object())
            .map(js_sys::Promise::from);
        let taken = BootForm {
            email: value("#boot-login input[name=email]").unwrap_or_default(),
            password: value("#boot-login input[name=password]").unwrap_or_default(),
            pending: form.and_then(|f| f.get_attribute("data-pending")).is_some(),
            focused: focused.and_then(|e| e.get_attribute("name")),
            error: said.and_then(|e| e.text_content()).filter(|t| !t.is_empty()),
            signing_in,
        };
        boot.remove();
        Some(taken)
    }
    #[cfg(not(target_arch = "wasm32"))]
    None
}

/// What index.html's sign-in says went wrong, once it is over; `None`: signed in.
async fn boot_refusal(signing_in: BootSignIn) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        match wasm_bindgen_futures::JsFuture::from(signing_in).await {
            Ok(said) => said.as_string(),
            Err(_) => Some("Could not sign in: the sign-in failed.".to_owned()),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    match signing_in {}
}
