//! This module deals with the `event_log` table: each tenant's numbered list of business
//! events. Entries with a `user_id` are visible to that user only.

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::Sql;
use crate::feed::log::Entry;

/// The tenant's latest `seq` (0 for an empty log).
pub(crate) async fn head(conn: &mut AnyConnection, tenant_id: Id) -> Result<u64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM event_log WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
        .map(|r| r.get::<i64, _>(0) as u64)
}

/// Stores one entry.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    entries: &[Entry],
) -> Result<(), sqlx::Error> {
    // Six parameters a row; SQLite allows 32,766 in a statement, so a chunk of 1,000 rows is
    // far from the limit and a large change (a notification to every user) stays one or a
    // few statements.
    for chunk in entries.chunks(1_000) {
        let mut q =
            Sql::new("INSERT INTO event_log (tenant_id, seq, ts, event, user_id, data) VALUES ");
        for (i, Entry { user_id, event: e }) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(tenant_id)
                .push(", ")
                .push_bind(e.seq as i64)
                .push(", ")
                .push_bind(e.ts)
                .push(", ")
                .push_bind(e.event.clone())
                .push(", ")
                .push_bind(*user_id)
                .push(", ")
                .push_bind(e.data.to_string())
                .push(")");
        }
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// How many entries after `since` `user_id` may see, counting at most `limit`.
pub(crate) async fn count_since(
    conn: &mut AnyConnection,
    tenant_id: Id,
    user_id: Id,
    since: u64,
    limit: u64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(*) FROM (SELECT 1 FROM event_log \
         WHERE tenant_id = $1 AND seq > $2 AND (user_id IS NULL OR user_id = $3) LIMIT $4) AS missed",
    )
    .bind(tenant_id)
    .bind(since.min(i64::MAX as u64) as i64)
    .bind(user_id)
    .bind(limit.min(i64::MAX as u64) as i64)
    .fetch_one(conn)
    .await
    .map(|r| r.get::<i64, _>(0) as u64)
}

/// Up to `limit` entries after `since` (and at most `upto`) that `user_id` may see, oldest
/// first; only events named in `only` when given.
pub(crate) async fn since(
    conn: &mut AnyConnection,
    tenant_id: Id,
    user_id: Id,
    since: u64,
    upto: u64,
    limit: u64,
    only: Option<&[&str]>,
) -> Result<Vec<LoggedEvent>, sqlx::Error> {
    let mut sql = String::from(
        "SELECT seq, ts, event, data FROM event_log \
         WHERE tenant_id = $1 AND seq > $2 AND seq <= $5 AND (user_id IS NULL OR user_id = $3)",
    );
    if let Some(names) = only {
        // An empty list matches nothing; `IN ()` is not valid SQL.
        let params: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 6)).collect();
        let list = if params.is_empty() { "NULL".to_owned() } else { params.join(", ") };
        sql.push_str(&format!(" AND event IN ({list})"));
    }
    sql.push_str(" ORDER BY seq LIMIT $4");
    let mut q = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(since.min(i64::MAX as u64) as i64)
        .bind(user_id)
        .bind(limit.min(i64::MAX as u64) as i64)
        .bind(upto.min(i64::MAX as u64) as i64);
    for name in only.unwrap_or_default() {
        q = q.bind(*name);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(logged).collect()
}

/// Every entry with `after < seq <= upto`, whoever may see it, oldest first.
pub(crate) async fn range(
    conn: &mut AnyConnection,
    tenant_id: Id,
    after: u64,
    upto: u64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, ts, event, user_id, data FROM event_log \
         WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
    )
    .bind(tenant_id)
    .bind(after.min(i64::MAX as u64) as i64)
    .bind(upto.min(i64::MAX as u64) as i64)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(Entry { user_id: r.get("user_id"), event: logged(r)? })).collect()
}

fn logged(r: &AnyRow) -> Result<LoggedEvent, sqlx::Error> {
    let data: &str = r.get("data");
    Ok(LoggedEvent {
        seq: r.get::<i64, _>("seq") as u64,
        ts: r.get("ts"),
        event: r.get("event"),
        data: serde_json::from_str(data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
}

/// Wakes the other nodes when the transaction commits: PostgreSQL delivers the notification
/// to every listener at commit, in commit order. Nothing to do on SQLite (one node).
pub(crate) async fn notify(
    conn: &mut AnyConnection,
    tenant_id: Id,
    upto: u64,
) -> Result<(), sqlx::Error> {
    if super::backend(conn) == super::Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("{tenant_id}:{upto}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The PostgreSQL channel on which commits to any tenant's log are announced as
/// `"{tenant_id}:{last seq}"`.
pub(crate) const CHANNEL: &str = "pulse_log";

/// Reads a [`CHANNEL`] payload.
pub(crate) fn parse_notification(payload: &str) -> Option<(Id, u64)> {
    let (t, s) = payload.split_once(':')?;
    Some((t.parse().ok()?, s.parse().ok()?))
}

/// The tenant log's epoch, created (as `fresh`) the first time it is asked for.
pub(crate) async fn epoch(
    conn: &mut AnyConnection,
    tenant_id: Id,
    fresh: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "INSERT INTO log_epochs (tenant_id, epoch, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(fresh)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT epoch FROM log_epochs WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
        .map(|r| r.get(0))
}
