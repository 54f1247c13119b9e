//! This module deals with `GET /api/stats`.

use axum::extract::State;
use axum::Json;
use pulse_protocol::events::Stats;
use pulse_protocol::Envelope;

use crate::actions;
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// Today's figures, as `stats:updated` carries them.
pub(super) async fn stats_get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Envelope<Stats>>, AppError> {
    actions::stats::request(&state, &caller).await.map(Json)
}
