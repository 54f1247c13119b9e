//! This module deals with the SDK's JavaScript packages (feature `js`, wasm32 only), each an
//! ES module with TypeScript declarations built by `scripts/build-js-sdk` through
//! `client-sdk/js`: the machines in wasm ([`machine`]) under a `PulseClient` written in
//! JavaScript (`client.js`), which opens the WebSockets and requests, keeps the timer and the
//! outbox, and parses payloads; live events skip wasm (`fast.js`). Everything that decides
//! (handshake, heartbeat, acks, reconnection, resume, the upgrade, polling's policy) stays in
//! the machines. The package with the live state (feature `js-state`, in `state/`) adds the
//! store (`state`), which the machine hands every event (`state.js` adds its methods).

use std::time::Duration;

use js_sys::{Object, Reflect};
use pulse_protocol::events::{Topic, Topics};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::config::Config;
use crate::connection::Status;
use crate::error::Error;
use crate::transport::Transport;

pub mod machine;
#[cfg(feature = "js-state")]
mod state;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options for `new PulseClient(url, options)`; every field is optional. */
export interface PulseClientOptions {
  /** JWT sent in the CONNECT packet's auth (and as Bearer for fallback polling). */
  token?: string;
  /** Reconnect automatically (default true). */
  reconnection?: boolean;
  /** Give up after this many failed attempts (default: never). */
  reconnectionAttempts?: number;
  /** First reconnection delay, ms (default 1000). */
  reconnectionDelay?: number;
  /** Largest reconnection delay, ms (default 5000). */
  reconnectionDelayMax?: number;
  /** Default emitWithAck timeout, ms (default 10000). */
  ackTimeout?: number;
  /** REST polling interval while the socket is down, ms (default 10000; 0 disables). */
  pollInterval?: number;
  /** Engine.IO transports, tried in order when one cannot be opened (default
   *  `["websocket", "polling"]`: a WebSocket, or HTTP long-polling where a proxy refuses it).
   *  A session on polling upgrades to a WebSocket when `"websocket"` is listed too. */
  transports?: PulseTransport[];
  /** Long-polling requests to a server on another origin carry its cookies and keep those it
   *  sets (default false), as socket.io-client's `withCredentials`: needed behind a load
   *  balancer whose cookie keeps a session on one node. The server must list this page's
   *  origin (`PULSE_CORS_ORIGINS`). */
  withCredentials?: boolean;
  /** Health ping interval, ms (default 30000; 0 disables). */
  healthInterval?: number;
  /** Receive only these topics' events (and those every socket gets, such as alerts);
   *  default: every topic. Change them later with `subscribe` / `unsubscribe`. */
  topics?: PulseTopic[];
  /** Resume from a position saved earlier (`client.position`, e.g. kept in localStorage
   *  across reloads): events after it are replayed, none before. */
  position?: PulsePosition;
  /** Keep `emitAction` actions in localStorage under this key prefix (e.g. one per signed-in
   *  user) until answered; actions an earlier page left there are sent again at once (see
   *  `restoredActions`). */
  outbox?: string;
}

/** An action an earlier page left unanswered, sent again by this client. */
export interface PulseRestoredAction {
  event: string;
  data: any;
  /** What `emitAction` was given as `meta`. */
  meta: any;
  /** Its answer, as `emitAction`'s promise gives it. */
  reply: Promise<any>;
}

/** How Engine.IO packets travel: one WebSocket, or HTTP long-polling. */
export type PulseTransport = "websocket" | "polling";

/** A stream of events a client subscribes to (`module:subscribe` with `{ moduleKey }`). */
export type PulseTopic = "dashboard" | "deliveries" | "payments" | "customers" | "notifications" | "users";

/** The answer to `subscribe` / `unsubscribe`: the topics now received, and the log head from
 *  which the change holds (load the topic's state over REST after it). */
export interface PulseSubscribed {
  topics: PulseTopic[];
  head: number;
}

/** A place in the server's event log: the last applied `seq` of the log `epoch`. */
export interface PulsePosition {
  seq: number;
  epoch?: string;
}

/** The connection as `status` and `onStatus` report it. */
export interface PulseStatus {
  /** `closed`: the client was dropped while in use (its connection is closed). */
  state: "connecting" | "live" | "reconnecting" | "polling" | "offline" | "closed";
  /** Reconnection attempt, when reconnecting or polling. */
  attempt?: number;
  /** Milliseconds until the next attempt, when one is scheduled. */
  retryInMs?: number;
  /** Last measured round trip, ms. */
  rttMs?: number;
  /** Last event-log seq applied. */
  lastSeq?: number;
  /** The epoch of the log `lastSeq` belongs to. */
  epoch?: string;
}
"#;

/// What the machine reads from `new PulseClient(url, options)`'s options (as JSON, through
/// the SDK's reader); client.js reads the rest (`outbox`).
pub(crate) struct Options {
    pub(crate) config: Config,
    pub(crate) token: Option<String>,
    /// `position`: the `seq`, and the epoch if given.
    pub(crate) position: Option<(u64, Option<String>)>,
}

/// Reads `PulseClientOptions` (`opts`, `null` for none) for a client of `url`.
pub(crate) fn options(url: &str, opts: &Value) -> Result<Options, JsValue> {
    let mut config = Config::new(url);
    let ms = |k: &str| opts.get(k).and_then(Value::as_u64).map(Duration::from_millis);
    if let Some(b) = opts.get("reconnection").and_then(Value::as_bool) {
        config.reconnection = b;
    }
    config.reconnection_attempts =
        opts.get("reconnectionAttempts").and_then(Value::as_u64).map(|n| n as u32);
    if let Some(d) = ms("reconnectionDelay") {
        config.backoff.initial = d;
    }
    if let Some(d) = ms("reconnectionDelayMax") {
        config.backoff.max = d;
    }
    if let Some(d) = ms("ackTimeout") {
        config.ack_timeout = d;
    }
    if let Some(d) = ms("pollInterval") {
        config.poll_interval = (!d.is_zero()).then_some(d);
    }
    if let Some(d) = ms("healthInterval") {
        config.health_interval = (!d.is_zero()).then_some(d);
    }
    if let Some(t) = opts.get("transports").filter(|t| !t.is_null()) {
        let names = t.as_array().ok_or_else(|| js_err("transports: expected an array"))?;
        let mut transports = Vec::new();
        for n in names {
            let name = n.as_str().unwrap_or_default();
            transports.push(Transport::parse(name).ok_or_else(|| {
                js_err(&format!("transports: unknown transport \"{name}\" (websocket, polling)"))
            })?);
        }
        config.transports = transports;
    }
    if let Some(b) = opts.get("withCredentials").and_then(Value::as_bool) {
        config.with_credentials = b;
    }
    if let Some(t) = opts.get("topics").filter(|t| !t.is_null()) {
        // By hand, not serde: decoding from a `Value` would add kilobytes to the package.
        let keys = t.as_array().ok_or_else(|| js_err("topics: expected an array"))?;
        let mut topics = Topics::NONE;
        for k in keys {
            let key = k.as_str().unwrap_or_default();
            topics.insert(Topic::parse(key).ok_or_else(|| unknown_topic(key))?);
        }
        config.topics = Some(topics);
    }
    let position = opts["position"]["seq"]
        .as_u64()
        .map(|seq| (seq, opts["position"]["epoch"].as_str().map(str::to_owned)));
    Ok(Options {
        config,
        token: opts.get("token").and_then(Value::as_str).map(str::to_owned),
        position,
    })
}

fn status_object(s: &Status, rtt: Option<u32>) -> Object {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    let now = crate::time::Instant::now();
    let (state, attempt, retry_at) = match s {
        Status::Connecting => ("connecting", None, None),
        Status::Live => ("live", None, None),
        Status::Reconnecting { attempt, retry_at } => ("reconnecting", Some(*attempt), *retry_at),
        Status::Polling { attempt, retry_at, .. } => ("polling", Some(*attempt), *retry_at),
        Status::Offline => ("offline", None, None),
    };
    set("state", JsValue::from_str(state));
    if let Some(a) = attempt {
        set("attempt", JsValue::from(a));
    }
    if let Some(at) = retry_at {
        set("retryInMs", JsValue::from(at.saturating_duration_since(now).as_millis() as f64));
    }
    if let Some(r) = rtt {
        set("rttMs", JsValue::from(r));
    }
    o
}

fn js_err(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

fn unknown_topic(key: &str) -> JsValue {
    coded_error(&format!("unknown topic \"{key}\"; topics are {}", Topic::LIST), "INVALID_INPUT")
}

fn coded_error(message: &str, code: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// The `code` a JS error carries for `e`.
fn error_code(e: &Error) -> &str {
    match e {
        Error::Decode(_) => "DECODE",
        Error::Rejected(_) => "REJECTED",
        Error::AckTimeout => "ACK_TIMEOUT",
        Error::Closed => "CLOSED",
        Error::ConnectionLost => "CONNECTION_LOST",
        Error::BufferFull { .. } => "BUFFER_FULL",
        Error::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
        Error::Server(w) => w.code.as_str(),
        Error::Reply(_) => "REPLY",
        Error::Storage(_) => "STORAGE",
        Error::Transport(_) => "TRANSPORT",
    }
}

/// `e` as a JS `Error` with its `code`.
fn js_error(e: &Error) -> JsValue {
    coded_error(&e.to_string(), error_code(e))
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
