//! This module deals with the sign-in page.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::ApiError;
use crate::session::Auth;

/// Email and password; on success the session is stored and the overview opens.
#[component]
pub fn Login() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Already signed in (another tab, a reload): straight to the dashboard.
    Effect::new(move |_| {
        if auth.session.with(|s| s.is_some()) {
            navigate("/", Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let r = auth.login(email.get_untracked(), password.get_untracked()).await;
            busy.set(false);
            if let Err(e) = r {
                error.set(Some(match e {
                    ApiError::Unauthorized(_) => "Wrong email or password.".to_owned(),
                    other => format!("Could not sign in: {other}."),
                }));
            }
        });
    };
    view! {
        <main class="login">
            <form class="card login-card" on:submit=submit aria-describedby="login-error">
                <h1 class="brand">"Pulse"</h1>
                <p class="muted">"Sign in to watch today's deliveries live."</p>
                <label class="field">
                    <span>"Email"</span>
                    <input type="email" name="email" autocomplete="username" required data-testid="login-email"
                        prop:value=email on:input=move |e| email.set(event_target_value(&e)) />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input type="password" name="password" autocomplete="current-password" required data-testid="login-password"
                        prop:value=password on:input=move |e| password.set(event_target_value(&e)) />
                </label>
                <p id="login-error" class="form-error" role="alert">{move || error.get()}</p>
                <button class="btn primary" type="submit" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
