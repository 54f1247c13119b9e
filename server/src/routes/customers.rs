//! This module deals with `/api/customers`: list (active ones unless `include_inactive=true`),
//! one, add (`POST`, same as `customer:add`) and change (`PATCH /{id}`, same as
//! `customer:update`; `active: false` deactivates).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use pulse_protocol::events::{Customer, CustomerAdd, CustomerUpdate};
use pulse_protocol::rest::Page;
use serde::Deserialize;

use super::{idempotency_header, Pagination};
use crate::actions;
use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppJson, AppPath, AppQuery};
use crate::state::AppState;

/// `GET /api/customers` (by name; `customer_id` narrows to one).
pub(super) async fn customers_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(p): AppQuery<Pagination>,
) -> Result<Json<Page<Customer>>, AppError> {
    let f = p.filter()?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = db::customers::list(&mut conn, caller.tenant_id, &f).await?;
    Ok(Json(Page { items, total }))
}

/// `GET /api/customers/{id}`.
pub(super) async fn customers_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Customer>, AppError> {
    let mut conn = state.db.acquire().await?;
    actions::check_customer(&mut conn, &caller, id).await?;
    db::customers::get(&mut conn, caller.tenant_id, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found("customer does not exist"))
}

/// The body of `PATCH /api/customers/{id}`: [`CustomerUpdate`] whose `id` may be left out.
#[derive(Debug, Deserialize)]
pub(super) struct CustomerPatch {
    id: Option<i64>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `PATCH /api/customers/{id}`.
pub(super) async fn customers_update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
    headers: HeaderMap,
    AppJson(patch): AppJson<CustomerPatch>,
) -> Result<Json<Customer>, AppError> {
    if patch.id.is_some_and(|b| b != id) {
        return Err(AppError::invalid("body id differs from the path"));
    }
    let mut body = patch.rest;
    body.insert("id".into(), id.into());
    let mut input: CustomerUpdate = serde_json::from_value(body.into())
        .map_err(|e| AppError::invalid(format!("wrong payload shape: {e}")))?;
    if input.idempotency_key.is_none() {
        input.idempotency_key = idempotency_header(&headers);
    }
    actions::customer::update(&state, &caller, input).await.map(Json)
}

/// `POST /api/customers` with [`CustomerAdd`] → [`Customer`].
pub(super) async fn customers_create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    AppJson(mut input): AppJson<CustomerAdd>,
) -> Result<Json<Customer>, AppError> {
    if input.idempotency_key.is_none() {
        input.idempotency_key = idempotency_header(&headers);
    }
    actions::customer::add(&state, &caller, input).await.map(Json)
}
