//! This module deals with raising a system alert for a whole tenant (`alert:system`). No
//! client event raises one; the server does (credit limits, the demo's operations news).

use pulse_protocol::events::{Alert, AlertSystem, Level, ALERT_SYSTEM};

use super::{begin, Begin};
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// Logs and broadcasts an alert to `caller`'s tenant, with a line in the activity feed.
pub(crate) async fn raise(
    state: &AppState,
    caller: &Caller,
    level: Level,
    message: String,
) -> Result<Alert, AppError> {
    let mut change = match begin::<Alert>(state, caller, ALERT_SYSTEM, None).await? {
        Begin::Done(a) => return Ok(a),
        Begin::Go(c) => c,
    };
    let alert = Alert { level, message };
    let seq = change.append::<AlertSystem>(&alert)?;
    change.activity(caller, ALERT_SYSTEM, alert.message.clone(), None, seq).await?;
    change.commit(&alert).await?;
    Ok(alert)
}
