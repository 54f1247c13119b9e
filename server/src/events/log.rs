//! This module deals with appending to a tenant's event log inside the transaction that makes
//! the change, and with the per-tenant locks that keep `seq` order equal to broadcast order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pulse_protocol::events::Id;
use pulse_protocol::rest::LoggedEvent;
use serde::Serialize;
use socketioxide::socket::Sid;
use sqlx::SqliteConnection;
use tokio::sync::OwnedMutexGuard;

use crate::db;
use crate::error::AppError;

/// One async mutex per tenant, held from the first append to the last emit of a change.
#[derive(Debug, Default)]
pub(crate) struct TenantLocks {
    locks: Mutex<HashMap<Id, Arc<tokio::sync::Mutex<Feed>>>>,
}

/// What a tenant's lock guards besides the order of its log.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    /// Sockets of the tenant that are being caught up from the log (see
    /// [`super::catchup`]); live fan-out skips them until they reach the head.
    pub(crate) behind: HashSet<Sid>,
}

impl TenantLocks {
    /// Waits for the tenant's lock.
    pub(crate) async fn lock(&self, tenant_id: Id) -> OwnedMutexGuard<Feed> {
        let m = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant_id)
            .or_default()
            .clone();
        m.lock_owned().await
    }
}

/// A logged entry and who may see it (`None`: the whole tenant).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) user_id: Option<Id>,
    pub(crate) event: LoggedEvent,
}

/// The entries one change appends, numbered from the log head read when it started.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) tenant_id: Id,
    pub(crate) ts: i64,
    head: u64,
    pub(crate) entries: Vec<Entry>,
}

impl Batch {
    /// Starts a batch; the caller holds the tenant's lock and an open transaction.
    pub(crate) async fn start(
        conn: &mut SqliteConnection,
        tenant_id: Id,
        ts: i64,
    ) -> Result<Batch, AppError> {
        let head = db::event_log::head(conn, tenant_id).await?;
        Ok(Batch { tenant_id, ts, head, entries: Vec::new() })
    }

    /// The `seq` the next [`Batch::append`] will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.head + self.entries.len() as u64 + 1
    }

    /// Appends `event` with `data`, visible to `user_id` only when given.
    pub(crate) async fn append<T: Serialize>(
        &mut self,
        conn: &mut SqliteConnection,
        event: &str,
        user_id: Option<Id>,
        data: &T,
    ) -> Result<u64, AppError> {
        let seq = self.next_seq();
        let event = LoggedEvent {
            seq,
            ts: self.ts,
            event: event.to_owned(),
            data: serde_json::to_value(data).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        db::event_log::insert(conn, self.tenant_id, user_id, &event).await?;
        self.entries.push(Entry { user_id, event });
        Ok(seq)
    }
}
