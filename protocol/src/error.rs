//! This module deals with the one error shape that crosses the wire, for REST and socket alike.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::value::{FromValue, ToValue};

/// Machine-readable error codes. Unknown codes from a newer server decode as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No token, or a token that does not verify.
    Unauthorized,
    /// The token expired; refresh it and reconnect.
    TokenExpired,
    /// The caller may not touch this resource (e.g. another tenant's data).
    Forbidden,
    /// The input failed validation.
    InvalidInput,
    /// The resource does not exist.
    NotFound,
    /// The resource exists but does not take this HTTP method (REST only).
    MethodNotAllowed,
    /// The payload is larger than the server accepts.
    PayloadTooLarge,
    /// Too many events or connections.
    RateLimited,
    /// The event name is not in the catalogue.
    UnknownEvent,
    /// Something failed inside the server; details are in its logs.
    Internal,
    /// The idempotency key was already used for a different action.
    Conflict,
    /// The client missed more events than the server replays on reconnect: reload through
    /// REST, then continue from the log head.
    ResyncRequired,
    /// The store is unreachable for now; nothing was applied. Retry (with the same
    /// idempotency key) shortly.
    Unavailable,
    /// The account was disabled by an admin: it may not sign in, refresh or stay connected.
    AccountDisabled,
    /// The customer was deactivated: history stays, but no new deliveries are recorded.
    CustomerInactive,
    /// A code this build does not know.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// Every code, for reading one from its wire name (`Other` last: a new variant goes
    /// before it, and the assertion below fails until it is listed here too).
    pub(crate) const ALL: [ErrorCode; 16] = [
        ErrorCode::Unauthorized,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
        ErrorCode::InvalidInput,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::UnknownEvent,
        ErrorCode::Internal,
        ErrorCode::Conflict,
        ErrorCode::ResyncRequired,
        ErrorCode::Unavailable,
        ErrorCode::AccountDisabled,
        ErrorCode::CustomerInactive,
        ErrorCode::Other,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::TokenExpired => "TOKEN_EXPIRED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::UnknownEvent => "UNKNOWN_EVENT",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::ResyncRequired => "RESYNC_REQUIRED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::AccountDisabled => "ACCOUNT_DISABLED",
            ErrorCode::CustomerInactive => "CUSTOMER_INACTIVE",
            ErrorCode::Other => "OTHER",
        }
    }

    /// Whether new credentials may cure this refusal (an expired or invalid token), as
    /// opposed to one the same user cannot get past by signing in again.
    pub fn is_auth(self) -> bool {
        matches!(self, ErrorCode::TokenExpired | ErrorCode::Unauthorized)
    }
}

const _: () = assert!(ErrorCode::ALL.len() == ErrorCode::Other as usize + 1);

impl FromStr for ErrorCode {
    type Err = std::convert::Infallible;

    /// Reads a code as it appears on the wire; one this build does not know is
    /// [`ErrorCode::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // By hand, not through serde: a browser bundle that only reads codes from `Value`s
        // then carries no enum decoder.
        Ok(ErrorCode::ALL.into_iter().find(|c| c.as_str() == s).unwrap_or(ErrorCode::Other))
    }
}

/// A code this build does not know is [`ErrorCode::Other`], as with serde.
impl FromValue for ErrorCode {
    fn from_value(v: &Value) -> Option<Self> {
        crate::value::unit_variant(v)?.parse().ok()
    }
}

impl ToValue for ErrorCode {
    fn to_value(&self) -> Value {
        Value::from(self.as_str())
    }
}

/// `{ code, message }`: what a client is told when something is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}
crate::json_value!(WireError { code, message });

impl WireError {
    /// Builds an error from a code and a human message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into() }
    }
}

impl WireError {
    /// Reads an error in any shape Pulse puts on the wire, so clients parse codes in one
    /// place: `{ code, message }` (ack errors, `error` events, REST bodies); a CONNECT_ERROR's
    /// `{ message, data: { code } }` (the Node.js convention); or its `{ message }` / bare
    /// string `"CODE: text"` (socketioxide sends only a message: the refusal's `Display`).
    /// `None` when there is no code to be found.
    pub fn from_wire(v: &Value) -> Option<WireError> {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        match v {
            Value::String(s) => s.parse().ok(),
            Value::Object(m) => {
                let message = m.get("message").and_then(text);
                if let Some(code) = m.get("code").and_then(Value::as_str) {
                    let code = code.parse().unwrap_or(ErrorCode::Other);
                    return Some(WireError::new(code, message.unwrap_or_default()));
                }
                if let Some(code) =
                    m.get("data").and_then(|d| d.get("code")).and_then(Value::as_str)
                {
                    let message = message.unwrap_or_default();
                    // The message may carry the code too; people need only the text.
                    let message = match message.parse::<WireError>() {
                        Ok(e) => e.message,
                        Err(()) => message,
                    };
                    return Some(WireError::new(code.parse().unwrap_or(ErrorCode::Other), message));
                }
                message?.parse().ok()
            }
            _ => None,
        }
    }
}

impl FromStr for WireError {
    type Err = ();

    /// The inverse of `Display`: `"CODE: message"`, where CODE is upper case and underscores.
    fn from_str(s: &str) -> Result<Self, ()> {
        // A byte scan rather than `split_once(": ")`: a string pattern brings the two-way
        // searcher (1.4 KB) into browser bundles for this one call.
        let at = s.as_bytes().windows(2).position(|w| w == b": ").ok_or(())?;
        // `get`, not indexing: `": "` is ASCII, and indexing's panic path would be code in the
        // browser bundles.
        let (code, message) = (s.get(..at).ok_or(())?, s.get(at + 2..).ok_or(())?);
        let is_code = !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        if !is_code {
            return Err(());
        }
        Ok(WireError::new(code.parse().unwrap_or(ErrorCode::Other), message))
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_decode_as_other() {
        let e: WireError =
            serde_json::from_str(r#"{"code":"SOMETHING_NEW","message":"m"}"#).unwrap();
        assert_eq!(e.code, ErrorCode::Other);
    }

    #[test]
    fn every_wire_shape_reads_as_the_same_error() {
        use serde_json::json;
        let expired = WireError::new(ErrorCode::TokenExpired, "token expired");
        for v in [
            // An ack error, an `error` event, a REST body.
            json!({ "code": "TOKEN_EXPIRED", "message": "token expired" }),
            // socketioxide's CONNECT_ERROR: the refusal's Display as the message.
            json!({ "message": "TOKEN_EXPIRED: token expired" }),
            json!("TOKEN_EXPIRED: token expired"),
            // The Node.js convention: the code in `data`.
            json!({ "message": "token expired", "data": { "code": "TOKEN_EXPIRED" } }),
            json!({ "message": "TOKEN_EXPIRED: token expired", "data": { "code": "TOKEN_EXPIRED" } }),
        ] {
            assert_eq!(WireError::from_wire(&v).as_ref(), Some(&expired), "{v}");
        }
        // The Display round-trips.
        assert_eq!(expired.to_string().parse::<WireError>(), Ok(expired));
        // No code: nothing to read.
        for v in [
            json!({ "message": "connection refused" }),
            json!("Invalid namespace"),
            json!({ "message": "not: a code" }),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(WireError::from_wire(&v), None, "{v}");
        }
        // A newer server's code is still an error, of a kind this build does not know.
        assert_eq!(
            WireError::from_wire(&json!({ "message": "SOMETHING_NEW: m" })).map(|e| e.code),
            Some(ErrorCode::Other)
        );
        assert_eq!("RESYNC_REQUIRED".parse(), Ok(ErrorCode::ResyncRequired));
    }

    #[test]
    fn from_str_reads_every_code_as_serde_does() {
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse(), Ok(c));
            let wire = Value::String(c.as_str().to_owned());
            assert_eq!(serde_json::from_value::<ErrorCode>(wire).unwrap(), c);
        }
        assert_eq!("SOMETHING_NEW".parse(), Ok(ErrorCode::Other));
        assert_eq!("unauthorized".parse(), Ok(ErrorCode::Other));
    }

    #[test]
    fn as_str_matches_serde() {
        for c in [
            ErrorCode::Unauthorized,
            ErrorCode::TokenExpired,
            ErrorCode::PayloadTooLarge,
            ErrorCode::MethodNotAllowed,
            ErrorCode::AccountDisabled,
            ErrorCode::CustomerInactive,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
