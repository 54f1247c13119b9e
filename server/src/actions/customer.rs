//! This module deals with `customer:add` and `customer:update`: adding a customer, and
//! changing a customer's name, contact, default price or active state (deactivating hides
//! them from pickers and refuses new deliveries; their history stays). Admins only.

use pulse_protocol::events::{
    Customer, CustomerAdd, CustomerUpdate, CustomerUpdated, CUSTOMER_ADD, CUSTOMER_UPDATED,
};

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
    caller.require_admin("change customers")?;
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
    let seq = change.append::<CustomerUpdated>(&c)?;
    let what = if changed.is_empty() { "nothing".to_owned() } else { changed.join(", ") };
    change
        .activity(caller, CUSTOMER_UPDATED, format!("Updated {}: {what}", c.name), Some(c.id), seq)
        .await?;
    change.commit(&c).await?;
    Ok(c)
}

/// Adds a customer; returns it as stored. Logged as `customer:updated`, which clients
/// already merge by id, so a new customer appears in every open tab.
pub(crate) async fn add(
    state: &AppState,
    caller: &Caller,
    input: CustomerAdd,
) -> Result<Customer, AppError> {
    caller.require_admin("add customers")?;
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name must not be empty"));
    }
    short_text("name", name, 100)?;
    let phone = input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let address = input.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if let Some(p) = phone {
        short_text("phone", p, 40)?;
    }
    if let Some(a) = address {
        short_text("address", a, 200)?;
    }
    positive("price_per_liter", input.price_per_liter, 10_000.0)?;
    let mut change =
        match begin(state, caller, CUSTOMER_ADD, input.idempotency_key.as_deref()).await? {
            Begin::Done(c) => return Ok(c),
            Begin::Go(c) => c,
        };
    let now = change.ts();
    let id = db::customers::insert(
        change.conn(),
        caller.tenant_id,
        name,
        phone,
        address,
        input.price_per_liter,
        now,
    )
    .await?;
    let c = db::customers::get(change.conn(), caller.tenant_id, id)
        .await?
        .ok_or_else(|| AppError::Internal("customer vanished".into()))?;
    let seq = change.append::<CustomerUpdated>(&c)?;
    change
        .activity(caller, CUSTOMER_ADD, format!("Added customer {}", c.name), Some(c.id), seq)
        .await?;
    change.commit(&c).await?;
    Ok(c)
}
