//! This module deals with the events package's wasm half (feature `js`): [`Machine`], the
//! connection machine, the transport machine and the codec behind one class that
//! `src/js/client.js` drives, as the native driver drives them in Rust. JavaScript opens the
//! WebSockets, makes the long-polling and fallback requests, keeps one timer and the outbox,
//! and hands every input here; the machine answers through one callback, `out(kind, a, b, c)`,
//! with what to do. JavaScript queues what its handlers do meanwhile, so the machine is never
//! re-entered.
//!
//! Not in the package's TypeScript declarations: pages use `PulseClient` (client.js).

use js_sys::{Function, Object, Reflect, Uint8Array};
use pulse_protocol::events::{ConnectAuth, Topic, CONNECTION_STATUS, ERROR};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::{error_code, js_err, js_error, status_object, unknown_topic, Options};
use crate::codec::{json_text, parse_json, Frame};
use crate::connection::AckReply;
use crate::driver::http::Answer;
use crate::driver::poll;
use crate::transport::{Action, IoId, Transport, Transports};
use crate::{Connection, Event, Instant, Io, Renewal, Status};

// What `out(kind, a, b, c)` asks of JavaScript; client.js has the same numbers.
/// Open WebSocket `a` on URL `b`.
const OPEN_WS: u32 = 0;
/// Send frame `b` (text, or bytes) on WebSocket `a`.
const SEND_WS: u32 = 1;
/// Close WebSocket `a`; nothing more is wanted from it.
const CLOSE_WS: u32 = 2;
/// Long-polling: `GET` URL `b` as request `a`.
const GET: u32 = 3;
/// Long-polling: `POST` body `c` to URL `b` as request `a`.
const POST: u32 = 4;
/// Abort request `a`; its answer is not wanted.
const CANCEL: u32 = 5;
/// Fallback poll: `GET` the feed `a` (if not `undefined`) and the stats `b`, with token `c`.
const POLL: u32 = 6;
/// Abort the fallback poll under way.
const CANCEL_POLL: u32 = 7;
/// The server refused the token or ended its session: answer with `auth`.
const NEED_AUTH: u32 = 8;
/// The status changed: `a`, as `status` gives it.
const STATUS: u32 = 9;
/// Server event `a`, its first argument's JSON text `b` (`undefined`: none).
const MESSAGE: u32 = 10;
/// Ack `a` answered: its first argument's JSON text `b`, or the error `c` ("CODE message").
const ACK: u32 = 11;
/// Until WebSocket `a`'s frames may take the fast path (`undefined`: none may): `b` ms from
/// now, when the heartbeat expires.
const GATE: u32 = 12;
/// Call `timeout` in `a` ms (negative: no timer), instead of when last told.
const DEADLINE: u32 = 13;
/// The last log entry applied is `a` now (`undefined`: none).
const POSITION: u32 = 14;

/// The machines behind one JavaScript `PulseClient`.
#[wasm_bindgen(skip_typescript)]
pub struct Machine {
    conn: Connection,
    io: Transports,
    out: Function,
    rtt: Option<u32>,
    /// The WebSocket and heartbeat deadline the fast path was last given.
    gate: Option<(IoId, Instant)>,
    /// What the session is carried on, after the last call (the store is told changes).
    transport: Option<Transport>,
    /// The deadline JavaScript's timer was last set for (`None`: not told yet).
    deadline: Option<Option<Instant>>,
    /// The position JavaScript was last told (or told the machine).
    position: Option<u64>,
    /// The live state, from the first `state`, `onState` or `loadState` on; it takes every
    /// event, so the fast path stays shut from then on.
    #[cfg(feature = "js-state")]
    mirror: Option<std::rc::Rc<std::cell::RefCell<super::state::Mirror>>>,
}

/// A JSON array's text (`JSON.stringify([data])`) as the event's arguments.
fn args_of(json: &str) -> Result<Vec<Value>, JsValue> {
    match parse_json(json) {
        Ok(Value::Array(args)) => Ok(args),
        Ok(one) => Ok(vec![one]),
        Err(e) => Err(js_err(&e.to_string())),
    }
}

#[wasm_bindgen]
impl Machine {
    /// A client of `url` with `options` (`JSON.stringify` of `PulseClientOptions`); `out` gets
    /// every output.
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, options: &str, out: Function) -> Result<Machine, JsValue> {
        let opts = parse_json(options).map_err(|e| js_err(&e.to_string()))?;
        let Options { config, token, position } = super::options(url, &opts)?;
        let mut conn = Connection::new(config.clone(), crate::driver::seed());
        conn.set_auth(token.map(ConnectAuth::with_token));
        if let Some((seq, epoch)) = position {
            conn.restore_position(seq, epoch.as_deref());
        }
        Ok(Machine {
            conn,
            io: Transports::new(config),
            out,
            rtt: None,
            gate: None,
            transport: None,
            deadline: None,
            position: None,
            #[cfg(feature = "js-state")]
            mirror: None,
        })
    }

    /// Connects (again, after `disconnect` or a refusal).
    pub fn connect(&mut self) {
        self.conn.connect(Instant::now());
        self.drain();
    }

    /// Leaves the server; no reconnection follows.
    pub fn disconnect(&mut self) {
        self.conn.disconnect(Instant::now());
        self.drain();
    }

    /// Sends `event` with `args` (a JSON array's text); with `ack` (ms, or 0 for the default
    /// timeout) asks for an answer and returns its id, which `ACK` reports.
    pub fn emit(&mut self, event: &str, args: &str, ack: Option<f64>) -> Result<f64, JsValue> {
        let args = args_of(args)?;
        let now = Instant::now();
        let id = match ack {
            None => self.conn.emit(now, event, args).map(|()| 0),
            Some(ms) => {
                let timeout = (ms > 0.0).then(|| std::time::Duration::from_millis(ms as u64));
                self.conn.emit_with_ack(now, event, args, Vec::new(), timeout)
            }
        };
        let id = id.map_err(|e| js_error(&e))?;
        self.drain();
        Ok(id as f64)
    }

    /// Subscribes to `topic` (or unsubscribes); returns the ack id of the server's answer.
    pub fn subscribe(&mut self, topic: &str, on: bool) -> Result<f64, JsValue> {
        let t = Topic::parse(topic).ok_or_else(|| unknown_topic(topic))?;
        let id = self.conn.subscribe(Instant::now(), t, on).map_err(|e| js_error(&e))?;
        self.drain();
        Ok(id as f64)
    }

    /// A new idempotency key for an action.
    pub fn key(&mut self) -> String {
        self.conn.new_idempotency_key()
    }

    /// Notes log entry `seq` as applied (by the fast path); whether it was new.
    pub fn accept(&mut self, seq: f64) -> bool {
        let new = self.conn.accept_seq(seq as u64);
        self.position = self.conn.last_seq();
        new
    }

    /// The token for the next attempt and poll on.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&mut self, token: Option<String>) {
        self.conn.set_auth(token.map(ConnectAuth::with_token));
    }

    /// The answer to `NEED_AUTH`: the token now (`undefined`: refused).
    pub fn auth(&mut self, token: Option<String>) {
        let renewal: Renewal = token.map(ConnectAuth::with_token).into();
        self.conn.handle_auth(Instant::now(), renewal);
        self.drain();
    }

    /// WebSocket `id` is open.
    #[wasm_bindgen(js_name = wsOpen)]
    pub fn ws_open(&mut self, id: f64) {
        self.io.handle_ws_open(id as IoId);
        self.drain();
    }

    /// WebSocket `id` received a text frame (one fast.js did not take).
    #[wasm_bindgen(js_name = wsText)]
    pub fn ws_text(&mut self, id: f64, text: String) {
        self.io.handle_ws_frame(id as IoId, Frame::Text(text));
        self.drain();
    }

    /// WebSocket `id` received a binary frame.
    #[wasm_bindgen(js_name = wsBinary)]
    pub fn ws_binary(&mut self, id: f64, bytes: Vec<u8>) {
        self.io.handle_ws_frame(id as IoId, Frame::Binary(bytes));
        self.drain();
    }

    /// WebSocket `id` closed, or could not open, for `reason`.
    #[wasm_bindgen(js_name = wsClosed)]
    pub fn ws_closed(&mut self, id: f64, reason: String) {
        self.io.handle_ws_closed(id as IoId, reason);
        self.drain();
    }

    /// Request `id`'s answer (`status` 0: none came, `body` says why).
    pub fn http(&mut self, id: f64, status: u16, body: String) {
        self.io.handle_http(id as IoId, answer(status, body).map(|a| (a.status, a.body)));
        self.drain();
    }

    /// The fallback poll's answers, each `(status, body)` as for `http`; the feed's status is
    /// `undefined` when it was not asked.
    pub fn polled(
        &mut self,
        events: Option<u16>,
        events_body: String,
        stats: u16,
        stats_body: String,
    ) {
        let events = events.map(|s| answer(s, events_body));
        let result = poll::read(events, answer(stats, stats_body));
        self.conn.handle_poll_result(Instant::now(), result);
        self.drain();
    }

    /// The timer `DEADLINE` asked for has fired.
    pub fn timeout(&mut self) {
        // That timer is spent: the next deadline is told even if it is the same.
        self.deadline = None;
        self.conn.handle_timeout(Instant::now());
        self.drain();
    }

    /// The status now, as pages get it.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> JsValue {
        self.status_of(&self.conn.status()).into()
    }

    /// `{ seq, epoch }` once an entry was applied.
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

    /// What carries the session: `"websocket"`, `"polling"`, or `undefined`.
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> Option<String> {
        self.io.current().map(|t| t.as_str().to_owned())
    }

    /// The topics received (their keys), or `undefined` for every topic.
    #[wasm_bindgen(getter)]
    pub fn topics(&self) -> JsValue {
        match self.conn.topics() {
            Some(t) => {
                t.iter().map(|t| JsValue::from_str(t.as_str())).collect::<js_sys::Array>().into()
            }
            None => JsValue::UNDEFINED,
        }
    }

    /// What the fast path needs once: the names of log entries (whose `seq` `accept` takes),
    /// and those of the events the machines always take.
    pub fn names() -> js_sys::Array {
        let logged: js_sys::Array =
            pulse_protocol::events::logged().into_iter().map(JsValue::from_str).collect();
        js_sys::Array::of3(
            &logged,
            &JsValue::from_str(ERROR),
            &JsValue::from_str(CONNECTION_STATUS),
        )
    }
}

/// The live state (feature `js-state`): what the package with the state adds to `Machine`.
#[cfg(feature = "js-state")]
#[wasm_bindgen]
impl Machine {
    /// The state now (`client.state()`).
    pub fn state(&mut self) -> JsValue {
        super::state::snapshot(&self.mirror())
    }

    /// Calls `handler(state, changed)` soon with every part, then at each change, as `id`.
    #[wasm_bindgen(js_name = onState)]
    pub fn on_state(&mut self, id: u32, handler: Function) {
        super::state::add_handler(&self.mirror(), id, handler);
    }

    /// Removes the state handler `id`; whether it was one.
    #[wasm_bindgen(js_name = stateOff)]
    pub fn state_off(&self, id: u32) -> bool {
        self.mirror.as_ref().is_some_and(|m| super::state::remove_handler(m, id))
    }

    /// Merges `data` (JSON text) read over REST into `part` (`client.loadState`).
    #[wasm_bindgen(js_name = loadState)]
    pub fn load_state(&mut self, part: &str, data: &str) -> Result<(), JsValue> {
        let data = parse_json(data).map_err(|e| js_err(&e.to_string()))?;
        super::state::load(&self.mirror(), part, data)
    }
}

#[cfg(feature = "js-state")]
impl Machine {
    /// The live state, made on first use; the fast path shuts at once.
    fn mirror(&mut self) -> std::rc::Rc<std::cell::RefCell<super::state::Mirror>> {
        if let Some(m) = &self.mirror {
            return m.clone();
        }
        let m = super::state::new(self.conn.status());
        self.mirror = Some(m.clone());
        if self.gate.take().is_some() {
            self.out(GATE, JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED);
        }
        m
    }
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

/// A request's answer as the readers take it: status 0 is none, and the body says why.
fn answer(status: u16, body: String) -> Result<Answer, String> {
    if status == 0 {
        Err(body)
    } else {
        Ok(Answer { status, body })
    }
}

impl Machine {
    fn out(&self, kind: u32, a: JsValue, b: JsValue, c: JsValue) {
        let _ = self.out.call4(&JsValue::NULL, &JsValue::from(kind), &a, &b, &c);
    }

    /// The status object with the round trip and the log position, as pages get it.
    fn status_of(&self, s: &Status) -> Object {
        let o = status_object(s, self.rtt);
        if let Some(seq) = self.conn.last_seq() {
            set(&o, "lastSeq", JsValue::from(seq as f64));
        }
        if let Some(e) = self.conn.epoch() {
            set(&o, "epoch", JsValue::from_str(e));
        }
        o
    }

    /// Until neither machine has anything more; then the fast path's gate and the next
    /// deadline.
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
                            JsValue::from(poll::events_url(&base, since, epoch.as_deref(), topics))
                        });
                        let token = self.conn.auth().and_then(|a| a.token.clone());
                        let stats = JsValue::from(poll::stats_url(&base));
                        self.out(POLL, events.unwrap_or_else(u), stats, token.into());
                    }
                    Io::NeedAuth(_) => self.out(NEED_AUTH, u(), u(), u()),
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
                self.conn.handle_up(Instant::now(), up);
            }
            if !reported {
                break;
            }
        }
        let now = Instant::now();
        let gate = self.io.websocket().zip(self.conn.live_until()).filter(|_| self.fast_path());
        if gate != self.gate {
            self.gate = gate;
            match gate {
                Some((id, until)) => {
                    let left = until.saturating_duration_since(now).as_secs_f64() * 1e3;
                    self.out(GATE, (id as f64).into(), left.into(), u())
                }
                None => self.out(GATE, u(), u(), u()),
            }
        }
        // Each told only when it changed: most calls (a frame, an answer) change none.
        let transport = self.io.current();
        if transport != self.transport {
            self.transport = transport;
            self.report(Event::Transport(transport));
        }
        let position = self.conn.last_seq();
        if position != self.position {
            self.position = position;
            self.out(POSITION, position.map_or_else(u, |s| JsValue::from(s as f64)), u(), u());
        }
        let deadline = self.conn.poll_timeout();
        if self.deadline != Some(deadline) {
            self.deadline = Some(deadline);
            let ms =
                deadline.map_or(-1.0, |at| at.saturating_duration_since(now).as_secs_f64() * 1e3);
            self.out(DEADLINE, ms.into(), u(), u());
        }
    }

    /// Whether live events may skip the machine (not while the live state follows them).
    fn fast_path(&self) -> bool {
        #[cfg(feature = "js-state")]
        if self.mirror.is_some() {
            return false;
        }
        true
    }

    fn report(&mut self, e: Event) {
        let u = || JsValue::UNDEFINED;
        #[cfg(feature = "js-state")]
        if let Some(m) = &self.mirror {
            super::state::apply(m, &e);
        }
        match e {
            Event::Status(s) => self.out(STATUS, self.status_of(&s).into(), u(), u()),
            Event::Message(m) => {
                // The argument as JSON text: JavaScript parses it.
                let data = m.args.first().map_or_else(u, |a| JsValue::from_str(a.text()));
                self.out(MESSAGE, m.event.into(), data, u())
            }
            Event::Ack { id, result } => {
                let (reply, error) = match result {
                    Ok(AckReply { args, .. }) => {
                        (args.first().map_or_else(u, |a| JsValue::from(json_text(a))), u())
                    }
                    Err(e) => (u(), JsValue::from(format!("{} {e}", error_code(&e)))),
                };
                self.out(ACK, (id as f64).into(), reply, error)
            }
            Event::Rtt(d) => self.rtt = Some(d.as_millis() as u32),
            _ => {}
        }
    }
}
