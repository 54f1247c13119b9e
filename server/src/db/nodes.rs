//! This module deals with the `nodes` table, where each node says it is alive, and with the
//! PostgreSQL advisory lock that makes one node the leader.

use pulse_protocol::events::Id;
use sqlx::{AnyConnection, Row};

/// Records that node `id` (listening on `addr`, with sockets of `tenants`) was alive at `now`.
pub(crate) async fn heartbeat(
    conn: &mut AnyConnection,
    id: &str,
    addr: &str,
    started_at: i64,
    tenants: &[Id],
    now: i64,
) -> Result<(), sqlx::Error> {
    let tenants = tenants.iter().map(Id::to_string).collect::<Vec<_>>().join(",");
    sqlx::query(
        "INSERT INTO nodes (id, addr, started_at, tenants, last_seen) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET addr = $2, started_at = $3, tenants = $4, last_seen = $5",
    )
    .bind(id)
    .bind(addr)
    .bind(started_at)
    .bind(tenants)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A node as last seen: (id, addr, last_seen ms).
pub(crate) async fn seen_since(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT id, addr, last_seen FROM nodes WHERE last_seen >= $1 ORDER BY id")
            .bind(since)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// The tenants with sockets on any node seen alive since `since`.
pub(crate) async fn tenants_since(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows = sqlx::query("SELECT tenants FROM nodes WHERE last_seen >= $1")
        .bind(since)
        .fetch_all(conn)
        .await?;
    let mut ids: Vec<Id> = rows
        .iter()
        .flat_map(|r| {
            let list: String = r.get(0);
            list.split(',').filter_map(|t| t.parse().ok()).collect::<Vec<Id>>()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Tries to become the leader on this (dedicated) connection; the lock lasts as long as the
/// connection does, so a node that dies or loses the database frees it.
pub(crate) async fn try_lead(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    sqlx::query("SELECT pg_try_advisory_lock($1)")
        .bind(super::lock::LEADER)
        .fetch_one(conn)
        .await
        .map(|r| r.get(0))
}

/// Answers whether this connection still works.
pub(crate) async fn alive(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(conn).await.map(|_| ())
}
