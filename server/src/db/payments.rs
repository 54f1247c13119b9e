//! This module deals with the `payments` table: money received from customers.

use pulse_protocol::events::{Id, Payment, PaymentMethod};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ListFilter, Sql};

const SELECT: &str = "SELECT p.*, c.name AS customer_name, COUNT(*) OVER () AS total \
                      FROM payments p JOIN customers c ON c.id = p.customer_id WHERE p.tenant_id = ";

fn method_str(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Cash => "CASH",
        PaymentMethod::Mobile => "MOBILE",
        PaymentMethod::Bank => "BANK",
    }
}

fn method(s: &str) -> PaymentMethod {
    match s {
        "MOBILE" => PaymentMethod::Mobile,
        "BANK" => PaymentMethod::Bank,
        _ => PaymentMethod::Cash,
    }
}

fn payment(r: &AnyRow) -> Payment {
    Payment {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        customer_name: r.get("customer_name"),
        amount: r.get("amount"),
        method: method(r.get::<&str, _>("method")),
        date: r.get("date"),
        note: r.get("note"),
        created_at: r.get("created_at"),
    }
}

/// Records a payment and returns it as stored (in the one statement: the write path's cost is
/// mostly round trips to the database).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    customer_id: Id,
    amount: f64,
    m: PaymentMethod,
    date: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Payment, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO payments (tenant_id, customer_id, amount, method, date, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, customer_id, \
         (SELECT name FROM customers WHERE id = $2) AS customer_name, amount, method, date, note, \
         created_at",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(amount)
    .bind(method_str(m))
    .bind(date)
    .bind(note)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(payment(&r))
}

/// A page of payments, newest first.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Payment>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: Sql = Sql::new(SELECT);
        q.push_bind(tenant_id);
        f.push_dates_and_customer(&mut q);
        q.push(" ORDER BY p.date DESC, p.id DESC LIMIT ")
            .push_bind(f.limit)
            .push(" OFFSET ")
            .push_bind(f.offset);
        q
    };
    super::page(conn, f, build, payment).await
}

/// Payments collected on `date`.
pub(crate) async fn day_total(
    conn: &mut AnyConnection,
    tenant_id: Id,
    date: &str,
) -> Result<f64, sqlx::Error> {
    sqlx::query(
        "SELECT COALESCE(SUM(amount), 0.0) FROM payments WHERE tenant_id = $1 AND date = $2",
    )
    .bind(tenant_id)
    .bind(date)
    .fetch_one(conn)
    .await
    .map(|r| super::real(&r, 0))
}
