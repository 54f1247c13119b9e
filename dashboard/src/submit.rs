//! This module deals with the one way a form sends an admin action over the socket (record a
//! delivery, add a payment, add, edit or deactivate a customer). The change shows at once as
//! a pending row, marked saving, or queued while the connection is down (with a toast saying
//! it is sent when the connection is back); the ack replaces it with the server's row and a
//! toast confirms it; a refusal, or no answer, rolls it back with a toast naming the error.
//! Pages say only what to send and what to show; [`crate::pending`] does the emit.

use leptos::prelude::*;
use pulse_protocol::{FromValue, ToValue};
use serde_json::Value;

use crate::components::toast::{Toasts, Tone};
use crate::live::Live;
use crate::pending::{self, ActionError, Pending, PulseClient, StoredRow, Wording};
use crate::rows::{Keyed, RowState, Rows};

/// Something a form saves: the server answers with it as stored.
pub trait Record: Keyed + ToValue + FromValue + Send + Sync + 'static {
    /// The key of the toast confirming it; the live news about the same change uses it too,
    /// so the ack and the broadcast toast once.
    fn toast_key(&self) -> String;
    /// What the confirming toast says about it.
    fn summary(&self) -> String;
}

/// An action to send, and how it reads.
pub struct Action<T> {
    /// The socket event.
    pub event: &'static str,
    /// Its payload.
    pub payload: Value,
    /// What it does, for people: listed while pending, and named when it fails.
    pub label: String,
    /// The title of the toast when it went through.
    pub done: String,
    /// The title of the toast when it did not.
    pub failed: String,
    /// The row that shows it at once, if the page lists it.
    pub row: Option<PendingRow<T>>,
}

/// A row shown before the server answers.
pub struct PendingRow<T> {
    /// The table it goes in.
    pub rows: RwSignal<Rows<T>>,
    /// The item as the admin typed it.
    pub item: T,
    /// Whether it changes the row with the item's key (restored on refusal) rather than
    /// adding one.
    pub edit: bool,
}

type Then<T> = Box<dyn FnOnce(Result<T, ActionError>)>;
type Settle = Box<dyn FnOnce(Result<serde_json::Value, ActionError>)>;

/// Sends actions with the flow above. `Copy`; take it while rendering (async tasks run
/// outside the component's owner, where the context is gone).
#[derive(Clone, Copy)]
pub struct Submitter {
    toasts: Toasts,
    pending: Pending,
    client: StoredValue<PulseClient>,
}

impl Submitter {
    /// The submitter of the signed-in frame.
    pub fn from_context() -> Submitter {
        Submitter {
            toasts: crate::context::<Toasts>(),
            pending: crate::context::<Pending>(),
            client: StoredValue::new(crate::context::<PulseClient>()),
        }
    }

    /// Sends `action`, then calls `then` with the server's answer (after the row and the
    /// toast are updated): forms clear or show the error there.
    pub fn submit<T: Record>(
        self,
        action: Action<T>,
        then: impl FnOnce(Result<T, ActionError>) + 'static,
    ) {
        // Boxed, so the flow is compiled once per record type, not once per form.
        self.submit_boxed(action, Box::new(then))
    }

    fn submit_boxed<T: Record>(self, action: Action<T>, then: Then<T>) {
        let Submitter { toasts, pending, client } = self;
        let Some(client) = client.try_with_value(|c| c.client()) else { return };
        let Action { event, payload, label, done, failed, row } = action;
        let op = pending.next_op();
        let queued = pending::is_offline(&client.status());
        let stored = row.as_ref().map(|r| StoredRow { item: r.item.to_value(), edit: r.edit });
        let rows = row.map(|PendingRow { rows, item, edit }| {
            rows.update(|r| match edit {
                true => r.edit_pending(op, item, queued),
                false => r.add_pending(op, item, queued),
            });
            rows
        });
        // What depends on the record type, once the answer is in: decode it, settle the row,
        // toast, and hand it on.
        let what = label.clone();
        let wording = Wording { label: label.clone(), done: done.clone(), failed: failed.clone() };
        let settle: Settle = Box::new(move |reply| {
            let reply = reply.and_then(|data| pending::decode::<T>(&data));
            match &reply {
                Ok(saved) => {
                    if let Some(rows) = rows {
                        rows.try_update(|r| r.confirm(op, saved.clone()));
                    }
                    toasts.push(saved.toast_key(), Tone::Success, done, saved.summary());
                }
                Err(e) => {
                    if let Some(rows) = rows {
                        rows.try_update(|r| r.rollback(op));
                    }
                    toasts.push(
                        format!("failed:{op}"),
                        Tone::Error,
                        failed,
                        format!("{what}: {e}"),
                    );
                }
            }
            then(reply);
        });
        if queued {
            toasts.push(
                format!("queued:{op}"),
                Tone::Warning,
                "Saved for later",
                format!("{label} — sent when the connection is back."),
            );
        }
        // The wait for the answer is the same for every record type: compiled once.
        leptos::task::spawn_local(async move {
            settle(pending::send_value(client, pending, op, wording, event, payload, stored).await);
        });
    }
}

/// Shows, in `rows`, the pending rows of the actions an earlier page left unanswered (see
/// [`Pending::restore`]) that send one of `events` and whose item `keep` accepts (e.g. the
/// table's filter); each goes when its action is settled, and the live event or the next load
/// brings the saved row.
pub fn restored_rows<T: Record>(
    rows: RwSignal<Rows<T>>,
    events: &'static [&'static str],
    keep: impl Fn(&T) -> bool + 'static,
) {
    let pending = crate::context::<Pending>();
    let shown = StoredValue::new(Vec::<u64>::new());
    Effect::new(move |_| {
        let restored: Vec<(u64, T, bool)> = pending.list.with(|l| {
            l.iter()
                .filter(|a| a.restored && events.contains(&a.event.as_str()))
                .filter_map(|a| {
                    let row = a.row.as_ref()?;
                    let item = pending::decode::<T>(&row.item).ok()?;
                    keep(&item).then_some((a.op, item, row.edit))
                })
                .collect()
        });
        let settled: Vec<u64> = shown.with_value(|s| {
            s.iter().copied().filter(|op| !restored.iter().any(|(o, ..)| o == op)).collect()
        });
        let new: Vec<_> = restored
            .iter()
            .filter(|(op, ..)| shown.with_value(|s| !s.contains(op)))
            .cloned()
            .collect();
        if settled.is_empty() && new.is_empty() {
            return;
        }
        rows.update(|r| {
            for op in &settled {
                r.rollback(*op);
            }
            for (op, item, edit) in new {
                match edit {
                    true => r.edit_pending(op, item, true),
                    false => r.add_pending(op, item, true),
                }
            }
        });
        shown.set_value(restored.iter().map(|(op, ..)| *op).collect());
    });
}

/// The chip on a pending row: "Saving…", "Queued · sent when back online", or "Sending…"
/// once the connection is back.
#[component]
pub fn RowStateChip(
    /// Where the row stands.
    state: RowState,
) -> impl IntoView {
    let live = crate::context::<Live>();
    let label = move || state.label(live.status.with(|s| !pending::is_offline(s)));
    move || label().map(|l| view! { <span class="chip warn small">{l}</span> })
}
