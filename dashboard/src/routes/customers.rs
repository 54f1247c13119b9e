//! This module deals with the customers page: every customer with their live balance, a
//! search box, and for admins adding a customer (`customer:add`), editing one and
//! deactivating or reactivating one (`customer:update`), all over the socket. A customer
//! added in another tab arrives as `customer:updated` and joins the list.

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::Topic;
use pulse_protocol::events::{
    Customer, CustomerAdd, CustomerUpdate, Id, CUSTOMER_ADD, CUSTOMER_UPDATE,
};
use pulse_sdk::store::Changes;

use crate::actions::{self, Pending, PulseClient};
use crate::components::toast::{Toasts, Tone};
use crate::format;
use crate::live::Live;
use crate::session::Auth;

/// Whether `c` matches the search text (name, phone or address, any case).
pub fn matches(c: &Customer, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty()
        || c.name.to_lowercase().contains(&q)
        || c.phone.as_deref().is_some_and(|p| p.to_lowercase().contains(&q))
        || c.address.as_deref().is_some_and(|a| a.to_lowercase().contains(&q))
}

/// The customers page.
#[component]
pub fn Customers() -> impl IntoView {
    use_topics(&[Topic::Customers]);
    let live = expect_context::<Live>();
    let toasts = expect_context::<Toasts>();
    let pending = expect_context::<Pending>();
    let auth = expect_context::<Auth>();
    let client = StoredValue::new(expect_context::<PulseClient>());
    let query = RwSignal::new(String::new());
    let editing = RwSignal::new(None::<Id>);
    let saving = RwSignal::new(false);
    let (f_name, f_phone, f_address, f_price, f_active) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(true),
    );
    let f_error = RwSignal::new(None::<String>);
    let edit = move |c: Customer| {
        f_name.set(c.name.clone());
        f_phone.set(c.phone.clone().unwrap_or_default());
        f_address.set(c.address.clone().unwrap_or_default());
        f_price.set(c.price_per_liter.to_string());
        f_active.set(c.active);
        f_error.set(None);
        editing.set(Some(c.id));
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(id) = editing.get_untracked() else { return };
        let price = match format::positive(&f_price.get_untracked()) {
            Some(p) => p,
            None => {
                f_error.set(Some("The price must be a number above zero.".into()));
                return;
            }
        };
        let name = f_name.get_untracked().trim().to_owned();
        if name.is_empty() {
            f_error.set(Some("The name cannot be empty.".into()));
            return;
        }
        let input = CustomerUpdate {
            id,
            name: Some(name.clone()),
            phone: Some(f_phone.get_untracked().trim().to_owned()),
            address: Some(f_address.get_untracked().trim().to_owned()),
            price_per_liter: Some(price),
            active: Some(f_active.get_untracked()),
            idempotency_key: None,
        };
        let payload = serde_json::to_value(&input).unwrap_or_default();
        let op = pending.next_op();
        let client = client.with_value(|c| c.client());
        saving.set(true);
        leptos::task::spawn_local(async move {
            let r = actions::send::<Customer>(
                client,
                pending,
                op,
                format!("Edit customer {name}"),
                CUSTOMER_UPDATE,
                payload,
            )
            .await;
            saving.try_set(false);
            match r {
                Ok(c) => {
                    toasts.push(
                        format!("customer:{}:{}", c.id, c.updated_at),
                        Tone::Success,
                        "Customer saved",
                        c.name.clone(),
                    );
                    live.update(|s| {
                        s.load_customers(vec![c]);
                        Changes { customers: true, ..Changes::default() }
                    });
                    editing.try_set(None);
                }
                Err(e) => {
                    f_error.try_set(Some(e.to_string()));
                    toasts.push(
                        format!("failed:{op}"),
                        Tone::Error,
                        "Customer not saved",
                        e.to_string(),
                    );
                }
            }
        });
    };
    let list = move || {
        let q = query.get();
        live.customers.with(|m| m.values().filter(|c| matches(c, &q)).cloned().collect::<Vec<_>>())
    };
    let total_owed =
        move || live.customers.with(|m| m.values().map(|c| c.balance.max(0.0)).sum::<f64>());
    view! {
        <div class="page-head">
            <h1>"Customers"</h1>
            <p class="muted">{move || format!("{} customers · {} owed in all", live.customers.with(|m| m.len()), format::money(total_owed()))}</p>
        </div>
        <div class="layout-side">
            <section class="card">
                <Show when=move || auth.is_admin()>
                    <NewCustomerForm />
                </Show>
                <label class="field inline search">
                    <span class="sr-only">"Search customers"</span>
                    <input type="search" placeholder="Search by name, phone or address" data-testid="customer-search"
                        prop:value=query on:input=move |e| query.set(event_target_value(&e)) />
                </label>
                <div class="table-wrap">
                    <table class="table" data-testid="customers-table">
                        <thead><tr>
                            <th>"Name"</th><th class="hide-phone">"Phone"</th><th class="num hide-phone">"Price / L"</th>
                            <th class="num">"Balance"</th><th class="hide-phone">"Status"</th><th><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            <For each=list key=|c| (c.id, c.updated_at, (c.balance * 100.0) as i64) let:c>
                                {
                                    let cc = c.clone();
                                    view! {
                                        <tr data-id=c.id class:selected=move || editing.get() == Some(c.id)>
                                            <td class="ellipsis">{c.name.clone()}</td>
                                            <td class="hide-phone mono">{c.phone.clone().unwrap_or_default()}</td>
                                            <td class="num hide-phone">{format::money(c.price_per_liter)}</td>
                                            <td class="num" class:owes={c.balance > 0.0}>{format::money(c.balance)}</td>
                                            <td class="hide-phone">{if c.active { "Active" } else { "Deactivated" }}</td>
                                            <td class="actions">
                                                <Show when=move || auth.is_admin()>
                                                    <button class="link-btn" aria-label=format!("Edit {}", cc.name) on:click={
                                                        let cc = cc.clone();
                                                        move |_| edit(cc.clone())
                                                    }>"Edit"</button>
                                                    <ActiveToggle customer=cc.clone() />
                                                </Show>
                                            </td>
                                        </tr>
                                    }
                                }
                            </For>
                        </tbody>
                    </table>
                </div>
            </section>
            <section class="card form-card" aria-labelledby="customer-form-title">
                <h2 class="card-title" id="customer-form-title">"Edit customer"</h2>
                <Show when=move || editing.get().is_some() fallback=move || view! { <p class="muted">{if auth.is_admin() { "Choose a customer to edit." } else { "Only admins change customers." }}</p> }>
                    <form class="form" on:submit=submit data-testid="customer-form">
                        <label class="field"><span>"Name"</span>
                            <input type="text" required prop:value=f_name on:input=move |e| f_name.set(event_target_value(&e)) /></label>
                        <label class="field"><span>"Phone"</span>
                            <input type="tel" prop:value=f_phone on:input=move |e| f_phone.set(event_target_value(&e)) /></label>
                        <label class="field"><span>"Address"</span>
                            <input type="text" prop:value=f_address on:input=move |e| f_address.set(event_target_value(&e)) /></label>
                        <label class="field"><span>"Price per liter"</span>
                            <input type="number" step="0.01" min="0.01" required prop:value=f_price on:input=move |e| f_price.set(event_target_value(&e)) /></label>
                        <label class="radio"><input type="checkbox" prop:checked=f_active on:change=move |e| f_active.set(event_target_checked(&e)) />"Deliveries active"</label>
                        <p class="form-error" role="alert">{move || f_error.get()}</p>
                        <div class="form-actions">
                            <button class="btn primary" type="submit" disabled=move || saving.get()>{move || if saving.get() { "Saving…" } else { "Save" }}</button>
                            <button class="btn ghost" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </div>
                    </form>
                </Show>
            </section>
        </div>
    }
}

/// What a customer action needs from the page's context, taken while rendering (async
/// tasks run outside the component's owner).
#[derive(Clone, Copy)]
struct CustomerActions {
    live: Live,
    toasts: Toasts,
    pending: Pending,
    client: StoredValue<PulseClient>,
}

impl CustomerActions {
    fn from_context() -> CustomerActions {
        CustomerActions {
            live: expect_context::<Live>(),
            toasts: expect_context::<Toasts>(),
            pending: expect_context::<Pending>(),
            client: StoredValue::new(expect_context::<PulseClient>()),
        }
    }
}

/// Sends a customer action, merges the stored customer into the live list and toasts the
/// outcome; returns the customer or the reason it was refused.
async fn save_customer(
    ctx: CustomerActions,
    label: String,
    event: &'static str,
    payload: serde_json::Value,
) -> Result<Customer, String> {
    let CustomerActions { live, toasts, pending, client } = ctx;
    let op = pending.next_op();
    let client = client.with_value(|c| c.client());
    let r = actions::send::<Customer>(client, pending, op, label.clone(), event, payload).await;
    match r {
        Ok(c) => {
            toasts.push(
                format!("customer:{}:{}", c.id, c.updated_at),
                Tone::Success,
                label,
                c.name.clone(),
            );
            live.update(|s| {
                s.load_customers(vec![c.clone()]);
                Changes { customers: true, ..Changes::default() }
            });
            Ok(c)
        }
        Err(e) => {
            toasts.push(
                format!("failed:{op}"),
                Tone::Error,
                format!("{label}: not done"),
                e.to_string(),
            );
            Err(e.to_string())
        }
    }
}

/// "Deactivate" / "Reactivate" for one customer.
#[component]
fn ActiveToggle(
    /// The customer as listed.
    customer: Customer,
) -> impl IntoView {
    let ctx = CustomerActions::from_context();
    let busy = RwSignal::new(false);
    let (id, active, name) = (customer.id, customer.active, customer.name);
    let label = if active { "Deactivate" } else { "Reactivate" };
    let click = move |_| {
        let input = CustomerUpdate {
            id,
            name: None,
            phone: None,
            address: None,
            price_per_liter: None,
            active: Some(!active),
            idempotency_key: None,
        };
        let payload = serde_json::to_value(&input).unwrap_or_default();
        let what = format!("{} customer", if active { "Deactivate" } else { "Reactivate" });
        busy.set(true);
        leptos::task::spawn_local(async move {
            let _ = save_customer(ctx, what, CUSTOMER_UPDATE, payload).await;
            busy.try_set(false);
        });
    };
    view! {
        <button class="link-btn" data-testid="customer-active-toggle" aria-label=format!("{label} {name}")
            disabled=move || busy.get() on:click=click>{label}</button>
    }
}

/// Name, phone, address and price of a new customer.
#[component]
fn NewCustomerForm() -> impl IntoView {
    let ctx = CustomerActions::from_context();
    let open = RwSignal::new(false);
    let (name, phone, address, price) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(p) = format::positive(&price.get_untracked()) else {
            error.set(Some("The price must be a number above zero.".into()));
            return;
        };
        let n = name.get_untracked().trim().to_owned();
        if n.is_empty() {
            error.set(Some("The name cannot be empty.".into()));
            return;
        }
        let text = |s: RwSignal<String>| {
            Some(s.get_untracked().trim().to_owned()).filter(|s| !s.is_empty())
        };
        let input = CustomerAdd {
            name: n,
            phone: text(phone),
            address: text(address),
            price_per_liter: p,
            // A retry after a lost answer adds the customer once.
            idempotency_key: Some(format!("customer-add-{}", crate::components::clock::wall_ms())),
        };
        let payload = serde_json::to_value(&input).unwrap_or_default();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = save_customer(ctx, "Customer added".into(), CUSTOMER_ADD, payload).await;
            busy.try_set(false);
            match r {
                Ok(_) => {
                    for s in [name, phone, address, price] {
                        s.set(String::new());
                    }
                    error.set(None);
                    open.set(false);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    view! {
        <Show when=move || open.get() fallback=move || view! {
            <button class="btn primary small" data-testid="new-customer" on:click=move |_| open.set(true)>"New customer"</button>
        }>
            <form class="form new-customer" on:submit=submit data-testid="new-customer-form" aria-label="New customer">
                <label class="field"><span>"Name"</span>
                    <input type="text" required data-testid="new-customer-name" prop:value=name on:input=move |e| name.set(event_target_value(&e)) /></label>
                <label class="field"><span>"Phone"</span>
                    <input type="tel" prop:value=phone on:input=move |e| phone.set(event_target_value(&e)) /></label>
                <label class="field"><span>"Address"</span>
                    <input type="text" prop:value=address on:input=move |e| address.set(event_target_value(&e)) /></label>
                <label class="field"><span>"Price per liter"</span>
                    <input type="number" step="0.01" min="0.01" required data-testid="new-customer-price" prop:value=price on:input=move |e| price.set(event_target_value(&e)) /></label>
                <p class="form-error" role="alert">{move || error.get()}</p>
                <div class="form-actions">
                    <button class="btn primary" type="submit" disabled=move || busy.get()>{move || if busy.get() { "Adding…" } else { "Add customer" }}</button>
                    <button class="btn ghost" type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_name_phone_and_address() {
        let c = Customer {
            id: 1,
            name: "Amina Njeri".into(),
            phone: Some("+254 700 100".into()),
            address: Some("10 Market Road".into()),
            price_per_liter: 1.0,
            balance: 0.0,
            active: true,
            updated_at: 0,
        };
        assert!(matches(&c, ""));
        assert!(matches(&c, "amina"));
        assert!(matches(&c, "700 1"));
        assert!(matches(&c, "market"));
        assert!(!matches(&c, "zed"));
    }
}
