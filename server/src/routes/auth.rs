//! This module deals with `/api/auth/*`: login, refresh, and who am I.

use axum::extract::State;
use axum::Json;
use pulse_protocol::rest::{LoginRequest, RefreshRequest, Session, User};

use crate::auth::{self, Caller};
use crate::db;
use crate::error::{AppError, AppJson};
use crate::state::AppState;

/// `POST /api/auth/login` with [`LoginRequest`] → [`Session`].
pub(super) async fn auth_login(
    State(state): State<AppState>,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Json<Session>, AppError> {
    auth::login(&state, req).await.map(Json)
}

/// `POST /api/auth/refresh` with [`RefreshRequest`] → [`Session`].
pub(super) async fn auth_refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<Json<Session>, AppError> {
    auth::refresh(&state, req).await.map(Json)
}

/// `GET /api/auth/me` → [`User`].
pub(super) async fn auth_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<User>, AppError> {
    let id = caller.user_id.ok_or_else(|| AppError::unauthorized("not a user"))?;
    let mut conn = state.db.acquire().await?;
    db::users::by_id(&mut conn, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::unauthorized("user no longer exists"))
}
