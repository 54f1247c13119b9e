//! This module deals with the `users` table: who may sign in, to which tenant, in which role.

use pulse_protocol::events::Id;
use pulse_protocol::rest::User;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A user with their password hash, for sign-in.
pub(crate) struct UserRecord {
    pub(crate) user: User,
    pub(crate) password_hash: String,
}

fn record(r: &AnyRow) -> UserRecord {
    UserRecord {
        user: User {
            id: r.get("id"),
            tenant_id: r.get("tenant_id"),
            name: r.get("name"),
            email: r.get("email"),
            role: r.get("role"),
            active: r.get::<i64, _>("active") != 0,
        },
        password_hash: r.get("password_hash"),
    }
}

/// Creates a user; `email` is stored lowercase.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    name: &str,
    email: &str,
    password_hash: &str,
    role: &str,
    now: i64,
) -> Result<Id, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO users (tenant_id, name, email, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(email.to_lowercase())
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(r.get(0))
}

/// The user with this email, if any.
pub(crate) async fn by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<UserRecord>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM users WHERE email = $1")
        .bind(email.trim().to_lowercase())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(record))
}

/// The user with this id, if any.
pub(crate) async fn by_id(conn: &mut AnyConnection, id: Id) -> Result<Option<User>, sqlx::Error> {
    let row =
        sqlx::query("SELECT * FROM users WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.as_ref().map(|r| record(r).user))
}

/// Ids of every user of a tenant, e.g. to notify them all.
pub(crate) async fn ids_of_tenant(
    conn: &mut AnyConnection,
    tenant_id: Id,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM users WHERE tenant_id = $1 ORDER BY id")
        .bind(tenant_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A user of `tenant_id`; another tenant's user reads as absent.
pub(crate) async fn in_tenant(
    conn: &mut AnyConnection,
    tenant_id: Id,
    id: Id,
) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(|r| record(r).user))
}

/// Every user of a tenant, admins first, then by name.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    tenant_id: Id,
) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM users WHERE tenant_id = $1 \
         ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, name, id",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| record(r).user).collect())
}

/// Ids of a tenant's active admins.
pub(crate) async fn active_admins(
    conn: &mut AnyConnection,
    tenant_id: Id,
) -> Result<Vec<Id>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id FROM users WHERE tenant_id = $1 AND role = 'admin' AND active = 1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether the user may sign in; `None` if there is no such user.
pub(crate) async fn is_active(
    conn: &mut AnyConnection,
    id: Id,
) -> Result<Option<bool>, sqlx::Error> {
    let row =
        sqlx::query("SELECT active FROM users WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.map(|r| r.get::<i64, _>(0) != 0))
}

/// Disables or enables a user.
pub(crate) async fn set_active(
    conn: &mut AnyConnection,
    id: Id,
    active: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
        .bind(active as i64)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The user's password hash.
pub(crate) async fn password_hash(
    conn: &mut AnyConnection,
    id: Id,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Replaces the user's password hash.
pub(crate) async fn set_password_hash(
    conn: &mut AnyConnection,
    id: Id,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}
