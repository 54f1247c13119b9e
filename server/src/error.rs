//! This module deals with the server's one error type, so REST and socket fail alike: every
//! refusal becomes `{ code, message }`, as an HTTP response or as an `{ ok: false }` ack.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pulse_protocol::{Ack, ErrorCode, WireError};
use serde::de::DeserializeOwned;

/// Why a request or action failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Refused for a reason the client may know (bad input, not allowed, not found…).
    #[error("{0}")]
    Refused(WireError),
    /// The database failed; the client only learns that something went wrong.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Any other internal failure.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// A refusal with `code` and a message for people.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::Refused(WireError::new(code, message))
    }

    /// INVALID_INPUT.
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidInput, message)
    }

    /// FORBIDDEN.
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Forbidden, message)
    }

    /// NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::NotFound, message)
    }

    /// UNAUTHORIZED.
    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Unauthorized, message)
    }

    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Refused(e) => e.code,
            AppError::Db(e) if unavailable(e).is_some() => ErrorCode::Unavailable,
            AppError::Db(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client is told. Internal details stay in the logs.
    pub fn into_wire(self) -> WireError {
        metrics::counter!("pulse_errors_total", "code" => self.code().as_str()).increment(1);
        match self {
            AppError::Refused(e) => e,
            AppError::Db(e) if let Some(why) = unavailable(&e) => {
                tracing::warn!(error = %e, "database {why}");
                WireError::new(
                    ErrorCode::Unavailable,
                    format!("the database is {why}; retry shortly"),
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                WireError::new(ErrorCode::Internal, "something went wrong")
            }
        }
    }

    /// The `{ ok: false, error }` acknowledgement for a socket action.
    pub fn into_ack<T>(self) -> Ack<T> {
        Ack::Err(self.into_wire())
    }
}

/// Whether a database error means "retry later" rather than a fault in a query, and why:
/// the database cannot be reached, or it stayed busy with other writers past its wait (SQLite's
/// write lock, every pooled connection in use). Nothing was applied either way, since the
/// transaction did not commit.
fn unavailable(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::PoolTimedOut => Some("busy or unreachable"),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Some("unavailable"),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, connection failure.
            Some(c) if c.starts_with("57P") || c.starts_with("08") => Some("unavailable"),
            // SQLite: SQLITE_BUSY and its extended codes (recovery, snapshot, timeout), and
            // SQLITE_LOCKED: another writer held the lock for longer than busy_timeout.
            Some("5" | "261" | "517" | "773" | "6" | "262") => Some("busy"),
            _ => None,
        },
        _ => None,
    }
}

/// The HTTP status that goes with an error code.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::AccountDisabled => StatusCode::FORBIDDEN,
        ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::NotFound | ErrorCode::UnknownEvent => StatusCode::NOT_FOUND,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Conflict | ErrorCode::ResyncRequired | ErrorCode::CustomerInactive => {
            StatusCode::CONFLICT
        }
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal | ErrorCode::Other => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let wire = self.into_wire();
        (status_of(wire.code), Json(wire)).into_response()
    }
}

/// `Json<T>` whose rejections (bad JSON, wrong shape, too large) answer in the one error
/// shape instead of axum's plain text.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(AppJson(v)),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(AppError::new(ErrorCode::PayloadTooLarge, "request body is too large"))
            }
            Err(e) => Err(AppError::invalid(e.body_text())),
        }
    }
}

/// `Query<T>` whose rejections answer INVALID_INPUT in the one error shape.
#[derive(Debug)]
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| AppQuery(q.0))
            .map_err(|e: QueryRejection| AppError::invalid(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_details() {
        let w = AppError::Internal("disk on fire".into()).into_wire();
        assert_eq!(w.code, ErrorCode::Internal);
        assert!(!w.message.contains("disk"));
    }

    #[test]
    fn statuses_follow_codes() {
        assert_eq!(status_of(ErrorCode::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status_of(ErrorCode::TokenExpired), StatusCode::UNAUTHORIZED);
    }
}
