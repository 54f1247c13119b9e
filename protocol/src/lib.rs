//! Wire types shared by the Pulse server and every client, so they cannot drift apart.
//!
//! Owns the event catalogue (names and payloads), the `{ seq, ts, data }` envelope, the
//! acknowledgement shape `{ ok, data | error }` and the only error shape on the wire, and how
//! each type is read from and written to a JSON value without serde's derives, for browser
//! bundles ([`FromValue`], [`ToValue`]). Leaves out any IO: serde and serde_json only, for
//! wasm32 and native alike.
//!
//! Principal types: [`Envelope`], [`Ack`], [`WireError`], [`FromValue`], [`ToValue`].
#![warn(missing_docs, unreachable_pub)]

pub mod calendar;
pub mod catalogue;
pub mod envelope;
pub mod error;
pub mod events;
pub mod money;
pub mod rest;
pub mod value;

pub use envelope::{Ack, Envelope};
pub use error::{ErrorCode, WireError};
pub use value::{FromValue, ToValue};

// For `json_value!` in other crates.
#[doc(hidden)]
pub use serde_json as __serde_json;
