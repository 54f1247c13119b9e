//! This module deals with the `notifications` table: messages to one user, read or unread.

use pulse_protocol::events::{Id, Level, Notification};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{ListFilter, Sql};

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

fn level(s: &str) -> Level {
    match s {
        "warning" => Level::Warning,
        "critical" => Level::Critical,
        _ => Level::Info,
    }
}

fn notification(r: &AnyRow) -> Notification {
    Notification {
        id: r.get("id"),
        title: r.get("title"),
        body: r.get("body"),
        level: level(r.get::<&str, _>("level")),
        created_at: r.get("created_at"),
        read: r.get::<i64, _>("read") != 0,
    }
}

/// Creates an unread notification and returns it.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    tenant_id: Id,
    user_id: Id,
    title: &str,
    body: &str,
    l: Level,
    now: i64,
) -> Result<Notification, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO notifications (tenant_id, user_id, title, body, level, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(title)
    .bind(body)
    .bind(level_str(l))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(Notification {
        id: r.get(0),
        title: title.to_owned(),
        body: body.to_owned(),
        level: l,
        created_at: now,
        read: false,
    })
}

/// The user a notification belongs to, if it exists.
pub(crate) async fn owner_of(conn: &mut AnyConnection, id: Id) -> Result<Option<Id>, sqlx::Error> {
    let row = sqlx::query("SELECT user_id FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Marks one (or, with `id: None`, every) unread notification of a user read; returns the
/// ids that changed.
pub(crate) async fn mark_read(
    conn: &mut AnyConnection,
    user_id: Id,
    id: Option<Id>,
) -> Result<Vec<Id>, sqlx::Error> {
    let mut q: Sql = Sql::new("UPDATE notifications SET read = 1 WHERE read = 0 AND user_id = ");
    q.push_bind(user_id);
    if let Some(id) = id {
        q.push(" AND id = ").push_bind(id);
    }
    q.push(" RETURNING id");
    let rows = q.build().fetch_all(conn).await?;
    let mut ids: Vec<Id> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// A page of a user's notifications, newest first; `unread` filters on read state.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    user_id: Id,
    f: &ListFilter,
) -> Result<(Vec<Notification>, u64), sqlx::Error> {
    let build = |f: &ListFilter| {
        let mut q: Sql =
            Sql::new("SELECT *, COUNT(*) OVER () AS total FROM notifications WHERE user_id = ");
        q.push_bind(user_id);
        if let Some(unread) = f.unread {
            q.push(" AND read = ").push_bind(if unread { 0i64 } else { 1 });
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
        q
    };
    super::page(conn, f, build, notification).await
}
