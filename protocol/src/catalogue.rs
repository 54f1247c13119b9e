//! This module deals with declaring every server → client event once: its name, payload,
//! kind (a log entry for the tenant or for one user, a snapshot, or a reply to one socket) and
//! the topic a socket subscribes to for it. Everything else derives from the declaration:
//! the name constants, a marker type per event for typed subscriptions ([`ServerEvent`]), the
//! typed message a client decodes ([`ServerMessage`], matched exhaustively, so a client that
//! forgets a new event does not compile), the log's membership ([`is_logged`]), the server's
//! typed appends ([`TenantEntry`], [`UserEntry`]) and which topic an entry belongs to
//! ([`topic_of`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{
    Activity, Alert, BalanceUpdated, ConnectionStatus, Customer, Delivery, Notification,
    NotificationsRead, Payment, Pong, Stats,
};
use crate::value::{FromValue, ToValue};
use crate::{Envelope, WireError};

/// A stream of events a socket can subscribe to (`module:subscribe` with `{ moduleKey }`).
/// Events without a topic (alerts, `connection:status`, `error`, `pong`) reach every socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    /// The overview: `stats:updated` and the activity feed.
    Dashboard,
    /// `delivery:updated`.
    Deliveries,
    /// `payment:added`.
    Payments,
    /// `customer:updated` and `balance:updated`.
    Customers,
    /// The user's own `notification:new` and `notification:read`.
    Notifications,
    /// `user:updated` (admins, and each user for their own account).
    Users,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 6] = [
        Topic::Dashboard,
        Topic::Deliveries,
        Topic::Payments,
        Topic::Customers,
        Topic::Notifications,
        Topic::Users,
    ];

    /// The module keys, for messages (kept equal to [`Topic::ALL`] by a test).
    pub const LIST: &'static str =
        "dashboard, deliveries, payments, customers, notifications, users";

    /// The module key on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Dashboard => "dashboard",
            Topic::Deliveries => "deliveries",
            Topic::Payments => "payments",
            Topic::Customers => "customers",
            Topic::Notifications => "notifications",
            Topic::Users => "users",
        }
    }

    /// The topic a module key names.
    pub fn parse(key: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == key)
    }

    /// The events of this topic.
    pub fn events(self) -> impl Iterator<Item = &'static str> {
        CATALOGUE.iter().filter(move |i| i.topic == Some(self)).map(|i| i.name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of topics. On the wire, a list of module keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Topics(u8);

impl Topics {
    /// No topic: only the events every socket gets.
    pub const NONE: Topics = Topics(0);

    /// Every topic (a client that never said what it wants).
    pub fn all() -> Topics {
        Topic::ALL.into_iter().collect()
    }

    /// Whether `t` is in the set.
    pub fn contains(self, t: Topic) -> bool {
        self.0 & t.bit() != 0
    }

    /// Adds `t`; returns whether it was new.
    pub fn insert(&mut self, t: Topic) -> bool {
        let new = !self.contains(t);
        self.0 |= t.bit();
        new
    }

    /// Removes `t`; returns whether it was there.
    pub fn remove(&mut self, t: Topic) -> bool {
        let had = self.contains(t);
        self.0 &= !t.bit();
        had
    }

    /// The topics in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Topic> {
        Topic::ALL.into_iter().filter(move |t| self.contains(*t))
    }

    /// Whether a socket subscribed to this set receives `event` (events without a topic, and
    /// names outside the catalogue, always pass).
    pub fn admits(self, event: &str) -> bool {
        topic_of(event).is_none_or(|t| self.contains(t))
    }
}

impl FromIterator<Topic> for Topics {
    fn from_iter<I: IntoIterator<Item = Topic>>(iter: I) -> Self {
        let mut s = Topics::NONE;
        for t in iter {
            s.insert(t);
        }
        s
    }
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Topics {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Topics {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys = Vec::<String>::deserialize(d)?;
        keys.iter()
            .map(|k| {
                Topic::parse(k).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown topic {k:?}; topics are {}",
                        Topic::LIST
                    ))
                })
            })
            .collect()
    }
}

impl FromValue for Topic {
    fn from_value(v: &Value) -> Option<Self> {
        Topic::parse(crate::value::unit_variant(v)?)
    }
}

impl ToValue for Topic {
    fn to_value(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl ToValue for Topics {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(|t| t.to_value()).collect())
    }
}

impl FromValue for Topics {
    fn from_value(v: &Value) -> Option<Self> {
        let mut s = Topics::NONE;
        for key in v.as_array()? {
            s.insert(Topic::from_value(key)?);
        }
        Some(s)
    }
}

/// Who a log entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every user of the tenant.
    Tenant,
    /// One user (the entry names them).
    User,
}

/// What kind of event it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An entry of the tenant's event log: `{ seq, ts, data }` with its own `seq`, replayed
    /// on reconnect and served by `GET /api/events`; a client applies each `seq` once.
    Logged(Scope),
    /// A snapshot in an envelope whose `seq` is the log head it reflects (not replayed).
    Snapshot,
    /// A bare payload sent to one socket.
    Reply,
}

/// One catalogue line, for code that only has an event's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    /// The name on the wire.
    pub name: &'static str,
    /// Logged, snapshot or reply.
    pub kind: Kind,
    /// The topic it is subscribed under; `None`: every socket gets it.
    pub topic: Option<Topic>,
}

/// A server → client event with its payload type, for typed subscriptions.
pub trait ServerEvent {
    /// The event name.
    const NAME: &'static str;
    /// Logged, snapshot or reply.
    const KIND: Kind;
    /// The topic it is subscribed under; `None`: every socket gets it.
    const TOPIC: Option<Topic>;
    /// The payload (inside the envelope, for logged events and snapshots).
    type Payload: Serialize + DeserializeOwned + FromValue;
    /// What its single argument decodes to: `Envelope<Payload>`, or `Payload` for replies.
    type Data: Serialize + DeserializeOwned + FromValue;
}

/// A log entry every user of the tenant receives.
///
/// The server appends only these without naming a user; a user's own entry cannot be
/// logged for the whole tenant by mistake:
///
/// ```compile_fail
/// use pulse_protocol::events::{NotificationNew, TenantEntry};
/// fn append_for_tenant<E: TenantEntry>() {}
/// append_for_tenant::<NotificationNew>();
/// ```
pub trait TenantEntry: ServerEvent {}

/// A log entry one user receives.
///
/// ```
/// use pulse_protocol::events::{NotificationNew, UserEntry};
/// fn append_for_user<E: UserEntry>() {}
/// append_for_user::<NotificationNew>();
/// ```
pub trait UserEntry: ServerEvent {}

/// The catalogue line of `event`, if it is a server event of the catalogue.
pub fn info(event: &str) -> Option<&'static EventInfo> {
    CATALOGUE.iter().find(|i| i.name == event)
}

/// Whether `event` is an event-log entry (see [`Kind::Logged`]).
pub fn is_logged(event: &str) -> bool {
    info(event).is_some_and(|i| matches!(i.kind, Kind::Logged(_)))
}

/// The names of every event-log entry, in declaration order.
pub fn logged() -> Vec<&'static str> {
    CATALOGUE.iter().filter(|i| matches!(i.kind, Kind::Logged(_))).map(|i| i.name).collect()
}

/// The topic `event` is subscribed under, if any.
pub fn topic_of(event: &str) -> Option<Topic> {
    info(event).and_then(|i| i.topic)
}

/// Why a server event could not be read as its catalogue type.
#[derive(Debug)]
pub enum DecodeError {
    /// The event had no argument.
    Missing,
    /// The argument did not have the event's type (a server/client version skew).
    Shape,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Missing => f.write_str("the event has no argument"),
            DecodeError::Shape => f.write_str("the argument does not have the event's type"),
        }
    }
}

impl std::error::Error for DecodeError {}

macro_rules! wire {
    (reply, $p:ty) => { $p };
    ($kind:ident, $p:ty) => { Envelope<$p> };
}

macro_rules! kind {
    (tenant) => {
        Kind::Logged(Scope::Tenant)
    };
    (user) => {
        Kind::Logged(Scope::User)
    };
    (snapshot) => {
        Kind::Snapshot
    };
    (reply) => {
        Kind::Reply
    };
}

macro_rules! entry_trait {
    (tenant, $ty:ident) => {
        impl TenantEntry for $ty {}
    };
    (user, $ty:ident) => {
        impl UserEntry for $ty {}
    };
    ($other:ident, $ty:ident) => {};
}

macro_rules! topic {
    (-) => {
        None
    };
    ($t:ident) => {
        Some(Topic::$t)
    };
}

macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $ty:ident, $konst:ident = $name:literal, $payload:ty, $kind:ident, $topic:tt;
    )*) => {
        $(
            $(#[$doc])*
            pub const $konst: &str = $name;

            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl ServerEvent for $ty {
                const NAME: &'static str = $name;
                const KIND: Kind = kind!($kind);
                const TOPIC: Option<Topic> = topic!($topic);
                type Payload = $payload;
                type Data = wire!($kind, $payload);
            }

            entry_trait!($kind, $ty);
        )*

        /// Every server → client event, in declaration order.
        pub const CATALOGUE: &[EventInfo] = &[$(
            EventInfo { name: $name, kind: kind!($kind), topic: topic!($topic) },
        )*];

        /// A server event of the catalogue, decoded as its type. Match it exhaustively: a new
        /// event is then a compile error wherever it is not handled.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ServerMessage {
            $(
                $(#[$doc])*
                $ty(wire!($kind, $payload)),
            )*
        }

        impl ServerMessage {
            /// Decodes event `event` with first argument `arg`; `None` for names outside the
            /// catalogue (an application's own events).
            pub fn decode(event: &str, arg: Option<&Value>) -> Option<Result<Self, DecodeError>> {
                match event {
                    $($name => Some(match arg {
                        None => Err(DecodeError::Missing),
                        // Read as the serde derive reads it, without its deserializer: a
                        // browser bundle then carries none (crate::value).
                        Some(v) => <wire!($kind, $payload)>::from_value(v)
                            .map(ServerMessage::$ty)
                            .ok_or(DecodeError::Shape),
                    }),)*
                    _ => None,
                }
            }

            /// The event's name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ServerMessage::$ty(_) => $name,)*
                }
            }
        }
    };
}

catalogue! {
    /// Server → client: a delivery was recorded or changed.
    DeliveryUpdated, DELIVERY_UPDATED = "delivery:updated", Delivery, tenant, Deliveries;
    /// Server → client: a payment was recorded.
    PaymentAdded, PAYMENT_ADDED = "payment:added", Payment, tenant, Payments;
    /// Server → client: a customer was added or changed.
    CustomerUpdated, CUSTOMER_UPDATED = "customer:updated", Customer, tenant, Customers;
    /// Server → client: a customer's balance changed.
    BalanceUpdatedEvent, BALANCE_UPDATED = "balance:updated", BalanceUpdated, tenant, Customers;
    /// Server → client: a line of the activity feed.
    ActivityUpdated, ACTIVITY_UPDATED = "activity:updated", Activity, tenant, Dashboard;
    /// Server → client: a notification for this user.
    NotificationNew, NOTIFICATION_NEW = "notification:new", Notification, user, Notifications;
    /// Server → client: notifications were marked read (by this user, maybe in another tab).
    NotificationRead, NOTIFICATION_READ = "notification:read", NotificationsRead, user, Notifications;
    /// Server → client: a system-wide alert, which every socket of the tenant receives.
    AlertSystem, ALERT_SYSTEM = "alert:system", Alert, tenant, -;
    /// Server → client: a user account was added, disabled or enabled. Sent to the tenant's
    /// admins and to the user concerned, never to other staff. A user who receives their
    /// own with `active: false` is then disconnected (`error` with ACCOUNT_DISABLED).
    UserUpdated, USER_UPDATED = "user:updated", crate::rest::User, user, Users;
    /// Server → client: fresh dashboard statistics, at the log head they reflect.
    StatsUpdated, STATS_UPDATED = "stats:updated", Stats, snapshot, Dashboard;
    /// Server → client, first on every connection: which log this is and where it stands
    /// ([`ConnectionStatus`] in an envelope whose `seq` is the log head).
    ConnectionStatusEvent, CONNECTION_STATUS = "connection:status", ConnectionStatus, snapshot, -;
    /// Server → client: answer to `ping`, also emitted as an event.
    PongEvent, PONG = "pong", Pong, reply, -;
    /// Server → client: a problem not tied to one action (e.g. rate limit hit).
    ErrorEvent, ERROR = "error", WireError, reply, -;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_event_is_declared_once() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            assert!(CATALOGUE[i + 1..].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }

    #[test]
    fn membership_and_topics_derive_from_the_declaration() {
        assert!(is_logged(PAYMENT_ADDED) && is_logged(USER_UPDATED) && is_logged(ALERT_SYSTEM));
        assert!(!is_logged(STATS_UPDATED) && !is_logged(ERROR) && !is_logged("chat"));
        assert_eq!(topic_of(BALANCE_UPDATED), Some(Topic::Customers));
        assert_eq!(
            Topic::Customers.events().collect::<Vec<_>>(),
            [CUSTOMER_UPDATED, BALANCE_UPDATED]
        );
        assert_eq!(PaymentAdded::KIND, Kind::Logged(Scope::Tenant));
        assert_eq!(NotificationNew::KIND, Kind::Logged(Scope::User));
        // Every topic has events; every logged event is subscribed under one, except alerts.
        for t in Topic::ALL {
            assert!(t.events().next().is_some(), "{t} has no events");
        }
    }

    #[test]
    fn topic_sets_filter_and_round_trip_as_module_keys() {
        let s: Topics = [Topic::Payments, Topic::Notifications].into_iter().collect();
        assert!(s.admits(PAYMENT_ADDED) && s.admits(ALERT_SYSTEM) && s.admits("chat"));
        assert!(!s.admits(DELIVERY_UPDATED) && !s.admits(STATS_UPDATED));
        let wire = serde_json::to_value(s).unwrap();
        assert_eq!(wire, json!(["payments", "notifications"]));
        assert_eq!(serde_json::from_value::<Topics>(wire).unwrap(), s);
        let err = serde_json::from_value::<Topics>(json!(["payments", "kpi"])).unwrap_err();
        assert!(err.to_string().contains("unknown topic \"kpi\""), "{err}");
        assert_eq!(Topics::all().iter().count(), Topic::ALL.len());
        assert_eq!(Topic::LIST, Topic::ALL.map(Topic::as_str).join(", "));
    }

    #[test]
    fn messages_decode_as_their_declared_type() {
        let m = ServerMessage::decode(
            BALANCE_UPDATED,
            Some(&json!({ "seq": 4, "ts": 1, "data": { "customer_id": 7, "balance": 2.5 } })),
        );
        let Some(Ok(ServerMessage::BalanceUpdatedEvent(env))) = m else { panic!("{m:?}") };
        assert_eq!((env.seq, env.data.customer_id), (4, 7));
        assert_eq!(ServerMessage::BalanceUpdatedEvent(env).name(), BALANCE_UPDATED);
        let pong = ServerMessage::decode(PONG, Some(&json!({ "server_time": 5 })));
        assert!(matches!(pong, Some(Ok(ServerMessage::PongEvent(Pong { server_time: 5 })))));
        assert!(matches!(
            ServerMessage::decode(PAYMENT_ADDED, Some(&json!("nope"))),
            Some(Err(DecodeError::Shape))
        ));
        assert!(matches!(
            ServerMessage::decode(PAYMENT_ADDED, None),
            Some(Err(DecodeError::Missing))
        ));
        assert!(ServerMessage::decode("chat", Some(&json!(1))).is_none());
    }
}
