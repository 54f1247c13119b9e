//! This module deals with the `refresh_tokens` table: hashes of single-use refresh tokens,
//! each tied to the session (one sign-in) that handed it out.

use pulse_protocol::events::Id;
use sqlx::{AnyConnection, Row};

/// Stores a refresh token's hash for `session_id`.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: Id,
    session_id: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, session_id, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(session_id)
    .bind(expires_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Marks the token used and returns its user and session, if it was unused, not revoked and
/// not expired at `now`. One UPDATE, so two concurrent refreshes with the same token cannot
/// both succeed. Tokens from before sessions existed carry none.
pub(crate) async fn consume(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(Id, Option<String>)>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE refresh_tokens SET used = 1 \
         WHERE token_hash = $1 AND used = 0 AND revoked_at IS NULL AND expires_at > $2 \
         RETURNING user_id, session_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Revokes every refresh token of `session_id` (of `user_id`) at `now`.
pub(crate) async fn revoke_session(
    conn: &mut AnyConnection,
    user_id: Id,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3 \
         WHERE session_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Whether `session_id` was signed out.
pub(crate) async fn session_revoked(
    conn: &mut AnyConnection,
    session_id: &str,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 FROM refresh_tokens WHERE session_id = $1 AND revoked_at IS NOT NULL LIMIT 1",
    )
    .bind(session_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
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
