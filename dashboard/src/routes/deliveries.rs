//! This module deals with the deliveries page: the list filtered by day and customer, kept
//! live, and the form that records or changes a delivery over the socket. The new or edited
//! row shows at once (optimistic), marked saving or queued; the ack confirms it, a refusal
//! rolls it back with an error toast.

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::Topic;
use pulse_protocol::events::{Delivery, DeliveryUpdate, Id, DELIVERY_UPDATE};
use pulse_protocol::rest::Page;

use crate::actions::{self, Pending, PulseClient};
use crate::api;
use crate::components::clock::wall_ms;
use crate::components::toast::{Toasts, Tone};
use crate::format;
use crate::live::{delivery_key, Live};
use crate::rows::{RowState, Rows};
use crate::session::Auth;

/// Rows kept on the page.
const CAP: usize = 200;

/// The label of a row's state; `live` says whether queued rows are being sent now.
pub fn state_label(state: RowState, live: bool) -> Option<&'static str> {
    match state {
        RowState::Saved => None,
        RowState::Saving => Some("Saving…"),
        RowState::Queued if live => Some("Sending…"),
        RowState::Queued => Some("Queued · sent when back online"),
    }
}

/// The deliveries page.
#[component]
pub fn Deliveries() -> impl IntoView {
    use_topics(&[Topic::Deliveries, Topic::Customers]);
    let live = expect_context::<Live>();
    let auth = expect_context::<Auth>();
    let toasts = expect_context::<Toasts>();
    let pending = expect_context::<Pending>();
    let client = expect_context::<PulseClient>();
    let offset = format::local_offset_min();
    let today = format::day_of(wall_ms());

    let day = RwSignal::new(today.clone());
    let customer = RwSignal::new(None::<Id>);
    let rows = RwSignal::new(Rows::<Delivery>::new(CAP));
    let loaded_at = RwSignal::new(i64::MAX);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    // Reload when the filter changes.
    Effect::new(move |_| {
        let (d, c) = (day.get(), customer.get());
        let mut q = format!("/api/deliveries?limit=100&date={d}");
        if let Some(c) = c {
            q.push_str(&format!("&customer_id={c}"));
        }
        loading.set(true);
        let started = wall_ms();
        leptos::task::spawn_local(async move {
            let r: Result<Page<Delivery>, _> = api::get(auth, &q).await;
            // A slower answer for an older filter must not overwrite a newer one.
            if day.get_untracked() != d || customer.get_untracked() != c {
                return;
            }
            loading.set(false);
            match r {
                Ok(p) => {
                    rows.update(|r| r.load(p.items));
                    loaded_at.set(started - 5_000);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    });
    // Live deliveries that match the filter go in as they come.
    Effect::new(move |_| {
        let since = loaded_at.get_untracked();
        let (d, c) = (day.get_untracked(), customer.get_untracked());
        live.deliveries.with(|list| {
            let fresh: Vec<Delivery> = list
                .iter()
                .rev()
                .filter(|x| {
                    x.updated_at >= since && x.date == d && c.is_none_or(|c| c == x.customer_id)
                })
                .cloned()
                .collect();
            if !fresh.is_empty() {
                rows.update(|r| fresh.into_iter().for_each(|x| r.upsert(x)));
            }
        });
    });

    // The form.
    let editing = RwSignal::new(None::<Delivery>);
    let f_customer = RwSignal::new(String::new());
    let f_date = RwSignal::new(today);
    let f_qty = RwSignal::new(String::new());
    let f_price = RwSignal::new(String::new());
    let f_error = RwSignal::new(None::<String>);
    let start_edit = move |d: Delivery| {
        f_customer.set(d.customer_id.to_string());
        f_date.set(d.date.clone());
        f_qty.set(d.quantity.to_string());
        f_price.set(d.price_per_liter.to_string());
        editing.set(Some(d));
    };
    let reset = move || {
        editing.set(None);
        f_qty.set(String::new());
        f_price.set(String::new());
        f_error.set(None);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(customer_id) = f_customer.get_untracked().parse::<Id>() else {
            f_error.set(Some("Choose a customer.".into()));
            return;
        };
        let quantity = match format::positive(&f_qty.get_untracked()) {
            Some(q) => q,
            None => {
                f_error.set(Some("Liters must be a number above zero.".into()));
                return;
            }
        };
        let price = match f_price.get_untracked().trim() {
            "" => None,
            p => match format::positive(p) {
                Some(p) => Some(p),
                None => {
                    f_error.set(Some("The price must be a number above zero, or empty.".into()));
                    return;
                }
            },
        };
        let date = f_date.get_untracked();
        let edit = editing.get_untracked();
        let cust = live.customers.with_untracked(|m| m.get(&customer_id).cloned());
        let unit = price.or(cust.as_ref().map(|c| c.price_per_liter)).unwrap_or(0.0);
        let optimistic = Delivery {
            id: edit.as_ref().map_or(0, |d| d.id),
            customer_id,
            customer_name: cust
                .map(|c| c.name)
                .unwrap_or_else(|| format!("Customer {customer_id}")),
            date: date.clone(),
            quantity,
            price_per_liter: unit,
            amount: (quantity * unit * 100.0).round() / 100.0,
            updated_at: wall_ms(),
        };
        let input = DeliveryUpdate {
            id: edit.as_ref().map(|d| d.id),
            customer_id,
            date: date.clone(),
            quantity,
            price_per_liter: price,
            idempotency_key: None,
        };
        let op = pending.next_op();
        let queued = actions::is_offline(&live.status.get_untracked());
        let shown = date == day.get_untracked()
            && customer.get_untracked().is_none_or(|c| c == customer_id);
        if shown {
            rows.update(|r| match edit {
                Some(_) => r.edit_pending(op, optimistic.clone(), queued),
                None => r.add_pending(op, optimistic.clone(), queued),
            });
        }
        let verb = if input.id.is_some() { "Update" } else { "Record" };
        let label =
            format!("{verb} delivery: {} · {}", optimistic.customer_name, format::liters(quantity));
        let payload = serde_json::to_value(&input).unwrap_or_default();
        let client = client.client();
        reset();
        if queued {
            toasts.push(
                format!("queued:{op}"),
                Tone::Warning,
                "Saved for later",
                format!("{label} — sent when the connection is back."),
            );
        }
        leptos::task::spawn_local(async move {
            match actions::send::<Delivery>(
                client,
                pending,
                op,
                label.clone(),
                DELIVERY_UPDATE,
                payload,
            )
            .await
            {
                Ok(saved) => {
                    rows.try_update(|r| r.confirm(op, saved.clone()));
                    let what =
                        if input.id.is_some() { "Delivery updated" } else { "Delivery recorded" };
                    toasts.push(
                        delivery_key(&saved),
                        Tone::Success,
                        what,
                        format!(
                            "{} · {} · {}",
                            saved.customer_name,
                            format::liters(saved.quantity),
                            format::money(saved.amount)
                        ),
                    );
                }
                Err(e) => {
                    rows.try_update(|r| r.rollback(op));
                    toasts.push(
                        format!("failed:{op}"),
                        Tone::Error,
                        format!("{verb} failed"),
                        format!("{label}: {e}"),
                    );
                }
            }
        });
    };

    let customers = move || {
        live.customers
            .with(|m| m.values().map(|c| (c.id, c.name.clone(), c.active)).collect::<Vec<_>>())
    };
    // Deactivated customers take no new deliveries (the server refuses them too); the filter
    // above still lists them, for their history.
    let active_customers = move || customers().into_iter().filter(|c| c.2).collect::<Vec<_>>();
    let is_live = move || live.status.with(|s| !actions::is_offline(s));
    view! {
        <div class="page-head">
            <h1>"Deliveries"</h1>
            <p class="muted">{move || if loading.get() { "Loading…".to_owned() } else { format!("{} shown", rows.with(|r| r.rows.len())) }}</p>
        </div>
        <div class="layout-side">
            <section class="card">
                <form class="filters" on:submit=|e| e.prevent_default() aria-label="Filter deliveries">
                    <label class="field inline">
                        <span>"Day"</span>
                        <input type="date" data-testid="filter-date" prop:value=day on:change=move |e| { let v = event_target_value(&e); if !v.is_empty() { day.set(v) } } />
                    </label>
                    <label class="field inline">
                        <span>"Customer"</span>
                        <select data-testid="filter-customer" on:change=move |e| customer.set(event_target_value(&e).parse().ok())>
                            <option value="">"All customers"</option>
                            <For each=customers key=|c| c.0 let:c>
                                <option value=c.0.to_string() selected=move || customer.get() == Some(c.0)>{c.1.clone()}</option>
                            </For>
                        </select>
                    </label>
                </form>
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{format!("Could not load deliveries: {e}")}</p> })}
                <div class="table-wrap">
                    <table class="table" data-testid="deliveries-table">
                        <thead><tr>
                            <th>"Time"</th><th>"Customer"</th><th class="num">"Liters"</th><th class="num hide-phone">"Price"</th>
                            <th class="num">"Amount"</th><th><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            <For each=move || rows.with(|r| r.rows.clone()) key=|r| (r.item.id, r.item.updated_at, r.state as u8) let:r>
                                {
                                    let d = r.item.clone();
                                    let state = r.state;
                                    let label = move || state_label(state, is_live());
                                    view! {
                                        <tr data-id=d.id data-state=format!("{state:?}").to_lowercase() class:pending={state != RowState::Saved}>
                                            <td class="mono">{format::time_of_day(d.updated_at, offset)}</td>
                                            <td class="ellipsis">{d.customer_name.clone()}
                                                {move || label().map(|l| view! { <span class="chip warn small">{l}</span> })}
                                            </td>
                                            <td class="num">{format::liters(d.quantity)}</td>
                                            <td class="num hide-phone">{format::money(d.price_per_liter)}</td>
                                            <td class="num">{format::money(d.amount)}</td>
                                            <td class="actions">
                                                {(state == RowState::Saved).then(|| { let d = d.clone(); view! {
                                                    <button class="link-btn" aria-label=format!("Edit delivery to {}", d.customer_name) on:click=move |_| start_edit(d.clone())>"Edit"</button>
                                                }})}
                                            </td>
                                        </tr>
                                    }
                                }
                            </For>
                        </tbody>
                    </table>
                    <Show when=move || !loading.get() && rows.with(|r| r.rows.is_empty())>
                        <p class="empty pad">"No deliveries for this filter."</p>
                    </Show>
                </div>
            </section>
            <section class="card form-card" aria-labelledby="delivery-form-title">
                <h2 class="card-title" id="delivery-form-title">{move || if editing.with(|e| e.is_some()) { "Update delivery" } else { "Record a delivery" }}</h2>
                <form class="form" on:submit=submit data-testid="delivery-form">
                    <label class="field">
                        <span>"Customer"</span>
                        <select required data-testid="form-customer" prop:value=f_customer on:change=move |e| f_customer.set(event_target_value(&e))>
                            <option value="">"Choose…"</option>
                            <For each=active_customers key=|c| c.0 let:c>
                                <option value=c.0.to_string()>{c.1.clone()}</option>
                            </For>
                        </select>
                    </label>
                    <label class="field">
                        <span>"Day"</span>
                        <input type="date" required data-testid="form-date" prop:value=f_date on:input=move |e| f_date.set(event_target_value(&e)) />
                    </label>
                    <div class="field-row">
                        <label class="field">
                            <span>"Liters"</span>
                            <input type="number" inputmode="decimal" step="0.1" min="0.1" required data-testid="form-quantity"
                                prop:value=f_qty on:input=move |e| f_qty.set(event_target_value(&e)) />
                        </label>
                        <label class="field">
                            <span>"Price / L"</span>
                            <input type="number" inputmode="decimal" step="0.01" min="0.01" placeholder="default" data-testid="form-price"
                                prop:value=f_price on:input=move |e| f_price.set(event_target_value(&e)) />
                        </label>
                    </div>
                    <p class="form-error" role="alert">{move || f_error.get()}</p>
                    <div class="form-actions">
                        <button class="btn primary" type="submit" data-testid="form-submit">
                            {move || if editing.with(|e| e.is_some()) { "Save changes" } else { "Record delivery" }}
                        </button>
                        <Show when=move || editing.with(|e| e.is_some())>
                            <button class="btn ghost" type="button" on:click=move |_| reset()>"Cancel"</button>
                        </Show>
                    </div>
                </form>
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_states_read_for_people() {
        assert_eq!(state_label(RowState::Saved, true), None);
        assert_eq!(state_label(RowState::Queued, false), Some("Queued · sent when back online"));
        assert_eq!(state_label(RowState::Queued, true), Some("Sending…"));
    }
}
