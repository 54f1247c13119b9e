//! Scenario tests of the connection machine against a scripted server, in simulated time.

mod connection;
pub(crate) mod util;
