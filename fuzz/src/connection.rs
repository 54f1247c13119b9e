//! This module deals with driving a [`Connection`] from a fuzz input, the way
//! `client-sdk/src/driver` does, and checking after every step what the machine promises.
//!
//! # Operations
//! The input is split on [`crate::SEP`]; each piece is one operation, named by its first byte,
//! with the rest as its argument. Unknown bytes are skipped.
//!
//! | byte | operation | argument |
//! |---|---|---|
//! | `C` | configuration, first piece only | flags byte, then up to 8 seed bytes |
//! | `c` | `connect` | — |
//! | `d` | `disconnect` | — |
//! | `o` | the transport opened | — |
//! | `x` | the transport closed | reason |
//! | `t` | a text frame arrived | the frame |
//! | `b` | a binary frame arrived | the bytes |
//! | `w` | time passes, then `handle_timeout` | decimal milliseconds (capped at 30 days) |
//! | `W` | time jumps to `poll_timeout`, then `handle_timeout` | — |
//! | `e` | `emit("delivery:update", [json])` | JSON argument, if it parses |
//! | `E` | `emit_binary` with one attachment | the attachment |
//! | `a` | `emit_with_ack` | `<timeout ms> <json>`, both optional |
//! | `k` | `ack` the oldest server event that asked for one | JSON argument |
//! | `p` | the `Io::Poll` in flight succeeded (skipped if none) | an `EventsPage` or an `Envelope<Stats>` as JSON |
//! | `P` | the `Io::Poll` in flight failed (skipped if none) | — |
//! | `R` | the `Io::Poll` in flight answered RESYNC_REQUIRED (skipped if none) | message |
//! | `u` | the `Io::Poll` in flight was refused with 401 (skipped if none) | `x`: UNAUTHORIZED, else TOKEN_EXPIRED |
//! | `l` | `set_last_seq` | decimal seq |
//! | `s` | `set_auth` | `ConnectAuth` as JSON, else no auth |
//! | `A` | `handle_auth`, the answer to `Io::NeedAuth` (also sent unasked, as a late answer) | a token, or none if empty |
//! | `U` | `handle_auth` with `Renewal::Unavailable` (a refresh that failed for a passing reason) | reason |
//!
//! # Invariants checked
//! - No panic, whatever the server sends and whatever the time.
//! - Frames are transmitted only on an open transport; `Io::Open` only when the previous
//!   socket was closed; at most one `Io::Poll` in flight, and `Io::CancelPoll` only for one.
//! - Every transmitted frame is valid Engine.IO and, for messages, valid Socket.IO.
//! - `Event::Status` reports changes only, and the last one equals `status()`.
//! - Every `emit_with_ack` id is answered by at most one `Event::Ack` (all of them by
//!   `disconnect`), and no other id is.
//! - Event-log entries come out once, in increasing `seq`; `last_seq()` never goes back but
//!   to `None` (a position the SDK dropped on `error` or `connection:status`).
//! - After `handle_timeout(now)` no deadline is due at `now`, and a second call does nothing.
//! - After `disconnect`: no pending ack, no deadline; until the next `connect` or emit, frames,
//!   time and transport reports produce no output at all ("nothing after close").
//! - After `Event::Rejected` or a server DISCONNECT, no ack is left pending.
//! - `Io::NeedAuth` comes with no socket up. Once new credentials were tried, not again
//!   before a join (or `connect`): they are tried once, never in a loop. Asked again after
//!   an unavailable or unanswered renewal only once time has passed (the backoff).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use pulse_protocol::events::{is_logged, ConnectAuth, Stats};
use pulse_protocol::rest::EventsPage;
use pulse_protocol::{Envelope, ErrorCode, WireError};
use pulse_sdk::codec::{eio, sio, Frame};
use pulse_sdk::{
    Config, Connection, DisconnectReason, Event, Instant, Io, Polled, Renewal, Status,
};
use serde_json::Value;

use crate::pieces;

/// The longest single time step, so the harness itself cannot overflow `Instant`.
const MAX_STEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Runs one fuzz input through a fresh connection. Panics when an invariant breaks.
pub fn run(data: &[u8]) {
    let mut ops = pieces(data).peekable();
    let (config, seed) = match ops.peek() {
        Some(p) if p.first() == Some(&b'C') => {
            let (config, seed) = config(&p[1..]);
            ops.next();
            (config, seed)
        }
        _ => (Config::new("http://127.0.0.1:3000"), 0),
    };
    let mut h = Harness::new(config, seed);
    for op in ops.take(256) {
        h.step(op);
    }
}

/// Configuration variants chosen by the bits of the first argument byte.
fn config(arg: &[u8]) -> (Config, u64) {
    let mut c = Config::new("http://127.0.0.1:3000");
    let flags = arg.first().copied().unwrap_or(0);
    let bit = |n: u8| flags & (1 << n) != 0;
    if bit(0) {
        c.reconnection = false;
    }
    if bit(1) {
        c.reconnection_attempts = Some(2);
    }
    if bit(2) {
        c.poll_interval = None;
    }
    if bit(3) {
        c.health_interval = None;
    }
    if bit(4) {
        c.idempotency_keys = false;
    }
    if bit(5) {
        c.namespace = "/admin".into();
    }
    if bit(6) {
        c.send_buffer = 2;
    }
    if bit(7) {
        c.poll_after_failures = 3;
    }
    let mut seed = [0u8; 8];
    let rest = arg.get(1..).unwrap_or_default();
    let n = rest.len().min(8);
    seed[..n].copy_from_slice(&rest[..n]);
    (c, u64::from_le_bytes(seed))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    /// No socket: never opened, closed by `Io::Close`, or reported closed.
    None,
    /// `Io::Open` seen, not yet reported open.
    Opening,
    /// Reported open.
    Open,
}

/// What one step produced.
#[derive(Debug, Default)]
struct Output {
    frames: usize,
    io: usize,
    events: Vec<Event>,
}

impl Output {
    fn is_empty(&self) -> bool {
        self.frames == 0 && self.io == 0 && self.events.is_empty()
    }
}

struct Harness {
    conn: Connection,
    namespace: String,
    now: Instant,
    socket: Socket,
    poll_in_flight: bool,
    last_status: Status,
    /// `emit_with_ack` ids not answered yet.
    pending_acks: BTreeSet<u64>,
    /// Ack ids of server events that asked for an answer.
    server_acks: VecDeque<u64>,
    /// `disconnect` was the last word: nothing may come out until `connect` or an emit.
    closed: bool,
    /// Decodes what the machine transmits, to check it is valid.
    outgoing: sio::Decoder,
    /// `Io::NeedAuth` requests since the last join or `connect`.
    auth_requests: u32,
    /// When the last `Io::NeedAuth` since the last join or `connect` came.
    last_auth_request: Option<Instant>,
    /// New credentials were tried (an answer opened a socket) since the last join or
    /// `connect`.
    credentials_tried: bool,
}

impl Harness {
    fn new(config: Config, seed: u64) -> Self {
        let namespace = config.namespace.clone();
        let conn = Connection::new(config, seed);
        let last_status = conn.status();
        Harness {
            conn,
            namespace,
            now: Instant::now(),
            socket: Socket::None,
            poll_in_flight: false,
            last_status,
            pending_acks: BTreeSet::new(),
            server_acks: VecDeque::new(),
            closed: false,
            outgoing: sio::Decoder::new(),
            auth_requests: 0,
            last_auth_request: None,
            credentials_tried: false,
        }
    }

    fn step(&mut self, op: &[u8]) {
        let Some((&code, arg)) = op.split_first() else { return };
        let seq_before = self.conn.last_seq();
        let was_closed = self.closed;
        let out = match code {
            b'c' => {
                self.closed = false;
                self.auth_requests = 0;
                self.credentials_tried = false;
                self.last_auth_request = None;
                self.conn.connect(self.now);
                self.drain()
            }
            b'd' => {
                self.conn.disconnect(self.now);
                let out = self.drain();
                assert!(self.pending_acks.is_empty(), "acks left after disconnect");
                assert_eq!(self.conn.poll_timeout(), None, "a deadline after disconnect");
                assert_eq!(self.conn.status(), Status::Offline);
                self.closed = true;
                // `disconnect` itself may send the DISCONNECT packet and close the socket.
                return self.check_seq(seq_before, &out);
            }
            b'o' => {
                if self.socket == Socket::Opening {
                    self.socket = Socket::Open;
                }
                self.conn.handle_transport_open(self.now);
                self.drain()
            }
            b'x' => {
                self.socket = Socket::None;
                let reason = String::from_utf8_lossy(arg).into_owned();
                self.conn.handle_transport_closed(self.now, reason);
                self.drain()
            }
            b't' | b'b' => {
                let f = if code == b't' {
                    Frame::Text(String::from_utf8_lossy(arg).into_owned())
                } else {
                    Frame::Binary(arg.to_vec())
                };
                self.conn.handle_frame(self.now, f);
                self.drain()
            }
            b'w' => {
                let ms = decimal(arg).unwrap_or(1000);
                self.now += Duration::from_millis(ms).min(MAX_STEP);
                self.timeout()
            }
            b'W' => {
                if let Some(at) = self.conn.poll_timeout() {
                    // Never more than MAX_STEP ahead: a far deadline is as good as none.
                    self.now = self.now.max(at.min(self.now + MAX_STEP));
                }
                self.timeout()
            }
            b'e' => {
                let args = json(arg).into_iter().collect();
                let _ = self.conn.emit(self.now, "delivery:update", args);
                self.drain()
            }
            b'E' => {
                let args = vec![sio::placeholder(0)];
                let _ = self.conn.emit_binary(self.now, "file", args, vec![arg.to_vec()]);
                self.drain()
            }
            b'a' => {
                let (timeout, body) = match arg.iter().position(|b| *b == b' ') {
                    Some(i) => (decimal(&arg[..i]), &arg[i + 1..]),
                    None => (None, arg),
                };
                let args = json(body).into_iter().collect();
                let timeout = timeout.map(Duration::from_millis);
                let sent = self.conn.emit_with_ack(self.now, "payment:add", args, vec![], timeout);
                if let Ok(id) = sent {
                    assert!(self.pending_acks.insert(id), "ack id {id} handed out twice");
                    self.closed = false;
                }
                self.drain()
            }
            b'k' => {
                if let Some(id) = self.server_acks.pop_front() {
                    self.conn.ack(id, json(arg).into_iter().collect());
                }
                self.drain()
            }
            b'p' | b'P' | b'R' | b'u' => {
                // The driver reports only polls it was asked for, once each.
                if !self.poll_in_flight {
                    return;
                }
                self.poll_in_flight = false;
                let result = match code {
                    b'p' => {
                        let events = serde_json::from_slice::<EventsPage>(arg).ok();
                        let stats = serde_json::from_slice::<Envelope<Stats>>(arg).ok();
                        Ok(Polled { events, stats, ..Polled::default() })
                    }
                    b'u' => {
                        let code = if arg.first() == Some(&b'x') {
                            ErrorCode::Unauthorized
                        } else {
                            ErrorCode::TokenExpired
                        };
                        let why = Some(WireError::new(code, "refused"));
                        Ok(Polled { unauthorized: why, ..Polled::default() })
                    }
                    b'R' => {
                        let message = String::from_utf8_lossy(arg).into_owned();
                        let resync = Some(WireError::new(ErrorCode::ResyncRequired, message));
                        Ok(Polled { resync, ..Polled::default() })
                    }
                    _ => Err("fuzzed poll failure".to_owned()),
                };
                self.conn.handle_poll_result(self.now, result);
                let out = self.drain();
                if was_closed {
                    // The driver reports a poll it started before `disconnect`: its entries may
                    // still be applied (or its failure told), but nothing may be sent, opened
                    // or scheduled.
                    assert!(out.frames == 0 && out.io == 0, "poll result after close: {out:?}");
                    assert!(
                        out.events
                            .iter()
                            .all(|e| matches!(e, Event::Message(_) | Event::PollFailed { .. })),
                        "poll result after close: {out:?}"
                    );
                    assert_eq!(self.conn.poll_timeout(), None, "poll rescheduled after close");
                    return self.check_seq(seq_before, &out);
                }
                out
            }
            b'l' => {
                if let Some(seq) = decimal(arg) {
                    self.conn.set_last_seq(seq);
                }
                self.drain()
            }
            b's' => {
                let auth = serde_json::from_slice::<ConnectAuth>(arg).ok();
                self.conn.set_auth(auth);
                self.drain()
            }
            b'A' => {
                let token = String::from_utf8_lossy(arg).into_owned();
                let auth = (!token.is_empty()).then(|| ConnectAuth::with_token(token));
                let was = self.socket;
                self.conn.handle_auth(self.now, auth);
                let out = self.drain();
                if was == Socket::None && self.socket == Socket::Opening {
                    self.credentials_tried = true;
                }
                out
            }
            b'U' => {
                let reason = String::from_utf8_lossy(arg).into_owned();
                let was = self.socket;
                self.conn.handle_auth(self.now, Renewal::Unavailable(reason));
                let out = self.drain();
                assert_eq!(self.socket, was, "the socket changed on no credentials");
                out
            }
            _ => return,
        };
        if was_closed && self.closed {
            assert!(out.is_empty(), "output after disconnect, on {:?}: {out:?}", code as char);
        }
        self.check_seq(seq_before, &out);
    }

    /// Fires due deadlines and checks none is left due, and that doing it again is a no-op.
    fn timeout(&mut self) -> Output {
        self.conn.handle_timeout(self.now);
        let out = self.drain();
        if let Some(at) = self.conn.poll_timeout() {
            assert!(at > self.now, "deadline {at:?} still due at {:?}", self.now);
        }
        self.conn.handle_timeout(self.now);
        let again = self.drain();
        assert!(again.is_empty(), "a second handle_timeout did something: {again:?}");
        out
    }

    /// Takes every output in the documented order and checks each against the model.
    fn drain(&mut self) -> Output {
        let mut out = Output::default();
        while let Some(f) = self.conn.poll_transmit() {
            assert_eq!(self.socket, Socket::Open, "frame {f:?} without an open transport");
            self.check_outgoing(f);
            out.frames += 1;
        }
        while let Some(io) = self.conn.poll_io() {
            match io {
                Io::Open { .. } => {
                    assert_eq!(self.socket, Socket::None, "Io::Open while a socket is up");
                    self.socket = Socket::Opening;
                    // A new socket: what was half-sent on the old one is gone.
                    self.outgoing.reset();
                }
                Io::Close => {
                    self.socket = Socket::None;
                    self.outgoing.reset();
                }
                Io::Poll { .. } => {
                    assert!(!self.poll_in_flight, "a second Io::Poll while one is in flight");
                    self.poll_in_flight = true;
                }
                Io::CancelPoll => {
                    // The driver drops the request; its result is never reported.
                    assert!(self.poll_in_flight, "Io::CancelPoll with no poll in flight");
                    self.poll_in_flight = false;
                }
                Io::NeedAuth(_) => {
                    assert_eq!(self.socket, Socket::None, "Io::NeedAuth with a socket up");
                    self.auth_requests += 1;
                    assert!(!self.credentials_tried, "credentials asked for again before a join");
                    if let Some(last) = self.last_auth_request {
                        assert!(self.now > last, "credentials asked for again at once");
                    }
                    self.last_auth_request = Some(self.now);
                }
            }
            out.io += 1;
        }
        let mut cleared = false;
        while let Some(e) = self.conn.poll_event() {
            match &e {
                Event::Status(s) => {
                    assert_ne!(*s, self.last_status, "status reported without a change");
                    self.last_status = s.clone();
                }
                Event::Ack { id, .. } => {
                    assert!(
                        self.pending_acks.remove(id),
                        "Event::Ack for unknown or answered id {id}"
                    );
                }
                Event::Message(m) => {
                    if let Some(id) = m.ack_id {
                        self.server_acks.push_back(id);
                    }
                }
                Event::Connected { .. } => {
                    self.auth_requests = 0;
                    self.credentials_tried = false;
                    self.last_auth_request = None;
                }
                Event::Rejected(_)
                | Event::Disconnected {
                    reason: DisconnectReason::Server | DisconnectReason::Client,
                } => cleared = true,
                _ => {}
            }
            out.events.push(e);
        }
        if cleared {
            assert!(self.pending_acks.is_empty(), "acks left pending: {:?}", self.pending_acks);
        }
        assert_eq!(self.conn.status(), self.last_status, "status() differs from the last report");
        out
    }

    /// What the machine sends must be something a Socket.IO server can read.
    fn check_outgoing(&mut self, f: Frame) {
        let packet = eio::Packet::decode(f.clone())
            .unwrap_or_else(|e| panic!("transmitted frame {f:?} is not Engine.IO: {e}"));
        let decoded = match packet {
            eio::Packet::Message(text) => self.outgoing.decode_text(&text),
            eio::Packet::Binary(bytes) => self.outgoing.decode_binary(bytes),
            eio::Packet::Pong(_) => return,
            other => panic!("the client sent {other:?}"),
        };
        match decoded {
            Ok(Some(p)) => assert_eq!(p.nsp, self.namespace, "packet for another namespace"),
            Ok(None) => {}
            Err(e) => panic!("transmitted frame {f:?} is not Socket.IO: {e}"),
        }
    }

    /// Log entries in increasing `seq`, and `last_seq()` never back, unless the position was
    /// dropped (to `None`: the log changed, or the server asked for a resync).
    fn check_seq(&self, before: Option<u64>, out: &Output) {
        let mut last = before;
        for e in &out.events {
            let Event::Message(m) = e else { continue };
            if DROPS_POSITION.contains(&m.event.as_str()) {
                last = None;
                continue;
            }
            if !is_logged(&m.event) {
                continue;
            }
            // Read with serde_json, apart from the SDK's own scanner, which de-duplicated them.
            let Some(seq) =
                m.args.first().and_then(|a| a.value().get("seq").and_then(Value::as_u64))
            else {
                continue;
            };
            assert!(last.is_none_or(|l| seq > l), "{} seq {seq} after {last:?}", m.event);
            last = Some(seq);
        }
        let now = self.conn.last_seq();
        assert!(now.is_none() || now >= before, "last_seq went back from {before:?} to {now:?}");
    }
}

/// Server events after which the SDK may drop its log position: `error` (RESYNC_REQUIRED) and
/// `connection:status` (another log epoch).
const DROPS_POSITION: &[&str] = &["error", "connection:status"];

fn decimal(s: &[u8]) -> Option<u64> {
    std::str::from_utf8(s).ok()?.trim().parse().ok()
}

fn json(s: &[u8]) -> Option<Value> {
    serde_json::from_slice(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ops: &[&str]) -> Vec<u8> {
        ops.join("\u{1}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 1 { crate::SEP } else { b })
            .collect()
    }

    #[test]
    fn the_op_language_drives_a_connection_live() {
        let hs = r#"t0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
        let data = input(&["c", "o", hs, r#"t40{"sid":"s"}"#, r#"t42["payment:added",{"seq":7}]"#]);
        let (config, seed) = (Config::new("http://127.0.0.1:3000"), 0);
        let mut h = Harness::new(config, seed);
        for op in pieces(&data) {
            h.step(op);
        }
        assert!(h.conn.is_live());
        assert_eq!(h.conn.last_seq(), Some(7));
        assert_eq!(h.socket, Socket::Open);
        h.step(b"a{\"x\":1}");
        assert_eq!(h.pending_acks.len(), 1);
        h.step(b"d");
        assert!(h.closed && h.pending_acks.is_empty() && h.socket == Socket::None);
    }

    #[test]
    fn credentials_are_asked_for_once_and_answered() {
        let hs = r#"t0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
        let expired = r#"t44{"message":"TOKEN_EXPIRED: token expired"}"#;
        let data = input(&[r#"s{"token":"t1"}"#, "c", "o", hs, expired, "At2", "o", hs]);
        let mut h = Harness::new(Config::new("http://127.0.0.1:3000"), 0);
        for op in pieces(&data) {
            h.step(op);
        }
        assert_eq!(h.auth_requests, 1);
        h.step(br#"t40{"sid":"s"}"#);
        assert!(h.conn.is_live());
        assert_eq!(h.conn.auth().and_then(|a| a.token.as_deref()), Some("t2"));
        assert_eq!(h.auth_requests, 0, "a join allows the next request");
    }

    #[test]
    fn an_unavailable_renewal_is_asked_again_after_a_wait_and_new_credentials_only_once() {
        let hs = r#"t0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
        let expired = r#"t44{"message":"TOKEN_EXPIRED: token expired"}"#;
        let data = input(&[r#"s{"token":"t1"}"#, "c", "o", hs, expired, "Unetwork error"]);
        let mut h = Harness::new(Config::new("http://127.0.0.1:3000"), 0);
        for op in pieces(&data) {
            h.step(op);
        }
        assert_eq!((h.auth_requests, h.socket), (1, Socket::None));
        h.step(b"w6000");
        assert_eq!(h.auth_requests, 2, "asked again after the backoff");
        h.step(b"w20000"); // unanswered: asked again after the next backoff
        h.step(b"w6000");
        assert_eq!(h.auth_requests, 3);
        h.step(b"At2");
        assert!(h.credentials_tried && h.socket == Socket::Opening);
        h.step(b"o");
        h.step(hs.as_bytes());
        h.step(expired.as_bytes());
        assert_eq!(h.auth_requests, 3, "new credentials refused again: final");
        assert_eq!(h.conn.status(), Status::Offline);
    }

    /// The committed inputs, natively: what `scripts/fuzz-smoke` replays under libFuzzer.
    #[test]
    fn the_committed_corpus_and_regressions_hold() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for dir in ["corpus/connection", "regressions/connection"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
            for e in entries.flatten() {
                run(&std::fs::read(e.path()).unwrap());
                n += 1;
            }
        }
        assert!(n > 0, "no inputs found");
    }
}
