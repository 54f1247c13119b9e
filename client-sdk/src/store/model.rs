//! This module deals with what the store keeps of each event's payload. [`Typed`] decodes
//! payloads into the protocol's types, for Rust UIs. [`Raw`] keeps the JSON the server sent
//! and reads only the fields the fold needs (ids, times, balances, read flags): the SDK's
//! JavaScript package folds with it and so carries no decoder per event type, and a page
//! gets each item exactly as the server sent it. Both run the same fold,
//! [`LiveState::apply`](super::LiveState::apply).

use std::fmt::Debug;

use pulse_protocol::events::{
    Activity, Alert, Customer, Delivery, Id, Notification, Payment, ServerMessage, Stats,
    ACTIVITY_UPDATED, ALERT_SYSTEM, BALANCE_UPDATED, CONNECTION_STATUS, CUSTOMER_UPDATED,
    DELIVERY_UPDATED, ERROR, NOTIFICATION_NEW, NOTIFICATION_READ, PAYMENT_ADDED, PONG,
    STATS_UPDATED, USER_UPDATED,
};
use pulse_protocol::{Envelope, ErrorCode};
use serde::Serialize;
use serde_json::Value;

/// How the store holds payloads; see the module's doc.
pub trait Model: 'static {
    /// `stats:updated`'s payload.
    type Stats: Clone + Debug + PartialEq + Serialize;
    /// A delivery.
    type Delivery: Record;
    /// A payment.
    type Payment: Record;
    /// A customer.
    type Customer: CustomerRecord;
    /// A notification.
    type Notification: NotificationRecord;
    /// A line of the activity feed.
    type Activity: Record;
    /// A system alert.
    type Alert: Clone + Debug + PartialEq + Serialize;

    /// Reads event `event` with first argument `arg` as the fold sees it: `None` for names
    /// outside the catalogue (an application's own events), `Some(Err(()))` for a payload
    /// that does not have the event's shape.
    fn read(event: &str, arg: Option<&Value>) -> Option<Result<Fold<Self>, ()>>
    where
        Self: Sized;
}

/// A row of a list the store keeps.
pub trait Record: Clone + Debug + PartialEq + Serialize {
    /// What a row is replaced by: its id (an activity line's `seq`).
    fn key(&self) -> Id;
    /// What lists are ordered by, newest first: a delivery's last change, a payment's or a
    /// notification's creation, an activity line's `seq`.
    fn at(&self) -> i64;
}

/// A customer row.
pub trait CustomerRecord: Record {
    /// Sets the balance `balance:updated` carries.
    fn set_balance(&mut self, balance: f64);
    /// The balance.
    fn balance(&self) -> f64;
}

/// A notification row.
pub trait NotificationRecord: Record {
    /// Whether it was read.
    fn read(&self) -> bool;
    /// Marks it read.
    fn mark_read(&mut self);
}

/// A catalogue event as the fold takes it; `ts` is the event's server time.
#[derive(Debug)]
pub enum Fold<M: Model> {
    /// `connection:status`: the log's epoch.
    Epoch(String),
    /// `error` with `RESYNC_REQUIRED`.
    Resync,
    /// `stats:updated`.
    Stats(Envelope<M::Stats>),
    /// `delivery:updated`.
    Delivery(i64, M::Delivery),
    /// `payment:added`.
    Payment(i64, M::Payment),
    /// `customer:updated`.
    Customer(i64, M::Customer),
    /// `balance:updated`: customer id, balance.
    Balance(i64, Id, f64),
    /// `activity:updated`.
    Activity(i64, M::Activity),
    /// `notification:new`.
    Notification(i64, M::Notification),
    /// `notification:read`: the ids now read.
    Read(i64, Vec<Id>),
    /// `alert:system`.
    Alert(Envelope<M::Alert>),
    /// A catalogue event that is not part of the live state (`pong`, other errors, accounts).
    Nothing,
}

/// Payloads as the protocol's types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Typed;

impl Model for Typed {
    type Stats = Stats;
    type Delivery = Delivery;
    type Payment = Payment;
    type Customer = Customer;
    type Notification = Notification;
    type Activity = Activity;
    type Alert = Alert;

    fn read(event: &str, arg: Option<&Value>) -> Option<Result<Fold<Self>, ()>> {
        let msg = match ServerMessage::decode(event, arg)? {
            Ok(msg) => msg,
            Err(_) => return Some(Err(())),
        };
        // Exhaustive: an event added to the catalogue does not compile until it is handled
        // here (or explicitly ignored).
        Some(Ok(match msg {
            ServerMessage::ConnectionStatusEvent(env) => Fold::Epoch(env.data.epoch),
            ServerMessage::ErrorEvent(e) if e.code == ErrorCode::ResyncRequired => Fold::Resync,
            ServerMessage::ErrorEvent(_) | ServerMessage::PongEvent(_) => Fold::Nothing,
            ServerMessage::StatsUpdated(env) => Fold::Stats(env),
            ServerMessage::DeliveryUpdated(env) => Fold::Delivery(env.ts, env.data),
            ServerMessage::PaymentAdded(env) => Fold::Payment(env.ts, env.data),
            ServerMessage::CustomerUpdated(env) => Fold::Customer(env.ts, env.data),
            ServerMessage::BalanceUpdatedEvent(env) => {
                Fold::Balance(env.ts, env.data.customer_id, env.data.balance)
            }
            ServerMessage::ActivityUpdated(env) => Fold::Activity(env.ts, env.data),
            ServerMessage::NotificationNew(env) => Fold::Notification(env.ts, env.data),
            ServerMessage::NotificationRead(env) => Fold::Read(env.ts, env.data.ids),
            ServerMessage::AlertSystem(env) => Fold::Alert(env),
            // Accounts are not part of the live business state; the Users page loads them.
            ServerMessage::UserUpdated(_) => Fold::Nothing,
        }))
    }
}

impl Record for Delivery {
    fn key(&self) -> Id {
        self.id
    }
    fn at(&self) -> i64 {
        self.updated_at
    }
}

impl Record for Payment {
    fn key(&self) -> Id {
        self.id
    }
    fn at(&self) -> i64 {
        self.created_at
    }
}

impl Record for Customer {
    fn key(&self) -> Id {
        self.id
    }
    fn at(&self) -> i64 {
        self.updated_at
    }
}

impl CustomerRecord for Customer {
    fn set_balance(&mut self, balance: f64) {
        self.balance = balance;
    }
    fn balance(&self) -> f64 {
        self.balance
    }
}

impl Record for Notification {
    fn key(&self) -> Id {
        self.id
    }
    fn at(&self) -> i64 {
        self.created_at
    }
}

impl NotificationRecord for Notification {
    fn read(&self) -> bool {
        self.read
    }
    fn mark_read(&mut self) {
        self.read = true;
    }
}

impl Record for Activity {
    fn key(&self) -> Id {
        self.seq as Id
    }
    fn at(&self) -> i64 {
        self.seq as i64
    }
}

/// Payloads as the JSON the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Raw;

/// A row as the JSON the server sent, with the fields the fold reads taken out once. One
/// type for every list, so the store's code exists once for all of them in the package.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    key: Id,
    at: i64,
    json: Value,
}

/// Which list a [`RawRow`] belongs to, and so which of its fields the fold reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// Keyed by `id`, ordered by `updated_at`.
    Delivery,
    /// Keyed by `id`, ordered by `created_at`.
    Payment,
    /// Keyed by `id`, with a `balance`.
    Customer,
    /// Keyed by `id`, ordered by `created_at`, with a `read` flag.
    Notification,
    /// Keyed and ordered by `seq`.
    Activity,
}

impl RawRow {
    /// `v` as a row of `kind` when it has the fields the fold reads.
    pub fn from_json(kind: RawKind, v: &Value) -> Option<Self> {
        let (key, at) = match kind {
            RawKind::Delivery | RawKind::Customer => ("id", "updated_at"),
            RawKind::Payment | RawKind::Notification => ("id", "created_at"),
            RawKind::Activity => ("seq", "seq"),
        };
        let more = match kind {
            RawKind::Customer => v["balance"].is_f64() || v["balance"].is_i64(),
            RawKind::Notification => v["read"].is_boolean(),
            _ => true,
        };
        let (key, at) = (v[key].as_i64()?, v[at].as_i64()?);
        more.then(|| RawRow { key, at, json: v.clone() })
    }

    /// The row as the server sent it (with the balance or read flag events changed since).
    pub fn json(&self) -> &Value {
        &self.json
    }

    fn check(kind: RawKind, v: &Value) -> Result<Self, ()> {
        Self::from_json(kind, v).ok_or(())
    }
}

impl Serialize for RawRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl Record for RawRow {
    fn key(&self) -> Id {
        self.key
    }
    fn at(&self) -> i64 {
        self.at
    }
}

/// Sets member `key` of the object `row`. Not `row[key] = v`: serde_json's `IndexMut` panics
/// on a value that is not an object, and its message (the key as `{:?}`, the value written out
/// as JSON) would bring string escaping and serde_json's writer into the browser bundle. A row
/// is an object: the server sends nothing else, and the store keeps only objects.
fn set_member(row: &mut Value, key: &str, v: Value) {
    if let Some(members) = row.as_object_mut() {
        members.insert(key.to_owned(), v);
    }
}

impl CustomerRecord for RawRow {
    fn set_balance(&mut self, balance: f64) {
        set_member(&mut self.json, "balance", balance.into());
    }
    fn balance(&self) -> f64 {
        self.json["balance"].as_f64().unwrap_or_default()
    }
}

impl NotificationRecord for RawRow {
    fn read(&self) -> bool {
        self.json["read"].as_bool().unwrap_or_default()
    }
    fn mark_read(&mut self) {
        set_member(&mut self.json, "read", true.into());
    }
}

impl Model for Raw {
    type Stats = Value;
    type Delivery = RawRow;
    type Payment = RawRow;
    type Customer = RawRow;
    type Notification = RawRow;
    type Activity = RawRow;
    type Alert = Value;

    fn read(event: &str, arg: Option<&Value>) -> Option<Result<Fold<Self>, ()>> {
        // The bare replies first; every other catalogue event comes in an envelope.
        match event {
            PONG => return Some(Ok(Fold::Nothing)),
            ERROR => {
                let resync = arg?["code"].as_str() == Some(ErrorCode::ResyncRequired.as_str());
                return Some(Ok(if resync { Fold::Resync } else { Fold::Nothing }));
            }
            _ => {}
        }
        let known = [
            CONNECTION_STATUS,
            STATS_UPDATED,
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
        if !known.contains(&event) {
            return None;
        }
        Some(arg.ok_or(()).and_then(|v| Self::envelope(event, v)))
    }
}

impl Raw {
    /// `v` when it is an envelope `{ seq, ts, data }` whose data is an object, as
    /// `stats:updated` and `GET /api/stats` carry.
    pub fn envelope_of(v: &Value) -> Option<Envelope<Value>> {
        let (seq, ts, data) = (v["seq"].as_u64()?, v["ts"].as_i64()?, v.get("data")?);
        data.is_object().then(|| Envelope { seq, ts, data: data.clone() })
    }

    fn envelope(event: &str, v: &Value) -> Result<Fold<Raw>, ()> {
        let (Some(_), Some(ts), Some(data)) = (v["seq"].as_u64(), v["ts"].as_i64(), v.get("data"))
        else {
            return Err(());
        };
        let whole = || Raw::envelope_of(v).ok_or(());
        Ok(match event {
            CONNECTION_STATUS => Fold::Epoch(data["epoch"].as_str().ok_or(())?.to_owned()),
            STATS_UPDATED => Fold::Stats(whole()?),
            DELIVERY_UPDATED => Fold::Delivery(ts, RawRow::check(RawKind::Delivery, data)?),
            PAYMENT_ADDED => Fold::Payment(ts, RawRow::check(RawKind::Payment, data)?),
            CUSTOMER_UPDATED => Fold::Customer(ts, RawRow::check(RawKind::Customer, data)?),
            BALANCE_UPDATED => {
                let id = data["customer_id"].as_i64().ok_or(())?;
                Fold::Balance(ts, id, data["balance"].as_f64().ok_or(())?)
            }
            ACTIVITY_UPDATED => Fold::Activity(ts, RawRow::check(RawKind::Activity, data)?),
            NOTIFICATION_NEW => Fold::Notification(ts, RawRow::check(RawKind::Notification, data)?),
            NOTIFICATION_READ => {
                let ids = data["ids"].as_array().ok_or(())?;
                Fold::Read(ts, ids.iter().map(|i| i.as_i64().ok_or(())).collect::<Result<_, _>>()?)
            }
            ALERT_SYSTEM => Fold::Alert(whole()?),
            _ => Fold::Nothing, // user:updated: accounts are not part of the live state
        })
    }
}
