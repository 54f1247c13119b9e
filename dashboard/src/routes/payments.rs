//! This module deals with the payments page: the latest payments, kept live, with each
//! customer's balance as it moves, and the form that records a payment (cash, mobile or
//! bank) over the socket, shown at once and confirmed or rolled back by the ack.

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::Topic;
use pulse_protocol::events::{Id, Payment, PaymentAdd, PaymentMethod, PAYMENT_ADD};
use pulse_protocol::rest::Page;

use super::deliveries::state_label;
use super::overview::method_name;
use crate::actions::{self, Pending, PulseClient};
use crate::api;
use crate::components::clock::wall_ms;
use crate::components::toast::{NewsPolicy, Toasts, Tone};
use crate::format;
use crate::live::{payment_key, Live};
use crate::rows::{RowState, Rows};
use crate::session::Auth;

/// The payments page.
#[component]
pub fn Payments() -> impl IntoView {
    use_topics(&[Topic::Customers]);
    let live = expect_context::<Live>();
    let auth = expect_context::<Auth>();
    let toasts = expect_context::<Toasts>();
    let pending = expect_context::<Pending>();
    let client = expect_context::<PulseClient>();
    let offset = format::local_offset_min();
    let rows = RwSignal::new(Rows::<Payment>::new(200));
    let loaded_at = RwSignal::new(i64::MAX);
    let error = RwSignal::new(None::<String>);

    let started = wall_ms();
    leptos::task::spawn_local(async move {
        match api::get::<Page<Payment>>(auth, "/api/payments?limit=100").await {
            Ok(p) => {
                rows.try_update(|r| r.load(p.items));
                loaded_at.try_set(started - 5_000);
            }
            Err(e) => {
                error.try_set(Some(e.to_string()));
            }
        }
    });
    Effect::new(move |_| {
        let since = loaded_at.get();
        live.payments.with(|list| {
            let fresh: Vec<Payment> =
                list.iter().rev().filter(|p| p.created_at >= since).cloned().collect();
            if !fresh.is_empty() {
                rows.update(|r| fresh.into_iter().for_each(|p| r.upsert(p)));
            }
        });
    });

    let f_customer = RwSignal::new(String::new());
    let f_amount = RwSignal::new(String::new());
    let f_method = RwSignal::new(PaymentMethod::Cash);
    let f_note = RwSignal::new(String::new());
    let f_error = RwSignal::new(None::<String>);
    let balance_of = move |id: Id| live.customers.with(|m| m.get(&id).map(|c| c.balance));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(customer_id) = f_customer.get_untracked().parse::<Id>() else {
            f_error.set(Some("Choose a customer.".into()));
            return;
        };
        let amount = match format::positive(&f_amount.get_untracked()) {
            Some(a) => a,
            None => {
                f_error.set(Some("The amount must be a number above zero.".into()));
                return;
            }
        };
        f_error.set(None);
        let method = f_method.get_untracked();
        let note = Some(f_note.get_untracked().trim().to_owned()).filter(|n| !n.is_empty());
        let name = live
            .customers
            .with_untracked(|m| m.get(&customer_id).map(|c| c.name.clone()))
            .unwrap_or_else(|| format!("Customer {customer_id}"));
        let now = wall_ms();
        let optimistic = Payment {
            id: 0,
            customer_id,
            customer_name: name.clone(),
            amount,
            method,
            date: format::day_of(now),
            note: note.clone(),
            created_at: now,
        };
        let op = pending.next_op();
        let queued = actions::is_offline(&live.status.get_untracked());
        rows.update(|r| r.add_pending(op, optimistic, queued));
        let input =
            PaymentAdd { customer_id, amount, method, date: None, note, idempotency_key: None };
        let payload = serde_json::to_value(&input).unwrap_or_default();
        let label = format!("Payment: {} from {name}", format::money(amount));
        let client = client.client();
        f_amount.set(String::new());
        f_note.set(String::new());
        if queued {
            toasts.push(
                format!("queued:{op}"),
                Tone::Warning,
                "Saved for later",
                format!("{label} — sent when the connection is back."),
            );
        }
        leptos::task::spawn_local(async move {
            match actions::send::<Payment>(client, pending, op, label.clone(), PAYMENT_ADD, payload)
                .await
            {
                Ok(saved) => {
                    rows.try_update(|r| r.confirm(op, saved.clone()));
                    toasts.push(
                        payment_key(&saved),
                        Tone::Success,
                        "Payment recorded",
                        format!(
                            "{} from {} ({})",
                            format::money(saved.amount),
                            saved.customer_name,
                            method_name(saved.method)
                        ),
                    );
                }
                Err(e) => {
                    rows.try_update(|r| r.rollback(op));
                    toasts.push(
                        format!("failed:{op}"),
                        Tone::Error,
                        "Payment failed",
                        format!("{label}: {e}"),
                    );
                }
            }
        });
    };
    let customers = move || {
        live.customers.with(|m| m.values().map(|c| (c.id, c.name.clone())).collect::<Vec<_>>())
    };
    let is_live = move || live.status.with(|s| !actions::is_offline(s));
    view! {
        <div class="page-head">
            <h1>"Payments"</h1>
            <p class="muted">"Balances update as deliveries and payments arrive."</p>
            <LargePaymentThreshold />
        </div>
        <div class="layout-side">
            <section class="card">
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{format!("Could not load payments: {e}")}</p> })}
                <div class="table-wrap">
                    <table class="table" data-testid="payments-table">
                        <thead><tr>
                            <th>"Time"</th><th>"Customer"</th><th class="hide-phone">"Method"</th><th class="num">"Amount"</th><th class="num">"Balance now"</th>
                        </tr></thead>
                        <tbody>
                            <For each=move || rows.with(|r| r.rows.clone()) key=|r| (r.item.id, r.state as u8) let:r>
                                {
                                    let p = r.item.clone();
                                    let state = r.state;
                                    let cid = p.customer_id;
                                    view! {
                                        <tr data-id=p.id class:pending={state != RowState::Saved}>
                                            <td class="mono">{format::time_of_day(p.created_at, offset)}</td>
                                            <td class="ellipsis">{p.customer_name.clone()}
                                                {move || state_label(state, is_live()).map(|l| view! { <span class="chip warn small">{l}</span> })}
                                            </td>
                                            <td class="hide-phone">{method_name(p.method)}</td>
                                            <td class="num">{format::money(p.amount)}</td>
                                            <td class="num" data-testid="row-balance">{move || balance_of(cid).map(format::money).unwrap_or_else(|| "—".into())}</td>
                                        </tr>
                                    }
                                }
                            </For>
                        </tbody>
                    </table>
                </div>
            </section>
            <section class="card form-card" aria-labelledby="payment-form-title">
                <h2 class="card-title" id="payment-form-title">"Add a payment"</h2>
                <form class="form" on:submit=submit data-testid="payment-form">
                    <label class="field">
                        <span>"Customer"</span>
                        <select required data-testid="pay-customer" prop:value=f_customer on:change=move |e| f_customer.set(event_target_value(&e))>
                            <option value="">"Choose…"</option>
                            <For each=customers key=|c| c.0 let:c>
                                <option value=c.0.to_string()>{c.1.clone()}</option>
                            </For>
                        </select>
                    </label>
                    <p class="muted" data-testid="pay-balance">
                        {move || f_customer.get().parse::<Id>().ok().and_then(balance_of)
                            .map(|b| format!("Balance: {}", format::money(b))).unwrap_or_else(|| "\u{a0}".into())}
                    </p>
                    <label class="field">
                        <span>"Amount"</span>
                        <input type="number" inputmode="decimal" step="0.01" min="0.01" required data-testid="pay-amount"
                            prop:value=f_amount on:input=move |e| f_amount.set(event_target_value(&e)) />
                    </label>
                    <fieldset class="field methods">
                        <legend>"Method"</legend>
                        {[PaymentMethod::Cash, PaymentMethod::Mobile, PaymentMethod::Bank].into_iter().map(|m| view! {
                            <label class="radio">
                                <input type="radio" name="method" prop:checked=move || f_method.get() == m on:change=move |_| f_method.set(m) />
                                {method_name(m)}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label class="field">
                        <span>"Note"</span>
                        <input type="text" maxlength="200" prop:value=f_note on:input=move |e| f_note.set(event_target_value(&e)) />
                    </label>
                    <p class="form-error" role="alert">{move || f_error.get()}</p>
                    <button class="btn primary" type="submit" data-testid="pay-submit">"Add payment"</button>
                </form>
            </section>
        </div>
    }
}

/// "Toast payments from …": the amount from which someone else's payment raises a toast
/// (smaller ones only update the table). Kept on this browser.
#[component]
fn LargePaymentThreshold() -> impl IntoView {
    let live = expect_context::<Live>();
    let value = RwSignal::new(format!("{:.2}", live.news_policy().large_payment));
    let invalid = RwSignal::new(false);
    let change = move |e: leptos::ev::Event| {
        let text = event_target_value(&e);
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => {
                invalid.set(false);
                live.set_news_policy(NewsPolicy { large_payment: v });
            }
            _ => invalid.set(true),
        }
        value.set(text);
    };
    view! {
        <label class="field inline threshold">
            <span>"Toast payments from"</span>
            <input type="number" inputmode="decimal" step="0.01" min="0" data-testid="large-payment"
                aria-invalid=move || invalid.get().to_string()
                prop:value=value on:change=change />
        </label>
    }
}
