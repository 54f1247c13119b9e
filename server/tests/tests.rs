//! Integration tests: the real server on loopback, driven by the native Pulse SDK.

mod fixture;
mod realtime;
