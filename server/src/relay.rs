//! This module deals with Redis, which carries what crosses nodes outside the event log:
//! `stats:updated`, computed once per tenant per interval by the leader and published on
//! [`STATS`]; every node relays it to its own sockets of that tenant.
//!
//! Logged events never go through Redis: each node reads them from the shared log in `seq`
//! order (see [`crate::feed::tail`]), so losing Redis loses no entry. Without Redis (not
//! configured, or down) every node computes and pushes stats for its own sockets instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use pulse_protocol::events::{Id, Stats};
use pulse_protocol::Envelope;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};

use crate::feed::stats;
use crate::state::AppState;

/// The channel of stats pushes.
pub(crate) const STATS: &str = "pulse:stats";

/// How long to wait before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

/// A stats push as published.
#[derive(Debug, Serialize, Deserialize)]
struct StatsMessage {
    tenant_id: Id,
    stats: Envelope<Stats>,
}

/// The link to Redis.
#[derive(Debug)]
pub struct Relay {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Subscribed and publishing works.
    up: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Relay {
    /// A relay for `url` (`redis://host:port`); connects lazily.
    pub(crate) fn new(url: &str) -> Result<Relay, redis::RedisError> {
        Ok(Relay {
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
            up: AtomicBool::new(false),
            last_error: Mutex::new(None),
        })
    }

    /// Whether Redis works now (subscribed, last publish succeeded).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// `ok`, or the last error, for `/health`.
    pub fn status(&self) -> String {
        if self.is_up() {
            "ok".to_owned()
        } else {
            self.last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_else(|| "not connected".to_owned())
        }
    }

    fn set_up(&self, up: bool, error: Option<String>) {
        self.up.store(up, Ordering::Relaxed);
        metrics::gauge!("pulse_redis_up").set(if up { 1.0 } else { 0.0 });
        if let Some(e) = error {
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    }

    /// Publishes a tenant's stats to every node; false if Redis is unreachable.
    pub(crate) async fn publish_stats(&self, tenant_id: Id, stats: Envelope<Stats>) -> bool {
        let Ok(payload) = serde_json::to_string(&StatsMessage { tenant_id, stats }) else {
            return false;
        };
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            match self.client.get_multiplexed_async_connection().await {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    self.set_up(false, Some(e.to_string()));
                    return false;
                }
            }
        }
        let Some(conn) = guard.as_mut() else { return false };
        let sent: Result<i64, _> =
            redis::cmd("PUBLISH").arg(STATS).arg(payload).query_async(conn).await;
        match sent {
            Ok(_) => true,
            Err(e) => {
                *guard = None;
                self.set_up(false, Some(e.to_string()));
                false
            }
        }
    }
}

/// Relays published stats to this node's sockets; reconnects whenever Redis goes away.
/// Runs until aborted.
pub(crate) async fn run(state: AppState) {
    let Some(relay) = state.redis.clone() else { return };
    loop {
        match relay.client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(STATS).await {
                Ok(()) => {
                    relay.set_up(true, None);
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else { continue };
                        match serde_json::from_str::<StatsMessage>(&payload) {
                            Ok(m) => stats::push(&state, m.tenant_id, &m.stats),
                            Err(e) => tracing::warn!(error = %e, "unreadable stats message"),
                        }
                    }
                    relay.set_up(false, Some("subscription ended".to_owned()));
                }
                Err(e) => relay.set_up(false, Some(e.to_string())),
            },
            Err(e) => relay.set_up(false, Some(e.to_string())),
        }
        tokio::time::sleep(RETRY).await;
    }
}
