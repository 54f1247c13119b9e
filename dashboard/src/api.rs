//! This module deals with the REST calls the dashboard makes: login, refresh and logout, first pages
//! of every list (the socket only brings what changes afterwards), filtered lists, and the
//! server's health and metrics. Requests go through the SDK's [`pulse_sdk::http`], the one
//! HTTP client its fallback polling uses too.

use std::fmt;

use pulse_protocol::rest::Page;
use pulse_protocol::{FromValue, ToValue, WireError};
use pulse_sdk::http;

use crate::session::{Auth, Refreshed};

/// Why a REST call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: no token, a bad one, or an expired one that could not be refreshed.
    Unauthorized(String),
    /// Any other error status, with the server's `{ code, message }` when it sent one.
    Status(u16, Option<WireError>),
    /// The request did not get an answer (server down, network gone).
    Network(String),
    /// The answer was not what the dashboard expects.
    Decode(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized(m) => write!(f, "{m}"),
            ApiError::Status(_, Some(e)) => write!(f, "{}", e.message),
            ApiError::Status(code, None) => write!(f, "the server answered HTTP {code}"),
            ApiError::Network(_) => write!(f, "the server cannot be reached"),
            ApiError::Decode(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

/// One HTTP exchange: method, path (with query), bearer token, JSON body.
async fn raw(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<String, ApiError> {
    let answer = http::send(method, path, token, body)
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    match answer.status {
        200..=299 => Ok(answer.body),
        401 => Err(ApiError::Unauthorized(
            answer.wire_error().map_or("not signed in".into(), |e| e.message),
        )),
        s => Err(ApiError::Status(s, answer.wire_error())),
    }
}

/// Through a [`serde_json::Value`], as the socket's events and acks are: the text is read by the
/// SDK's JSON reader and the tree by [`FromValue`], so neither serde_json's reader nor a serde
/// deserializer per type is in the bundle.
pub(crate) fn decode<T: FromValue>(text: &str) -> Result<T, ApiError> {
    let v = pulse_sdk::codec::parse_json(text).map_err(|e| ApiError::Decode(e.to_string()))?;
    T::from_value(&v).ok_or_else(|| ApiError::Decode("it does not have the expected shape".into()))
}

/// A call without a session (login, refresh, health, metrics).
pub async fn public<T: FromValue>(
    method: &str,
    path: &str,
    body: Option<&impl ToValue>,
) -> Result<T, ApiError> {
    decode(&raw(method, path, None, body.map(json)).await?)
}

/// A request body (or anything else the dashboard stores as JSON). The generic parts of a call
/// stay this and [`decode`]: the exchange itself (send, refresh, retry) is compiled once, not
/// once per answer and body type.
pub(crate) fn json(body: &impl ToValue) -> String {
    // Through a `Value` and the SDK's writer, as the socket's payloads are: neither serde's
    // serialisers nor serde_json's text writer is in the bundle.
    pulse_sdk::codec::json_text(&body.to_value())
}

/// Ends the session `token` belongs to on the server: its refresh tokens stop working and its
/// sockets, in every tab and browser it reached, are closed.
pub async fn logout(token: &str) -> Result<(), ApiError> {
    raw("POST", "/api/auth/logout", Some(token), None).await.map(|_| ())
}

/// The raw text of a public endpoint (`/metrics`).
pub async fn public_text(path: &str) -> Result<String, ApiError> {
    raw("GET", path, None, None).await
}

/// An authenticated call. On a 401 the session is refreshed once and the call retried, so
/// an access token that expired while the laptop slept costs one extra round trip. A
/// refresh that failed for a passing reason (server away) fails the call, not the session.
pub async fn call<T: FromValue>(
    auth: Auth,
    method: &str,
    path: &str,
    body: Option<&impl ToValue>,
) -> Result<T, ApiError> {
    decode(&authorized(auth, method, path, body.map(json)).await?)
}

/// [`call`] up to the answer's text.
async fn authorized(
    auth: Auth,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<String, ApiError> {
    let first = raw(method, path, auth.token().as_deref(), body.clone()).await;
    match first {
        Err(ApiError::Unauthorized(m)) => match auth.refresh().await {
            Refreshed::Yes => raw(method, path, auth.token().as_deref(), body).await,
            Refreshed::Unavailable(why) => Err(ApiError::Network(why)),
            Refreshed::SignedOut => {
                auth.sign_out();
                Err(ApiError::Unauthorized(m))
            }
        },
        other => other,
    }
}

/// An authenticated call whose 401 is an answer, not an expired session (e.g. a wrong
/// current password): no refresh, no sign-out.
pub async fn raw_call<T: FromValue>(
    auth: Auth,
    method: &str,
    path: &str,
    body: &impl ToValue,
) -> Result<T, ApiError> {
    decode(&raw(method, path, auth.token().as_deref(), Some(json(body))).await?)
}

/// `GET` an authenticated JSON resource.
pub async fn get<T: FromValue>(auth: Auth, path: &str) -> Result<T, ApiError> {
    decode(&authorized(auth, "GET", path, None).await?)
}

/// Pages through a list endpoint (newest first) until `enough` says stop, the list ends, or
/// `max_pages` pages were read. Returns the items and the filter's total.
pub async fn get_pages<T: FromValue>(
    auth: Auth,
    path_with_query: &str,
    max_pages: usize,
    enough: impl Fn(&[T]) -> bool,
) -> Result<(Vec<T>, u64), ApiError> {
    const PAGE: usize = 500;
    let sep = if path_with_query.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut total = 0;
    for n in 0..max_pages {
        let page: Page<T> =
            get(auth, &format!("{path_with_query}{sep}limit={PAGE}&offset={}", n * PAGE)).await?;
        total = page.total;
        let done = page.items.len() < PAGE;
        all.extend(page.items);
        if done || enough(&all) || all.len() as u64 >= total {
            break;
        }
    }
    Ok((all, total))
}
