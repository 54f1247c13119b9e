//! This module deals with `activity:request`: the latest lines of the activity feed.

use pulse_protocol::events::Activity;
use serde_json::Value;

use crate::auth::Caller;
use crate::db::{self, ListFilter};
use crate::error::AppError;
use crate::state::AppState;

/// Lines when the client gives no limit.
const DEFAULT_LIMIT: i64 = 20;
/// Most lines per request.
const MAX_LIMIT: i64 = 200;

/// Reads the limit from the payload: a bare number (as the original dashboard sends it), `{ limit }`, or
/// nothing.
pub(crate) fn parse_limit(payload: &Value) -> Result<i64, AppError> {
    let v = match payload {
        Value::Null => return Ok(DEFAULT_LIMIT),
        Value::Object(o) => match o.get("limit") {
            None | Some(Value::Null) => return Ok(DEFAULT_LIMIT),
            Some(v) => v,
        },
        v => v,
    };
    match v.as_i64() {
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(AppError::invalid(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))),
    }
}

/// The newest `limit` lines, newest first.
pub(crate) async fn request(
    state: &AppState,
    caller: &Caller,
    payload: Value,
) -> Result<Vec<Activity>, AppError> {
    let limit = parse_limit(&payload)?;
    let mut conn = state.db.acquire().await?;
    let filter = ListFilter { limit, ..ListFilter::default() };
    Ok(db::activity::list(&mut conn, caller.tenant_id, &filter).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limit_is_a_number_or_an_object() {
        assert_eq!(parse_limit(&json!(5)).unwrap(), 5);
        assert_eq!(parse_limit(&json!({ "limit": 7 })).unwrap(), 7);
        assert_eq!(parse_limit(&Value::Null).unwrap(), DEFAULT_LIMIT);
        assert!(parse_limit(&json!(0)).is_err());
        assert!(parse_limit(&json!("ten")).is_err());
    }
}
