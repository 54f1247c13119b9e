//! This module deals with `GET /api/events?since=SEQ&limit=N&topics=…`: the event log for
//! polling fallback, with the same entries (per-user visibility, topics) as socket replay.

use axum::extract::State;
use axum::Json;
use pulse_protocol::events::{logged, Topic, Topics};
use pulse_protocol::rest::EventsPage;
use serde::Deserialize;

use pulse_protocol::ErrorCode;

use crate::auth::Caller;
use crate::db;
use crate::error::{AppError, AppQuery};
use crate::state::AppState;

/// `?since=&limit=`.
#[derive(Debug, Deserialize)]
pub(super) struct EventsSince {
    #[serde(default)]
    since: u64,
    limit: Option<u64>,
    /// The epoch `since` was read in; another one gets RESYNC_REQUIRED.
    epoch: Option<String>,
    /// Comma-separated topics (module keys); absent: every topic. Events without a topic
    /// (alerts) are always included.
    topics: Option<String>,
}

const DEFAULT_LIMIT: u64 = 500;
const MAX_LIMIT: u64 = 1000;

/// `GET /api/events`: entries after `since`, oldest first, and the log head.
pub(super) async fn events_list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<EventsSince>,
) -> Result<Json<EventsPage>, AppError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid(format!("limit must be from 1 to {MAX_LIMIT}")));
    }
    let user_id = caller.user_id.ok_or_else(|| AppError::forbidden("not a user"))?;
    let only = q.topics.as_deref().map(only_events).transpose()?;
    let mut conn = state.db.acquire().await?;
    // Head first: every entry up to it is then readable below.
    let head = db::event_log::head(&mut conn, caller.tenant_id).await?;
    let epoch = state.log.epoch(&mut conn, caller.tenant_id, state.clock.now_ms()).await?;
    if q.epoch.as_ref().is_some_and(|e| *e != epoch) {
        return Err(AppError::new(
            ErrorCode::ResyncRequired,
            format!(
                "the event log was replaced (epoch {epoch}); reload, then continue from seq {head}"
            ),
        ));
    }
    if q.since > head {
        return Err(AppError::new(
            ErrorCode::ResyncRequired,
            format!(
                "since {} is ahead of the log (head {head}); reload, then continue from it",
                q.since
            ),
        ));
    }
    let events = db::event_log::since(
        &mut conn,
        caller.tenant_id,
        user_id,
        q.since,
        u64::MAX,
        limit,
        only.as_deref(),
    )
    .await?;
    Ok(Json(EventsPage { events, head, epoch }))
}

/// The logged events a `topics=` list admits: the topics' own and those without a topic.
fn only_events(list: &str) -> Result<Vec<&'static str>, AppError> {
    let mut topics = Topics::NONE;
    for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let t = Topic::parse(key).ok_or_else(|| {
            AppError::invalid(format!("unknown topic {key:?}; topics are {}", Topic::LIST))
        })?;
        topics.insert(t);
    }
    Ok(logged().into_iter().filter(|e| topics.admits(e)).collect())
}
