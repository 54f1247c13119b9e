//! This module deals with the dashboard's pages, one per file.

pub mod overview;
