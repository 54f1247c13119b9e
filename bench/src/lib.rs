//! Pulse's benchmarks, as a library: a load generator on the native pulse-sdk, the servers it
//! measures (Pulse in bench mode and an official Node.js socket.io@4 server, started as child
//! processes; Pulse also on PostgreSQL and as a 2-node cluster behind HAProxy), a raw TCP
//! floor that shows what fan-out costs on the machine with no protocol at all, the
//! logged-path scenario (real writes through the event log), and the reports that set them
//! side by side.
//!
//! Owns measuring; leaves serving and the protocol to `pulse-server` and `pulse-sdk`, which
//! it uses exactly as applications do. The `pulse-bench` binary (see its module docs for the
//! method and the caveats) and the smoke test in `tests/` both call [`load::run_broadcast`].
//!
//! Principal types: [`load::Scenario`], [`load::Target`], [`report::Report`].
#![warn(missing_docs, unreachable_pub)]
// An application's library: its docs are for the people who work on it, and a module's doc
// may point at the private item that does the work (`cargo doc --document-private-items`
// resolves those links; without it they show as plain code).
#![allow(rustdoc::private_intra_doc_links)]

pub mod cluster;
pub mod floor;
pub mod load;
pub mod logged;
pub mod process;
pub mod report;
pub mod servers;
pub mod sioc;
