//! This module deals with the `tenants` table: the companies using Pulse.

use pulse_protocol::events::Id;
use sqlx::{AnyConnection, Row};

/// Creates a tenant and returns its id.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    name: &str,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(r.get(0))
}

/// How many tenants exist (zero means a fresh database).
pub(crate) async fn count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM tenants").fetch_one(conn).await.map(|r| r.get(0))
}
