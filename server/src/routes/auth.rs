//! This module deals with `/api/auth/*`: login, refresh, logout, who am I, and changing one's
//! password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pulse_protocol::rest::{LoginRequest, PasswordChange, RefreshRequest, Session, User};

use crate::auth::{self, Caller, SignedIn};
use crate::db;
use crate::error::{AppError, AppJson};
use crate::peer::ClientIp;
use crate::state::AppState;

/// `POST /api/auth/login` with [`LoginRequest`] → [`Session`]; 429 with `Retry-After` while
/// the account's or the address's failure budget is spent.
pub(super) async fn auth_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Json<Session>, AppError> {
    auth::login(&state, ip, req).await.map(Json)
}

/// `POST /api/auth/logout` with the session's bearer token → 204: its refresh tokens stop
/// working and its sockets are closed.
pub(super) async fn auth_logout(
    State(state): State<AppState>,
    session: SignedIn,
) -> Result<StatusCode, AppError> {
    auth::logout(&state, &session).await?;
    // Sockets of the ended session on this node are told why and disconnected.
    let ended = crate::realtime::end_session(&state, &session.id);
    tracing::info!(user = session.user_id, sockets = ended, "signed out");
    Ok(StatusCode::NO_CONTENT)
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

/// `POST /api/auth/password` with [`PasswordChange`] → a fresh [`Session`]; every other
/// refresh token of the user stops working.
pub(super) async fn auth_password(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(req): AppJson<PasswordChange>,
) -> Result<Json<Session>, AppError> {
    auth::change_password(&state, &caller, req).await.map(Json)
}
