//! This module deals with the `refresh_tokens` table: hashes of single-use refresh tokens.

use pulse_protocol::events::Id;
use sqlx::{AnyConnection, Row};

/// Stores a refresh token's hash.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: Id,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Marks the token used and returns its user, if it was unused and not expired at `now`.
/// One UPDATE, so two concurrent refreshes with the same token cannot both succeed.
pub(crate) async fn consume(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE refresh_tokens SET used = 1 \
         WHERE token_hash = $1 AND used = 0 AND expires_at > $2 RETURNING user_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Marks every unused refresh token of a user used, so none of their sessions can be
/// renewed; returns how many were revoked.
pub(crate) async fn revoke_all(conn: &mut AnyConnection, user_id: Id) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE user_id = $1 AND used = 0")
        .bind(user_id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
}
