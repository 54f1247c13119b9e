//! This module deals with which clock type the SDK uses: `web_time::Instant`, because `std`'s
//! `Instant::now()` panics on wasm32-unknown-unknown. Only `driver/` ever calls `now()`.

pub use web_time::Instant;
