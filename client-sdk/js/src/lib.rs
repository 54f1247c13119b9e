//! The SDK's JavaScript packages (wasm32): what `scripts/build-js-sdk` hands to wasm-bindgen.
//! Both export the machines (`pulse_sdk::js::machine`), which `client.js` drives; with
//! feature `state`, with the live state's methods too. The code is pulse-sdk's; this crate
//! only makes the one cdylib of it.

#[cfg(all(target_arch = "wasm32", feature = "events"))]
pub use pulse_sdk::js::machine::Machine;
