//! This module deals with the payments page: the latest payments, kept live, with each
//! customer's balance as it moves, and the form that records a payment (cash, mobile or
//! bank) over the socket (through the [`submit`](crate::submit) flow: shown at once,
//! confirmed by the ack or rolled back).

use crate::topics::use_topics;
use leptos::prelude::*;
use pulse_protocol::events::{Id, Payment, PaymentAdd, PaymentMethod, PAYMENT_ADD};
use pulse_protocol::money::LARGE_PAYMENT;
use pulse_protocol::rest::Page;
use pulse_protocol::ToValue;

use super::overview::method_name;
use crate::api;
use crate::components::clock::wall_ms;
use crate::components::customer_select::CustomerSelect;
use crate::components::load_error::LoadError;
use crate::components::toast::NewsPolicy;
use crate::format;
use crate::live::{payment_key, Live};
use crate::rows::{Row, RowState, Rows};
use crate::session::Auth;
use crate::submit::{restored_rows, Action, PendingRow, Record, RowStateChip, Submitter};

impl Record for Payment {
    fn toast_key(&self) -> String {
        payment_key(self)
    }
    fn summary(&self) -> String {
        let amount = format::money(self.amount);
        format!("{amount} from {} ({})", self.customer_name, method_name(self.method))
    }
}

/// The payments page.
#[component]
pub fn Payments() -> impl IntoView {
    use_topics(crate::route::Page::Payments.topics());
    let rows = RwSignal::new(Rows::<Payment>::new(200));
    let error = follow_payments(rows);
    restored_rows(rows, &[PAYMENT_ADD], |_: &Payment| true);
    view! {
        <div class="page-head">
            <h1>"Payments"</h1>
            <p class="muted">"Balances update as deliveries and payments arrive."</p>
            <LargePaymentThreshold />
        </div>
        <div class="layout-side">
            <section class="card">
                <LoadError what="payments" error />
                <PaymentsTable rows />
            </section>
            <PaymentForm rows />
        </div>
    }
}

/// Loads the latest payments and adds live ones; returns why loading failed, if it did.
fn follow_payments(rows: RwSignal<Rows<Payment>>) -> RwSignal<Option<String>> {
    let auth = crate::context::<Auth>();
    let live = crate::context::<Live>();
    let loaded_at = RwSignal::new(i64::MAX);
    let error = RwSignal::new(None::<String>);
    let retries = live.retries(error);
    Effect::new(move |_| {
        retries.track();
        let started = wall_ms();
        leptos::task::spawn_local(async move {
            match api::get::<Page<Payment>>(auth, "/api/payments?limit=100").await {
                Ok(p) => {
                    rows.try_update(|r| r.load(p.items));
                    loaded_at.try_set(started - 5_000);
                    error.try_set(None);
                }
                Err(e) => {
                    // Meanwhile, what this browser last saw (a tab opened offline).
                    // The page may be gone by now (signed out).
                    let kept: Vec<Payment> = live
                        .payments
                        .try_with_untracked(|l| l.iter().cloned().collect())
                        .unwrap_or_default();
                    rows.try_update(|r| {
                        if r.rows.iter().all(|x| x.op.is_some()) {
                            r.load(kept)
                        }
                    });
                    error.try_set(Some(e.to_string()));
                }
            }
        });
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
    error
}

/// A customer's balance as it moves, if the customer is known here.
fn balance_of(live: Live, id: Id) -> Option<f64> {
    live.customers.with(|m| m.get(&id).map(|c| c.balance))
}

/// The latest payments, newest first, pending ones marked.
#[component]
fn PaymentsTable(
    /// The rows.
    rows: RwSignal<Rows<Payment>>,
) -> impl IntoView {
    let each = move || rows.with(|r| r.rows.clone());
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="payments-table">
                <thead><tr>
                    <th>"Time"</th><th>"Customer"</th><th class="hide-phone">"Method"</th><th class="num">"Amount"</th><th class="num">"Balance now"</th>
                </tr></thead>
                <tbody>
                    <For each key=|r| (r.item.id, r.state as u8) let:row>
                        <PaymentRow row />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// One payment: time, customer, method, amount, and the customer's balance now.
#[component]
fn PaymentRow(
    /// The row.
    row: Row<Payment>,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let offset = format::local_offset_min();
    let Row { item: p, state, .. } = row;
    let cid = p.customer_id;
    let balance = move || balance_of(live, cid).map(format::money).unwrap_or_else(|| "—".into());
    view! {
        <tr data-id=p.id data-state=state.as_str() class:pending={state != RowState::Saved}>
            <td class="mono">{format::time_of_day(p.created_at, offset)}</td>
            <td class="ellipsis">{p.customer_name}<RowStateChip state /></td>
            <td class="hide-phone">{method_name(p.method)}</td>
            <td class="num">{format::money(p.amount)}</td>
            <td class="num" data-testid="row-balance">{balance}</td>
        </tr>
    }
}

/// "Add a payment": customer (with their balance), amount, method and a note.
#[component]
fn PaymentForm(
    /// The table, where the payment shows at once.
    rows: RwSignal<Rows<Payment>>,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let submitter = Submitter::from_context();
    let customer = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    let method = RwSignal::new(PaymentMethod::Cash);
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = (customer.get_untracked(), amount.get_untracked(), note.get_untracked());
        let input = match read_payment(&typed.0, &typed.1, method.get_untracked(), &typed.2) {
            Ok(input) => input,
            Err(e) => return error.set(Some(e.into())),
        };
        error.set(None);
        let name = live
            .customers
            .with_untracked(|m| m.get(&input.customer_id).map(|c| c.name.clone()))
            .unwrap_or_else(|| format!("Customer {}", input.customer_id));
        amount.set(String::new());
        note.set(String::new());
        let action = Action {
            event: PAYMENT_ADD,
            payload: input.to_value(),
            label: format!("Payment: {} from {name}", format::money(input.amount)),
            done: "Payment recorded".into(),
            failed: "Payment failed".into(),
            row: Some(PendingRow { rows, item: optimistic(&input, name, wall_ms()), edit: false }),
        };
        submitter.submit(action, |_| ());
    };
    let balance = move || {
        customer
            .with(|c| c.parse::<Id>().ok())
            .and_then(|id| balance_of(live, id))
            .map(|b| format!("Balance: {}", format::money(b)))
            .unwrap_or_else(|| "\u{a0}".into())
    };
    view! {
        <section class="card form-card" aria-labelledby="payment-form-title">
            <h2 class="card-title" id="payment-form-title">"Add a payment"</h2>
            <form class="form" on:submit=submit data-testid="payment-form">
                <label class="field">
                    <span>"Customer"</span>
                    <CustomerSelect value=customer testid="pay-customer" />
                </label>
                <p class="muted" data-testid="pay-balance">{balance}</p>
                <label class="field">
                    <span>"Amount"</span>
                    <input type="number" inputmode="decimal" step="0.01" min="0.01" required data-testid="pay-amount"
                        prop:value=amount on:input=move |e| amount.set(event_target_value(&e)) />
                </label>
                <MethodPicker method />
                <label class="field">
                    <span>"Note"</span>
                    <input type="text" maxlength="200" prop:value=note on:input=move |e| note.set(event_target_value(&e)) />
                </label>
                <p class="form-error" role="alert">{move || error.get()}</p>
                <button class="btn primary" type="submit" data-testid="pay-submit">"Add payment"</button>
            </form>
        </section>
    }
}

/// The payment the form's text describes, or what to fix.
fn read_payment(
    customer: &str,
    amount: &str,
    method: PaymentMethod,
    note: &str,
) -> Result<PaymentAdd, &'static str> {
    let customer_id = customer.parse::<Id>().map_err(|_| "Choose a customer.")?;
    let amount = format::positive(amount).ok_or("The amount must be a number above zero.")?;
    let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
    Ok(PaymentAdd { customer_id, amount, method, date: None, note, idempotency_key: None })
}

/// The row shown until the server answers.
fn optimistic(input: &PaymentAdd, customer_name: String, now: i64) -> Payment {
    Payment {
        id: 0,
        customer_id: input.customer_id,
        customer_name,
        amount: input.amount,
        method: input.method,
        date: format::day_of(now),
        note: input.note.clone(),
        created_at: now,
    }
}

/// Cash, mobile or bank.
#[component]
fn MethodPicker(
    /// The chosen method.
    method: RwSignal<PaymentMethod>,
) -> impl IntoView {
    let choice = move |m: PaymentMethod| {
        view! {
            <label class="radio">
                <input type="radio" name="method" prop:checked=move || method.get() == m on:change=move |_| method.set(m) />
                {method_name(m)}
            </label>
        }
    };
    view! {
        <fieldset class="field methods">
            <legend>"Method"</legend>
            {[PaymentMethod::Cash, PaymentMethod::Mobile, PaymentMethod::Bank].map(choice)}
        </fieldset>
    }
}

/// "Toast payments from …": the amount from which someone else's payment raises a toast
/// (smaller ones only update the table). Kept on this browser. It only goes down: from the
/// server's large-payment amount up, every user is notified, and notifications always toast.
#[component]
fn LargePaymentThreshold() -> impl IntoView {
    let live = crate::context::<Live>();
    let value = RwSignal::new(format::fixed(live.news_policy().large_payment, 2));
    let invalid = RwSignal::new(false);
    let change = move |e: leptos::ev::Event| {
        let text = event_target_value(&e);
        match format::number(&text) {
            Some(v) if (0.0..=LARGE_PAYMENT).contains(&v) => {
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
            <input type="number" inputmode="decimal" step="0.01" min="0" max=format::shortest(LARGE_PAYMENT)
                title=format!("Payments from {} always notify everyone", format::fixed(LARGE_PAYMENT, 2))
                data-testid="large-payment"
                aria-invalid=move || invalid.get().to_string()
                prop:value=value on:change=change />
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_says_what_to_fix() {
        let read = |c, a, n| read_payment(c, a, PaymentMethod::Bank, n);
        assert_eq!(read("", "5", ""), Err("Choose a customer."));
        assert_eq!(read("2", "-1", ""), Err("The amount must be a number above zero."));
        let ok = read("2", "5.5", "  ").unwrap();
        assert_eq!((ok.customer_id, ok.amount, ok.note), (2, 5.5, None));
        assert_eq!(
            read("2", "5", " cash at the gate ").unwrap().note.as_deref(),
            Some("cash at the gate")
        );
    }
}
