//! A harness that plays the server's side at the frame level and owns simulated time: no
//! sockets, no sleeps, every run identical.

use std::time::Duration;

use crate::codec::Frame;
use crate::config::Config;
use crate::connection::{Connection, Event, Io};
use crate::time::Instant;

pub(crate) const URL: &str = "http://pulse.test";

pub(crate) struct Harness {
    pub(crate) conn: Connection,
    pub(crate) now: Instant,
    /// Frames the client sent on the current transport.
    pub(crate) sent: Vec<String>,
    pub(crate) binary_sent: Vec<Vec<u8>>,
    pub(crate) events: Vec<Event>,
    pub(crate) io: Vec<Io>,
    /// Whether the driver would have an open socket.
    pub(crate) open: bool,
}

impl Harness {
    pub(crate) fn config() -> Config {
        let mut c = Config::new(URL);
        // Exact delays: jitter is tested in `backoff`.
        c.backoff.randomization = 0.0;
        // Health pings have their own test; elsewhere they would only add traffic.
        c.health_interval = None;
        // Likewise fallback polling, which the polling tests switch on.
        c.poll_interval = None;
        c
    }

    pub(crate) fn new(config: Config) -> Harness {
        Harness {
            conn: Connection::new(config, 7),
            now: Instant::now(),
            sent: Vec::new(),
            binary_sent: Vec::new(),
            events: Vec::new(),
            io: Vec::new(),
            open: false,
        }
    }

    /// Collects every output, as a driver would after each input.
    pub(crate) fn drain(&mut self) {
        while let Some(f) = self.conn.poll_transmit() {
            assert!(self.open, "sent {f:?} with no open transport");
            match f {
                Frame::Text(t) => self.sent.push(t),
                Frame::Binary(b) => self.binary_sent.push(b),
            }
        }
        while let Some(io) = self.conn.poll_io() {
            self.open = false;
            self.io.push(io);
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
    }

    pub(crate) fn take_sent(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sent)
    }

    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub(crate) fn take_io(&mut self) -> Vec<Io> {
        std::mem::take(&mut self.io)
    }

    /// Moves time forward by `d`, firing deadlines on the way as a driver would.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        let mut fired = 0;
        while let Some(at) = self.conn.poll_timeout().filter(|at| *at <= end) {
            fired += 1;
            assert!(fired < 10_000, "a deadline at {at:?} keeps firing");
            self.now = self.now.max(at);
            self.conn.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    pub(crate) fn connect(&mut self) {
        self.conn.connect(self.now);
        self.drain();
    }

    /// The socket the client asked for opens.
    pub(crate) fn transport_opens(&mut self) {
        self.open = true;
        self.conn.handle_transport_open(self.now);
        self.drain();
    }

    pub(crate) fn transport_closes(&mut self, why: &str) {
        self.open = false;
        self.conn.handle_transport_closed(self.now, why.into());
        self.drain();
    }

    pub(crate) fn server_sends(&mut self, text: &str) {
        self.conn.handle_frame(self.now, Frame::Text(text.into()));
        self.drain();
    }

    pub(crate) fn server_sends_binary(&mut self, bytes: &[u8]) {
        self.conn.handle_frame(self.now, Frame::Binary(bytes.to_vec()));
        self.drain();
    }

    /// The Engine.IO handshake with the given heartbeat, in ms.
    pub(crate) fn handshake(&mut self, ping_interval: u64, ping_timeout: u64) {
        self.server_sends(&format!(
            r#"0{{"sid":"eio1","upgrades":[],"pingInterval":{ping_interval},"pingTimeout":{ping_timeout},"maxPayload":1000}}"#
        ));
    }

    /// Open, handshake (25 s / 20 s) and join; leaves outputs collected and cleared.
    pub(crate) fn go_live(&mut self) {
        self.connect();
        self.transport_opens();
        self.handshake(25_000, 20_000);
        self.server_sends(r#"40{"sid":"sio1"}"#);
        assert!(self.conn.is_live(), "not live: {:?}", self.events);
        self.take_sent();
        self.take_events();
        self.take_io();
    }
}

/// Any JSON value a server may send: nested up to 4 levels, floats and any text included.
// proptest needs OS entropy, which wasm32-unknown-unknown lacks.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::{json, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
