//! This module deals with the `tenants` table: the companies using Pulse.

use pulse_protocol::events::Id;
use sqlx::{Row, SqliteConnection};

/// Creates a tenant and returns its id.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    name: &str,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query("INSERT INTO tenants (name, created_at) VALUES (?, ?)")
        .bind(name)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.last_insert_rowid())
}

/// How many tenants exist (zero means a fresh database).
pub(crate) async fn count(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM tenants").fetch_one(conn).await.map(|r| r.get(0))
}
