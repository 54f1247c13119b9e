//! This module deals with the dashboard's reusable visual units, one per file.

pub mod clock;
pub mod connection_indicator;
pub mod customer_select;
pub mod fallback_banner;
pub mod kpi_card;
pub mod load_error;
pub mod minute_chart;
pub mod notifications;
pub mod sparkline;
pub mod toast;
