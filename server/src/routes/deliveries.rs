//! This module deals with `/api/deliveries`: list (filter by date and customer), record
//! (`POST`, same as `delivery:update` without `id`) and change (`PUT /{id}`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use pulse_protocol::events::{Delivery, DeliveryUpdate};
use pulse_protocol::rest::Page;

use super::{idempotency_header, Pagination};
use crate::actions;
use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppJson, AppPath, AppQuery};
use crate::state::AppState;

/// `GET /api/deliveries`.
pub(super) async fn deliveries_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(p): AppQuery<Pagination>,
) -> Result<Json<Page<Delivery>>, AppError> {
    let f = p.filter()?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = db::deliveries::list(&mut conn, caller.tenant_id, &f).await?;
    Ok(Json(Page { items, total }))
}

/// `POST /api/deliveries`.
pub(super) async fn deliveries_create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    AppJson(mut input): AppJson<DeliveryUpdate>,
) -> Result<Json<Delivery>, AppError> {
    if input.idempotency_key.is_none() {
        input.idempotency_key = idempotency_header(&headers);
    }
    actions::delivery::update(&state, &caller, input).await.map(Json)
}

/// `PUT /api/deliveries/{id}`: the body's `id`, if any, must match the path.
pub(super) async fn deliveries_update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
    headers: HeaderMap,
    AppJson(mut input): AppJson<DeliveryUpdate>,
) -> Result<Json<Delivery>, AppError> {
    if input.id.is_some_and(|b| b != id) {
        return Err(AppError::invalid("body id differs from the path"));
    }
    input.id = Some(id);
    if input.idempotency_key.is_none() {
        input.idempotency_key = idempotency_header(&headers);
    }
    actions::delivery::update(&state, &caller, input).await.map(Json)
}
