//! This module deals with the event log and fan-out: numbering business events per tenant
//! (`log.rs`), sending them to the right rooms in `seq` order (`broadcast.rs`), and pushing
//! `stats:updated` (`stats.rs`).
//!
//! Ordering rule: a tenant's append, commit and emit happen under that tenant's lock
//! ([`log::TenantLocks`]), and a reconnecting socket replays and joins its rooms under the
//! same lock, so every socket sees a tenant's events in `seq` order, replay before live.

pub(crate) mod broadcast;
pub(crate) mod log;
pub(crate) mod stats;
