//! The SDK's JavaScript packages (wasm32): what `scripts/build-js-sdk` hands to wasm-bindgen.
//! The events package exports the machines (`pulse_sdk::js::machine`), which `client.js`
//! drives; with feature `state`, the live-state package's `PulseClient` in Rust. The code is
//! pulse-sdk's; this crate only makes the one cdylib of it.

#[cfg(all(target_arch = "wasm32", feature = "state"))]
pub use pulse_sdk::js::client::PulseClient;
#[cfg(all(target_arch = "wasm32", feature = "events"))]
pub use pulse_sdk::js::machine::Machine;
