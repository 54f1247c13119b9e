//! This module deals with `delivery:update`: recording a delivery or changing one. The
//! amount is always `quantity × price_per_liter` computed here, never taken from a client.

use pulse_protocol::events::{
    BalanceUpdated, BalanceUpdatedEvent, Delivery, DeliveryUpdate, DeliveryUpdated, Level,
    DELIVERY_UPDATED,
};

use super::{begin, check_customer, day, positive, Begin, CREDIT_LIMIT};
use crate::auth::Caller;
use crate::db;
use crate::db::deliveries::NewDelivery;
use crate::error::AppError;
use crate::state::AppState;
use pulse_protocol::money::round_cents;

/// Most liters in one delivery.
const MAX_QUANTITY: f64 = 10_000.0;
/// Highest price per liter.
const MAX_PRICE: f64 = 10_000.0;

/// The refusal of a new delivery to a deactivated customer. Corrections of their past
/// deliveries stay allowed.
fn inactive(name: &str) -> AppError {
    AppError::new(
        pulse_protocol::ErrorCode::CustomerInactive,
        format!("{name} is deactivated; reactivate the customer to record deliveries"),
    )
}

/// Records (`id: None`) or changes a delivery; returns it as stored.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    input: DeliveryUpdate,
) -> Result<Delivery, AppError> {
    positive("quantity", input.quantity, MAX_QUANTITY)?;
    day("date", &input.date)?;
    if let Some(p) = input.price_per_liter {
        positive("price_per_liter", p, MAX_PRICE)?;
    }
    let mut change = match begin(
        state,
        caller,
        pulse_protocol::events::DELIVERY_UPDATE,
        input.idempotency_key.as_deref(),
    )
    .await?
    {
        Begin::Done(d) => return Ok(d),
        Begin::Go(c) => c,
    };
    let tenant_id = caller.tenant_id;
    let now = change.ts();
    check_customer(change.conn(), caller, input.customer_id).await?;
    let customer = db::customers::get(change.conn(), tenant_id, input.customer_id)
        .await?
        .ok_or_else(|| AppError::not_found("customer does not exist"))?;
    let price = input.price_per_liter.unwrap_or(customer.price_per_liter);
    let new = NewDelivery {
        customer_id: input.customer_id,
        date: &input.date,
        quantity: input.quantity,
        price_per_liter: price,
        amount: round_cents(input.quantity * price),
        now,
    };
    // (customer, balance change) pairs this edit causes.
    let mut deltas = vec![(input.customer_id, new.amount)];
    let id = match input.id {
        None if !customer.active => return Err(inactive(&customer.name)),
        None => db::deliveries::insert(change.conn(), tenant_id, &new).await?,
        Some(id) => {
            match db::deliveries::tenant_of(change.conn(), id).await? {
                Some(t) if t == tenant_id => {}
                _ => return Err(AppError::not_found(format!("delivery {id} does not exist"))),
            }
            let old = db::deliveries::get(change.conn(), tenant_id, id)
                .await?
                .ok_or_else(|| AppError::not_found("delivery does not exist"))?;
            if !customer.active && old.customer_id != customer.id {
                return Err(inactive(&customer.name));
            }
            deltas.push((old.customer_id, -old.amount));
            db::deliveries::update(change.conn(), id, &new).await?;
            id
        }
    };
    let delivery = db::deliveries::get(change.conn(), tenant_id, id)
        .await?
        .ok_or_else(|| AppError::Internal("delivery vanished".into()))?;
    let seq = change.append::<DeliveryUpdated>(&delivery)?;
    // Merge the deltas per customer so an in-place edit yields one balance update.
    deltas.sort_by_key(|d| d.0);
    let mut merged: Vec<(i64, f64)> = Vec::new();
    for (c, d) in deltas {
        match merged.last_mut() {
            Some(last) if last.0 == c => last.1 += d,
            _ => merged.push((c, d)),
        }
    }
    for (customer_id, delta) in merged {
        let before = db::customers::get(change.conn(), tenant_id, customer_id)
            .await?
            .map_or(0.0, |c| c.balance);
        let balance =
            db::customers::add_to_balance(change.conn(), customer_id, round_cents(delta), now)
                .await?;
        change.append::<BalanceUpdatedEvent>(&BalanceUpdated { customer_id, balance })?;
        if before <= CREDIT_LIMIT && balance > CREDIT_LIMIT {
            change
                .alert(
                    Level::Warning,
                    format!(
                        "{} owes {balance:.2}, above the credit limit of {CREDIT_LIMIT:.0}",
                        customer.name
                    ),
                )
                .await?;
        }
    }
    let verb = if input.id.is_some() { "Changed delivery to" } else { "Delivered" };
    change
        .activity(
            caller,
            DELIVERY_UPDATED,
            format!(
                "{verb} {} L to {} on {} ({:.2})",
                delivery.quantity, delivery.customer_name, delivery.date, delivery.amount
            ),
            Some(delivery.customer_id),
            seq,
        )
        .await?;
    change.commit(&delivery).await?;
    Ok(delivery)
}
