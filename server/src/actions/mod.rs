//! This module deals with business actions, one function per action, shared by the socket
//! handlers (`realtime/`), the REST routes (`routes/`) and the demo generator, so all three
//! validate, store, log and broadcast the same way.
//!
//! A changing action runs inside a [`Change`]: it opens a write transaction that holds the
//! tenant's lock in the database (so `seq` numbering and idempotency keys hold across nodes),
//! checks the idempotency key, makes its writes and appends its log entries, commits, then
//! fans the entries out on this node ([`broadcast::advance`]); other nodes read them from the
//! log when woken ([`crate::feed::tail`]).

pub(crate) mod activity;
pub(crate) mod alert;
pub(crate) mod customer;
pub(crate) mod delivery;
pub(crate) mod notification;
pub(crate) mod payment;
pub(crate) mod ping;
pub(crate) mod stats;
pub(crate) mod user;

use pulse_protocol::events::{
    Activity, ActivityUpdated, Alert, AlertSystem, Id, Level, NotificationNew, TenantEntry,
    UserEntry,
};
use pulse_protocol::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyConnection;

use crate::auth::Caller;
use crate::db;
use crate::error::AppError;
use crate::feed::broadcast;
use crate::feed::log::Batch;
use crate::state::AppState;

/// Longest accepted idempotency key.
const MAX_KEY_LEN: usize = 200;

/// How `begin` went: the key was seen before (its result is returned as is), or the change
/// may proceed.
pub(crate) enum Begin<'a, R> {
    /// The action already ran under this idempotency key; this is what it returned.
    Done(R),
    /// A fresh change.
    Go(Change<'a>),
}

/// One atomic, logged, broadcast change of a tenant's data.
pub(crate) struct Change<'a> {
    state: &'a AppState,
    tx: db::WriteTx,
    batch: Batch,
    key: Option<(String, &'static str)>,
}

/// Starts a change of `caller`'s tenant for `action`, honouring an idempotency key.
pub(crate) async fn begin<'a, R: DeserializeOwned>(
    state: &'a AppState,
    caller: &Caller,
    action: &'static str,
    key: Option<&str>,
) -> Result<Begin<'a, R>, AppError> {
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.len() > MAX_KEY_LEN) {
        return Err(AppError::invalid(format!(
            "idempotency_key is longer than {MAX_KEY_LEN} characters"
        )));
    }
    let mut tx = state.db.begin_write(db::lock::tenant(caller.tenant_id)).await?;
    if let Some(k) = key {
        if let Some((prev_action, result)) =
            db::idempotency::get(&mut tx, caller.tenant_id, k).await?
        {
            if prev_action != action {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    format!("idempotency_key was already used for {prev_action}"),
                ));
            }
            let r = serde_json::from_str(&result).map_err(|e| AppError::Internal(e.to_string()))?;
            return Ok(Begin::Done(r));
        }
    }
    let batch = Batch::start(&mut tx, caller.tenant_id, state.clock.now_ms()).await?;
    Ok(Begin::Go(Change { state, tx, batch, key: key.map(|k| (k.to_owned(), action)) }))
}

impl Change<'_> {
    /// The open transaction.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The change's timestamp (ms since the epoch).
    pub(crate) fn ts(&self) -> i64 {
        self.batch.ts
    }

    /// Appends a log entry for the whole tenant; returns its seq. The entries are written
    /// to the log together, at commit.
    pub(crate) fn append<E: TenantEntry>(&mut self, data: &E::Payload) -> Result<u64, AppError> {
        self.batch.append::<E>(None, data)
    }

    /// Appends a log entry for one user; returns its seq (written at commit, as `append`).
    pub(crate) fn append_for<E: UserEntry>(
        &mut self,
        user_id: Id,
        data: &E::Payload,
    ) -> Result<u64, AppError> {
        self.batch.append::<E>(Some(user_id), data)
    }

    /// Records a line of the activity feed describing entry `seq`, and logs it.
    pub(crate) async fn activity(
        &mut self,
        caller: &Caller,
        action: &str,
        summary: String,
        customer_id: Option<Id>,
        seq: u64,
    ) -> Result<(), AppError> {
        let a = Activity {
            seq,
            ts: self.batch.ts,
            actor: caller.name.clone(),
            action: action.to_owned(),
            summary,
        };
        db::activity::insert(&mut self.tx, self.batch.tenant_id, &a, customer_id).await?;
        self.append::<ActivityUpdated>(&a).map(|_| ())
    }

    /// Notifies every user of the tenant.
    pub(crate) async fn notify_all(
        &mut self,
        title: &str,
        body: &str,
        level: Level,
    ) -> Result<(), AppError> {
        let tenant_id = self.batch.tenant_id;
        for user_id in db::users::ids_of_tenant(&mut self.tx, tenant_id).await? {
            let n = db::notifications::insert(
                &mut self.tx,
                tenant_id,
                user_id,
                title,
                body,
                level,
                self.batch.ts,
            )
            .await?;
            self.append_for::<NotificationNew>(user_id, &n)?;
        }
        Ok(())
    }

    /// Raises a system alert for the whole tenant.
    pub(crate) async fn alert(&mut self, level: Level, message: String) -> Result<(), AppError> {
        self.append::<AlertSystem>(&Alert { level, message }).map(|_| ())
    }

    /// Remembers `result` under the idempotency key, commits (which wakes the other nodes),
    /// and fans the entries out on this node in order.
    pub(crate) async fn commit<R: Serialize>(mut self, result: &R) -> Result<(), AppError> {
        if let Some((key, action)) = &self.key {
            let json =
                serde_json::to_string(result).map_err(|e| AppError::Internal(e.to_string()))?;
            db::idempotency::put(
                &mut self.tx,
                self.batch.tenant_id,
                key,
                action,
                &json,
                self.batch.ts,
            )
            .await?;
        }
        let tenant_id = self.batch.tenant_id;
        let upto = self.batch.last_seq();
        if !self.batch.entries.is_empty() {
            db::event_log::insert(&mut self.tx, tenant_id, &self.batch.entries).await?;
            db::event_log::notify(&mut self.tx, tenant_id, upto).await?;
        }
        self.tx.commit().await?;
        if !self.batch.entries.is_empty() {
            // Committed: a failure to fan out here is not the action's failure. The entries
            // are in the log; the next wake-up or sweep sends them.
            if let Err(e) =
                broadcast::advance(self.state, tenant_id, upto, &self.batch.entries).await
            {
                tracing::warn!(error = %e, tenant_id, "fan-out after commit failed; the sweep retries");
            }
            self.state.stats_dirty.mark(tenant_id);
        }
        Ok(())
    }
}

/// Checks that `customer_id` exists and belongs to `caller`'s tenant. Another tenant's
/// customer answers NOT_FOUND too, so ids do not tell whether they exist elsewhere.
pub(crate) async fn check_customer(
    conn: &mut AnyConnection,
    caller: &Caller,
    customer_id: Id,
) -> Result<(), AppError> {
    match db::customers::tenant_of(conn, customer_id).await? {
        Some(t) if t == caller.tenant_id => Ok(()),
        _ => Err(AppError::not_found(format!("customer {customer_id} does not exist"))),
    }
}

/// A finite number in `(0, max]`.
pub(crate) fn positive(name: &str, v: f64, max: f64) -> Result<f64, AppError> {
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(AppError::invalid(format!("{name} must be a number above 0 and at most {max}")))
    }
}

/// Text no longer than `max` characters.
pub(crate) fn short_text(name: &str, v: &str, max: usize) -> Result<(), AppError> {
    if v.chars().count() > max {
        Err(AppError::invalid(format!("{name} must be at most {max} characters")))
    } else {
        Ok(())
    }
}

/// A `YYYY-MM-DD` day.
pub(crate) fn day(name: &str, v: &str) -> Result<(), AppError> {
    if pulse_protocol::calendar::is_valid_day(v) {
        Ok(())
    } else {
        Err(AppError::invalid(format!("{name} must be a day written YYYY-MM-DD")))
    }
}

/// A customer whose balance goes above this triggers a system alert.
pub(crate) const CREDIT_LIMIT: f64 = 100.0;
