//! Every payload type of pulse-protocol, from arbitrary bytes: the client → server payloads
//! the server decodes (as `serde_json::from_value` after socketioxide, and straight from bytes
//! as REST bodies), and the server → client payloads the SDK decodes. Whatever decodes must
//! serialize and decode back to an equal value, through a string and through a `Value`
//! ("equal" allows one ulp in a float while serde_json lacks `float_roundtrip`: see
//! `pulse_fuzz::floats_round_trip`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_fuzz::{same, same_json};
use pulse_protocol::events::{
    Activity, Alert, BalanceUpdated, ConnectAuth, ConnectionStatus, Customer, CustomerUpdate,
    Delivery, DeliveryUpdate, MarkRead, Notification, NotificationsRead, Payment, PaymentAdd, Pong,
    Stats,
};
use pulse_protocol::rest::{
    EventsPage, Health, LoggedEvent, LoginRequest, Page, RefreshRequest, Session, User,
};
use pulse_protocol::{Ack, Envelope, WireError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn round_trip<T: Serialize + DeserializeOwned + std::fmt::Debug>(v: &T) {
    let s = serde_json::to_string(v).expect("a decoded payload serializes");
    let back: T = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s} does not decode: {e}"));
    assert!(same(&back, v), "string round trip through {s}: {back:?} != {v:?}");
    let value = serde_json::to_value(v).expect("a decoded payload becomes a Value");
    let back: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} does not decode: {e}"));
    assert!(same(&back, v), "Value round trip through {value}: {back:?} != {v:?}");
}

fn check<T: Serialize + DeserializeOwned + std::fmt::Debug>(data: &[u8], value: Option<&Value>) {
    // REST bodies and the SDK: straight from bytes.
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        round_trip(&v);
    }
    // Socket handlers: `serde_json::from_value` of the argument socketioxide decoded.
    if let Some(value) = value {
        if let Ok(v) = serde_json::from_value::<T>(value.clone()) {
            round_trip(&v);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let value = serde_json::from_slice::<Value>(data).ok();
    if let Some(v) = &value {
        let s = serde_json::to_string(v).expect("a Value serializes");
        let back = serde_json::from_str::<Value>(&s).expect("re-parse");
        assert!(same_json(&back, v), "Value via {s}: {back} != {v}");
    }
    let v = value.as_ref();
    // Client → server.
    check::<DeliveryUpdate>(data, v);
    check::<PaymentAdd>(data, v);
    check::<CustomerUpdate>(data, v);
    check::<MarkRead>(data, v);
    check::<ConnectAuth>(data, v);
    check::<LoginRequest>(data, v);
    check::<RefreshRequest>(data, v);
    // Server → client.
    check::<Envelope<Delivery>>(data, v);
    check::<Envelope<Payment>>(data, v);
    check::<Envelope<Customer>>(data, v);
    check::<Envelope<BalanceUpdated>>(data, v);
    check::<Envelope<Stats>>(data, v);
    check::<Envelope<Activity>>(data, v);
    check::<Envelope<Notification>>(data, v);
    check::<Envelope<NotificationsRead>>(data, v);
    check::<Envelope<Alert>>(data, v);
    check::<Envelope<ConnectionStatus>>(data, v);
    check::<Pong>(data, v);
    check::<WireError>(data, v);
    check::<Ack<Value>>(data, v);
    check::<Ack<Pong>>(data, v);
    check::<EventsPage>(data, v);
    check::<LoggedEvent>(data, v);
    check::<Session>(data, v);
    check::<User>(data, v);
    check::<Health>(data, v);
    check::<Page<Customer>>(data, v);
});
