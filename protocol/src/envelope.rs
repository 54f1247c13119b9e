//! This module deals with the two wrappers every message travels in: the server's event
//! envelope and the acknowledgement a client gets back for an action.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::WireError;
use crate::value::{member, members, FromValue, ToValue};

/// A server event as it goes on the wire: `{ seq, ts, data }`.
///
/// `seq` is the tenant's event-log position. Logged business events carry their own entry;
/// derived snapshots such as `stats:updated` carry the log head they were computed at, so a
/// client can tell how fresh they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Event-log position (monotonic per tenant).
    pub seq: u64,
    /// Server time of the event, milliseconds since the Unix epoch.
    pub ts: i64,
    /// The event's payload.
    pub data: T,
}
crate::json_value!(Envelope<T> { seq, ts, data });

/// The answer to every client action: `{ ok: true, data }` or `{ ok: false, error }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "AckRepr<T>", try_from = "AckRepr<T>")]
#[serde(bound(serialize = "T: Serialize + Clone", deserialize = "T: Deserialize<'de>"))]
pub enum Ack<T> {
    /// The action was applied; `data` is its result.
    Ok(T),
    /// The action was refused and changed nothing.
    Err(WireError),
}

impl<T> Ack<T> {
    /// Turns the acknowledgement into a `Result`.
    pub fn into_result(self) -> Result<T, WireError> {
        match self {
            Ack::Ok(v) => Ok(v),
            Ack::Err(e) => Err(e),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct AckRepr<T> {
    ok: bool,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<WireError>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> From<Ack<T>> for AckRepr<T> {
    fn from(ack: Ack<T>) -> Self {
        match ack {
            Ack::Ok(data) => AckRepr { ok: true, data: Some(data), error: None },
            Ack::Err(error) => AckRepr { ok: false, data: None, error: Some(error) },
        }
    }
}

impl<T> TryFrom<AckRepr<T>> for Ack<T> {
    type Error = String;
    fn try_from(r: AckRepr<T>) -> Result<Self, String> {
        match (r.ok, r.data, r.error) {
            (true, Some(data), _) => Ok(Ack::Ok(data)),
            (false, _, Some(error)) => Ok(Ack::Err(error)),
            (true, None, _) => Err("ack has ok: true but no data".into()),
            (false, _, None) => Err("ack has ok: false but no error".into()),
        }
    }
}

/// As its serde derive reads it, through `AckRepr`.
impl<T: FromValue> FromValue for Ack<T> {
    fn from_value(v: &Value) -> Option<Self> {
        // `AckRepr`'s members in declaration order; the last two have defaults.
        let o = members(v, &[("ok", false), ("data", true), ("error", true)])?;
        let ok = member::<bool>(&o, "ok")?;
        let data = member::<Option<T>>(&o, "data")?;
        let error = member::<Option<WireError>>(&o, "error")?;
        match (ok, data, error) {
            (true, Some(data), _) => Some(Ack::Ok(data)),
            (false, _, Some(error)) => Some(Ack::Err(error)),
            _ => None,
        }
    }
}

/// As its serde derive writes it, through `AckRepr`: no `data` in a refusal, no `error` in an
/// answer.
impl<T: ToValue> ToValue for Ack<T> {
    fn to_value(&self) -> Value {
        let mut o = serde_json::Map::new();
        match self {
            Ack::Ok(data) => {
                o.insert("ok".to_owned(), Value::Bool(true));
                o.insert("data".to_owned(), data.to_value());
            }
            Ack::Err(error) => {
                o.insert("ok".to_owned(), Value::Bool(false));
                o.insert("error".to_owned(), error.to_value());
            }
        }
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn ack_ok_has_the_documented_shape() {
        let v = serde_json::to_value(Ack::Ok(5u32)).unwrap();
        assert_eq!(v, json!({ "ok": true, "data": 5 }));
        let back: Ack<u32> = serde_json::from_value(v).unwrap();
        assert_eq!(back, Ack::Ok(5));
    }

    #[test]
    fn ack_error_has_the_documented_shape() {
        let e = WireError::new(ErrorCode::Forbidden, "not your tenant");
        let v = serde_json::to_value(Ack::<u32>::Err(e.clone())).unwrap();
        assert_eq!(
            v,
            json!({ "ok": false, "error": { "code": "FORBIDDEN", "message": "not your tenant" } })
        );
        let back: Ack<u32> = serde_json::from_value(v).unwrap();
        assert_eq!(back, Ack::Err(e));
    }

    #[test]
    fn ack_without_error_is_rejected() {
        let r: Result<Ack<u32>, _> = serde_json::from_value(json!({ "ok": false }));
        assert!(r.unwrap_err().to_string().contains("no error"));
    }

    #[test]
    fn envelope_round_trips() {
        let e = Envelope { seq: 7, ts: 1_700_000_000_000, data: json!({ "x": 1 }) };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"seq":7,"ts":1700000000000,"data":{"x":1}}"#);
        assert_eq!(serde_json::from_str::<Envelope<serde_json::Value>>(&s).unwrap(), e);
    }
}
