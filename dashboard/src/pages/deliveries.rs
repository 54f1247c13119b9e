//! This module deals with the deliveries page: the list filtered by day and customer, kept
//! live, and the form that records or changes a delivery over the socket (through the
//! [`submit`](crate::submit) flow: shown at once, confirmed by the ack or rolled back).

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::{Customer, Delivery, DeliveryUpdate, Id, DELIVERY_UPDATE};
use pulse_protocol::rest::Page;
use pulse_protocol::ToValue;

use crate::api;
use crate::components::clock::wall_ms;
use crate::components::customer_select::CustomerSelect;
use crate::components::load_error::LoadError;
use crate::format;
use crate::live::{delivery_key, Live};
use crate::rows::{Row, RowState, Rows};
use crate::session::Auth;
use crate::submit::{restored_rows, Action, PendingRow, Record, RowStateChip, Submitter};

/// Rows kept on the page.
const CAP: usize = 200;

impl Record for Delivery {
    fn toast_key(&self) -> String {
        delivery_key(self)
    }
    fn summary(&self) -> String {
        let (liters, amount) = (format::liters(self.quantity), format::money(self.amount));
        format!("{} · {liters} · {amount}", self.customer_name)
    }
}

/// Which deliveries the table lists. `Copy`.
#[derive(Clone, Copy)]
struct DeliveryFilter {
    day: RwSignal<String>,
    customer: RwSignal<Option<Id>>,
}

impl DeliveryFilter {
    /// Whether a delivery of `customer_id` on `date` belongs in the table now.
    fn shows(&self, date: &str, customer_id: Id) -> bool {
        self.day.with_untracked(|d| d == date)
            && self.customer.get_untracked().is_none_or(|c| c == customer_id)
    }
}

/// The deliveries page.
#[component]
pub fn Deliveries() -> impl IntoView {
    use_topics(crate::route::Page::Deliveries.topics());
    let today = format::day_of(wall_ms());
    let filter =
        DeliveryFilter { day: RwSignal::new(today.clone()), customer: RwSignal::new(None) };
    let rows = RwSignal::new(Rows::<Delivery>::new(CAP));
    let draft = DeliveryDraft::new(today);
    let (loading, error) = follow_deliveries(filter, rows);
    restored_rows(rows, &[DELIVERY_UPDATE], move |d: &Delivery| {
        filter.shows(&d.date, d.customer_id)
    });
    let shown = move || match loading.get() {
        true => "Loading…".to_owned(),
        false => format!("{} shown", rows.with(|r| r.rows.len())),
    };
    view! {
        <div class="page-head">
            <h1>"Deliveries"</h1>
            <p class="muted">{shown}</p>
        </div>
        <div class="layout-side">
            <section class="card">
                <DeliveryFilters filter />
                <LoadError what="deliveries" error />
                <DeliveriesTable rows loading edit=Callback::new(move |d: Delivery| draft.edit(d)) />
            </section>
            <DeliveryForm draft rows filter />
        </div>
    }
}

/// Loads the filtered list whenever the filter changes and adds live deliveries that match
/// it; returns whether it is loading and why it failed.
fn follow_deliveries(
    filter: DeliveryFilter,
    rows: RwSignal<Rows<Delivery>>,
) -> (RwSignal<bool>, RwSignal<Option<String>>) {
    let auth = crate::context::<Auth>();
    let live = crate::context::<Live>();
    let loaded_at = RwSignal::new(i64::MAX);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let retries = live.retries(error);
    Effect::new(move |_| {
        retries.track();
        let (d, c) = (filter.day.get(), filter.customer.get());
        let mut q = format!("/api/deliveries?limit=100&date={d}");
        if let Some(c) = c {
            q.push_str(&format!("&customer_id={c}"));
        }
        loading.set(true);
        let started = wall_ms();
        leptos::task::spawn_local(async move {
            let r: Result<Page<Delivery>, _> = api::get(auth, &q).await;
            // A slower answer for an older filter must not overwrite a newer one, and one for
            // a page left meanwhile has nowhere to go.
            if filter.day.try_get_untracked() != Some(d)
                || filter.customer.try_get_untracked() != Some(c)
            {
                return;
            }
            loading.set(false);
            match r {
                Ok(p) => {
                    rows.update(|r| r.load(p.items));
                    loaded_at.set(started - 5_000);
                    error.set(None);
                }
                Err(e) => {
                    // Meanwhile, what this browser last saw of that day (a tab opened offline).
                    let kept: Vec<Delivery> = live
                        .deliveries
                        .try_with_untracked(|l| {
                            l.iter()
                                .filter(|x| filter.shows(&x.date, x.customer_id))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    rows.update(|r| {
                        if r.rows.iter().all(|x| x.op.is_some()) {
                            r.load(kept)
                        }
                    });
                    error.set(Some(e.to_string()))
                }
            }
        });
    });
    Effect::new(move |_| {
        let since = loaded_at.get_untracked();
        live.deliveries.with(|list| {
            let fresh: Vec<Delivery> = list
                .iter()
                .rev()
                .filter(|x| x.updated_at >= since && filter.shows(&x.date, x.customer_id))
                .cloned()
                .collect();
            if !fresh.is_empty() {
                rows.update(|r| fresh.into_iter().for_each(|x| r.upsert(x)));
            }
        });
    });
    (loading, error)
}

/// The day and customer the table shows.
#[component]
fn DeliveryFilters(
    /// The filter it sets.
    filter: DeliveryFilter,
) -> impl IntoView {
    let live = crate::context::<Live>();
    // Every customer, deactivated ones too: their history stays.
    let customers = move || {
        live.customers.with(|m| m.values().map(|c| (c.id, c.name.clone())).collect::<Vec<_>>())
    };
    let set_day = move |e: leptos::ev::Event| {
        let v = event_target_value(&e);
        if !v.is_empty() {
            filter.day.set(v)
        }
    };
    view! {
        <form class="filters" on:submit=|e| e.prevent_default() aria-label="Filter deliveries">
            <label class="field inline">
                <span>"Day"</span>
                <input type="date" data-testid="filter-date" prop:value=filter.day on:change=set_day />
            </label>
            <label class="field inline">
                <span>"Customer"</span>
                <select data-testid="filter-customer" on:change=move |e| filter.customer.set(event_target_value(&e).parse().ok())>
                    <option value="">"All customers"</option>
                    <For each=customers key=|c| c.0 let:c>
                        <option value=c.0.to_string() selected=move || filter.customer.get() == Some(c.0)>{c.1}</option>
                    </For>
                </select>
            </label>
        </form>
    }
}

/// The listed deliveries, newest first, pending ones marked.
#[component]
fn DeliveriesTable(
    /// The rows.
    rows: RwSignal<Rows<Delivery>>,
    /// Whether the list is loading (no "none" message meanwhile).
    loading: RwSignal<bool>,
    /// Called with a saved delivery the admin wants to change.
    edit: Callback<Delivery>,
) -> impl IntoView {
    let each = move || rows.with(|r| r.rows.clone());
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="deliveries-table">
                <thead><tr>
                    <th>"Time"</th><th>"Customer"</th><th class="num">"Liters"</th><th class="num hide-phone">"Price"</th>
                    <th class="num">"Amount"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each key=|r| (r.item.id, r.item.updated_at, r.state as u8) let:row>
                        <DeliveryRow row edit />
                    </For>
                </tbody>
            </table>
            <Show when=move || !loading.get() && rows.with(|r| r.rows.is_empty())>
                <p class="empty pad">"No deliveries for this filter."</p>
            </Show>
        </div>
    }
}

/// One delivery: time, customer, liters, price, amount, and "Edit" once saved.
#[component]
fn DeliveryRow(
    /// The row.
    row: Row<Delivery>,
    /// Called when "Edit" is pressed.
    edit: Callback<Delivery>,
) -> impl IntoView {
    let offset = format::local_offset_min();
    let Row { item: d, state, .. } = row;
    let edit_button = (state == RowState::Saved).then(|| {
        let label = format!("Edit delivery to {}", d.customer_name);
        let d = d.clone();
        view! { <button class="link-btn" aria-label=label on:click=move |_| edit.run(d.clone())>"Edit"</button> }
    });
    view! {
        <tr data-id=d.id data-state=state.as_str() class:pending={state != RowState::Saved}>
            <td class="mono">{format::time_of_day(d.updated_at, offset)}</td>
            <td class="ellipsis">{d.customer_name}<RowStateChip state /></td>
            <td class="num">{format::liters(d.quantity)}</td>
            <td class="num hide-phone">{format::money(d.price_per_liter)}</td>
            <td class="num">{format::money(d.amount)}</td>
            <td class="actions">{edit_button}</td>
        </tr>
    }
}

/// The form's fields as typed, and the delivery being changed, if any. `Copy`.
#[derive(Clone, Copy)]
struct DeliveryDraft {
    editing: RwSignal<Option<Delivery>>,
    customer: RwSignal<String>,
    date: RwSignal<String>,
    quantity: RwSignal<String>,
    price: RwSignal<String>,
    error: RwSignal<Option<String>>,
}

impl DeliveryDraft {
    fn new(today: String) -> DeliveryDraft {
        DeliveryDraft {
            editing: RwSignal::new(None),
            customer: RwSignal::new(String::new()),
            date: RwSignal::new(today),
            quantity: RwSignal::new(String::new()),
            price: RwSignal::new(String::new()),
            error: RwSignal::new(None),
        }
    }

    /// Fills the form with a saved delivery, to change it.
    fn edit(&self, d: Delivery) {
        self.customer.set(d.customer_id.to_string());
        self.date.set(d.date.clone());
        self.quantity.set(format::shortest(d.quantity));
        self.price.set(format::shortest(d.price_per_liter));
        self.editing.set(Some(d));
    }

    /// Back to recording a new delivery; the customer and day stay for the next one.
    fn reset(&self) {
        self.editing.set(None);
        self.quantity.set(String::new());
        self.price.set(String::new());
        self.error.set(None);
    }

    /// The change as typed, or what to fix.
    fn read(&self) -> Result<DeliveryUpdate, &'static str> {
        read_delivery(
            self.editing.with_untracked(|e| e.as_ref().map(|d| d.id)),
            &self.customer.get_untracked(),
            self.date.get_untracked(),
            &self.quantity.get_untracked(),
            &self.price.get_untracked(),
        )
    }
}

/// The delivery the form's text describes, or what to fix.
fn read_delivery(
    id: Option<Id>,
    customer: &str,
    date: String,
    quantity: &str,
    price: &str,
) -> Result<DeliveryUpdate, &'static str> {
    let customer_id = customer.parse::<Id>().map_err(|_| "Choose a customer.")?;
    let quantity = format::positive(quantity).ok_or("Liters must be a number above zero.")?;
    let price_per_liter = match price.trim() {
        "" => None,
        p => Some(format::positive(p).ok_or("The price must be a number above zero, or empty.")?),
    };
    Ok(DeliveryUpdate { id, customer_id, date, quantity, price_per_liter, idempotency_key: None })
}

/// "Record a delivery" or "Update delivery": customer, day, liters and an optional price.
#[component]
fn DeliveryForm(
    /// The fields.
    draft: DeliveryDraft,
    /// The table, where the delivery shows at once.
    rows: RwSignal<Rows<Delivery>>,
    /// What the table lists: a delivery outside it is not shown there.
    filter: DeliveryFilter,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let submitter = Submitter::from_context();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = match draft.read() {
            Ok(input) => input,
            Err(e) => return draft.error.set(Some(e.into())),
        };
        let customer = live.customers.with_untracked(|m| m.get(&input.customer_id).cloned());
        let item = optimistic(&input, customer.as_ref(), wall_ms());
        let verb = if input.id.is_some() { "Update" } else { "Record" };
        let action = Action {
            event: DELIVERY_UPDATE,
            payload: input.to_value(),
            label: format!(
                "{verb} delivery: {} · {}",
                item.customer_name,
                format::liters(item.quantity)
            ),
            done: if input.id.is_some() { "Delivery updated" } else { "Delivery recorded" }.into(),
            failed: format!("{verb} failed"),
            row: filter.shows(&item.date, item.customer_id).then(|| PendingRow {
                rows,
                item,
                edit: input.id.is_some(),
            }),
        };
        draft.reset();
        submitter.submit(action, |_| ());
    };
    let editing = move || draft.editing.with(|e| e.is_some());
    let input = |s: RwSignal<String>| move |e: leptos::ev::Event| s.set(event_target_value(&e));
    view! {
        <section class="card form-card" aria-labelledby="delivery-form-title">
            <h2 class="card-title" id="delivery-form-title">{move || if editing() { "Update delivery" } else { "Record a delivery" }}</h2>
            <form class="form" on:submit=submit data-testid="delivery-form">
                <label class="field">
                    <span>"Customer"</span>
                    <CustomerSelect value=draft.customer active_only=true testid="form-customer" />
                </label>
                <label class="field">
                    <span>"Day"</span>
                    <input type="date" required data-testid="form-date" prop:value=draft.date on:input=input(draft.date) />
                </label>
                <div class="field-row">
                    <label class="field">
                        <span>"Liters"</span>
                        <input type="number" inputmode="decimal" step="0.1" min="0.1" required data-testid="form-quantity"
                            prop:value=draft.quantity on:input=input(draft.quantity) />
                    </label>
                    <label class="field">
                        <span>"Price / L"</span>
                        <input type="number" inputmode="decimal" step="0.01" min="0.01" placeholder="default" data-testid="form-price"
                            prop:value=draft.price on:input=input(draft.price) />
                    </label>
                </div>
                <p class="form-error" role="alert">{move || draft.error.get()}</p>
                <div class="form-actions">
                    <button class="btn primary" type="submit" data-testid="form-submit">
                        {move || if editing() { "Save changes" } else { "Record delivery" }}
                    </button>
                    <Show when=editing>
                        <button class="btn ghost" type="button" on:click=move |_| draft.reset()>"Cancel"</button>
                    </Show>
                </div>
            </form>
        </section>
    }
}

/// The row shown until the server answers: the customer's name and default price as this
/// tab knows them.
fn optimistic(input: &DeliveryUpdate, customer: Option<&Customer>, now: i64) -> Delivery {
    let unit = input.price_per_liter.or(customer.map(|c| c.price_per_liter)).unwrap_or(0.0);
    Delivery {
        id: input.id.unwrap_or(0),
        customer_id: input.customer_id,
        customer_name: customer
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("Customer {}", input.customer_id)),
        date: input.date.clone(),
        quantity: input.quantity,
        price_per_liter: unit,
        // As the server computes it, so the confirmed row does not jump.
        amount: pulse_protocol::money::round_cents(input.quantity * unit),
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_says_what_to_fix() {
        let read = |c, q, p| read_delivery(None, c, "2026-11-22".into(), q, p);
        assert_eq!(read("", "1", ""), Err("Choose a customer."));
        assert_eq!(read("3", "0", ""), Err("Liters must be a number above zero."));
        assert_eq!(read("3", "2", "x"), Err("The price must be a number above zero, or empty."));
        let ok = read("3", "2.5", " ").unwrap();
        assert_eq!((ok.customer_id, ok.quantity, ok.price_per_liter), (3, 2.5, None));
    }

    #[test]
    fn the_pending_row_uses_the_customers_default_price() {
        let input = read_delivery(Some(9), "3", "2026-11-22".into(), "2", "").unwrap();
        let d = optimistic(&input, None, 5);
        assert_eq!((d.id, d.customer_name.as_str(), d.amount), (9, "Customer 3", 0.0));
    }
}
