//! This module deals with the `deliveries` table: liters delivered to a customer on a day.

use pulse_protocol::events::{Delivery, Id};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ListFilter, Sql};

const SELECT: &str = "SELECT d.*, c.name AS customer_name, COUNT(*) OVER () AS total \
                      FROM deliveries d JOIN customers c ON c.id = d.customer_id WHERE d.tenant_id = ";

fn delivery(r: &AnyRow) -> Delivery {
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
    conn: &mut AnyConnection,
    tenant_id: Id,
    d: &NewDelivery<'_>,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO deliveries (tenant_id, customer_id, date, quantity, price_per_liter, amount, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(tenant_id)
    .bind(d.customer_id)
    .bind(d.date)
    .bind(d.quantity)
    .bind(d.price_per_liter)
    .bind(d.amount)
    .bind(d.now)
    .fetch_one(conn)
    .await?;
    Ok(r.get(0))
}

/// Overwrites a delivery.
pub(crate) async fn update(
    conn: &mut AnyConnection,
    id: Id,
    d: &NewDelivery<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deliveries SET customer_id = $1, date = $2, quantity = $3, price_per_liter = $4, \
         amount = $5, updated_at = $6 WHERE id = $7",
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
pub(crate) async fn tenant_of(conn: &mut AnyConnection, id: Id) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query("SELECT tenant_id FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// A delivery of `tenant_id`, with its customer's name.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<Delivery>, sqlx::Error> {
    let mut q: Sql = Sql::new(SELECT);
    q.push_bind(tenant_id).push(" AND d.id = ").push_bind(id);
    let row = q.build().fetch_optional(conn).await?;
    Ok(row.as_ref().map(delivery))
}

/// A page of deliveries, newest day first.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Delivery>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: Sql = Sql::new(SELECT);
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
    conn: &mut AnyConnection,
    tenant_id: Id,
    date: &str,
) -> Result<(f64, f64, u32, u32), sqlx::Error> {
    let r = sqlx::query(
        "SELECT COALESCE(SUM(quantity), 0.0), COALESCE(SUM(amount), 0.0), COUNT(*), \
         COUNT(DISTINCT customer_id) FROM deliveries WHERE tenant_id = $1 AND date = $2",
    )
    .bind(tenant_id)
    .bind(date)
    .fetch_one(conn)
    .await?;
    Ok((
        super::real(&r, 0),
        super::real(&r, 1),
        r.get::<i64, _>(2) as u32,
        r.get::<i64, _>(3) as u32,
    ))
}
