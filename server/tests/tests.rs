//! Integration tests: the real server on loopback with a temporary SQLite file, driven by
//! the native Pulse SDK, reqwest and raw WebSockets. With `PULSE_TEST_DB=postgres` every
//! server gets its own database on a PostgreSQL server started for the test binary instead.
//! `cluster` runs several server processes on one PostgreSQL database with Redis, behind
//! HAProxy (`services` starts those).

mod accounts;
mod actions;
mod auth;
mod backup;
mod browser;
mod cluster;
mod deploy;
mod epochs;
mod events;
mod faultproxy;
mod faults;
mod fixture;
mod isolation;
mod limits;
mod login;
mod loss;
mod ops;
mod outage;
mod outbox;
mod production;
mod realtime;
mod rest;
mod restart;
mod services;
mod subscriptions;
mod tls;
mod transports;
