//! Integration tests: the real server on loopback with a temporary SQLite file, driven by
//! the native Pulse SDK, reqwest and raw WebSockets.

mod actions;
mod auth;
mod events;
mod fixture;
mod isolation;
mod limits;
mod loss;
mod ops;
mod outage;
mod realtime;
mod restart;
mod services;
