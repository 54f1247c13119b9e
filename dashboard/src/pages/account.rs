//! This module deals with the account page: who is signed in, and changing one's own
//! password. The server then ends every other session's ability to renew itself and hands
//! back a fresh session, which this tab (and the others of this browser) adopt.

use leptos::prelude::*;
use pulse_protocol::rest::{PasswordChange, Session};

use crate::api::{self, ApiError};
use crate::components::toast::{Toasts, Tone};
use crate::session::Auth;

/// The shortest password the server accepts.
const MIN_PASSWORD_CHARS: usize = 12;

/// The account page.
#[component]
pub fn Account() -> impl IntoView {
    let auth = crate::context::<Auth>();
    let who = move || {
        auth.session.with(|s| {
            s.as_ref()
                .map(|s| format!("{} · {} · {}", s.user.name, s.user.email, s.user.role))
                .unwrap_or_default()
        })
    };
    view! {
        <div class="page-head">
            <h1>"Account"</h1>
            <p class="muted" data-testid="account-who">{who}</p>
        </div>
        <ChangePasswordForm />
    }
}

/// Current password, new password twice.
#[component]
fn ChangePasswordForm() -> impl IntoView {
    let auth = crate::context::<Auth>();
    let toasts = crate::context::<Toasts>();
    let (current, new, again) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let change = PasswordChange {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        if change.new_password != again.get_untracked() {
            error.set(Some("The new passwords differ.".into()));
            return;
        }
        if change.new_password.chars().count() < MIN_PASSWORD_CHARS {
            error.set(Some(format!(
                "The new password needs at least {MIN_PASSWORD_CHARS} characters."
            )));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            // A wrong current password answers 401; that must not sign this tab out.
            let r = api::raw_call::<Session>(auth, "POST", "/api/auth/password", &change).await;
            busy.try_set(false);
            match r {
                Ok(s) => {
                    auth.set(Some(s));
                    current.set(String::new());
                    new.set(String::new());
                    again.set(String::new());
                    error.set(None);
                    toasts.push(
                        "password-changed",
                        Tone::Success,
                        "Password changed",
                        "Other devices must sign in again.",
                    );
                }
                Err(ApiError::Unauthorized(_)) => {
                    error.try_set(Some("The current password is wrong.".into()));
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <section class="card form-card narrow" aria-labelledby="password-title">
            <h2 class="card-title" id="password-title">"Change password"</h2>
            <form class="form" on:submit=submit data-testid="password-form">
                <label class="field"><span>"Current password"</span>
                    <input type="password" required autocomplete="current-password" data-testid="password-current" prop:value=current on:input=move |e| current.set(event_target_value(&e)) /></label>
                <label class="field"><span>"New password"</span>
                    <input type="password" required autocomplete="new-password" data-testid="password-new" prop:value=new on:input=move |e| new.set(event_target_value(&e)) /></label>
                <label class="field"><span>"New password again"</span>
                    <input type="password" required autocomplete="new-password" data-testid="password-again" prop:value=again on:input=move |e| again.set(event_target_value(&e)) /></label>
                <p class="form-error" role="alert">{move || error.get()}</p>
                <div class="form-actions">
                    <button class="btn primary" type="submit" disabled=move || busy.get()>{move || if busy.get() { "Saving…" } else { "Change password" }}</button>
                </div>
            </form>
        </section>
    }
}
