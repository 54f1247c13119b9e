//! This module deals with the events' payload types and the client → server event names.
//! The server → client events are declared in [`crate::catalogue`] and re-exported here.
//! Names are constants so a typo is a compile error, not a silent no-op.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::value::{FromValue, ToValue};

pub use crate::catalogue::*;

/// Client → server: record or change a delivery.
pub const DELIVERY_UPDATE: &str = "delivery:update";
/// Client → server: record a payment.
pub const PAYMENT_ADD: &str = "payment:add";
/// Client → server: change a customer.
pub const CUSTOMER_UPDATE: &str = "customer:update";
/// Client → server: add a customer (admins only).
pub const CUSTOMER_ADD: &str = "customer:add";
/// Client → server: ask for the current stats.
pub const STATS_REQUEST: &str = "stats:request";
/// Client → server: ask for the latest activity (payload: limit).
pub const ACTIVITY_REQUEST: &str = "activity:request";
/// Client → server: mark a notification read.
pub const NOTIFICATION_MARK_READ: &str = "notification:mark-read";
/// Client → server: health ping; the ack carries the server time.
pub const PING: &str = "ping";
/// Client → server: receive a topic's events from now on (payload [`ModuleKey`]; the ack
/// carries [`Subscribed`]).
pub const MODULE_SUBSCRIBE: &str = "module:subscribe";
/// Client → server: stop receiving a topic's events (payload [`ModuleKey`]).
pub const MODULE_UNSUBSCRIBE: &str = "module:unsubscribe";
/// Client → server: `module:subscribe` for the `dashboard` topic (no payload).
pub const DASHBOARD_SUBSCRIBE: &str = "dashboard:subscribe";
/// Client → server: `module:subscribe` for the `notifications` topic (no payload).
pub const NOTIFICATION_SUBSCRIBE: &str = "notification:subscribe";

/// `module:subscribe` / `module:unsubscribe`: which topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleKey {
    /// The topic, e.g. `payments`.
    #[serde(rename = "moduleKey")]
    pub module_key: Topic,
}

/// The ack of a subscription change: the socket's topics now, and the log head when the
/// change took effect. Entries after `head` of a topic just subscribed arrive live; state
/// before it is loaded over REST once the ack is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// Every topic the socket now receives.
    pub topics: Topics,
    /// The log head when the change took effect.
    pub head: u64,
}
crate::json_value!(Subscribed { topics, head });

/// What a client learns on connecting: the identity of the tenant's event log and its head.
/// A log's `epoch` is a random id created with the log; positions (`seq`) only mean
/// something within one epoch. A client sends the epoch back with `lastSeq` when it
/// reconnects; a server whose log has another epoch (a wiped or replaced database, another
/// deployment behind the same URL) answers `RESYNC_REQUIRED` instead of replaying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// The log's identity.
    pub epoch: String,
    /// The log's latest `seq` when the socket connected.
    pub head: u64,
    /// The server node the socket is connected to.
    pub node: String,
}
crate::json_value!(ConnectionStatus { epoch, head, node });

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
crate::json_value!(Stats {
    today_liters,
    today_sales,
    today_collection,
    outstanding,
    active_customers,
    deliveries_today
});

/// The ack payload of `ping`: the server's clock, so a client can also estimate skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// Server time, milliseconds since the Unix epoch.
    pub server_time: i64,
}
crate::json_value!(Pong { server_time });

/// What a client sends in the Socket.IO CONNECT packet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectAuth {
    /// The JWT from `/api/auth/login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The last event `seq` this client applied; the server replays what came after it.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "lastSeq")]
    pub last_seq: Option<u64>,
    /// The epoch of the log `lastSeq` belongs to (from `connection:status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The topics to receive; absent: every topic (a client that does not subscribe). The
    /// replay after `lastSeq` honours them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics: Option<Topics>,
}

impl ConnectAuth {
    /// Credentials with `token` and no position (the SDK adds its own).
    pub fn with_token(token: impl Into<String>) -> Self {
        ConnectAuth { token: Some(token.into()), ..ConnectAuth::default() }
    }
}

/// Database ids.
pub type Id = i64;

/// How a customer paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    /// Cash in hand.
    Cash,
    /// Mobile money.
    Mobile,
    /// Bank transfer.
    Bank,
}

impl PaymentMethod {
    /// Every method.
    pub const ALL: [PaymentMethod; 3] =
        [PaymentMethod::Cash, PaymentMethod::Mobile, PaymentMethod::Bank];

    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "CASH",
            PaymentMethod::Mobile => "MOBILE",
            PaymentMethod::Bank => "BANK",
        }
    }
}

impl FromValue for PaymentMethod {
    fn from_value(v: &Value) -> Option<Self> {
        let name = crate::value::unit_variant(v)?;
        PaymentMethod::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl ToValue for PaymentMethod {
    fn to_value(&self) -> Value {
        Value::from(self.as_str())
    }
}

/// How urgent a notification or alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// For information.
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

impl Level {
    /// Every level, least urgent first.
    pub const ALL: [Level; 3] = [Level::Info, Level::Warning, Level::Critical];

    /// The level as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

impl FromValue for Level {
    fn from_value(v: &Value) -> Option<Self> {
        let name = crate::value::unit_variant(v)?;
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

impl ToValue for Level {
    fn to_value(&self) -> Value {
        Value::from(self.as_str())
    }
}

/// A customer and their running balance (positive: they owe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Id.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Delivery address.
    #[serde(default)]
    pub address: Option<String>,
    /// Default price per liter for this customer.
    pub price_per_liter: f64,
    /// Deliveries minus payments.
    pub balance: f64,
    /// Whether deliveries are ongoing.
    pub active: bool,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}
crate::json_value!(Customer {
    id,
    name,
    phone = Option::default,
    address = Option::default,
    price_per_liter,
    balance,
    active,
    updated_at
});

/// One day's delivery to one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Id.
    pub id: Id,
    /// Who received it.
    pub customer_id: Id,
    /// Their name, for display.
    pub customer_name: String,
    /// Calendar day, `YYYY-MM-DD`.
    pub date: String,
    /// Liters delivered.
    pub quantity: f64,
    /// Price per liter applied.
    pub price_per_liter: f64,
    /// `quantity × price_per_liter`, computed by the server.
    pub amount: f64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}
crate::json_value!(Delivery {
    id,
    customer_id,
    customer_name,
    date,
    quantity,
    price_per_liter,
    amount,
    updated_at
});

/// A payment received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// Id.
    pub id: Id,
    /// Who paid.
    pub customer_id: Id,
    /// Their name, for display.
    pub customer_name: String,
    /// Amount received.
    pub amount: f64,
    /// How.
    pub method: PaymentMethod,
    /// Calendar day, `YYYY-MM-DD`.
    pub date: String,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// When it was recorded, ms since the epoch.
    pub created_at: i64,
}
crate::json_value!(Payment {
    id,
    customer_id,
    customer_name,
    amount,
    method,
    date,
    note = Option::default,
    created_at
});

/// `balance:updated`: a customer's new balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceUpdated {
    /// Whose.
    pub customer_id: Id,
    /// The new balance.
    pub balance: f64,
}
crate::json_value!(BalanceUpdated { customer_id, balance });

/// A notification addressed to one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: Id,
    /// Short title.
    pub title: String,
    /// Details.
    pub body: String,
    /// Urgency.
    pub level: Level,
    /// When, ms since the epoch.
    pub created_at: i64,
    /// Whether the user has read it.
    pub read: bool,
}
crate::json_value!(Notification { id, title, body, level, created_at, read });

/// One line of the activity feed (also the audit trail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The event-log position it describes.
    pub seq: u64,
    /// When, ms since the epoch.
    pub ts: i64,
    /// Who did it (user name, or "demo").
    pub actor: String,
    /// The event, e.g. `payment:added`.
    pub action: String,
    /// One human sentence.
    pub summary: String,
}
crate::json_value!(Activity { seq, ts, actor, action, summary });

/// `alert:system`: something every user of the tenant should see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Urgency.
    pub level: Level,
    /// What happened.
    pub message: String,
}
crate::json_value!(Alert { level, message });

/// `delivery:update`: record a delivery (`id: None`) or change one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryUpdate {
    /// The delivery to change; `None` records a new one.
    #[serde(default)]
    pub id: Option<Id>,
    /// Who receives it.
    pub customer_id: Id,
    /// Calendar day, `YYYY-MM-DD`.
    pub date: String,
    /// Liters, > 0.
    pub quantity: f64,
    /// Price per liter; the customer's default when absent.
    #[serde(default)]
    pub price_per_liter: Option<f64>,
    /// Makes a retried action apply once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}
crate::json_value!(DeliveryUpdate {
    id = Option::default,
    customer_id,
    date,
    quantity,
    price_per_liter = Option::default,
    idempotency_key = Option::default,
});

/// `payment:add`: record a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentAdd {
    /// Who paid.
    pub customer_id: Id,
    /// Amount, > 0.
    pub amount: f64,
    /// How.
    pub method: PaymentMethod,
    /// Calendar day, `YYYY-MM-DD`; today when absent.
    #[serde(default)]
    pub date: Option<String>,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// Makes a retried action apply once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}
crate::json_value!(PaymentAdd {
    customer_id,
    amount,
    method,
    date = Option::default,
    note = Option::default,
    idempotency_key = Option::default,
});

/// `customer:update`: change some of a customer's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerUpdate {
    /// Which customer.
    pub id: Id,
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// New address.
    #[serde(default)]
    pub address: Option<String>,
    /// New default price.
    #[serde(default)]
    pub price_per_liter: Option<f64>,
    /// Start or stop deliveries.
    #[serde(default)]
    pub active: Option<bool>,
    /// Makes a retried action apply once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}
crate::json_value!(CustomerUpdate {
    id,
    name = Option::default,
    phone = Option::default,
    address = Option::default,
    price_per_liter = Option::default,
    active = Option::default,
    idempotency_key = Option::default,
});

/// `customer:add`: a new customer, active from the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerAdd {
    /// Display name.
    pub name: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Delivery address.
    #[serde(default)]
    pub address: Option<String>,
    /// Default price per liter.
    pub price_per_liter: f64,
    /// Makes a retried action apply once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}
crate::json_value!(CustomerAdd {
    name,
    phone = Option::default,
    address = Option::default,
    price_per_liter,
    idempotency_key = Option::default,
});

/// `notification:mark-read`: one notification, or all of them when `id` is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    /// Which one; all when `None`.
    #[serde(default)]
    pub id: Option<Id>,
}
crate::json_value!(MarkRead { id = Option::default });

/// `notification:read`: which notifications are now read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsRead {
    /// Their ids.
    pub ids: Vec<Id>,
}
crate::json_value!(NotificationsRead { ids });
