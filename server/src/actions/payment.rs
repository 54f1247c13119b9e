//! This module deals with `payment:add`: recording money received, which lowers the
//! customer's balance.

use pulse_protocol::events::{
    BalanceUpdated, BalanceUpdatedEvent, Level, Payment, PaymentAdd, PaymentAdded, PAYMENT_ADDED,
};

use super::{begin, check_customer, day, positive, short_text, Begin};
use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use pulse_protocol::calendar;
use pulse_protocol::money::{round_cents, LARGE_PAYMENT};

/// Largest single payment.
const MAX_AMOUNT: f64 = 1_000_000.0;

/// Records a payment; returns it as stored.
pub(crate) async fn add(
    state: &AppState,
    caller: &Caller,
    input: PaymentAdd,
) -> Result<Payment, AppError> {
    positive("amount", input.amount, MAX_AMOUNT)?;
    if let Some(d) = &input.date {
        day("date", d)?;
    }
    if let Some(n) = &input.note {
        short_text("note", n, 500)?;
    }
    let mut change = match begin(
        state,
        caller,
        pulse_protocol::events::PAYMENT_ADD,
        input.idempotency_key.as_deref(),
    )
    .await?
    {
        Begin::Done(p) => return Ok(p),
        Begin::Go(c) => c,
    };
    let tenant_id = caller.tenant_id;
    let now = change.ts();
    check_customer(change.conn(), caller, input.customer_id).await?;
    let date = input.date.clone().unwrap_or_else(|| calendar::day_of(now));
    let amount = round_cents(input.amount);
    let payment = db::payments::insert(
        change.conn(),
        tenant_id,
        input.customer_id,
        amount,
        input.method,
        &date,
        input.note.as_deref(),
        now,
    )
    .await?;
    let seq = change.append::<PaymentAdded>(&payment)?;
    let balance =
        db::customers::add_to_balance(change.conn(), input.customer_id, -amount, now).await?;
    change.append::<BalanceUpdatedEvent>(&BalanceUpdated {
        customer_id: input.customer_id,
        balance,
    })?;
    let summary = format!("{} paid {:.2} ({:?})", payment.customer_name, amount, payment.method);
    change.activity(caller, PAYMENT_ADDED, summary.clone(), Some(input.customer_id), seq).await?;
    if amount >= LARGE_PAYMENT {
        change.notify_all("Large payment", &summary, Level::Info).await?;
    }
    change.commit(&payment).await?;
    Ok(payment)
}
