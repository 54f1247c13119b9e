//! This module deals with `/api/users`: list, add, and disable/enable (`PATCH /{id}`), for
//! admins of the business.

use axum::extract::{Path, State};
use axum::Json;
use pulse_protocol::rest::{NewUser, Page, User, UserPatch};

use crate::actions;
use crate::auth::Caller;
use crate::error::{AppError, AppJson};
use crate::state::AppState;

/// `GET /api/users` → every user of the business.
pub(super) async fn users_list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<User>>, AppError> {
    let items = actions::user::list(&state, &caller).await?;
    Ok(Json(Page { total: items.len() as u64, items }))
}

/// `POST /api/users` with [`NewUser`] → [`User`].
pub(super) async fn users_create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(input): AppJson<NewUser>,
) -> Result<Json<User>, AppError> {
    actions::user::add(&state, &caller, input).await.map(Json)
}

/// `PATCH /api/users/{id}` with [`UserPatch`] → [`User`].
pub(super) async fn users_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    AppJson(patch): AppJson<UserPatch>,
) -> Result<Json<User>, AppError> {
    actions::user::set_active(&state, &caller, id, patch).await.map(Json)
}
