//! This module deals with the `deliveries` table: liters delivered to a customer on a day.

use pulse_protocol::events::{Delivery, Id};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::ListFilter;

const SELECT: &str = "SELECT d.*, c.name AS customer_name, COUNT(*) OVER () AS total \
                      FROM deliveries d JOIN customers c ON c.id = d.customer_id WHERE d.tenant_id = ";

fn delivery(r: &SqliteRow) -> Delivery {
    Delivery {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        customer_name: r.get("customer_name"),
        date: r.get("date"),
        quantity: r.get("quantity"),
        price_per_liter: r.get("price_per_liter"),
        amount: r.get("amount"),
        updated_at: r.get("updated_at"),
    }
}

/// What a delivery row holds, without its id.
pub(crate) struct NewDelivery<'a> {
    pub(crate) customer_id: Id,
    pub(crate) date: &'a str,
    pub(crate) quantity: f64,
    pub(crate) price_per_liter: f64,
    pub(crate) amount: f64,
    pub(crate) now: i64,
}

/// Records a delivery and returns its id.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    d: &NewDelivery<'_>,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO deliveries (tenant_id, customer_id, date, quantity, price_per_liter, amount, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant_id)
    .bind(d.customer_id)
    .bind(d.date)
    .bind(d.quantity)
    .bind(d.price_per_liter)
    .bind(d.amount)
    .bind(d.now)
    .execute(conn)
    .await?;
    Ok(r.last_insert_rowid())
}

/// Overwrites a delivery.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    id: Id,
    d: &NewDelivery<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deliveries SET customer_id = ?, date = ?, quantity = ?, price_per_liter = ?, \
         amount = ?, updated_at = ? WHERE id = ?",
    )
    .bind(d.customer_id)
    .bind(d.date)
    .bind(d.quantity)
    .bind(d.price_per_liter)
    .bind(d.amount)
    .bind(d.now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The tenant a delivery belongs to, if it exists.
pub(crate) async fn tenant_of(
    conn: &mut SqliteConnection,
    id: Id,
) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query("SELECT tenant_id FROM deliveries WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A delivery of `tenant_id`, with its customer's name.
pub(crate) async fn get(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<Delivery>, sqlx::Error> {
    let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(SELECT);
    q.push_bind(tenant_id).push(" AND d.id = ").push_bind(id);
    let row = q.build().fetch_optional(conn).await?;
    Ok(row.as_ref().map(delivery))
}

/// A page of deliveries, newest day first.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Delivery>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: QueryBuilder<'static, Sqlite> = QueryBuilder::new(SELECT);
        q.push_bind(tenant_id);
        f.push_dates_and_customer(&mut q);
        q.push(" ORDER BY d.date DESC, d.id DESC LIMIT ")
            .push_bind(f.limit)
            .push(" OFFSET ")
            .push_bind(f.offset);
        q
    };
    super::page(conn, f, build, delivery).await
}

/// Today's figures: (liters, sales, deliveries, distinct customers).
pub(crate) async fn day_totals(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    date: &str,
) -> Result<(f64, f64, u32, u32), sqlx::Error> {
    let r = sqlx::query(
        "SELECT COALESCE(SUM(quantity), 0.0), COALESCE(SUM(amount), 0.0), COUNT(*), \
         COUNT(DISTINCT customer_id) FROM deliveries WHERE tenant_id = ? AND date = ?",
    )
    .bind(tenant_id)
    .bind(date)
    .fetch_one(conn)
    .await?;
    Ok((r.get(0), r.get(1), r.get::<i64, _>(2) as u32, r.get::<i64, _>(3) as u32))
}
