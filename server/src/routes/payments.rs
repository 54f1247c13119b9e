//! This module deals with `/api/payments`: list (filter by date and customer) and record
//! (`POST`, same as `payment:add`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use pulse_protocol::events::{Payment, PaymentAdd};
use pulse_protocol::rest::Page;

use super::{idempotency_header, Pagination};
use crate::actions;
use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppJson, AppQuery};
use crate::state::AppState;

/// `GET /api/payments`.
pub(super) async fn payments_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(p): AppQuery<Pagination>,
) -> Result<Json<Page<Payment>>, AppError> {
    let f = p.filter()?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = db::payments::list(&mut conn, caller.tenant_id, &f).await?;
    Ok(Json(Page { items, total }))
}

/// `POST /api/payments`.
pub(super) async fn payments_create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    AppJson(mut input): AppJson<PaymentAdd>,
) -> Result<Json<Payment>, AppError> {
    if input.idempotency_key.is_none() {
        input.idempotency_key = idempotency_header(&headers);
    }
    actions::payment::add(&state, &caller, input).await.map(Json)
}
