//! This module deals with the live state a JavaScript page reads (feature `js-state`):
//! `client.state()` and `client.onState(cb)`, over the same [`LiveState`] the dashboard
//! publishes to Leptos signals, fed by the machine (`super::machine`) with every event. A
//! snapshot is plain frozen JS data; a part that did not change keeps its identity from one
//! snapshot to the next, so a UI can compare by reference (React's
//! `useSyncExternalStore(client.onState, client.state)` works as is). Handlers are told at
//! most once per animation frame (and at least every 250 ms in a background tab, where
//! frames stop), with the parts that changed: 5,000 events a second cost one call per frame.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Reflect, JSON};
use pulse_protocol::Envelope;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::{coded_error, status_object};
use crate::codec::write_json;
use crate::connection::{Event, Status};
use crate::store::{Changes, Limits, LiveState, Raw, RawKind, RawRow};

/// How long a change waits for an animation frame before it is told anyway.
const LATEST_MS: u32 = 250;

#[wasm_bindgen]
extern "C" {
    // Caught: a worker has no `requestAnimationFrame`, and the timer alone then tells.
    #[wasm_bindgen(js_name = requestAnimationFrame, catch)]
    fn request_animation_frame(f: &JsValue) -> Result<JsValue, JsValue>;
}

/// A client's live state as JavaScript sees it.
pub(super) struct Mirror {
    /// Items kept as the JSON the server sent: no decoder per type in the package.
    state: LiveState<Raw>,
    /// Each part's JS value, built when first read after a change.
    parts: Parts,
    /// The last snapshot, while nothing changed since.
    snapshot: Option<JsValue>,
    /// What changed since handlers were last told.
    pending: Changes,
    handlers: Vec<(u32, Function)>,
    scheduled: bool,
}

/// The parts of a snapshot, in the order `Changes` names them.
#[derive(Default)]
struct Parts {
    stats: Option<JsValue>,
    deliveries: Option<JsValue>,
    payments: Option<JsValue>,
    /// The customer list and the balances, which change together.
    customers: Option<(JsValue, JsValue)>,
    notifications: Option<JsValue>,
    activity: Option<JsValue>,
    alerts: Option<JsValue>,
    connection: Option<JsValue>,
}

impl Parts {
    fn forget(&mut self, c: Changes) {
        // Destructured, not `..`: a new part of the state must be forgotten here too.
        let Changes {
            stats,
            deliveries,
            payments,
            customers,
            notifications,
            activity,
            alerts,
            connection,
            last_event: _,
        } = c;
        let pairs = [
            (stats, &mut self.stats),
            (deliveries, &mut self.deliveries),
            (payments, &mut self.payments),
            (notifications, &mut self.notifications),
            (activity, &mut self.activity),
            (alerts, &mut self.alerts),
            (connection, &mut self.connection),
        ];
        for (changed, part) in pairs {
            if changed {
                *part = None;
            }
        }
        if customers {
            self.customers = None;
        }
    }
}

/// The names `onState` handlers get for what changed, as the snapshot's keys.
fn changed_names(c: Changes) -> Array {
    let names = [
        (c.stats, "stats"),
        (c.deliveries, "deliveries"),
        (c.payments, "payments"),
        (c.customers, "customers"),
        (c.notifications, "notifications"),
        (c.activity, "activity"),
        (c.alerts, "alerts"),
        (c.connection, "connection"),
        (c.last_event, "lastEventAt"),
    ];
    names.iter().filter(|(on, _)| *on).map(|(_, n)| JsValue::from_str(n)).collect()
}

/// A mirror starting from `status`; the machine hands it every event from then on
/// ([`apply`]).
pub(super) fn new(status: Status) -> Rc<RefCell<Mirror>> {
    let mut state = LiveState::<Raw>::empty(Limits::default());
    state.status = status;
    Rc::new(RefCell::new(Mirror {
        state,
        parts: Parts::default(),
        snapshot: None,
        pending: Changes::default(),
        handlers: Vec::new(),
        scheduled: false,
    }))
}

/// Folds `e` into the state.
pub(super) fn apply(m: &Rc<RefCell<Mirror>>, e: &Event) {
    let c = m.borrow_mut().state.apply(e);
    changed(m, c);
}

/// Forgets what `c` changed and schedules the handlers.
fn changed(m: &Rc<RefCell<Mirror>>, c: Changes) {
    if !c.any() {
        return;
    }
    let mut mm = m.borrow_mut();
    mm.parts.forget(c);
    mm.snapshot = None;
    mm.pending |= c;
    if mm.handlers.is_empty() || std::mem::replace(&mut mm.scheduled, true) {
        return;
    }
    drop(mm);
    // Whichever comes first tells; the other finds nothing scheduled.
    let (a, b) = (Rc::downgrade(m), Rc::downgrade(m));
    let _ = request_animation_frame(&Closure::once_into_js(move || flush(&a)));
    gloo_timers::callback::Timeout::new(LATEST_MS, move || flush(&b)).forget();
}

fn flush(m: &Weak<RefCell<Mirror>>) {
    let Some(m) = m.upgrade() else { return };
    let (handlers, c) = {
        let mut mm = m.borrow_mut();
        if !std::mem::replace(&mut mm.scheduled, false) {
            return;
        }
        let c = std::mem::take(&mut mm.pending);
        (mm.handlers.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>(), c)
    };
    // Borrows released: a handler reads `client.state()`.
    let snapshot = snapshot(&m);
    let names = changed_names(c);
    for h in handlers {
        let _ = h.call2(&JsValue::NULL, &snapshot, &names);
    }
}

/// The state now, built from the parts kept and those rebuilt.
pub(super) fn snapshot(m: &Rc<RefCell<Mirror>>) -> JsValue {
    let mut mm = m.borrow_mut();
    if let Some(s) = &mm.snapshot {
        return s.clone();
    }
    let Mirror { state: s, parts: p, .. } = &mut *mm;
    let o = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    };
    set("stats", p.stats.get_or_insert_with(|| frozen(|t| envelope(t, s.stats.as_ref()))));
    set("deliveries", p.deliveries.get_or_insert_with(|| rows(s.deliveries.iter())));
    set("payments", p.payments.get_or_insert_with(|| rows(s.payments.iter())));
    let (customers, balances) = p.customers.get_or_insert_with(|| {
        // By hand: collecting a JSON map would sort its keys again, with code of its own.
        let balances = frozen(|t| {
            t.push('{');
            for (i, (id, b)) in s.balances.iter().enumerate() {
                t.push_str(if i > 0 { ",\"" } else { "\"" });
                t.push_str(&id.to_string());
                t.push_str("\":");
                write_json(t, &Value::from(*b));
            }
            t.push('}');
        });
        (rows(s.customers.values()), balances)
    });
    set("customers", customers);
    set("balances", balances);
    set("notifications", p.notifications.get_or_insert_with(|| rows(s.notifications.iter())));
    set("unread", &JsValue::from(s.unread() as u32));
    set("activity", p.activity.get_or_insert_with(|| rows(s.activity.iter())));
    set("alerts", p.alerts.get_or_insert_with(|| list(s.alerts.iter())));
    let connection = p.connection.get_or_insert_with(|| {
        let c = status_object(&s.status, s.rtt_ms);
        let _ = Reflect::set(&c, &"transport".into(), &JsValue::from_str(s.transport()));
        Object::freeze(&c).into()
    });
    set("connection", connection);
    let at = s.last_event_at.map_or(JsValue::NULL, |t| JsValue::from(t as f64));
    set("lastEventAt", &at);
    set("epoch", &s.epoch.as_deref().map_or(JsValue::NULL, JsValue::from_str));
    set("malformed", &JsValue::from(s.malformed as f64));
    let snap: JsValue = Object::freeze(&o).into();
    mm.snapshot = Some(snap.clone());
    snap
}

/// Rows as a frozen JS array.
fn rows<'a>(items: impl Iterator<Item = &'a RawRow>) -> JsValue {
    frozen(|t| {
        t.push('[');
        for (i, r) in items.enumerate() {
            if i > 0 {
                t.push(',');
            }
            write_json(t, r.json());
        }
        t.push(']');
    })
}

/// Envelopes as a frozen JS array.
fn list<'a>(items: impl Iterator<Item = &'a Envelope<Value>>) -> JsValue {
    frozen(|t| {
        t.push('[');
        for (i, e) in items.enumerate() {
            if i > 0 {
                t.push(',');
            }
            envelope(t, Some(e));
        }
        t.push(']');
    })
}

/// Writes `{ seq, ts, data }`, or `null`.
fn envelope(t: &mut String, e: Option<&Envelope<Value>>) {
    let Some(e) = e else { return t.push_str("null") };
    t.push_str(&format!("{{\"seq\":{},\"ts\":{},\"data\":", e.seq, e.ts));
    write_json(t, &e.data);
    t.push('}');
}

/// The JSON `write` writes, as frozen JS data: parsed by the browser, which is faster than
/// building values one by one across the boundary.
fn frozen(write: impl FnOnce(&mut String)) -> JsValue {
    let mut text = String::new();
    write(&mut text);
    let v = JSON::parse(&text).unwrap_or(JsValue::NULL);
    deep_freeze(&v);
    v
}

fn deep_freeze(v: &JsValue) {
    if !v.is_object() {
        return;
    }
    let o: &Object = v.unchecked_ref();
    for k in Object::values(o).iter() {
        deep_freeze(&k);
    }
    Object::freeze(o);
}

/// Adds `handler` with `id`: told soon with every part, then at each change.
pub(super) fn add_handler(m: &Rc<RefCell<Mirror>>, id: u32, handler: Function) {
    m.borrow_mut().handlers.push((id, handler.clone()));
    let weak = Rc::downgrade(m);
    // On a later task, as every other call: a handler never runs inside `onState`.
    gloo_timers::callback::Timeout::new(0, move || {
        let Some(m) = weak.upgrade() else { return };
        if !m.borrow().handlers.iter().any(|(i, _)| *i == id) {
            return; // removed meanwhile
        }
        let all = Changes {
            stats: true,
            deliveries: true,
            payments: true,
            customers: true,
            notifications: true,
            activity: true,
            alerts: true,
            connection: true,
            last_event: true,
        };
        let _ = handler.call2(&JsValue::NULL, &snapshot(&m), &changed_names(all));
    })
    .forget();
}

/// Removes the handler `id`, if it is one of these.
pub(super) fn remove_handler(m: &Rc<RefCell<Mirror>>, id: u32) -> bool {
    let mut mm = m.borrow_mut();
    let before = mm.handlers.len();
    mm.handlers.retain(|(i, _)| *i != id);
    mm.handlers.len() != before
}

/// Merges `data` read over REST into `part`: `stats` takes the `GET /api/stats` envelope,
/// the lists an array of items or a page `{ items }`. Throws `INVALID_INPUT` for an unknown
/// part or data of the wrong shape, changing nothing.
pub(super) fn load(m: &Rc<RefCell<Mirror>>, part: &str, data: Value) -> Result<(), JsValue> {
    let bad = |what: &str| coded_error(&format!("loadState(\"{part}\"): {what}"), "INVALID_INPUT");
    if part == "stats" {
        let env = Raw::envelope_of(&data).ok_or_else(|| bad("expected { seq, ts, data }"))?;
        let c = m.borrow_mut().state.merge_stats(env);
        changed(m, c);
        return Ok(());
    }
    // A page `{ items, … }` as `GET /api/<list>` answers, or its items.
    let items = match &data {
        Value::Object(o) => o.get("items"),
        v => Some(v),
    };
    let items =
        items.and_then(Value::as_array).ok_or_else(|| bad("expected an array or { items }"))?;
    let rows = |kind| {
        let rows: Option<Vec<RawRow>> = items.iter().map(|v| RawRow::from_json(kind, v)).collect();
        rows.ok_or_else(|| bad("an item lacks its id, time or state fields"))
    };
    let c = {
        let s = &mut m.borrow_mut().state;
        match part {
            "deliveries" => s.merge_deliveries(rows(RawKind::Delivery)?),
            "payments" => s.merge_payments(rows(RawKind::Payment)?),
            "customers" => s.merge_customers(rows(RawKind::Customer)?),
            "notifications" => s.merge_notifications(rows(RawKind::Notification)?),
            "activity" => s.merge_activity(rows(RawKind::Activity)?),
            _ => {
                let parts = "stats, deliveries, payments, customers, notifications, activity";
                let msg = format!("unknown state part \"{part}\"; parts are {parts}");
                return Err(coded_error(&msg, "INVALID_INPUT"));
            }
        }
    };
    changed(m, c);
    Ok(())
}
