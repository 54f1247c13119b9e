//! This module deals with the customers page: every customer with their live balance, a
//! search box, and for admins adding a customer (`customer:add`), editing one and
//! deactivating or reactivating one (`customer:update`), all over the socket through the
//! [`submit`](crate::submit) flow. A customer added in another tab arrives as
//! `customer:updated` and joins the list.

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::{
    Customer, CustomerAdd, CustomerUpdate, CUSTOMER_ADD, CUSTOMER_UPDATE,
};
use pulse_protocol::ToValue;
use pulse_sdk::store::Changes;

use crate::components::clock::wall_ms;
use crate::format;
use crate::live::Live;
use crate::session::Auth;
use crate::submit::{Action, Record, Submitter};

/// Whether `c` matches the search text (name, phone or address, any case).
pub fn matches(c: &Customer, q: &str) -> bool {
    let q = format::lower(q.trim());
    q.is_empty()
        || format::lower(&c.name).contains(&q)
        || c.phone.as_deref().is_some_and(|p| format::lower(p).contains(&q))
        || c.address.as_deref().is_some_and(|a| format::lower(a).contains(&q))
}

impl Record for Customer {
    fn toast_key(&self) -> String {
        format!("customer:{}:{}", self.id, self.updated_at)
    }
    fn summary(&self) -> String {
        self.name.clone()
    }
}

/// The customers page.
#[component]
pub fn Customers() -> impl IntoView {
    use_topics(crate::route::Page::Customers.topics());
    let live = crate::context::<Live>();
    let auth = crate::context::<Auth>();
    let query = RwSignal::new(String::new());
    let editing = RwSignal::new(None::<Customer>);
    let total_owed =
        move || live.customers.with(|m| m.values().map(|c| c.balance.max(0.0)).sum::<f64>());
    let counts = move || {
        let n = live.customers.with(|m| m.len());
        format!("{n} customers · {} owed in all", format::money(total_owed()))
    };
    view! {
        <div class="page-head">
            <h1>"Customers"</h1>
            <p class="muted">{counts}</p>
        </div>
        <div class="layout-side">
            <section class="card">
                <Show when=move || auth.is_admin()>
                    <NewCustomerForm />
                </Show>
                <CustomerSearch query />
                <CustomersTable query editing />
            </section>
            <section class="card form-card" aria-labelledby="customer-form-title">
                <h2 class="card-title" id="customer-form-title">"Edit customer"</h2>
                {move || match editing.get() {
                    Some(customer) => view! { <EditCustomerForm customer editing /> }.into_any(),
                    None => view! { <p class="muted">{if auth.is_admin() { "Choose a customer to edit." } else { "Only admins change customers." }}</p> }.into_any(),
                }}
            </section>
        </div>
    }
}

/// The search box over name, phone and address.
#[component]
fn CustomerSearch(
    /// The text typed.
    query: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label class="field inline search">
            <span class="sr-only">"Search customers"</span>
            <input type="search" placeholder="Search by name, phone or address" data-testid="customer-search"
                prop:value=query on:input=move |e| query.set(event_target_value(&e)) />
        </label>
    }
}

/// Every customer matching the search, with their live balance.
#[component]
fn CustomersTable(
    /// The search text.
    query: RwSignal<String>,
    /// The customer being edited, highlighted; "Edit" sets it.
    editing: RwSignal<Option<Customer>>,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let list = move || {
        let q = query.get();
        live.customers.with(|m| m.values().filter(|c| matches(c, &q)).cloned().collect::<Vec<_>>())
    };
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="customers-table">
                <thead><tr>
                    <th>"Name"</th><th class="hide-phone">"Phone"</th><th class="num hide-phone">"Price / L"</th>
                    <th class="num">"Balance"</th><th class="hide-phone">"Status"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each=list key=|c| (c.id, c.updated_at, (c.balance * 100.0) as i64) let:customer>
                        <CustomerRow customer editing />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// One customer: name, phone, price, balance, status, and for admins "Edit" and
/// "Deactivate" / "Reactivate".
#[component]
fn CustomerRow(
    /// The customer as listed.
    customer: Customer,
    /// The customer being edited.
    editing: RwSignal<Option<Customer>>,
) -> impl IntoView {
    let auth = crate::context::<Auth>();
    let Customer { id, ref name, ref phone, price_per_liter, balance, active, .. } = customer;
    let selected = move || editing.with(|e| e.as_ref().map(|c| c.id)) == Some(id);
    let (name, phone, edit_label) =
        (name.clone(), phone.clone().unwrap_or_default(), format!("Edit {name}"));
    let controls = move || {
        let c = customer.clone();
        view! {
            <button class="link-btn" aria-label=edit_label.clone() on:click=move |_| editing.set(Some(c.clone()))>"Edit"</button>
            <ActiveToggle customer=customer.clone() />
        }
    };
    view! {
        <tr data-id=id class:selected=selected>
            <td class="ellipsis">{name}</td>
            <td class="hide-phone mono">{phone}</td>
            <td class="num hide-phone">{format::money(price_per_liter)}</td>
            <td class="num" class:owes={balance > 0.0}>{format::money(balance)}</td>
            <td class="hide-phone">{if active { "Active" } else { "Deactivated" }}</td>
            <td class="actions">
                <Show when=move || auth.is_admin()>{controls.clone()}</Show>
            </td>
        </tr>
    }
}

/// Sends a customer action through the submit flow; the stored customer joins the live
/// list at once (its broadcast may come later). `then` gets the answer.
fn save_customer(
    submitter: Submitter,
    live: Live,
    action: Action<Customer>,
    then: impl FnOnce(Result<(), String>) + 'static,
) {
    submitter.submit(action, move |r| match r {
        Ok(c) => {
            live.update(|s| {
                s.load_customers(vec![c]);
                Changes { customers: true, ..Changes::default() }
            });
            then(Ok(()))
        }
        Err(e) => then(Err(e.to_string())),
    });
}

/// A customer action's wording: `label` while pending, `done` and `failed` in its toasts.
fn customer_action(
    event: &'static str,
    payload: &impl ToValue,
    label: String,
    done: &str,
    failed: &str,
) -> Action<Customer> {
    Action {
        event,
        payload: payload.to_value(),
        label,
        done: done.into(),
        failed: failed.into(),
        row: None,
    }
}

/// Name, phone, address, price and active state of the customer being edited.
#[component]
fn EditCustomerForm(
    /// The customer as it was when "Edit" was pressed.
    customer: Customer,
    /// Cleared when saved or cancelled.
    editing: RwSignal<Option<Customer>>,
) -> impl IntoView {
    let (live, submitter) = (crate::context::<Live>(), Submitter::from_context());
    let id = customer.id;
    let name = RwSignal::new(customer.name);
    let phone = RwSignal::new(customer.phone.unwrap_or_default());
    let address = RwSignal::new(customer.address.unwrap_or_default());
    let price = RwSignal::new(format::shortest(customer.price_per_liter));
    let active = RwSignal::new(customer.active);
    let (error, saving) = (RwSignal::new(None::<String>), RwSignal::new(false));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = match read_customer(&name.get_untracked(), &price.get_untracked()) {
            Ok((n, p)) => CustomerUpdate {
                id,
                name: Some(n),
                phone: Some(phone.get_untracked().trim().to_owned()),
                address: Some(address.get_untracked().trim().to_owned()),
                price_per_liter: Some(p),
                active: Some(active.get_untracked()),
                idempotency_key: None,
            },
            Err(e) => return error.set(Some(e.into())),
        };
        let label = format!("Edit customer {}", input.name.as_deref().unwrap_or_default());
        let action =
            customer_action(CUSTOMER_UPDATE, &input, label, "Customer saved", "Customer not saved");
        saving.set(true);
        save_customer(submitter, live, action, move |r| {
            saving.try_set(false);
            match r {
                Ok(()) => {
                    editing.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let text = |s: RwSignal<String>| move |e: leptos::ev::Event| s.set(event_target_value(&e));
    view! {
        <form class="form" on:submit=submit data-testid="customer-form">
            <label class="field"><span>"Name"</span>
                <input type="text" required prop:value=name on:input=text(name) /></label>
            <label class="field"><span>"Phone"</span>
                <input type="tel" prop:value=phone on:input=text(phone) /></label>
            <label class="field"><span>"Address"</span>
                <input type="text" prop:value=address on:input=text(address) /></label>
            <label class="field"><span>"Price per liter"</span>
                <input type="number" step="0.01" min="0.01" required prop:value=price on:input=text(price) /></label>
            <label class="radio"><input type="checkbox" prop:checked=active on:change=move |e| active.set(event_target_checked(&e)) />"Deliveries active"</label>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <div class="form-actions">
                <button class="btn primary" type="submit" disabled=move || saving.get()>{move || if saving.get() { "Saving…" } else { "Save" }}</button>
                <button class="btn ghost" type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}

/// A name and a price as typed, or what to fix.
fn read_customer(name: &str, price: &str) -> Result<(String, f64), &'static str> {
    let price = format::positive(price).ok_or("The price must be a number above zero.")?;
    let name = name.trim();
    if name.is_empty() {
        return Err("The name cannot be empty.");
    }
    Ok((name.to_owned(), price))
}

/// "Deactivate" / "Reactivate" for one customer.
#[component]
fn ActiveToggle(
    /// The customer as listed.
    customer: Customer,
) -> impl IntoView {
    let (live, submitter) = (crate::context::<Live>(), Submitter::from_context());
    let busy = RwSignal::new(false);
    let (id, active, name) = (customer.id, customer.active, customer.name);
    let label = if active { "Deactivate" } else { "Reactivate" };
    let aria = format!("{label} {name}");
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
        let (done, failed) = match active {
            true => ("Customer deactivated", "Customer not deactivated"),
            false => ("Customer reactivated", "Customer not reactivated"),
        };
        let action =
            customer_action(CUSTOMER_UPDATE, &input, format!("{label} {name}"), done, failed);
        busy.set(true);
        save_customer(submitter, live, action, move |_| {
            busy.try_set(false);
        });
    };
    view! {
        <button class="link-btn" data-testid="customer-active-toggle" aria-label=aria
            disabled=move || busy.get() on:click=click>{label}</button>
    }
}

/// Name, phone, address and price of a new customer.
#[component]
fn NewCustomerForm() -> impl IntoView {
    let (live, submitter) = (crate::context::<Live>(), Submitter::from_context());
    let open = RwSignal::new(false);
    let (name, phone, address, price) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let (error, busy) = (RwSignal::new(None::<String>), RwSignal::new(false));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, p) = match read_customer(&name.get_untracked(), &price.get_untracked()) {
            Ok(v) => v,
            Err(e) => return error.set(Some(e.into())),
        };
        let text = |s: RwSignal<String>| {
            Some(s.get_untracked().trim().to_owned()).filter(|s| !s.is_empty())
        };
        let label = format!("Add customer {n}");
        let input = CustomerAdd {
            name: n,
            phone: text(phone),
            address: text(address),
            price_per_liter: p,
            // A retry after a lost answer adds the customer once.
            idempotency_key: Some(format!("customer-add-{}", wall_ms())),
        };
        let action =
            customer_action(CUSTOMER_ADD, &input, label, "Customer added", "Customer not added");
        busy.set(true);
        save_customer(submitter, live, action, move |r| {
            busy.try_set(false);
            match r {
                Ok(()) => {
                    for s in [name, phone, address, price] {
                        s.try_set(String::new());
                    }
                    error.try_set(None);
                    open.try_set(false);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let input = |s: RwSignal<String>| move |e: leptos::ev::Event| s.set(event_target_value(&e));
    view! {
        <Show when=move || open.get() fallback=move || view! {
            <button class="btn primary small" data-testid="new-customer" on:click=move |_| open.set(true)>"New customer"</button>
        }>
            <form class="form new-customer" on:submit=submit data-testid="new-customer-form" aria-label="New customer">
                <label class="field"><span>"Name"</span>
                    <input type="text" required data-testid="new-customer-name" prop:value=name on:input=input(name) /></label>
                <label class="field"><span>"Phone"</span>
                    <input type="tel" prop:value=phone on:input=input(phone) /></label>
                <label class="field"><span>"Address"</span>
                    <input type="text" prop:value=address on:input=input(address) /></label>
                <label class="field"><span>"Price per liter"</span>
                    <input type="number" step="0.01" min="0.01" required data-testid="new-customer-price" prop:value=price on:input=input(price) /></label>
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

    #[test]
    fn the_forms_say_what_to_fix() {
        assert_eq!(read_customer(" Amina ", "1.5"), Ok(("Amina".to_owned(), 1.5)));
        assert_eq!(read_customer(" ", "1.5"), Err("The name cannot be empty."));
        assert_eq!(read_customer("Amina", "0"), Err("The price must be a number above zero."));
    }
}
