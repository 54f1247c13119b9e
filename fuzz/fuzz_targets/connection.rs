//! The connection machine fed random operations: frames from the server, transport reports,
//! time steps, emits and acks. Must never panic and must keep the invariants listed in
//! `src/connection.rs`, which also documents the input format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pulse_fuzz::connection::run(data));
