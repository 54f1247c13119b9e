//! This module deals with the event catalogue: the names from the seeds and one payload type
//! per event. Names are constants so a typo is a compile error, not a silent no-op.

use serde::{Deserialize, Serialize};

/// Client → server: record or change a delivery.
pub const DELIVERY_UPDATE: &str = "delivery:update";
/// Client → server: record a payment.
pub const PAYMENT_ADD: &str = "payment:add";
/// Client → server: change a customer.
pub const CUSTOMER_UPDATE: &str = "customer:update";
/// Client → server: ask for the current stats.
pub const STATS_REQUEST: &str = "stats:request";
/// Client → server: ask for the latest activity (payload: limit).
pub const ACTIVITY_REQUEST: &str = "activity:request";
/// Client → server: mark a notification read.
pub const NOTIFICATION_MARK_READ: &str = "notification:mark-read";
/// Client → server: health ping; the ack carries the server time.
pub const PING: &str = "ping";

/// Server → client: a delivery was recorded or changed.
pub const DELIVERY_UPDATED: &str = "delivery:updated";
/// Server → client: a payment was recorded.
pub const PAYMENT_ADDED: &str = "payment:added";
/// Server → client: a customer changed.
pub const CUSTOMER_UPDATED: &str = "customer:updated";
/// Server → client: a customer's balance changed.
pub const BALANCE_UPDATED: &str = "balance:updated";
/// Server → client: fresh dashboard statistics.
pub const STATS_UPDATED: &str = "stats:updated";
/// Server → client: new activity entries.
pub const ACTIVITY_UPDATED: &str = "activity:updated";
/// Server → client: a notification for this user.
pub const NOTIFICATION_NEW: &str = "notification:new";
/// Server → client: a system-wide alert.
pub const ALERT_SYSTEM: &str = "alert:system";
/// Server → client: answer to `ping`, also emitted as an event.
pub const PONG: &str = "pong";
/// Server → client: a problem not tied to one action (e.g. rate limit hit).
pub const ERROR: &str = "error";

/// The dashboard's headline figures for one tenant, today.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Liters delivered today.
    pub today_liters: f64,
    /// Value of today's deliveries.
    pub today_sales: f64,
    /// Payments collected today.
    pub today_collection: f64,
    /// Sum of all customers' unpaid balances.
    pub outstanding: f64,
    /// Customers with at least one delivery today.
    pub active_customers: u32,
    /// Deliveries recorded today.
    pub deliveries_today: u32,
}

/// The ack payload of `ping`: the server's clock, so a client can also estimate skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// Server time, milliseconds since the Unix epoch.
    pub server_time: i64,
}

/// What a client sends in the Socket.IO CONNECT packet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectAuth {
    /// The JWT from `/api/auth/login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The last event `seq` this client applied; the server replays what came after it.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "lastSeq")]
    pub last_seq: Option<u64>,
}
