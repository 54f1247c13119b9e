//! This module deals with the admin's emits waiting for their ack (record a delivery, add a
//! payment, edit a customer, mark notifications read; named apart from the server's
//! `actions/`, which apply them): each is a socket emit with an ack. While the
//! connection is down the SDK queues the emit and sends it on reconnection, with an
//! idempotency key so it applies once; here such actions are listed as pending (the header
//! shows how many) until their ack arrives.
//!
//! Each action is also kept on this browser (the SDK's outbox, one per user) until answered,
//! with what the admin saw of it: a tab reloaded or reopened while actions wait sends them
//! again ([`Pending::restore`]), lists them as pending and shows their rows, and the server
//! applies each once.

use std::time::Duration;

use leptos::prelude::*;
use pulse_protocol::FromValue;
use pulse_protocol::WireError;
use pulse_sdk::codec::object;
use pulse_sdk::{AckReply, Client, RestoredAction, Status};
use send_wrapper::SendWrapper;
use serde_json::Value;

use crate::components::toast::{Toasts, Tone};

/// How long an action made offline waits for the connection and its answer.
const OFFLINE_WAIT: Duration = Duration::from_secs(30 * 60);

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
    /// The socket event it sends.
    pub event: String,
    /// The row that shows it, if any.
    pub row: Option<StoredRow>,
    /// Whether an earlier page made it (restored from this browser's outbox).
    pub restored: bool,
}

/// The row an action shows while pending, kept with it so a reloaded tab shows it again.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// The item as the admin typed it (JSON of the page's row type).
    pub item: Value,
    /// Whether it changes an existing row rather than adding one.
    pub edit: bool,
}

/// How an action reads to people: listed while pending, and in the toast that settles it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wording {
    /// What it does.
    pub label: String,
    /// The toast title when it went through.
    pub done: String,
    /// The toast title when it did not.
    pub failed: String,
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

    /// Keeps `client`'s actions in `user`'s outbox on this browser, and sends again what an
    /// earlier page of theirs left unanswered: listed as pending (pages show their rows, see
    /// [`crate::submit::restored_rows`]) and toasted when settled.
    pub fn restore(&self, client: &Client, toasts: Toasts, user: pulse_protocol::events::Id) {
        #[cfg(target_arch = "wasm32")]
        let store = pulse_sdk::outbox::LocalStorageOutbox::new(format!("pulse.outbox.{user}."));
        // Natively (unit tests) there is no browser to keep anything in.
        #[cfg(not(target_arch = "wasm32"))]
        let store = {
            let _ = user;
            pulse_sdk::outbox::MemoryOutbox::new()
        };
        for action in client.attach_outbox(store, Some(OFFLINE_WAIT)) {
            self.settle_restored(action, toasts);
        }
    }

    fn settle_restored(self, restored: RestoredAction, toasts: Toasts) {
        let RestoredAction { action, reply } = restored;
        let op = self.next_op();
        let text = |k: &str| action.meta.get(k).and_then(Value::as_str).map(str::to_owned);
        let wording = Wording {
            label: text("label").unwrap_or_else(|| action.event.clone()),
            done: text("done").unwrap_or_else(|| "Sent".into()),
            failed: text("failed").unwrap_or_else(|| "Not sent".into()),
        };
        let row = action.meta.get("row").and_then(|r| {
            Some(StoredRow {
                item: r.get("item")?.clone(),
                edit: r.get("edit").and_then(Value::as_bool).unwrap_or(false),
            })
        });
        let pending = self;
        pending.list.update(|l| {
            l.push(PendingAction {
                op,
                label: wording.label.clone(),
                queued: true,
                event: action.event,
                row,
                restored: true,
            })
        });
        leptos::task::spawn_local(async move {
            let outcome = answer(reply.await);
            pending.list.try_update(|l| l.retain(|a| a.op != op));
            let Wording { label, done, failed } = wording;
            match outcome {
                Ok(_) => toasts.push(format!("restored:{op}"), Tone::Success, done, label),
                Err(e) => toasts.push(
                    format!("failed:{op}"),
                    Tone::Error,
                    failed,
                    format!("{label}: {e}"),
                ),
            }
        });
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
pub async fn send<T: FromValue>(
    client: Client,
    pending: Pending,
    op: u64,
    wording: Wording,
    event: &'static str,
    payload: Value,
) -> Result<T, ActionError> {
    decode(&send_value(client, pending, op, wording, event, payload, None).await?)
}

/// An answer's data as `T`, read by [`FromValue`] like every other decode in the dashboard.
pub fn decode<T: FromValue>(data: &Value) -> Result<T, ActionError> {
    T::from_value(data).ok_or_else(|| {
        ActionError::NoAnswer("unexpected answer: it does not have the expected shape".into())
    })
}

/// [`send`] up to the answer's data, once for every answer type (the dashboard's size);
/// `row` is kept with the action for a reloaded tab.
pub async fn send_value(
    client: Client,
    pending: Pending,
    op: u64,
    wording: Wording,
    event: &'static str,
    payload: Value,
    row: Option<StoredRow>,
) -> Result<Value, ActionError> {
    let queued = is_offline(&client.status());
    let row_meta = row
        .as_ref()
        .map_or(Value::Null, |r| object(vec![("item", r.item.clone()), ("edit", r.edit.into())]));
    let meta = object(vec![
        ("label", wording.label.as_str().into()),
        ("done", wording.done.into()),
        ("failed", wording.failed.into()),
        ("row", row_meta),
    ]);
    let Wording { label, .. } = wording;
    pending.list.update(|l| {
        l.push(PendingAction { op, label, queued, event: event.into(), row, restored: false })
    });
    let timeout = queued.then_some(OFFLINE_WAIT);
    let reply = client.emit_action(event, payload, meta, timeout).await;
    pending.list.try_update(|l| l.retain(|a| a.op != op));
    answer(reply)
}

/// An action's answer: its data, or why it did not go through.
fn answer(reply: Result<AckReply, pulse_sdk::Error>) -> Result<Value, ActionError> {
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
        E::Storage(why) => format!("it could not be kept on this browser ({why})"),
        other => other.to_string(),
    }
}
