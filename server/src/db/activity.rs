//! This module deals with the `activity` table: the tenant's activity feed and audit trail,
//! one line per business action.

use pulse_protocol::events::{Activity, Id};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::ListFilter;

fn activity(r: &SqliteRow) -> Activity {
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
    conn: &mut SqliteConnection,
    tenant_id: Id,
    a: &Activity,
    customer_id: Option<Id>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO activity (tenant_id, seq, ts, actor, action, summary, customer_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
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
    conn: &mut SqliteConnection,
    tenant_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Activity>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: QueryBuilder<'static, Sqlite> = QueryBuilder::new(
            "SELECT *, COUNT(*) OVER () AS total FROM \
             (SELECT *, date(ts / 1000, 'unixepoch') AS date FROM activity) WHERE tenant_id = ",
        );
        q.push_bind(tenant_id);
        f.push_dates_and_customer(&mut q);
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
        q
    };
    super::page(conn, f, build, activity).await
}
