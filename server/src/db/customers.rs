//! This module deals with the `customers` table: who the business delivers to, and their
//! running balance (deliveries minus payments).

use pulse_protocol::events::{Customer, Id};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ListFilter, Sql};

fn customer(r: &AnyRow) -> Customer {
    Customer {
        id: r.get("id"),
        name: r.get("name"),
        phone: r.get("phone"),
        address: r.get("address"),
        price_per_liter: r.get("price_per_liter"),
        balance: r.get("balance"),
        active: r.get::<i64, _>("active") != 0,
        updated_at: r.get("updated_at"),
    }
}

/// Creates a customer and returns it.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    name: &str,
    phone: Option<&str>,
    address: Option<&str>,
    price_per_liter: f64,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO customers (tenant_id, name, phone, address, price_per_liter, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(phone)
    .bind(address)
    .bind(price_per_liter)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(r.get(0))
}

/// The tenant a customer belongs to, if the customer exists.
pub(crate) async fn tenant_of(conn: &mut AnyConnection, id: Id) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query("SELECT tenant_id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A customer of `tenant_id`.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<Customer>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM customers WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(customer))
}

/// Writes every editable field of `c` back.
pub(crate) async fn update(
    conn: &mut AnyConnection,
    tenant_id: Id,
    c: &Customer,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customers SET name = $1, phone = $2, address = $3, price_per_liter = $4, \
         active = $5, updated_at = $6 WHERE id = $7 AND tenant_id = $8",
    )
    .bind(&c.name)
    .bind(&c.phone)
    .bind(&c.address)
    .bind(c.price_per_liter)
    .bind(c.active as i64)
    .bind(c.updated_at)
    .bind(c.id)
    .bind(tenant_id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Adds `delta` to a customer's balance (rounded to cents) and returns the new balance.
pub(crate) async fn add_to_balance(
    conn: &mut AnyConnection,
    id: Id,
    delta: f64,
    now: i64,
) -> Result<f64, sqlx::Error> {
    sqlx::query(
        "UPDATE customers SET balance = CAST(ROUND(CAST(balance + $1 AS NUMERIC), 2) AS DOUBLE PRECISION), \
         updated_at = $2 WHERE id = $3 RETURNING balance",
    )
    .bind(delta)
    .bind(now)
    .bind(id)
    .fetch_one(conn)
    .await
    .map(|r| super::real(&r, 0))
}

/// A page of a tenant's customers, by name.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Customer>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: Sql =
            Sql::new("SELECT *, COUNT(*) OVER () AS total FROM customers WHERE tenant_id = ");
        q.push_bind(tenant_id);
        if let Some(c) = f.customer_id {
            // Asked for by id: shown whatever its state, so history stays reachable.
            q.push(" AND id = ").push_bind(c);
        } else if !f.include_inactive {
            q.push(" AND active = 1");
        }
        q.push(" ORDER BY name, id LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
        q
    };
    super::page(conn, f, build, customer).await
}

/// Ids of a tenant's customers, for the demo generator.
pub(crate) async fn ids_of_tenant(
    conn: &mut AnyConnection,
    tenant_id: Id,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id FROM customers WHERE tenant_id = $1 AND active = 1 ORDER BY id")
            .bind(tenant_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Sum of what customers owe (positive balances only).
pub(crate) async fn outstanding(
    conn: &mut AnyConnection,
    tenant_id: Id,
) -> Result<f64, sqlx::Error> {
    sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN balance > 0 THEN balance ELSE 0.0 END), 0.0) \
         FROM customers WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_one(conn)
    .await
    .map(|r| super::real(&r, 0))
}
