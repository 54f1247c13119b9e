//! This module deals with the admin's emits waiting for their ack (record a delivery, add a
//! payment, edit a customer, mark notifications read; named apart from the server's
//! `actions/`, which apply them): each is a socket emit with an ack. While the
//! connection is down the SDK queues the emit and sends it on reconnection, with an
//! idempotency key so it applies once; here such actions are listed as pending (the header
//! shows how many) until their ack arrives.

use std::time::Duration;

use leptos::prelude::*;
use pulse_protocol::WireError;
use pulse_sdk::{Client, Status};
use send_wrapper::SendWrapper;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The SDK client, shared through context. It is not `Send` in the browser, hence the
/// wrapper.
#[derive(Clone)]
pub struct PulseClient(pub SendWrapper<Client>);

impl PulseClient {
    /// A handle on the client (clones share the connection).
    pub fn client(&self) -> Client {
        (*self.0).clone()
    }
}

/// An action waiting for its ack.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    /// Its number, also used by optimistic rows.
    pub op: u64,
    /// What it does, for people.
    pub label: String,
    /// Whether it was made while the connection was down.
    pub queued: bool,
}

/// Actions waiting for their ack, shared through context. `Copy`.
#[derive(Clone, Copy)]
pub struct Pending {
    /// The list, oldest first.
    pub list: RwSignal<Vec<PendingAction>>,
    next: StoredValue<u64>,
}

impl Pending {
    /// Creates the list and puts it in context.
    pub fn provide() -> Pending {
        let p = Pending { list: RwSignal::new(Vec::new()), next: StoredValue::new(0) };
        provide_context(p);
        p
    }

    /// A fresh action number.
    pub fn next_op(&self) -> u64 {
        self.next.update_value(|n| *n += 1);
        self.next.get_value()
    }
}

/// Why an action did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionError {
    /// The server refused it; nothing changed.
    Refused(WireError),
    /// No answer: the outcome is unknown or the action was never sent.
    NoAnswer(String),
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionError::Refused(e) => f.write_str(&e.message),
            ActionError::NoAnswer(m) => f.write_str(m),
        }
    }
}

/// Whether an action made now would wait in the SDK's queue.
pub fn is_offline(status: &Status) -> bool {
    !matches!(status, Status::Live)
}

/// Emits `event` with `payload` as action `op` and waits for its ack. While offline the wait
/// is long: the action is queued, and the admin sees it pending rather than failed.
pub async fn send<T: DeserializeOwned>(
    client: Client,
    pending: Pending,
    op: u64,
    label: String,
    event: &'static str,
    payload: Value,
) -> Result<T, ActionError> {
    decode(&send_value(client, pending, op, label, event, payload).await?)
}

/// An answer's data as `T`. By reference, like every other decode in the dashboard: one
/// `Deserialize` per type.
pub fn decode<T: DeserializeOwned>(data: &Value) -> Result<T, ActionError> {
    T::deserialize(data).map_err(|e| ActionError::NoAnswer(format!("unexpected answer: {e}")))
}

/// [`send`] up to the answer's data, once for every answer type (the dashboard's size).
pub async fn send_value(
    client: Client,
    pending: Pending,
    op: u64,
    label: String,
    event: &'static str,
    payload: Value,
) -> Result<Value, ActionError> {
    let queued = is_offline(&client.status());
    pending.list.update(|l| l.push(PendingAction { op, label, queued }));
    let timeout = queued.then(|| Duration::from_secs(30 * 60));
    let reply = client.emit_with_ack(event, vec![payload], timeout).await;
    pending.list.try_update(|l| l.retain(|a| a.op != op));
    let reply = reply.map_err(|e| ActionError::NoAnswer(sdk_error_text(&e)))?;
    reply.into_result::<Value>().map_err(|e| match e {
        pulse_sdk::Error::Server(w) => ActionError::Refused(w),
        other => ActionError::NoAnswer(format!("unexpected answer: {}", reply_text(&other))),
    })
}

/// The decoding problem of an unreadable answer, without the SDK's own prefix.
fn reply_text(e: &pulse_sdk::Error) -> String {
    match e {
        pulse_sdk::Error::Reply(text) => text.clone(),
        other => other.to_string(),
    }
}

fn sdk_error_text(e: &pulse_sdk::Error) -> String {
    use pulse_sdk::Error as E;
    match e {
        E::AckTimeout => "the server did not answer in time".into(),
        E::ConnectionLost => "the connection dropped before the server answered".into(),
        E::BufferFull { .. } => "too many actions are waiting for the connection".into(),
        E::Closed => "the connection is closed".into(),
        other => other.to_string(),
    }
}
