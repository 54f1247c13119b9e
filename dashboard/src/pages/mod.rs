//! This module deals with the dashboard's pages, one per file.

pub mod account;
pub mod customers;
pub mod deliveries;
pub mod health;
pub mod login;
pub mod overview;
pub mod payments;
pub mod users;
