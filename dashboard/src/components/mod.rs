//! This module deals with the dashboard's reusable visual units, one per file.

pub mod clock;
pub mod connection_indicator;
pub mod kpi_card;
