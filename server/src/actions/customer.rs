//! This module deals with `customer:update`: changing a customer's name, contact, default
//! price or active state.

use pulse_protocol::events::{Customer, CustomerUpdate, CUSTOMER_UPDATED};

use super::{begin, check_customer, positive, short_text, Begin};
use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Changes the given fields; returns the customer as stored.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    input: CustomerUpdate,
) -> Result<Customer, AppError> {
    if let Some(n) = &input.name {
        if n.trim().is_empty() {
            return Err(AppError::invalid("name must not be empty"));
        }
        short_text("name", n, 100)?;
    }
    if let Some(p) = &input.phone {
        short_text("phone", p, 40)?;
    }
    if let Some(a) = &input.address {
        short_text("address", a, 200)?;
    }
    if let Some(p) = input.price_per_liter {
        positive("price_per_liter", p, 10_000.0)?;
    }
    let mut change = match begin(
        state,
        caller,
        pulse_protocol::events::CUSTOMER_UPDATE,
        input.idempotency_key.as_deref(),
    )
    .await?
    {
        Begin::Done(c) => return Ok(c),
        Begin::Go(c) => c,
    };
    check_customer(change.conn(), caller, input.id).await?;
    let mut c = db::customers::get(change.conn(), caller.tenant_id, input.id)
        .await?
        .ok_or_else(|| AppError::not_found("customer does not exist"))?;
    let mut changed = Vec::new();
    if let Some(n) = input.name {
        c.name = n.trim().to_owned();
        changed.push("name");
    }
    if let Some(p) = input.phone {
        c.phone = Some(p).filter(|p| !p.is_empty());
        changed.push("phone");
    }
    if let Some(a) = input.address {
        c.address = Some(a).filter(|a| !a.is_empty());
        changed.push("address");
    }
    if let Some(p) = input.price_per_liter {
        c.price_per_liter = p;
        changed.push("price");
    }
    if let Some(a) = input.active {
        c.active = a;
        changed.push(if a { "activated" } else { "deactivated" });
    }
    c.updated_at = change.ts();
    db::customers::update(change.conn(), caller.tenant_id, &c).await?;
    let seq = change.append(CUSTOMER_UPDATED, None, &c).await?;
    let what = if changed.is_empty() { "nothing".to_owned() } else { changed.join(", ") };
    change
        .activity(caller, CUSTOMER_UPDATED, format!("Updated {}: {what}", c.name), Some(c.id), seq)
        .await?;
    change.commit(&c).await?;
    Ok(c)
}
