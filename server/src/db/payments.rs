//! This module deals with the `payments` table: money received from customers.

use pulse_protocol::events::{Id, Payment, PaymentMethod};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::ListFilter;

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

fn payment(r: &SqliteRow) -> Payment {
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

/// Records a payment and returns its id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    customer_id: Id,
    amount: f64,
    m: PaymentMethod,
    date: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO payments (tenant_id, customer_id, amount, method, date, note, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(amount)
    .bind(method_str(m))
    .bind(date)
    .bind(note)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.last_insert_rowid())
}

/// A payment of `tenant_id`, with its customer's name.
pub(crate) async fn get(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<Payment>, sqlx::Error> {
    let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(SELECT);
    q.push_bind(tenant_id).push(" AND p.id = ").push_bind(id);
    let row = q.build().fetch_optional(conn).await?;
    Ok(row.as_ref().map(payment))
}

/// A page of payments, newest first.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Payment>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: QueryBuilder<'static, Sqlite> = QueryBuilder::new(SELECT);
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
    conn: &mut SqliteConnection,
    tenant_id: Id,
    date: &str,
) -> Result<f64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(SUM(amount), 0.0) FROM payments WHERE tenant_id = ? AND date = ?")
        .bind(tenant_id)
        .bind(date)
        .fetch_one(conn)
        .await
        .map(|r| r.get(0))
}
