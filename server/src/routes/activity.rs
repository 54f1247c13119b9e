//! This module deals with `GET /api/activity`: the activity feed, filterable by day and
//! customer.

use axum::extract::State;
use axum::Json;
use pulse_protocol::events::Activity;
use pulse_protocol::rest::Page;

use super::Pagination;
use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppQuery};
use crate::state::AppState;

/// `GET /api/activity`, newest first.
pub(super) async fn activity_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(p): AppQuery<Pagination>,
) -> Result<Json<Page<Activity>>, AppError> {
    let f = p.filter()?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = db::activity::list(&mut conn, caller.tenant_id, &f).await?;
    Ok(Json(Page { items, total }))
}
