//! This module deals with toasts: short messages for what needs the admin's attention —
//! refusals and the results of their own actions, system alerts, notifications, and notable
//! news (a payment of at least an amount the admin chooses). Ordinary deliveries and payments
//! only update their pages: at a real business's rate a toast for each would hide what
//! matters. Toasts are de-duplicated by key (an event seen again after a reconnect, or both
//! as a broadcast and as an ack, shows once), stacked with the newest on top and a bounded
//! stack (one at a time on a phone, where the page keeps room below its content so a toast
//! never covers it), dismissed after a few seconds, and announced to screen readers through
//! a polite live region (errors assertively).

use pulse_protocol::money::LARGE_PAYMENT;
use std::collections::VecDeque;
use std::time::Duration;

use leptos::prelude::*;

/// How a toast reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// News: a delivery, a payment.
    Info,
    /// An action went through.
    Success,
    /// Needs attention.
    Warning,
    /// An action failed.
    Error,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Error => "error",
        }
    }
}

/// One toast.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// Unique per toast, for the list and dismissal.
    pub id: u64,
    /// What it is about; a second toast with the same key is dropped.
    pub key: String,
    /// How it reads.
    pub tone: Tone,
    /// The headline.
    pub title: String,
    /// The detail.
    pub body: String,
}

/// Toasts on screen and the keys already shown. Pure, so de-duplication is unit-tested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToastQueue {
    /// On screen, newest first.
    pub shown: Vec<Toast>,
    seen: VecDeque<String>,
    next: u64,
}

/// Toasts on screen at once; older ones make room.
pub const VISIBLE: usize = 4;
const SEEN: usize = 1_000;
/// How long a toast stays, unless dismissed.
const SHOWN_FOR: Duration = Duration::from_secs(5);
/// How long an error stays: long enough to read why something was refused.
const ERROR_SHOWN_FOR: Duration = Duration::from_secs(8);

/// Which live news raises a toast. Refusals, alerts and notifications always do; deliveries
/// never (the pages show them); payments from `large_payment` up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewsPolicy {
    /// The smallest payment amount that raises a toast.
    pub large_payment: f64,
}

impl Default for NewsPolicy {
    fn default() -> Self {
        NewsPolicy { large_payment: LARGE_PAYMENT }
    }
}

impl NewsPolicy {
    /// Whether a payment someone else recorded is worth a toast of its own. From the server's
    /// threshold up the payment also comes as a notification, which always toasts: one toast
    /// per payment, not two.
    pub fn is_news(&self, amount: f64) -> bool {
        amount >= self.large_payment && amount < LARGE_PAYMENT
    }

    /// The admin's choice on this browser, or the default.
    pub fn load() -> NewsPolicy {
        storage::load()
            .filter(|v| v.is_finite() && (0.0..=LARGE_PAYMENT).contains(v))
            .map(|large_payment| NewsPolicy { large_payment })
            .unwrap_or_default()
    }

    /// Keeps the choice on this browser.
    pub fn save(&self) {
        storage::save(self.large_payment);
    }
}

mod storage {
    const KEY: &str = "pulse.toasts.largePayment";

    pub(super) fn load() -> Option<f64> {
        crate::format::number(&crate::local::get(KEY)?)
    }

    pub(super) fn save(v: f64) {
        crate::local::set(KEY, &crate::format::shortest(v));
    }
}

impl ToastQueue {
    /// Adds a toast unless its key was shown already; returns its id.
    pub fn push(&mut self, key: String, tone: Tone, title: String, body: String) -> Option<u64> {
        if self.seen.contains(&key) {
            return None;
        }
        self.seen.push_back(key.clone());
        if self.seen.len() > SEEN {
            self.seen.pop_front();
        }
        self.next += 1;
        self.shown.insert(0, Toast { id: self.next, key, tone, title, body });
        self.shown.truncate(VISIBLE);
        Some(self.next)
    }

    /// Marks `key` as shown without showing it (e.g. a broadcast of an action whose ack
    /// toast is already up under another key).
    pub fn remember(&mut self, key: String) {
        if !self.seen.contains(&key) {
            self.seen.push_back(key);
        }
    }

    /// Removes toast `id`.
    pub fn dismiss(&mut self, id: u64) {
        self.shown.retain(|t| t.id != id);
    }
}

/// The toasts, shared through context. `Copy`.
#[derive(Clone, Copy)]
pub struct Toasts(RwSignal<ToastQueue>);

impl Toasts {
    /// Creates the queue and puts it in context.
    pub fn provide() -> Toasts {
        let t = Toasts(RwSignal::new(ToastQueue::default()));
        provide_context(t);
        t
    }

    /// Shows a toast unless `key` was shown already.
    pub fn push(
        &self,
        key: impl Into<String>,
        tone: Tone,
        title: impl Into<String>,
        body: impl Into<String>,
    ) {
        let mut id = None;
        self.0.update(|q| id = q.push(key.into(), tone, title.into(), body.into()));
        if let Some(id) = id {
            let q = self.0;
            let shown_for = if tone == Tone::Error { ERROR_SHOWN_FOR } else { SHOWN_FOR };
            set_timeout(move || q.try_update(|q| q.dismiss(id)).unwrap_or(()), shown_for);
        }
    }

    /// Keeps `key` from ever showing.
    pub fn remember(&self, key: impl Into<String>) {
        let key = key.into();
        self.0.update_untracked(|q| q.remember(key));
    }
}

/// The toast stack, bottom right on desktop and bottom full width on phones.
///
/// Rows are keyed by toast id by hand rather than with `<For>`: the stack only ever gains
/// rows on top and loses rows anywhere, so keeping each row's node while it is shown needs no
/// general list diff (and `<For>`'s would be the only one in the first module). Keeping the
/// nodes matters: the live region announces added nodes, so a new toast must be a new node.
#[component]
pub fn ToastHost() -> impl IntoView {
    let Toasts(q) = crate::context::<Toasts>();
    let live = NodeRef::<leptos::html::Div>::new();
    let mut rows = no_rows(toast_row);
    Effect::new(move |_| {
        let Some(parent) = live.get() else { return };
        let shown = q.with(|q| q.shown.clone());
        let mut kept = std::mem::take(&mut rows);
        // Oldest first, each placed before the row shown under it.
        for t in shown.into_iter().rev() {
            let id = t.id;
            let row = match kept.iter().position(|(k, _)| *k == id) {
                Some(at) => kept.swap_remove(at).1,
                None => {
                    let mut row = toast_row(t, q).build();
                    match rows.last() {
                        Some((_, below)) => {
                            below.insert_before_this_or_marker(&parent, &mut row, None)
                        }
                        None => row.mount(&parent, None),
                    }
                    row
                }
            };
            rows.push((id, row));
        }
        for (_, mut gone) in kept {
            gone.unmount();
        }
        rows.reverse();
    });
    view! {
        <div class="toasts" role="region" aria-label="Messages" data-testid="toasts">
            <div class="toast-live" aria-live="polite" aria-relevant="additions" node_ref=live></div>
        </div>
    }
}

/// An empty list of the rows `row` builds, keyed by toast id (it names their type).
fn no_rows<R: Render>(_row: fn(Toast, RwSignal<ToastQueue>) -> R) -> Vec<(u64, R::State)> {
    Vec::new()
}

/// One toast as shown, with its dismiss button.
fn toast_row(t: Toast, q: RwSignal<ToastQueue>) -> impl Render {
    view! {
        <div
            class=format!("toast toast-{}", t.tone.class())
            role=if t.tone == Tone::Error { "alert" } else { "status" }
            data-testid="toast"
            data-key=t.key
        >
            <div class="toast-text">
                <strong class="toast-title">{t.title}</strong>
                <span class="toast-body">{t.body}</span>
            </div>
            <button
                class="toast-close"
                aria-label="Dismiss"
                on:click=move |_| q.update(|q| q.dismiss(t.id))
            >
                "×"
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(q: &mut ToastQueue, key: &str) -> Option<u64> {
        q.push(key.into(), Tone::Info, "t".into(), "b".into())
    }

    #[test]
    fn duplicates_are_dropped_and_the_stack_is_bounded() {
        let mut q = ToastQueue::default();
        assert!(push(&mut q, "delivery:1").is_some());
        assert!(push(&mut q, "delivery:1").is_none());
        for i in 2..=6 {
            push(&mut q, &format!("delivery:{i}"));
        }
        let keys: Vec<_> = q.shown.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["delivery:6", "delivery:5", "delivery:4", "delivery:3"]);
        // Dismissed or pushed out, a key still never shows twice.
        assert!(push(&mut q, "delivery:2").is_none());
        let id = q.shown[0].id;
        q.dismiss(id);
        assert_eq!(q.shown.len(), VISIBLE - 1);
        q.remember("payment:9".into());
        assert!(push(&mut q, "payment:9").is_none());
    }

    #[test]
    fn a_payment_toasts_once() {
        let lowered = NewsPolicy { large_payment: 50.0 };
        assert!(!lowered.is_news(49.99));
        assert!(lowered.is_news(60.0));
        // From the server's amount up the notification is the toast.
        assert!(!lowered.is_news(LARGE_PAYMENT));
        assert!(!NewsPolicy::default().is_news(99.0));
    }
}
