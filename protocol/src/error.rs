//! This module deals with the one error shape that crosses the wire, for REST and socket alike.

use std::fmt;

use serde::{Deserialize, Serialize};

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
}

/// `{ code, message }`: what a client is told when something is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl WireError {
    /// Builds an error from a code and a human message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into() }
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
