//! A size experiment (bench/experiments/README.md, "js-machines"): the JS package's wasm if
//! the browser driver were JavaScript. The wasm keeps what the native driver keeps in Rust:
//! the connection machine (handshake, join, acks, heartbeat, health pings, reconnection with
//! backoff, resume, renewal of credentials, fallback polling's policy), the transport machine
//! (WebSocket, long-polling, the upgrade) and the codec, plus the reading of the fallback
//! poll's answers. JavaScript would open the WebSockets, make the requests, keep one timer,
//! and hand every input to `Machine` and take every output from the `out` callback. What a
//! page calls (`on`, `emit`, promises, the outbox in localStorage) would be JavaScript too.
//!
//! It is written to be measured, not shipped: it has the calls and outputs such a driver
//! needs, with the same conversions the package makes today, so the linker keeps what a
//! real one would keep.

use std::time::Duration;

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use pulse_protocol::events::{ConnectAuth, Stats, Topic, Topics};
use pulse_protocol::rest::{EventsPage, LoggedEvent};
use pulse_protocol::{Envelope, ErrorCode, WireError};
use pulse_sdk::codec::{parse_json, Frame};
use pulse_sdk::connection::{AckReply, DisconnectReason};
use pulse_sdk::transport::{Action, Transport, Transports, Up};
use pulse_sdk::{Config, Connection, Event, Instant, Io, Polled, Renewal, Status};
use serde_json::Value;
use wasm_bindgen::prelude::*;

#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

// What `out(kind, a, b, c)` reports.
const OPEN_WS: u32 = 0;
const SEND_WS: u32 = 1;
const CLOSE_WS: u32 = 2;
const GET: u32 = 3;
const POST: u32 = 4;
const CANCEL: u32 = 5;
const POLL: u32 = 6;
const CANCEL_POLL: u32 = 7;
const NEED_AUTH: u32 = 8;
const STATUS: u32 = 9;
const CONNECTED: u32 = 10;
const DISCONNECTED: u32 = 11;
const CONNECT_FAILED: u32 = 12;
const REJECTED: u32 = 13;
const RECONNECT_SCHEDULED: u32 = 14;
const RECONNECT_FAILED: u32 = 15;
const MESSAGE: u32 = 16;
const ACK: u32 = 17;
const RTT: u32 = 18;
const TRANSPORT: u32 = 19;
const POLL_FAILED: u32 = 20;
const DEADLINE: u32 = 21;

#[wasm_bindgen]
pub struct Machine {
    conn: Connection,
    io: Transports,
    out: Function,
}

fn js_err(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

fn args_of(json: &str) -> Result<Vec<Value>, JsValue> {
    match parse_json(json) {
        Ok(Value::Array(args)) => Ok(args),
        Ok(one) => Ok(vec![one]),
        Err(e) => Err(js_err(&e.to_string())),
    }
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

/// The options (JavaScript's `JSON.stringify(options)`, read with the SDK's reader).
fn config_of(url: &str, o: &Value) -> Result<(Config, Option<ConnectAuth>), JsValue> {
    let mut config = Config::new(url);
    let ms = |k: &str| o.get(k).and_then(Value::as_f64).map(|v| Duration::from_millis(v as u64));
    if let Some(b) = o.get("reconnection").and_then(Value::as_bool) {
        config.reconnection = b;
    }
    if let Some(n) = o.get("reconnectionAttempts").and_then(Value::as_u64) {
        config.reconnection_attempts = Some(n as u32);
    }
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
    if let Some(b) = o.get("withCredentials").and_then(Value::as_bool) {
        config.with_credentials = b;
    }
    if let Some(Value::Array(list)) = o.get("transports") {
        let mut transports = Vec::new();
        for t in list {
            let name = t.as_str().unwrap_or_default();
            transports.push(Transport::parse(name).ok_or_else(|| js_err("unknown transport"))?);
        }
        config.transports = transports;
    }
    if let Some(Value::Array(list)) = o.get("topics") {
        let mut topics = Topics::default();
        for t in list {
            let key = t.as_str().unwrap_or_default();
            topics.insert(Topic::parse(key).ok_or_else(|| js_err("unknown topic"))?);
        }
        config.topics = Some(topics);
    }
    let auth = o.get("token").and_then(Value::as_str).map(ConnectAuth::with_token);
    Ok((config, auth))
}

#[wasm_bindgen]
impl Machine {
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, options: &str, seed: f64, out: Function) -> Result<Machine, JsValue> {
        let options = parse_json(options).map_err(|e| js_err(&e.to_string()))?;
        let (config, auth) = config_of(url, &options)?;
        let mut conn = Connection::new(config.clone(), seed.to_bits());
        conn.set_auth(auth);
        if let Some(p) = options.get("position") {
            if let Some(seq) = p.get("seq").and_then(Value::as_u64) {
                conn.restore_position(seq, p.get("epoch").and_then(Value::as_str));
            }
        }
        Ok(Machine { conn, io: Transports::new(config), out })
    }

    pub fn connect(&mut self) {
        self.conn.connect(Instant::now());
        self.drain();
    }

    pub fn disconnect(&mut self) {
        self.conn.disconnect(Instant::now());
        self.drain();
    }

    /// Sends `event` with `args` (a JSON array's text); with `ack` (ms, or 0 for the
    /// default timeout) asks for an answer and returns its id.
    pub fn emit(&mut self, event: &str, args: &str, ack: Option<f64>) -> Result<f64, JsValue> {
        let args = args_of(args)?;
        let now = Instant::now();
        let id = match ack {
            None => self.conn.emit(now, event, args).map(|()| 0),
            Some(ms) => {
                let timeout = (ms > 0.0).then(|| Duration::from_millis(ms as u64));
                self.conn.emit_with_ack(now, event, args, Vec::new(), timeout)
            }
        };
        let id = id.map_err(|e| js_err(&e.to_string()))?;
        self.drain();
        Ok(id as f64)
    }

    /// Answers the server's event that carried `ack_id`.
    pub fn ack(&mut self, ack_id: f64, args: &str) -> Result<(), JsValue> {
        let args = args_of(args)?;
        self.conn.ack(ack_id as u64, args);
        self.drain();
        Ok(())
    }

    pub fn subscribe(&mut self, topic: &str, on: bool) -> Result<f64, JsValue> {
        let topic = Topic::parse(topic).ok_or_else(|| js_err("unknown topic"))?;
        let id =
            self.conn.subscribe(Instant::now(), topic, on).map_err(|e| js_err(&e.to_string()))?;
        self.drain();
        Ok(id as f64)
    }

    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&mut self, token: Option<String>) {
        self.conn.set_auth(token.map(ConnectAuth::with_token));
    }

    /// The answer to `NEED_AUTH`: a token, `null` (refused), or `undefined` with `why`
    /// (unavailable for now).
    pub fn auth(&mut self, token: Option<String>, refused: bool, why: Option<String>) {
        let renewal = match (token, refused) {
            (Some(t), _) => Renewal::Renewed(ConnectAuth::with_token(t)),
            (None, true) => Renewal::Refused,
            (None, false) => Renewal::Unavailable(why.unwrap_or_default()),
        };
        self.conn.handle_auth(Instant::now(), renewal);
        self.drain();
    }

    #[wasm_bindgen(js_name = wsOpen)]
    pub fn ws_open(&mut self, id: f64) {
        self.io.handle_ws_open(id as u64);
        self.drain();
    }

    #[wasm_bindgen(js_name = wsText)]
    pub fn ws_text(&mut self, id: f64, text: String) {
        self.io.handle_ws_frame(id as u64, Frame::Text(text));
        self.drain();
    }

    #[wasm_bindgen(js_name = wsBinary)]
    pub fn ws_binary(&mut self, id: f64, bytes: Vec<u8>) {
        self.io.handle_ws_frame(id as u64, Frame::Binary(bytes));
        self.drain();
    }

    #[wasm_bindgen(js_name = wsClosed)]
    pub fn ws_closed(&mut self, id: f64, reason: String) {
        self.io.handle_ws_closed(id as u64, reason);
        self.drain();
    }

    /// A long-polling request's answer (`status` 0: none came, `body` says why).
    pub fn http(&mut self, id: f64, status: u16, body: String) {
        let result = if status == 0 { Err(body) } else { Ok((status, body)) };
        self.io.handle_http(id as u64, result);
        self.drain();
    }

    /// The fallback poll's answers: each `(status, body)`, status 0 when none came.
    pub fn polled(
        &mut self,
        events: Option<u16>,
        events_body: String,
        stats: u16,
        stats_body: String,
    ) {
        let result = read_polled(events.map(|s| (s, events_body)), (stats, stats_body));
        self.conn.handle_poll_result(Instant::now(), result);
        self.drain();
    }

    /// The timer `DEADLINE` asked for has fired.
    pub fn timeout(&mut self) {
        self.conn.handle_timeout(Instant::now());
        self.drain();
    }

    #[wasm_bindgen(getter)]
    pub fn status(&self) -> JsValue {
        status_object(&self.conn.status()).into()
    }

    #[wasm_bindgen(getter)]
    pub fn position(&self) -> JsValue {
        let Some(seq) = self.conn.last_seq() else { return JsValue::UNDEFINED };
        let o = Object::new();
        set(&o, "seq", JsValue::from(seq as f64));
        if let Some(e) = self.conn.epoch() {
            set(&o, "epoch", JsValue::from_str(e));
        }
        o.into()
    }
}

impl Machine {
    fn out(&self, kind: u32, a: JsValue, b: JsValue, c: JsValue) {
        let _ = self.out.call4(&JsValue::NULL, &JsValue::from(kind), &a, &b, &c);
    }

    /// Until neither machine has anything more, then the next deadline.
    fn drain(&mut self) {
        let u = || JsValue::UNDEFINED;
        loop {
            while let Some(f) = self.conn.poll_transmit() {
                self.io.send(f);
            }
            while let Some(one) = self.conn.poll_io() {
                match one {
                    Io::Close => self.io.close(),
                    Io::Open { .. } => self.io.open(),
                    Io::CancelPoll => self.out(CANCEL_POLL, u(), u(), u()),
                    Io::Poll { since, epoch, topics } => {
                        let base = self.conn.config().http_url();
                        let events = since.map(|since| {
                            let mut url = format!("{base}/api/events?since={since}&limit=500");
                            if let Some(e) = epoch {
                                url.push_str("&epoch=");
                                url.push_str(&e);
                            }
                            if let Some(t) = topics {
                                url.push_str("&topics=");
                                for (i, t) in t.iter().enumerate() {
                                    if i > 0 {
                                        url.push(',');
                                    }
                                    url.push_str(t.as_str());
                                }
                            }
                            JsValue::from_str(&url)
                        });
                        let stats = JsValue::from_str(&format!("{base}/api/stats"));
                        self.out(POLL, events.unwrap_or_else(u), stats, u());
                    }
                    Io::NeedAuth(need) => {
                        let refused = need.refused.map_or_else(u, JsValue::from);
                        self.out(NEED_AUTH, need.reason.as_str().into(), refused, u());
                    }
                }
            }
            while let Some(e) = self.conn.poll_event() {
                self.report(e);
            }
            while let Some(action) = self.io.poll_action() {
                match action {
                    Action::OpenWebSocket { id, url } => {
                        self.out(OPEN_WS, (id as f64).into(), url.into(), u())
                    }
                    Action::SendWebSocket { id, frame } => {
                        let frame = match frame {
                            Frame::Text(t) => JsValue::from(t),
                            Frame::Binary(b) => Uint8Array::from(&b[..]).into(),
                        };
                        self.out(SEND_WS, (id as f64).into(), frame, u())
                    }
                    Action::CloseWebSocket { id } => {
                        self.out(CLOSE_WS, (id as f64).into(), u(), u())
                    }
                    Action::Get { id, url } => self.out(GET, (id as f64).into(), url.into(), u()),
                    Action::Post { id, url, body } => {
                        self.out(POST, (id as f64).into(), url.into(), body.into())
                    }
                    Action::Cancel { id } => self.out(CANCEL, (id as f64).into(), u(), u()),
                }
            }
            let mut reported = false;
            while let Some(up) = self.io.poll_up() {
                reported = true;
                let now = Instant::now();
                match up {
                    Up::Open => self.conn.handle_transport_open(now),
                    Up::Frame(f) => self.conn.handle_frame(now, f),
                    Up::Closed(why) => self.conn.handle_transport_closed(now, why),
                }
            }
            if !reported {
                break;
            }
        }
        let current = self.io.current().map_or_else(u, |t| JsValue::from_str(t.as_str()));
        let deadline = self
            .conn
            .poll_timeout()
            .map_or(-1.0, |at| at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0);
        self.out(DEADLINE, deadline.into(), current, u());
    }

    fn report(&self, e: Event) {
        let u = || JsValue::UNDEFINED;
        match e {
            Event::Status(s) => self.out(STATUS, status_object(&s).into(), u(), u()),
            Event::Connected { sid, attempts } => {
                self.out(CONNECTED, sid.into(), attempts.into(), u())
            }
            Event::Disconnected { reason } => {
                let again = reason.reconnects();
                let code = match &reason {
                    DisconnectReason::Auth(code) => JsValue::from_str(code.as_str()),
                    _ => u(),
                };
                self.out(DISCONNECTED, reason.to_string().into(), again.into(), code)
            }
            Event::ConnectFailed { reason } => self.out(CONNECT_FAILED, reason.into(), u(), u()),
            Event::Rejected(e) => {
                let code = e.code.map_or_else(u, |c| JsValue::from_str(c.as_str()));
                self.out(REJECTED, e.message.into(), code, u())
            }
            Event::ReconnectScheduled { attempt, delay } => self.out(
                RECONNECT_SCHEDULED,
                attempt.into(),
                (delay.as_millis() as f64).into(),
                u(),
            ),
            Event::ReconnectFailed => self.out(RECONNECT_FAILED, u(), u(), u()),
            Event::Message(m) => {
                // The arguments as JSON text: JavaScript parses them (as fast.js does today).
                let args: Array = m.args.iter().map(|a| JsValue::from_str(a.text())).collect();
                let files: Array =
                    m.attachments.iter().map(|b| JsValue::from(Uint8Array::from(&b[..]))).collect();
                if files.length() > 0 {
                    args.push(&files);
                }
                let ack = m.ack_id.map_or_else(u, |id| (id as f64).into());
                self.out(MESSAGE, m.event.into(), args.into(), ack)
            }
            Event::Ack { id, result } => {
                let (reply, error) = match result {
                    Ok(AckReply { args, .. }) => {
                        let text = pulse_sdk::codec::json_text(&Value::Array(args));
                        (JsValue::from_str(&text), u())
                    }
                    Err(e) => (u(), JsValue::from_str(&e.to_string())),
                };
                self.out(ACK, (id as f64).into(), reply, error)
            }
            Event::Rtt(d) => self.out(RTT, (d.as_secs_f64() * 1000.0).into(), u(), u()),
            Event::Transport(t) => {
                self.out(TRANSPORT, t.map_or_else(u, |t| JsValue::from_str(t.as_str())), u(), u())
            }
            Event::PollFailed { reason } => self.out(POLL_FAILED, reason.into(), u(), u()),
        }
    }
}

fn status_object(s: &Status) -> Object {
    let o = Object::new();
    let now = Instant::now();
    let (state, attempt, retry_at) = match s {
        Status::Connecting => ("connecting", None, None),
        Status::Live => ("live", None, None),
        Status::Reconnecting { attempt, retry_at } => ("reconnecting", Some(*attempt), *retry_at),
        Status::Polling { attempt, retry_at, .. } => ("polling", Some(*attempt), *retry_at),
        Status::Offline => ("offline", None, None),
    };
    set(&o, "state", JsValue::from_str(state));
    if let Some(a) = attempt {
        set(&o, "attempt", JsValue::from(a));
    }
    if let Some(at) = retry_at {
        let ms = at.saturating_duration_since(now).as_millis() as f64;
        set(&o, "retryInMs", JsValue::from(ms));
    }
    o
}

// The fallback poll's bodies, read as the SDK's driver/poll.rs reads them.

enum Fail {
    Refused(WireError),
    Other(String),
}

fn body_json((status, body): (u16, String)) -> Result<Value, Fail> {
    if status == 0 {
        return Err(Fail::Other(body));
    }
    if !(200..300).contains(&status) {
        let wire = parse_json(&body).ok().and_then(|v| {
            let code = v.get("code")?.as_str()?.parse().unwrap_or(ErrorCode::Other);
            Some(WireError::new(code, v.get("message")?.as_str()?))
        });
        return Err(match wire {
            Some(e) => Fail::Refused(e),
            None if status == 401 => {
                Fail::Refused(WireError::new(ErrorCode::Unauthorized, "HTTP 401"))
            }
            None => Fail::Other(format!("HTTP {status}")),
        });
    }
    parse_json(&body).map_err(|e| Fail::Other(e.to_string()))
}

fn read_polled(events: Option<(u16, String)>, stats: (u16, String)) -> Result<Polled, String> {
    let refused = |e: WireError| Ok(Polled { unauthorized: Some(e), ..Polled::default() });
    let mut resync = None;
    let events = match events {
        Some(answer) => match body_json(answer).and_then(|v| events_page(v).map_err(Fail::Other)) {
            Ok(page) => Some(page),
            Err(Fail::Refused(e)) if e.code == ErrorCode::ResyncRequired => {
                resync = Some(e);
                None
            }
            Err(Fail::Refused(e)) if e.code.is_auth() => return refused(e),
            Err(Fail::Refused(e)) => return Err(format!("GET /api/events: {}", e.message)),
            Err(Fail::Other(e)) => return Err(format!("GET /api/events: {e}")),
        },
        None => None,
    };
    let stats = match body_json(stats).and_then(|v| stats_envelope(v).map_err(Fail::Other)) {
        Ok(stats) => stats,
        Err(Fail::Refused(e)) if e.code.is_auth() => return refused(e),
        Err(Fail::Refused(e)) => return Err(format!("GET /api/stats: {}", e.message)),
        Err(Fail::Other(e)) => return Err(format!("GET /api/stats: {e}")),
    };
    Ok(Polled { events, stats: Some(stats), resync, unauthorized: None })
}

fn field<'a, T>(
    v: &'a Value,
    k: &str,
    get: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<T, String> {
    v.get(k).and_then(get).ok_or_else(|| format!("missing or invalid field `{k}`"))
}

fn events_page(mut v: Value) -> Result<EventsPage, String> {
    let head = field(&v, "head", Value::as_u64)?;
    let epoch = match v.get("epoch") {
        None => String::new(),
        Some(_) => field(&v, "epoch", Value::as_str)?.to_owned(),
    };
    let Some(Value::Array(entries)) = v.get_mut("events").map(Value::take) else {
        return Err("missing or invalid field `events`".into());
    };
    let mut events = Vec::with_capacity(entries.len());
    for mut e in entries {
        let data = e.get_mut("data").map(Value::take);
        events.push(LoggedEvent {
            seq: field(&e, "seq", Value::as_u64)?,
            ts: field(&e, "ts", Value::as_i64)?,
            event: field(&e, "event", Value::as_str)?.to_owned(),
            data: data.ok_or("missing or invalid field `data`")?,
        });
    }
    Ok(EventsPage { events, head, epoch })
}

fn stats_envelope(v: Value) -> Result<Envelope<Stats>, String> {
    let s = field(&v, "data", Some)?;
    let count =
        |k| field(s, k, Value::as_u64).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()));
    let data = Stats {
        today_liters: field(s, "today_liters", Value::as_f64)?,
        today_sales: field(s, "today_sales", Value::as_f64)?,
        today_collection: field(s, "today_collection", Value::as_f64)?,
        outstanding: field(s, "outstanding", Value::as_f64)?,
        active_customers: count("active_customers")?,
        deliveries_today: count("deliveries_today")?,
    };
    Ok(Envelope {
        seq: field(&v, "seq", Value::as_u64)?,
        ts: field(&v, "ts", Value::as_i64)?,
        data,
    })
}
