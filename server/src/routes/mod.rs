//! This module deals with the HTTP surface: assembling the REST API (one file per
//! resource), health, metrics, and the dashboard's files. REST handlers are thin adapters over
//! [`crate::actions`], like the socket handlers, so both behave the same.

mod activity;
mod auth;
mod customers;
mod dashboard;
mod deliveries;
mod events;
mod health;
mod metrics;
mod notifications;
mod payments;
pub(crate) mod security;
mod stats;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{any, get, patch, post, put};
use axum::Router;
use serde::Deserialize;

use crate::db::ListFilter;
use crate::error::AppError;
use crate::state::AppState;
use pulse_protocol::calendar;

pub(crate) use dashboard::dashboard;

/// The REST API, health and metrics. Any other `/api` path answers NOT_FOUND in the one
/// error shape, never the dashboard's `index.html`.
pub(crate) fn api(max_body: usize) -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(auth::auth_login))
        .route("/api/auth/refresh", post(auth::auth_refresh))
        .route("/api/auth/logout", post(auth::auth_logout))
        .route("/api/auth/me", get(auth::auth_me))
        .route("/api/auth/password", post(auth::auth_password))
        .route("/api/users", get(users::users_list).post(users::users_create))
        .route("/api/users/{id}", patch(users::users_update))
        .route("/api/stats", get(stats::stats_get))
        .route(
            "/api/deliveries",
            get(deliveries::deliveries_list).post(deliveries::deliveries_create),
        )
        .route("/api/deliveries/{id}", put(deliveries::deliveries_update))
        .route("/api/payments", get(payments::payments_list).post(payments::payments_create))
        .route("/api/customers", get(customers::customers_list).post(customers::customers_create))
        .route(
            "/api/customers/{id}",
            get(customers::customers_get).patch(customers::customers_update),
        )
        .route("/api/notifications", get(notifications::notifications_list))
        .route("/api/notifications/read", post(notifications::notifications_read))
        .route("/api/activity", get(activity::activity_list))
        .route("/api/events", get(events::events_list))
        .route("/api", any(crate::error::api_not_found))
        .route("/api/", any(crate::error::api_not_found))
        .route("/api/{*rest}", any(crate::error::api_not_found))
        .route("/health", get(health::health_get))
        .route("/health/live", get(health::health_live))
        .route("/metrics", get(metrics::metrics_get))
        .layer(DefaultBodyLimit::max(max_body))
}

/// Paging and filters of list endpoints: `?limit=&offset=&date=&from=&to=&customer_id=`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Pagination {
    limit: Option<i64>,
    offset: Option<i64>,
    /// One day, `YYYY-MM-DD` (same as `from` = `to` = `date`).
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
    customer_id: Option<i64>,
    /// Notifications only: `true` for unread, `false` for read.
    unread: Option<bool>,
    /// Customers only: `true` lists deactivated customers too.
    include_inactive: Option<bool>,
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

impl Pagination {
    /// Validates into a [`ListFilter`].
    pub(crate) fn filter(self) -> Result<ListFilter, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid(format!("limit must be from 1 to {MAX_LIMIT}")));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::invalid("offset must not be negative"));
        }
        let (from, to) = match self.date {
            Some(d) => (Some(d.clone()), Some(d)),
            None => (self.from, self.to),
        };
        for d in from.iter().chain(to.iter()) {
            if !calendar::is_valid_day(d) {
                return Err(AppError::invalid(format!("`{d}` is not a day written YYYY-MM-DD")));
            }
        }
        Ok(ListFilter {
            limit,
            offset,
            from,
            to,
            customer_id: self.customer_id,
            unread: self.unread,
            include_inactive: self.include_inactive.unwrap_or(false),
        })
    }
}

/// The `Idempotency-Key` header, for actions whose body has no key.
pub(crate) fn idempotency_header(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_sets_both_bounds_and_bad_values_are_refused() {
        let f = Pagination { date: Some("2024-05-01".into()), ..Pagination::default() }
            .filter()
            .unwrap();
        assert_eq!((f.from.as_deref(), f.to.as_deref()), (Some("2024-05-01"), Some("2024-05-01")));
        assert_eq!(f.limit, DEFAULT_LIMIT);
        assert!(Pagination { limit: Some(0), ..Pagination::default() }.filter().is_err());
        assert!(Pagination { from: Some("May".into()), ..Pagination::default() }.filter().is_err());
    }
}
