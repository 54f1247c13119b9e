//! This module deals with the event catalogue: the names of the original product documents
//! and one payload type per event. Names are constants so a typo is a compile error, not a
//! silent no-op.

use serde::{Deserialize, Serialize};

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
/// Server → client, first on every connection: which log this is and where it stands
/// ([`ConnectionStatus`] in an envelope whose `seq` is the log head).
pub const CONNECTION_STATUS: &str = "connection:status";

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
    /// The epoch of the log `lastSeq` belongs to (from `connection:status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
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

/// `balance:updated`: a customer's new balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceUpdated {
    /// Whose.
    pub customer_id: Id,
    /// The new balance.
    pub balance: f64,
}

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

/// `alert:system`: something every user of the tenant should see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Urgency.
    pub level: Level,
    /// What happened.
    pub message: String,
}

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

/// `notification:mark-read`: one notification, or all of them when `id` is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    /// Which one; all when `None`.
    #[serde(default)]
    pub id: Option<Id>,
}

/// Server → client: notifications were marked read (by this user, maybe in another tab).
/// Not in the original catalogue, which had no way to sync read state across tabs and devices.
pub const NOTIFICATION_READ: &str = "notification:read";

/// `notification:read`: which notifications are now read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsRead {
    /// Their ids.
    pub ids: Vec<Id>,
}

/// Server → client: a user account was added, disabled or enabled. Sent to the tenant's
/// admins and to the user concerned, never to other staff; the data is a
/// [`crate::rest::User`]. A user who receives their own with `active: false` is then
/// disconnected (`error` with ACCOUNT_DISABLED).
pub const USER_UPDATED: &str = "user:updated";

/// Server events that are entries of the tenant's event log: they carry their own `seq`, are
/// replayed on reconnect and served by `GET /api/events`. A client applies each `seq` once.
pub const LOGGED: &[&str] = &[
    DELIVERY_UPDATED,
    PAYMENT_ADDED,
    CUSTOMER_UPDATED,
    BALANCE_UPDATED,
    ACTIVITY_UPDATED,
    NOTIFICATION_NEW,
    NOTIFICATION_READ,
    ALERT_SYSTEM,
    USER_UPDATED,
];

/// Whether `event` is an event-log entry (see [`LOGGED`]).
pub fn is_logged(event: &str) -> bool {
    LOGGED.contains(&event)
}

/// A server → client event with its payload type, for typed subscriptions.
pub trait ServerEvent {
    /// The event name.
    const NAME: &'static str;
    /// What its single argument decodes to.
    type Data: serde::de::DeserializeOwned;
}

macro_rules! server_events {
    ($($(#[$doc:meta])* $ty:ident => $name:ident, $data:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;
        impl ServerEvent for $ty {
            const NAME: &'static str = $name;
            type Data = $data;
        }
    )*};
}

server_events! {
    /// `delivery:updated`.
    DeliveryUpdated => DELIVERY_UPDATED, crate::Envelope<Delivery>;
    /// `payment:added`.
    PaymentAdded => PAYMENT_ADDED, crate::Envelope<Payment>;
    /// `customer:updated`.
    CustomerUpdated => CUSTOMER_UPDATED, crate::Envelope<Customer>;
    /// `balance:updated`.
    BalanceUpdatedEvent => BALANCE_UPDATED, crate::Envelope<BalanceUpdated>;
    /// `stats:updated`.
    StatsUpdated => STATS_UPDATED, crate::Envelope<Stats>;
    /// `activity:updated`.
    ActivityUpdated => ACTIVITY_UPDATED, crate::Envelope<Activity>;
    /// `notification:new`.
    NotificationNew => NOTIFICATION_NEW, crate::Envelope<Notification>;
    /// `notification:read`.
    NotificationRead => NOTIFICATION_READ, crate::Envelope<NotificationsRead>;
    /// `alert:system`.
    AlertSystem => ALERT_SYSTEM, crate::Envelope<Alert>;
    /// `user:updated`.
    UserUpdated => USER_UPDATED, crate::Envelope<crate::rest::User>;
    /// `pong`.
    PongEvent => PONG, Pong;
    /// `error`.
    ErrorEvent => ERROR, crate::WireError;
    /// `connection:status`.
    ConnectionStatusEvent => CONNECTION_STATUS, crate::Envelope<ConnectionStatus>;
}
