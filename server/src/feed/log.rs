//! This module deals with appending to a tenant's event log inside the transaction that makes
//! the change, and with this node's per-tenant [`Feed`]: how far it has fanned the log out.
//!
//! `seq` numbering is the database's job (the write transaction holds the tenant's lock, see
//! [`crate::db::Db::begin_write`]), so it holds across nodes. Fan-out order is this node's
//! job: a tenant's feed lock is held while entries go out, and entries go out only in `seq`
//! order from the feed's cursor, whichever node wrote them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pulse_protocol::events::{Id, ServerEvent};
use pulse_protocol::rest::LoggedEvent;
use socketioxide::socket::Sid;
use sqlx::AnyConnection;
use tokio::sync::OwnedMutexGuard;

use crate::db;
use crate::error::AppError;

/// One async mutex per tenant, held while its entries are fanned out on this node.
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    locks: Mutex<HashMap<Id, Arc<tokio::sync::Mutex<Feed>>>>,
    /// Each tenant log's epoch, once read: it never changes while the database is open.
    epochs: Mutex<HashMap<Id, String>>,
}

/// How far this node has fanned out a tenant's log, and who is catching up.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    /// The last `seq` fanned out to this node's sockets. `None` until a socket of the tenant
    /// connects here (nothing to fan out before); every entry up to it is committed.
    pub(crate) cursor: Option<u64>,
    /// Sockets of the tenant that are being caught up from the log (see
    /// [`super::catchup`]); live fan-out skips them until they reach the head.
    pub(crate) behind: HashSet<Sid>,
}

impl Feeds {
    /// Tenants whose feed has a cursor (some socket of theirs connected here).
    pub(crate) fn tenants(&self) -> Vec<Id> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }

    /// The tenant log's epoch (see `pulse_protocol::events::ConnectionStatus`), created
    /// with a random value the first time any node asks.
    pub(crate) async fn epoch(
        &self,
        conn: &mut AnyConnection,
        tenant_id: Id,
        now: i64,
    ) -> Result<String, sqlx::Error> {
        if let Some(e) = self.epochs.lock().unwrap_or_else(|e| e.into_inner()).get(&tenant_id) {
            return Ok(e.clone());
        }
        let fresh = format!("{:016x}", rand::random::<u64>());
        let epoch = db::event_log::epoch(conn, tenant_id, &fresh, now).await?;
        self.epochs.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant_id, epoch.clone());
        Ok(epoch)
    }

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

/// The entries one change appends, numbered from the log head read when it started, and
/// written to the log in one statement when it commits.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) tenant_id: Id,
    pub(crate) ts: i64,
    head: u64,
    pub(crate) entries: Vec<Entry>,
}

impl Batch {
    /// Starts a batch; the caller holds an open write transaction (which holds the tenant's
    /// lock in the database).
    pub(crate) async fn start(
        conn: &mut AnyConnection,
        tenant_id: Id,
        ts: i64,
    ) -> Result<Batch, AppError> {
        let head = db::event_log::head(conn, tenant_id).await?;
        Ok(Batch { tenant_id, ts, head, entries: Vec::new() })
    }

    /// The last `seq` appended (the head before the batch if none was).
    pub(crate) fn last_seq(&self) -> u64 {
        self.head + self.entries.len() as u64
    }

    /// The `seq` the next [`Batch::append`] will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.head + self.entries.len() as u64 + 1
    }

    /// Appends event `E` with `data`, visible to `user_id` only when given (the callers in
    /// `actions` hold the declared scope: [`TenantEntry`] or [`UserEntry`]).
    ///
    /// [`TenantEntry`]: pulse_protocol::events::TenantEntry
    /// [`UserEntry`]: pulse_protocol::events::UserEntry
    pub(crate) fn append<E: ServerEvent>(
        &mut self,
        user_id: Option<Id>,
        data: &E::Payload,
    ) -> Result<u64, AppError> {
        let seq = self.next_seq();
        let event = LoggedEvent {
            seq,
            ts: self.ts,
            event: E::NAME.to_owned(),
            data: serde_json::to_value(data).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        self.entries.push(Entry { user_id, event });
        Ok(seq)
    }
}
