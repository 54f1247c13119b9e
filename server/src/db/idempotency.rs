//! This module deals with the `idempotency` table: the result of each action sent with an
//! idempotency key, so a retry returns it instead of applying the action again.

use pulse_protocol::events::Id;
use sqlx::{AnyConnection, Row};

/// The action and stored result for `key`, if it was used before.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    tenant_id: Id,
    key: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT action, result FROM idempotency WHERE tenant_id = $1 AND key = $2")
            .bind(tenant_id)
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Stores the result of the action applied under `key`.
pub(crate) async fn put(
    conn: &mut AnyConnection,
    tenant_id: Id,
    key: &str,
    action: &str,
    result: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency (tenant_id, key, action, result, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(key)
    .bind(action)
    .bind(result)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}
