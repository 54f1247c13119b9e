//! This module deals with `/api/notifications`: the caller's own notifications (`?unread=`)
//! and marking them read (`POST /read`, same as `notification:mark-read`).

use axum::extract::State;
use axum::Json;
use pulse_protocol::events::{MarkRead, Notification, NotificationsRead};
use pulse_protocol::rest::Page;

use super::Pagination;
use crate::actions;
use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppJson, AppQuery};
use crate::state::AppState;

/// `GET /api/notifications`.
pub(super) async fn notifications_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(p): AppQuery<Pagination>,
) -> Result<Json<Page<Notification>>, AppError> {
    let f = p.filter()?;
    let user_id = caller.user_id.ok_or_else(|| AppError::forbidden("not a user"))?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = db::notifications::list(&mut conn, user_id, &f).await?;
    Ok(Json(Page { items, total }))
}

/// `POST /api/notifications/read`.
pub(super) async fn notifications_read(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(input): AppJson<MarkRead>,
) -> Result<Json<NotificationsRead>, AppError> {
    actions::notification::mark_read(&state, &caller, input).await.map(Json)
}
