//! This module deals with the event log and fan-out: numbering business events per tenant
//! (`log.rs`), sending them to the right rooms in `seq` order (`broadcast.rs`), catching up
//! sockets that are behind from the log (`catchup.rs`), and pushing `stats:updated`
//! (`stats.rs`).
//!
//! Ordering rule: a tenant's append, commit and emit happen under that tenant's lock
//! ([`log::TenantLocks`]), and a reconnecting socket joins its rooms and starts catching up
//! under the same lock, so every socket sees a tenant's events in `seq` order, missed
//! entries before live ones.

pub(crate) mod broadcast;
pub(crate) mod catchup;
pub(crate) mod log;
pub(crate) mod stats;
