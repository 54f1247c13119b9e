//! This module deals with the users page (admins only): the business's accounts, adding a
//! staff member or an admin, and disabling or enabling an account. Changes made in another
//! tab arrive as `user:updated` and reload the list.

use leptos::prelude::*;
use pulse_protocol::events::USER_UPDATED;
use pulse_protocol::rest::{NewUser, Page, User, UserPatch};

use crate::api;
use crate::components::toast::{Toasts, Tone};
use crate::pending::PulseClient;
use crate::session::Auth;

/// The shortest password the server accepts for a new account.
const MIN_PASSWORD_CHARS: usize = 12;

/// The users page; staff are told it is not for them (the server refuses them anyway).
#[component]
pub fn Users() -> impl IntoView {
    let auth = crate::context::<Auth>();
    move || {
        if auth.is_admin() {
            view! { <UserAdmin /> }.into_any()
        } else {
            view! { <p class="empty pad" data-testid="users-forbidden">"Only admins can manage users."</p> }.into_any()
        }
    }
}

/// The list and the add form, sharing one reload.
#[component]
fn UserAdmin() -> impl IntoView {
    let auth = crate::context::<Auth>();
    let users = RwSignal::new(Vec::<User>::new());
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match api::get::<Page<User>>(auth, "/api/users").await {
                Ok(p) => {
                    users.try_set(p.items);
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
        })
    };
    reload();
    // Another admin's tab added or disabled someone.
    let client = crate::context::<PulseClient>().client();
    let sub = client.on(USER_UPDATED, move |_| reload());
    let _keep = StoredValue::new_local(sub);
    view! {
        <div class="page-head">
            <h1>"Users"</h1>
            <p class="muted">{move || format!("{} accounts", users.with(|u| u.len()))}</p>
        </div>
        <div class="layout-side">
            <section class="card">
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{format!("Could not load users: {e}")}</p> })}
                <UserTable users=users reload=Callback::new(move |_| reload()) />
            </section>
            <AddUserForm added=Callback::new(move |_| reload()) />
        </div>
    }
}

/// Every account with its role, state, and a disable/enable button.
#[component]
fn UserTable(
    /// The accounts to show.
    users: RwSignal<Vec<User>>,
    /// Called after an account changed.
    reload: Callback<()>,
) -> impl IntoView {
    let auth = crate::context::<Auth>();
    let toasts = crate::context::<Toasts>();
    let me = move || auth.session.with(|s| s.as_ref().map(|s| s.user.id));
    let toggle = move |u: User| {
        leptos::task::spawn_local(async move {
            let patch = UserPatch { active: !u.active };
            let path = format!("/api/users/{}", u.id);
            match api::call::<User>(auth, "PATCH", &path, Some(&patch)).await {
                Ok(u) => {
                    let what = if u.active { "enabled" } else { "disabled" };
                    toasts.push(
                        format!("user:{}:{what}", u.id),
                        Tone::Success,
                        format!("Account {what}"),
                        u.name,
                    );
                }
                Err(e) => toasts.push(
                    format!("user-failed:{}", u.id),
                    Tone::Error,
                    "Account not changed",
                    e.to_string(),
                ),
            }
            // The page may be gone by now.
            reload.try_run(());
        });
    };
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="users-table">
                <thead><tr>
                    <th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Status"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each=move || users.get() key=|u| (u.id, u.active) let:u>
                        {
                            let uu = u.clone();
                            let label = if u.active { "Disable" } else { "Enable" };
                            let mine = me() == Some(u.id);
                            view! {
                                <tr data-id=u.id data-active=u.active.to_string()>
                                    <td class="ellipsis">{u.name.clone()}</td>
                                    <td class="mono">{u.email.clone()}</td>
                                    <td>{if u.role == "admin" { "Admin" } else { "Staff" }}</td>
                                    <td>{if u.active { "Active" } else { "Disabled" }}</td>
                                    <td class="actions">
                                        <Show when=move || !mine>
                                            <button class="link-btn" aria-label=format!("{label} {}", uu.name) on:click={
                                                let uu = uu.clone();
                                                move |_| toggle(uu.clone())
                                            }>{label}</button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// Name, email, role and first password of a new account.
#[component]
fn AddUserForm(
    /// Called after the account was created.
    added: Callback<()>,
) -> impl IntoView {
    let auth = crate::context::<Auth>();
    let toasts = crate::context::<Toasts>();
    let (name, email, role, password) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("staff".to_owned()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = NewUser {
            name: name.get_untracked().trim().to_owned(),
            email: email.get_untracked().trim().to_owned(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        if input.password.chars().count() < MIN_PASSWORD_CHARS {
            error
                .set(Some(format!("The password needs at least {MIN_PASSWORD_CHARS} characters.")));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = api::call::<User>(auth, "POST", "/api/users", Some(&input)).await;
            busy.try_set(false);
            match r {
                Ok(u) => {
                    toasts.push(
                        format!("user:{}:added", u.id),
                        Tone::Success,
                        "User added",
                        u.email,
                    );
                    name.set(String::new());
                    email.set(String::new());
                    password.set(String::new());
                    error.set(None);
                    added.try_run(());
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
        });
    };
    view! {
        <section class="card form-card" aria-labelledby="user-form-title">
            <h2 class="card-title" id="user-form-title">"Add a user"</h2>
            <form class="form" on:submit=submit data-testid="user-form">
                <label class="field"><span>"Name"</span>
                    <input type="text" required data-testid="user-name" prop:value=name on:input=move |e| name.set(event_target_value(&e)) /></label>
                <label class="field"><span>"Email"</span>
                    <input type="email" required data-testid="user-email" prop:value=email on:input=move |e| email.set(event_target_value(&e)) /></label>
                <label class="field"><span>"Role"</span>
                    <select data-testid="user-role" on:change=move |e| role.set(event_target_value(&e))>
                        <option value="staff" selected=move || role.get() == "staff">"Staff: deliveries and payments"</option>
                        <option value="admin" selected=move || role.get() == "admin">"Admin: also customers and users"</option>
                    </select></label>
                <label class="field"><span>"First password"</span>
                    <input type="password" required autocomplete="new-password" data-testid="user-password" prop:value=password on:input=move |e| password.set(event_target_value(&e)) /></label>
                <p class="form-error" role="alert">{move || error.get()}</p>
                <div class="form-actions">
                    <button class="btn primary" type="submit" disabled=move || busy.get()>{move || if busy.get() { "Adding…" } else { "Add user" }}</button>
                </div>
            </form>
        </section>
    }
}
