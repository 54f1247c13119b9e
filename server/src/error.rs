//! This module deals with the server's one error type, so REST and socket fail alike: every
//! refusal becomes `{ code, message }`, as an HTTP response or as an `{ ok: false }` ack.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
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
    /// Too many attempts: RATE_LIMITED, and over HTTP a `Retry-After` header too.
    #[error("rate limited: {message}")]
    Throttled {
        /// What the client is told.
        message: String,
        /// How long until an attempt may succeed.
        retry_after: std::time::Duration,
    },
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
            AppError::Throttled { .. } => ErrorCode::RateLimited,
            AppError::Db(e) if unavailable(e).is_some() => ErrorCode::Unavailable,
            AppError::Db(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client is told. Internal details stay in the logs.
    pub fn into_wire(self) -> WireError {
        metrics::counter!("pulse_errors_total", "code" => self.code().as_str()).increment(1);
        match self {
            AppError::Refused(e) => e,
            AppError::Throttled { message, .. } => WireError::new(ErrorCode::RateLimited, message),
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
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
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
        let retry_after = match &self {
            AppError::Throttled { retry_after, .. } => {
                Some(retry_after.as_secs_f64().ceil() as u64)
            }
            _ => None,
        };
        let wire = self.into_wire();
        let mut res = (status_of(wire.code), Json(wire)).into_response();
        if let Some(s) = retry_after {
            // Whole seconds, at least one: "0" would invite an immediate retry.
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s.max(1)));
        }
        res
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

/// `Path<T>` whose rejections (e.g. `/api/customers/abc`) answer INVALID_INPUT in the one
/// error shape.
#[derive(Debug)]
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(AppPath(p.0)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(AppError::invalid(e.body_text()))
            }
            // A route without the parameters its handler reads: a fault here, not the client's.
            Err(e) => Err(AppError::Internal(e.body_text())),
        }
    }
}

/// Answers a request for an `/api` path that no route serves (the dashboard's fallback
/// would otherwise answer it with `index.html`).
pub(crate) async fn api_not_found(method: Method, uri: Uri) -> AppError {
    AppError::not_found(format!("no API route for {method} {}", uri.path()))
}

/// Answers a method a route does not take (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::new(ErrorCode::MethodNotAllowed, format!("{} does not take {method}", uri.path()))
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
    fn throttled_answers_429_with_retry_after_in_whole_seconds() {
        let e = AppError::Throttled {
            message: "slow down".into(),
            retry_after: std::time::Duration::from_millis(1_200),
        };
        let res = e.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn statuses_follow_codes() {
        assert_eq!(status_of(ErrorCode::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(status_of(ErrorCode::TokenExpired), StatusCode::UNAUTHORIZED);
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    #[test]
    fn the_readme_error_table_matches_the_server() {
        let readme = include_str!("../../README.md");
        let table = readme.split("### Error codes").nth(1).expect("the README's error table");
        let mut rows = 0;
        for line in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code: ErrorCode = serde_json::from_value(serde_json::Value::String(
                cells[1].trim_matches('`').to_owned(),
            ))
            .unwrap();
            assert_ne!(code, ErrorCode::Other, "{line}");
            assert_eq!(status_of(code).as_str(), cells[2], "{line}");
            rows += 1;
        }
        // Every code the server sends (all but `Other`, which only a client decodes).
        let all = [
            ErrorCode::Unauthorized,
            ErrorCode::TokenExpired,
            ErrorCode::Forbidden,
            ErrorCode::InvalidInput,
            ErrorCode::NotFound,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::UnknownEvent,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Internal,
            ErrorCode::Conflict,
            ErrorCode::ResyncRequired,
            ErrorCode::Unavailable,
        ];
        for code in all {
            assert!(
                table.contains(&format!("| `{}` |", code.as_str())),
                "{code:?} is not in the README"
            );
        }
        assert_eq!(rows, all.len());
    }
}
