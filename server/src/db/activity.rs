//! This module deals with the `activity` table: the tenant's activity feed and audit trail,
//! one line per business action.

use pulse_protocol::events::{Activity, Id};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ListFilter, Sql};

fn activity(r: &AnyRow) -> Activity {
    Activity {
        seq: r.get::<i64, _>("seq") as u64,
        ts: r.get("ts"),
        actor: r.get("actor"),
        action: r.get("action"),
        summary: r.get("summary"),
    }
}

/// Records a line of the feed.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    a: &Activity,
    customer_id: Option<Id>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO activity (tenant_id, seq, ts, actor, action, summary, customer_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(a.seq as i64)
    .bind(a.ts)
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.summary)
    .bind(customer_id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A page of the feed, newest first. Dates filter on the day of `ts` (UTC).
pub(crate) async fn list(
    conn: &mut AnyConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Activity>, u64), sqlx::Error> {
    // The UTC day of `ts`, in each backend's dialect.
    let day = match super::backend(conn) {
        super::Backend::Sqlite => "date(ts / 1000, 'unixepoch')",
        super::Backend::Postgres => {
            "to_char(to_timestamp(ts / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
    };
    let build = |f: &ListFilter| {
        let mut q = Sql::new("SELECT *, COUNT(*) OVER () AS total FROM (SELECT *, ");
        q.push(day).push(" AS date FROM activity) AS a WHERE tenant_id = ");
        q.push_bind(tenant_id);
        f.push_dates_and_customer(&mut q);
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
        q
    };
    super::page(conn, f, build, activity).await
}
