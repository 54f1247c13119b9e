//! This module deals with the `event_log` table: each tenant's numbered list of business
//! events. Entries with a `user_id` are visible to that user only.

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use sqlx::{Row, SqliteConnection};

/// The tenant's latest `seq` (0 for an empty log).
pub(crate) async fn head(conn: &mut SqliteConnection, tenant_id: Id) -> Result<u64, sqlx::Error> {
    sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM event_log WHERE tenant_id = ?")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
        .map(|r| r.get::<i64, _>(0) as u64)
}

/// Stores one entry.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    user_id: Option<Id>,
    e: &LoggedEvent,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_log (tenant_id, seq, ts, event, user_id, data) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant_id)
    .bind(e.seq as i64)
    .bind(e.ts)
    .bind(&e.event)
    .bind(user_id)
    .bind(e.data.to_string())
    .execute(conn)
    .await
    .map(|_| ())
}

/// How many entries after `since` `user_id` may see, counting at most `limit`.
pub(crate) async fn count_since(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    user_id: Id,
    since: u64,
    limit: u64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "SELECT COUNT(*) FROM (SELECT 1 FROM event_log \
         WHERE tenant_id = ? AND seq > ? AND (user_id IS NULL OR user_id = ?) LIMIT ?)",
    )
    .bind(tenant_id)
    .bind(since.min(i64::MAX as u64) as i64)
    .bind(user_id)
    .bind(limit.min(i64::MAX as u64) as i64)
    .fetch_one(conn)
    .await
    .map(|r| r.get::<i64, _>(0) as u64)
}

/// Up to `limit` entries after `since` that `user_id` may see, oldest first.
pub(crate) async fn since(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    user_id: Id,
    since: u64,
    limit: u64,
) -> Result<Vec<LoggedEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, ts, event, data FROM event_log \
         WHERE tenant_id = ? AND seq > ? AND (user_id IS NULL OR user_id = ?) \
         ORDER BY seq LIMIT ?",
    )
    .bind(tenant_id)
    .bind(since.min(i64::MAX as u64) as i64)
    .bind(user_id)
    .bind(limit.min(i64::MAX as u64) as i64)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let data: &str = r.get("data");
            Ok(LoggedEvent {
                seq: r.get::<i64, _>("seq") as u64,
                ts: r.get("ts"),
                event: r.get("event"),
                data: serde_json::from_str(data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })
        .collect()
}
