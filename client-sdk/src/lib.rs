//! Pulse SDK: a Socket.IO v4 client for the browser (wasm32) and native (tokio), with live
//! state for dashboards.
//!
//! The protocol and its policies live in a deterministic state machine, [`Connection`]: it is
//! fed bytes and time and answers with frames to send, transport actions and [`Event`]s. It
//! opens no socket and reads no clock. The drivers in `driver/` do the IO and pass `now` in,
//! so the same core runs in the browser, in tests and in load generators.
//!
//! Application-facing types: [`Client`] (a running connection you can `emit` on and
//! subscribe to) and [`store::LiveState`] (stats, status, RTT), which any UI wraps (the
//! dashboard publishes it to Leptos signals once per frame).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pulse_sdk::Error> {
//! use pulse_sdk::{Client, Config};
//! let client = Client::connect(Config::new("http://127.0.0.1:3000"));
//! let _sub = client.on("stats:updated", |msg| println!("{:?}", msg.args));
//! let reply = client.emit_with_ack("ping", vec![], None).await?;
//! # let _ = reply; Ok(()) }
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod backoff;
mod client;
pub mod codec;
pub mod config;
pub mod connection;
mod driver;
pub mod error;
#[cfg(all(feature = "js", target_arch = "wasm32"))]
pub mod js;
pub mod outbox;
pub mod resume;
pub mod store;
mod time;
mod timer;
#[cfg(not(target_arch = "wasm32"))]
pub mod tls;
pub mod transport;

#[cfg(test)]
mod tests;

pub use client::{
    AuthFuture, Client, Credentials, MaybeSend, ReplyFuture, RestoredAction, Subscription,
};
pub use codec::Json;
pub use config::Config;
pub use connection::{
    AckReply, Connection, DisconnectReason, Event, Io, Message, NeedAuth, Polled, Renewal, Status,
};
pub use driver::http;
#[cfg(all(feature = "handover", target_arch = "wasm32"))]
pub use driver::{hand_over, Handover};
pub use error::{ConnectError, Error};
pub use time::Instant;
pub use transport::Transport;

/// The README's example is compiled as a doc test, so the published page stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

// The JS packages' allocator: talc, smaller and faster per event than Rust's default dlmalloc
// (bench/ANALYSIS.md). Only there: a Rust application chooses its own.
#[cfg(all(feature = "js", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
