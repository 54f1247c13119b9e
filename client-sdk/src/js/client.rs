//! This module deals with the live-state package's `PulseClient` (feature `js-state`): the
//! JavaScript API on the SDK's [`Client`] and its browser driver, so the store
//! (`js::state`) sees every event in wasm. Payloads cross the boundary as plain JS values
//! through JSON.
//!
//! A client stays alive while it is in use even if the page keeps no reference to it: the
//! module holds it from construction (or `connect()`) to `disconnect()`, since wasm-bindgen
//! frees the Rust side of a class once its JS wrapper is garbage-collected.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Array, Function, Object, Reflect, JSON};
use pulse_protocol::events::{ConnectAuth, Topic};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::{coded_error, js_err, js_error, state, status_object, unknown_topic, Options};
use crate::client::{take_entry, Client, Subscription};
use crate::connection::{Event, Status};
use crate::driver::fast;
use crate::error::Error;

/// A Pulse / Socket.IO v4 connection for JavaScript.
///
/// A client lives while it is connected or trying to be, whether the page keeps a reference
/// to it or not (as a socket.io-client socket does): `new PulseClient(url, opts).on(…)` keeps
/// delivering until `disconnect()`. Dropping the last reference, or `free()`, only releases
/// this handle; `disconnect()` ends the client.
#[wasm_bindgen]
pub struct PulseClient {
    inner: Rc<Inner>,
}

/// What a [`PulseClient`] handle points at; [`LIVE`] holds it too while it is in use, since
/// the handle's JS wrapper may be garbage-collected while the page still wants its events
/// (wasm-bindgen's finalizer would then drop the client and its handlers without a word).
struct Inner {
    client: Client,
    token: Rc<RefCell<Option<String>>>,
    rtt: Rc<RefCell<Option<u32>>>,
    // Vecs of (id, item), not HashMaps: a handful of entries, and each HashMap type would
    // add its own code to the package.
    /// Each handler's subscription, and for an `on` handler its place in the fast path
    /// (`driver::fast`).
    subs: RefCell<Vec<(u32, Kept)>>,
    /// The `onStatus` handlers, told `closed` if the client is ever dropped while in use.
    status_handlers: RefCell<Vec<(u32, Function)>>,
    next_sub: RefCell<u32>,
    _rtt_sub: Subscription,
    /// Actions an earlier page left in the outbox, until `restoredActions` takes them.
    restored: RefCell<Vec<crate::RestoredAction>>,
    /// The live state, from the first `state()`, `onState` or `loadState` on.
    #[cfg(feature = "js-state")]
    state: RefCell<Option<(Rc<RefCell<state::Mirror>>, Subscription)>>,
}

thread_local! {
    /// Clients between construction (or `connect()`) and `disconnect()`.
    static LIVE: RefCell<Vec<Rc<Inner>>> = const { RefCell::new(Vec::new()) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// Keeps `inner` alive until [`release`].
fn hold(inner: &Rc<Inner>) {
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        if !live.iter().any(|i| Rc::ptr_eq(i, inner)) {
            live.push(inner.clone());
        }
    });
}

fn release(inner: &Rc<Inner>) {
    // Taken out before it drops, so a drop that calls back into JS finds LIVE free.
    let gone = LIVE.with(|live| {
        let mut live = live.borrow_mut();
        live.iter().position(|i| Rc::ptr_eq(i, inner)).map(|at| live.swap_remove(at))
    });
    drop(gone);
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.client.status() == Status::Offline {
            return;
        }
        // Never stop silently: close the connection and tell the page.
        self.client.disconnect();
        console_warn("PulseClient was dropped while connected; its connection is closed");
        let closed = Object::new();
        let _ = Reflect::set(&closed, &JsValue::from_str("state"), &JsValue::from_str("closed"));
        for (_, h) in self.status_handlers.borrow().iter() {
            let _ = h.call1(&JsValue::NULL, &closed);
        }
    }
}

#[wasm_bindgen]
impl PulseClient {
    /// Connects to `url` (`http(s)://host:port`) and keeps the connection up until
    /// `disconnect()`, even if the page keeps no reference to the client.
    #[wasm_bindgen(constructor)]
    pub fn new(
        url: String,
        #[wasm_bindgen(unchecked_param_type = "PulseClientOptions")] options: Option<Object>,
    ) -> Result<PulseClient, JsValue> {
        let opts = match &options {
            Some(o) => to_value(o)?,
            None => Value::Null,
        };
        let Options { config, token, position, outbox } = super::options(&url, &opts)?;
        let token = Rc::new(RefCell::new(token));
        let provider = token.clone();
        let client = Client::connect_with_auth(config, move || {
            provider.borrow().clone().map(ConnectAuth::with_token)
        });
        // Before the driver's first step (it runs on a later microtask), so the first CONNECT
        // already resumes from it.
        if let Some((seq, epoch)) = position {
            client.restore_position(seq, epoch.as_deref());
        }
        let restored = match outbox {
            Some(prefix) => client.attach_outbox(
                crate::outbox::LocalStorageOutbox::new(prefix),
                // Sent when the connection is back, which may take a while.
                Some(Duration::from_secs(30 * 60)),
            ),
            None => Vec::new(),
        };
        let rtt = Rc::new(RefCell::new(None));
        let sink = rtt.clone();
        let rtt_sub = client.on_any(move |e| {
            if let Event::Rtt(d) = e {
                *sink.borrow_mut() = Some(d.as_millis() as u32);
            }
        });
        let inner = Rc::new(Inner {
            client,
            token,
            rtt,
            subs: RefCell::default(),
            status_handlers: RefCell::default(),
            next_sub: RefCell::new(0),
            _rtt_sub: rtt_sub,
            restored: RefCell::new(restored),
            #[cfg(feature = "js-state")]
            state: RefCell::default(),
        });
        hold(&inner);
        Ok(PulseClient { inner })
    }

    /// Calls `handler(data, event)` for each `event` from the server; `data` is its first
    /// argument (for Pulse events `{ seq, ts, data }`). Returns an id for `off`.
    pub fn on(
        &self,
        event: String,
        #[wasm_bindgen(unchecked_param_type = "(data: any, event: string) => void")]
        handler: Function,
    ) -> u32 {
        // The handler only ever sees `event` (names match exactly): its JS string is made once
        // here, not once per event.
        let name = JsValue::from_str(&event);
        let in_gate = handler.clone();
        let sub = self.inner.client.on(&event, move |m| {
            // The argument's JSON text, parsed by the browser: no tree is built in wasm. Most
            // events do not come this way (`driver::fast`); with the live state attached all
            // do, and it reads them from the frame's own string when it can.
            let data = m.args.first().map_or(JsValue::UNDEFINED, |a| {
                #[cfg(feature = "js-state")]
                if let Some(v) = crate::driver::received::value(a) {
                    return v;
                }
                JSON::parse(a.text()).unwrap_or(JsValue::UNDEFINED)
            });
            let _ = handler.call2(&JsValue::NULL, &data, &name);
        });
        let gate = self.inner.client.fast().gate().clone();
        fast::add(&gate, &event, &in_gate);
        self.keep(sub, Some(FastHandler { gate, event, handler: in_gate }))
    }

    /// Calls `handler(status)` whenever the connection status changes. Returns an id for `off`.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(status: PulseStatus) => void")] handler: Function,
    ) -> u32 {
        let client = self.inner.client.clone();
        let rtt = self.inner.rtt.clone();
        let h = handler.clone();
        let sub = self.inner.client.on_any(move |e| {
            if let Event::Status(s) = e {
                let _ = h.call1(
                    &JsValue::NULL,
                    &with_position(status_object(s, *rtt.borrow()), &client),
                );
            }
        });
        let id = self.keep(sub, None);
        self.inner.status_handlers.borrow_mut().push((id, handler));
        id
    }

    /// Removes the handler `on` or `onStatus` returned `id` for.
    pub fn off(&self, id: u32) -> bool {
        take_entry(&mut self.inner.status_handlers.borrow_mut(), &id);
        #[cfg(feature = "js-state")]
        if self.state_off(id) {
            return true;
        }
        take_entry(&mut self.inner.subs.borrow_mut(), &id).is_some()
    }

    /// Sends an event (queued while offline). Throws if the offline buffer is full or the
    /// payload is too large.
    pub fn emit(&self, event: String, data: JsValue) -> Result<(), JsValue> {
        let args = if data.is_undefined() { vec![] } else { vec![to_value(&data)?] };
        self.inner.client.emit(&event, args).map_err(|e| js_error(&e))
    }

    /// Sends an event and resolves with the server's answer (its first argument; for Pulse
    /// actions `{ ok, data | error }`). Rejects with an `Error` whose `code` is
    /// `ACK_TIMEOUT`, `CLOSED`, `CONNECTION_LOST`, `BUFFER_FULL`, … .
    #[wasm_bindgen(js_name = emitWithAck, unchecked_return_type = "Promise<any>")]
    pub fn emit_with_ack(
        &self,
        event: String,
        data: JsValue,
        timeout_ms: Option<u32>,
    ) -> Result<js_sys::Promise, JsValue> {
        let args = if data.is_undefined() { vec![] } else { vec![to_value(&data)?] };
        let timeout = timeout_ms.map(|ms| Duration::from_millis(ms as u64));
        Ok(answer_promise(self.inner.client.emit_with_ack(&event, args, timeout)))
    }

    /// Sends an action that survives the page: `data` (an object) gets an idempotency key and,
    /// with the `outbox` option, is kept in localStorage with `meta` until the server answers;
    /// a later page with the same option sends it again (`restoredActions`), and the server
    /// applies it once. Resolves and rejects like `emitWithAck` (`STORAGE`: it could not be
    /// kept, and was not sent).
    #[wasm_bindgen(js_name = emitAction, unchecked_return_type = "Promise<any>")]
    pub fn emit_action(
        &self,
        event: String,
        data: JsValue,
        meta: JsValue,
        timeout_ms: Option<u32>,
    ) -> Result<js_sys::Promise, JsValue> {
        let meta = if meta.is_undefined() { Value::Null } else { to_value(&meta)? };
        let timeout = timeout_ms.map(|ms| Duration::from_millis(ms as u64));
        let reply = self.inner.client.emit_action(&event, to_value(&data)?, meta, timeout);
        Ok(answer_promise(reply))
    }

    /// The actions an earlier page left unanswered in the `outbox`, sent again when this
    /// client was created; each with its `reply` to come. Given once: later calls return none.
    #[wasm_bindgen(js_name = restoredActions, unchecked_return_type = "PulseRestoredAction[]")]
    pub fn restored_actions(&self) -> js_sys::Array {
        let list = js_sys::Array::new();
        for r in self.inner.restored.borrow_mut().drain(..) {
            let o = Object::new();
            let set = |k: &str, v: &JsValue| Reflect::set(&o, &JsValue::from_str(k), v);
            let _ = set("event", &JsValue::from_str(&r.action.event));
            let _ = set("data", &from_value(&r.action.payload));
            let _ = set("meta", &from_value(&r.action.meta));
            let _ = set("reply", &answer_promise(r.reply).into());
            list.push(&o);
        }
        list
    }

    /// Receives `topic`'s events from now on (and on every reconnection); resolves with
    /// `{ topics, head }` once the server applied it (after a reconnection, while offline).
    /// Load the topic's state over REST after it resolves, and nothing is missed in between.
    /// Rejects with `INVALID_INPUT` for an unknown topic.
    #[wasm_bindgen(unchecked_return_type = "Promise<PulseSubscribed>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PulseTopic")] topic: String,
    ) -> js_sys::Promise {
        self.change_topic(&topic, true)
    }

    /// Stops receiving `topic`'s events; resolves like `subscribe`.
    #[wasm_bindgen(unchecked_return_type = "Promise<PulseSubscribed>")]
    pub fn unsubscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PulseTopic")] topic: String,
    ) -> js_sys::Promise {
        self.change_topic(&topic, false)
    }

    /// The topics received, or `undefined` for every topic (never restricted).
    #[wasm_bindgen(getter, unchecked_return_type = "PulseTopic[] | undefined")]
    pub fn topics(&self) -> JsValue {
        match self.inner.client.topics() {
            Some(t) => t.iter().map(|t| JsValue::from_str(t.as_str())).collect::<Array>().into(),
            None => JsValue::UNDEFINED,
        }
    }

    fn change_topic(&self, key: &str, on: bool) -> js_sys::Promise {
        let Some(topic) = Topic::parse(key) else {
            // A rejected promise, as for a refusal by the server, not a throw.
            return js_sys::Promise::reject(&unknown_topic(key));
        };
        let reply = self.inner.client.change_topic_raw(topic, on);
        promise(async move {
            // The ack `{ ok, data | error }` is read in JavaScript, as `emitWithAck`'s is.
            let ack = reply.await.map_err(|e| js_error(&e))?.args.first().map(from_value);
            let ack = ack.unwrap_or(JsValue::UNDEFINED);
            let field = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
            if field(&ack, "ok").and_then(|v| v.as_bool()) == Some(true) {
                return Ok(field(&ack, "data").unwrap_or(JsValue::UNDEFINED));
            }
            let error = field(&ack, "error").unwrap_or(JsValue::UNDEFINED);
            let text = |k| field(&error, k).and_then(|v| v.as_string()).unwrap_or_default();
            Err(coded_error(&format!("server error {}", text("message")), &text("code")))
        })
    }

    /// The transport carrying (or opening) the session now, `undefined` while none is.
    #[wasm_bindgen(getter, unchecked_return_type = "PulseTransport | undefined")]
    pub fn transport(&self) -> JsValue {
        match self.inner.client.transport() {
            Some(t) => JsValue::from_str(t.as_str()),
            None => JsValue::UNDEFINED,
        }
    }

    /// The connection status now.
    #[wasm_bindgen(getter, unchecked_return_type = "PulseStatus")]
    pub fn status(&self) -> JsValue {
        let c = &self.inner.client;
        with_position(status_object(&c.status(), *self.inner.rtt.borrow()), c).into()
    }

    /// Where the client is in the server's event log, `{ seq, epoch }`, once it applied an
    /// entry: keep it (e.g. in localStorage) and pass it as the `position` option of a later
    /// client to resume there, across reloads.
    #[wasm_bindgen(getter, unchecked_return_type = "PulsePosition | undefined")]
    pub fn position(&self) -> JsValue {
        let c = &self.inner.client;
        let Some(seq) = c.last_seq() else { return JsValue::UNDEFINED };
        let o = Object::new();
        let _ = Reflect::set(&o, &JsValue::from_str("seq"), &JsValue::from(seq as f64));
        if let Some(e) = c.epoch() {
            let _ = Reflect::set(&o, &JsValue::from_str("epoch"), &JsValue::from_str(&e));
        }
        o.into()
    }

    /// Replaces the token used from the next (re)connection and poll on.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: Option<String>) {
        *self.inner.token.borrow_mut() = token;
    }

    /// Connects again after `disconnect()` or a refusal.
    pub fn connect(&self) {
        hold(&self.inner);
        self.inner.client.reconnect();
    }

    /// Leaves the server; no automatic reconnection follows. The client may then be
    /// garbage-collected once the page lets go of it.
    pub fn disconnect(&self) {
        self.inner.client.disconnect();
        release(&self.inner);
    }
}

impl PulseClient {
    fn keep(&self, sub: Subscription, fast: Option<FastHandler>) -> u32 {
        let id = self.next_id();
        self.inner.subs.borrow_mut().push((id, (sub, fast)));
        id
    }

    fn next_id(&self) -> u32 {
        let mut n = self.inner.next_sub.borrow_mut();
        *n += 1;
        *n
    }
}

/// What `off` takes away: a handler's subscription, and an `on` handler's place in the fast
/// path.
type Kept = (Subscription, Option<FastHandler>);

/// An `on` handler as the fast path has it, until dropped.
struct FastHandler {
    gate: fast::Gate,
    event: String,
    handler: Function,
}

impl Drop for FastHandler {
    fn drop(&mut self) {
        fast::remove(&self.gate, &self.event, &self.handler);
    }
}

/// `f` as a JS promise, through one instance of wasm-bindgen's promise glue for every
/// async method (it is generic over the future).
fn promise(f: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> js_sys::Promise {
    let f: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    wasm_bindgen_futures::future_to_promise(f)
}

/// Adds where `client` is in the log (`lastSeq`, `epoch`) to a status object.
fn with_position(o: Object, client: &Client) -> Object {
    if let Some(seq) = client.last_seq() {
        let _ = Reflect::set(&o, &JsValue::from_str("lastSeq"), &JsValue::from(seq as f64));
    }
    if let Some(e) = client.epoch() {
        let _ = Reflect::set(&o, &JsValue::from_str("epoch"), &JsValue::from_str(&e));
    }
    o
}

fn to_value(v: &JsValue) -> Result<Value, JsValue> {
    let text: String =
        JSON::stringify(v).map_err(|_| js_err("payload is not JSON-serialisable"))?.into();
    crate::codec::parse_json(&text).map_err(|e| js_err(&e.to_string()))
}

fn from_value(v: &Value) -> JsValue {
    JSON::parse(&crate::codec::json_text(v)).unwrap_or(JsValue::UNDEFINED)
}

/// A promise of an ack's first argument, or of the error with its `code`.
fn answer_promise(
    reply: impl std::future::Future<Output = Result<crate::AckReply, Error>> + 'static,
) -> js_sys::Promise {
    promise(async move {
        match reply.await {
            Ok(r) => Ok(r.args.first().map(from_value).unwrap_or(JsValue::UNDEFINED)),
            Err(e) => Err(js_error(&e)),
        }
    })
}

#[cfg(feature = "js-state")]
#[wasm_bindgen(typescript_custom_section)]
const TS_STATE_TYPES: &'static str = r#"
/** An event-log entry as it arrives: its position, the server's time (ms) and its payload. */
export interface PulseEnvelope<T> { seq: number; ts: number; data: T; }

export interface PulseStats {
  today_liters: number; today_sales: number; today_collection: number;
  outstanding: number; active_customers: number; deliveries_today: number;
}
export interface PulseDelivery {
  id: number; customer_id: number; customer_name: string; date: string;
  quantity: number; price_per_liter: number; amount: number; updated_at: number;
}
export interface PulsePayment {
  id: number; customer_id: number; customer_name: string; amount: number;
  method: "CASH" | "MOBILE" | "BANK"; date: string;
  note?: string | null; created_at: number;
}
export interface PulseCustomer {
  id: number; name: string; phone?: string | null; address?: string | null;
  price_per_liter: number; balance: number; active: boolean; updated_at: number;
}
export type PulseLevel = "info" | "warning" | "critical";
export interface PulseNotification {
  id: number; title: string; body: string; level: PulseLevel; created_at: number; read: boolean;
}
export interface PulseActivity { seq: number; ts: number; actor: string; action: string; summary: string; }
export interface PulseAlert { level: PulseLevel; message: string; }

/** The live state `state()` returns and `onState` handlers get: frozen plain data, newest
 *  first in every list. A part that did not change is the same object as before. */
export interface PulseState {
  stats: PulseEnvelope<PulseStats> | null;
  deliveries: readonly PulseDelivery[];
  payments: readonly PulsePayment[];
  /** Customers seen in events or loaded, by id. */
  customers: readonly PulseCustomer[];
  /** Latest balance by customer id, also for customers not in `customers`. */
  balances: Readonly<Record<string, number>>;
  notifications: readonly PulseNotification[];
  unread: number;
  activity: readonly PulseActivity[];
  alerts: readonly PulseEnvelope<PulseAlert>[];
  connection: PulseConnection;
  /** Server time of the last event applied, ms. */
  lastEventAt: number | null;
  /** The log the state was built from; a new one clears the figures and lists. */
  epoch: string | null;
  /** Events that did not decode (a server newer than this client). */
  malformed: number;
}

/** The connection in `PulseState`: its status, and where data flows now: a WebSocket or
 *  Engine.IO long-polling while live, the REST fallback's polls of the event log, or none. */
export interface PulseConnection extends PulseStatus {
  transport: "websocket" | "polling" | "rest" | "none";
}

/** A part of `PulseState` an `onState` handler is told changed. */
export type PulseStatePart = "stats" | "deliveries" | "payments" | "customers" | "notifications"
  | "activity" | "alerts" | "connection" | "lastEventAt";

/** What `loadState` takes: `GET /api/stats`'s answer, or a page of a list. */
export type PulseLoadablePart = "stats" | "deliveries" | "payments" | "customers" | "notifications" | "activity";

"#;

/// The live state (feature `js-state`), in its own block so the package without it carries
/// none of its code.
#[cfg(feature = "js-state")]
#[wasm_bindgen]
impl PulseClient {
    /// The live state now: statistics, recent deliveries and payments, customers and their
    /// balances, notifications with the unread count, the activity feed, alerts and the
    /// connection. Plain frozen data; a part that did not change is the same object as in
    /// the previous snapshot. It folds events from its first use on (`state()`, `onState`
    /// or `loadState`, best right after `new PulseClient`); fill in what came before over
    /// REST with `loadState`.
    #[wasm_bindgen(unchecked_return_type = "PulseState")]
    pub fn state(&self) -> JsValue {
        state::snapshot(&self.mirror())
    }

    /// Calls `handler(state, changed)` after the state changed, at most once per animation
    /// frame (every 250 ms at most in a background tab), with the names of the parts that
    /// changed; and once soon after it is added, with every part. Returns an id for `off`.
    #[wasm_bindgen(js_name = onState)]
    pub fn on_state(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "(state: PulseState, changed: PulseStatePart[]) => void"
        )]
        handler: Function,
    ) -> u32 {
        let m = self.mirror();
        let id = self.next_id();
        state::add_handler(&m, id, handler);
        id
    }

    /// Merges what was read over REST into the state, with the live events received since:
    /// `stats` takes `GET /api/stats`'s answer; `deliveries`, `payments`, `customers`,
    /// `notifications` and `activity` a page (`{ items }`) or an array of items. Read it after
    /// `subscribe` resolved (or once `live`), so no event falls between. Throws
    /// `INVALID_INPUT` for an unknown part or data of another shape, changing nothing.
    #[wasm_bindgen(js_name = loadState)]
    pub fn load_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PulseLoadablePart")] part: String,
        data: JsValue,
    ) -> Result<(), JsValue> {
        state::load(&self.mirror(), &part, to_value(&data)?)
    }
}

#[cfg(feature = "js-state")]
impl PulseClient {
    /// The live state, following the client from the first call on.
    fn mirror(&self) -> Rc<RefCell<state::Mirror>> {
        let mut slot = self.inner.state.borrow_mut();
        slot.get_or_insert_with(|| {
            // The live state takes every event in wasm, so the fast path would pass it by.
            self.inner.client.fast().block();
            state::attach(&self.inner.client)
        })
        .0
        .clone()
    }

    /// Removes the `onState` handler `id`, if it is one.
    fn state_off(&self, id: u32) -> bool {
        let state = self.inner.state.borrow().as_ref().map(|(m, _)| m.clone());
        state.is_some_and(|m| state::remove_handler(&m, id))
    }
}
