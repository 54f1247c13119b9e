//! This module deals with the `users` table: who may sign in, to which tenant, in which role.

use pulse_protocol::events::Id;
use pulse_protocol::rest::User;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// A user with their password hash, for sign-in.
pub(crate) struct UserRecord {
    pub(crate) user: User,
    pub(crate) password_hash: String,
}

fn record(r: &SqliteRow) -> UserRecord {
    UserRecord {
        user: User {
            id: r.get("id"),
            tenant_id: r.get("tenant_id"),
            name: r.get("name"),
            email: r.get("email"),
            role: r.get("role"),
        },
        password_hash: r.get("password_hash"),
    }
}

/// Creates a user; `email` is stored lowercase.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    tenant_id: Id,
    name: &str,
    email: &str,
    password_hash: &str,
    role: &str,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO users (tenant_id, name, email, password_hash, role, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(email.to_lowercase())
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.last_insert_rowid())
}

/// The user with this email, if any.
pub(crate) async fn by_email(
    conn: &mut SqliteConnection,
    email: &str,
) -> Result<Option<UserRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM users WHERE email = ?")
        .bind(email.trim().to_lowercase())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(record))
}

/// The user with this id, if any.
pub(crate) async fn by_id(
    conn: &mut SqliteConnection,
    id: Id,
) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(conn).await?;
    Ok(row.as_ref().map(|r| record(r).user))
}

/// Ids of every user of a tenant, e.g. to notify them all.
pub(crate) async fn ids_of_tenant(
    conn: &mut SqliteConnection,
    tenant_id: Id,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM users WHERE tenant_id = ? ORDER BY id")
        .bind(tenant_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
