//! This module deals with each tenant's feed: its event log and the fan-out of it (named
//! apart from `pulse_protocol::events`, the payloads, and `routes/events.rs`, the REST view
//! of the log): numbering business events per tenant
//! (`log.rs`), sending them to this node's sockets in `seq` order (`broadcast.rs`), following
//! other nodes' writes (`tail.rs`), catching up sockets that are behind from the log
//! (`catchup.rs`), and pushing `stats:updated` (`stats.rs`).
//!
//! Ordering rule: the database numbers a tenant's entries under the tenant's lock (one
//! writer at a time, on any node). Each node keeps, per tenant, a cursor (the last `seq` it
//! fanned out) and moves it only forward, one entry at a time, under the tenant's feed lock
//! ([`log::Feeds`]); a reconnecting socket joins its rooms and starts catching up under the
//! same lock. So every socket sees a tenant's events in `seq` order, once, missed entries
//! before live ones, whichever node wrote them.

pub(crate) mod broadcast;
pub(crate) mod catchup;
pub(crate) mod log;
pub(crate) mod stats;
pub(crate) mod tail;
