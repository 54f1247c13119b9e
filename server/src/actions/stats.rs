//! This module deals with `stats:request`: today's figures, on demand.

use pulse_protocol::events::Stats;
use pulse_protocol::Envelope;

use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// The caller's tenant's figures, stamped with the log head.
pub(crate) async fn request(
    state: &AppState,
    caller: &Caller,
) -> Result<Envelope<Stats>, AppError> {
    crate::feed::stats::current(state, caller.tenant_id).await
}
