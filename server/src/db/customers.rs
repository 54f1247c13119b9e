//! This module deals with the `customers` table: who the business delivers to, and their
//! running balance (deliveries minus payments).

use pulse_protocol::events::{Customer, Id};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::ListFilter;

fn customer(r: &SqliteRow) -> Customer {
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
    conn: &mut SqliteConnection,
    tenant_id: Id,
    name: &str,
    phone: Option<&str>,
    address: Option<&str>,
    price_per_liter: f64,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO customers (tenant_id, name, phone, address, price_per_liter, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(phone)
    .bind(address)
    .bind(price_per_liter)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.last_insert_rowid())
}

/// The tenant a customer belongs to, if the customer exists.
pub(crate) async fn tenant_of(
    conn: &mut SqliteConnection,
    id: Id,
) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query("SELECT tenant_id FROM customers WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A customer of `tenant_id`.
pub(crate) async fn get(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<Customer>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM customers WHERE id = ? AND tenant_id = ?")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(customer))
}

/// Writes every editable field of `c` back.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    c: &Customer,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customers SET name = ?, phone = ?, address = ?, price_per_liter = ?, \
         active = ?, updated_at = ? WHERE id = ? AND tenant_id = ?",
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
    conn: &mut SqliteConnection,
    id: Id,
    delta: f64,
    now: i64,
) -> Result<f64, sqlx::Error> {
    sqlx::query(
        "UPDATE customers SET balance = ROUND(balance + ?, 2), updated_at = ? \
         WHERE id = ? RETURNING balance",
    )
    .bind(delta)
    .bind(now)
    .bind(id)
    .fetch_one(conn)
    .await
    .map(|r| r.get(0))
}

/// A page of a tenant's customers, by name.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Customer>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: QueryBuilder<'static, Sqlite> = QueryBuilder::new(
            "SELECT *, COUNT(*) OVER () AS total FROM customers WHERE tenant_id = ",
        );
        q.push_bind(tenant_id);
        if let Some(c) = f.customer_id {
            q.push(" AND id = ").push_bind(c);
        }
        q.push(" ORDER BY name, id LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
        q
    };
    super::page(conn, f, build, customer).await
}

/// Ids of a tenant's customers, for the demo generator.
pub(crate) async fn ids_of_tenant(
    conn: &mut SqliteConnection,
    tenant_id: Id,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id FROM customers WHERE tenant_id = ? AND active = 1 ORDER BY id")
            .bind(tenant_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Sum of what customers owe (positive balances only).
pub(crate) async fn outstanding(
    conn: &mut SqliteConnection,
    tenant_id: Id,
) -> Result<f64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(SUM(MAX(balance, 0)), 0.0) FROM customers WHERE tenant_id = ?")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
        .map(|r| r.get(0))
}
