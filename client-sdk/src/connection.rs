//! This module deals with one logical Socket.IO connection over its whole life: transport
//! opening, the Engine.IO handshake, the namespace join, the heartbeat, acks with deadlines,
//! the offline send buffer, health pings and reconnection. It is a pure state machine.
//!
//! # Driving it
//! Inputs are `connect`, `disconnect`, `emit*`, `ack` and the `handle_*` methods; each takes
//! `now`. After any input, a driver drains, in this order:
//! 1. [`Connection::poll_transmit`]: frames to send on the current transport;
//! 2. [`Connection::poll_io`]: close it or open a new one;
//! 3. [`Connection::poll_event`]: what happened, for the application;
//!
//! then sleeps until [`Connection::poll_timeout`] or the next input, and calls
//! [`Connection::handle_timeout`] when the deadline passes. Extra `handle_timeout` calls are
//! harmless.
//!
//! # Credentials
//! The CONNECT credentials are a typed [`ConnectAuth`], set with [`Connection::set_auth`].
//! When the server refuses them (CONNECT_ERROR) or ends a live session (an `error` event then
//! DISCONNECT) for an auth reason ([`ErrorCode::is_auth`]: an expired or invalid token), the
//! machine asks for new ones with [`Io::NeedAuth`] and keeps the session's state (position,
//! queued emits) while it waits. So does an action refused with TOKEN_EXPIRED on a live
//! session (the server's clock passed the token's expiry before the client's did): the
//! session is closed, the action resent after the rejoin. So does a fallback poll refused
//! with 401. The driver answers with [`Connection::handle_auth`] and a [`Renewal`]: new
//! credentials are tried once, at once, resuming from the last `seq`; none
//! ([`Renewal::Refused`]: the session is over), the same ones, or a second auth refusal
//! before the join stops the connection with [`Event::Rejected`]. A renewal that failed for
//! a passing reason ([`Renewal::Unavailable`], or no answer within `connect_timeout`) is
//! asked for again after the reconnection backoff (with its jitter and cap), the session
//! kept, for as long as reconnection is allowed. Other refusals stop the connection at
//! once, as before.
//!
//! ```
//! use pulse_protocol::events::ConnectAuth;
//! use pulse_sdk::codec::Frame;
//! use pulse_sdk::{Config, Connection, Event, Instant, Io};
//!
//! let now = Instant::now();
//! let mut conn = Connection::new(Config::new("http://127.0.0.1:3000"), 42);
//! conn.set_auth(Some(ConnectAuth::with_token("jwt")));
//! conn.connect(now);
//! assert!(matches!(conn.poll_io(), Some(Io::Open { url }) if url.starts_with("ws://127.0.0.1:3000/socket.io/")));
//!
//! // The driver opened the WebSocket; the server sends its Engine.IO handshake.
//! conn.handle_transport_open(now);
//! conn.handle_frame(now, Frame::Text(
//!     r#"0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#.into(),
//! ));
//! assert_eq!(conn.poll_transmit(), Some(Frame::Text(r#"40{"token":"jwt"}"#.into())));
//!
//! // The namespace join is accepted; a server event arrives.
//! conn.handle_frame(now, Frame::Text(r#"40{"sid":"s"}"#.into()));
//! conn.handle_frame(now, Frame::Text(r#"42["payment:added",{"seq":7,"ts":0,"data":{}}]"#.into()));
//! let events: Vec<Event> = std::iter::from_fn(|| conn.poll_event()).collect();
//! assert!(events.iter().any(|e| matches!(e, Event::Connected { .. })));
//! assert!(events.iter().any(|e| matches!(e, Event::Message(m) if m.event == "payment:added")));
//! assert_eq!(conn.last_seq(), Some(7));
//! // The first health ping went out as soon as the join was accepted.
//! assert_eq!(conn.poll_transmit(), Some(Frame::Text(r#"420["ping"]"#.into())));
//!
//! // The server's heartbeat: answer pings, and the next deadline is pingInterval + pingTimeout.
//! conn.handle_frame(now, Frame::Text("2".into()));
//! assert_eq!(conn.poll_transmit(), Some(Frame::Text("3".into())));
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use pulse_protocol::events::{
    ConnectAuth, Stats, Topic, Topics, ERROR, MODULE_SUBSCRIBE, MODULE_UNSUBSCRIBE, STATS_UPDATED,
};
use pulse_protocol::rest::EventsPage;
use pulse_protocol::{Envelope, ErrorCode, FromValue, WireError};
use serde_json::Value;

use crate::backoff::{Backoff, SplitMix64};
use crate::codec::sio::{self, Kind, Payload};
use crate::codec::{self, eio, Frame, Json};
use crate::config::Config;
use crate::error::{ConnectError, Error};
use crate::resume::Resume;
use crate::time::Instant;
use crate::timer::{Timer, TimerTable};

/// Identifies an `emit_with_ack` call; its answer comes back as [`Event::Ack`] with this id.
pub type AckId = u64;

/// What the driver must do with the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Open a WebSocket to this URL; report with `handle_transport_open` or
    /// `handle_transport_closed`. Any previous socket is already closed.
    Open {
        /// The WebSocket URL.
        url: String,
    },
    /// Close the current socket and drop whatever it still delivers.
    Close,
    /// Fallback polling: fetch log entries after `since` (`GET /api/events`) and the current
    /// stats (`GET /api/stats`); report with `handle_poll_result`. With `since: None` the
    /// client has applied nothing yet and only needs the stats.
    Poll {
        /// Last `seq` applied.
        since: Option<u64>,
        /// The epoch of the log `since` belongs to, when known (sent as `epoch=`).
        epoch: Option<String>,
        /// The topics subscribed to (sent as `topics=`); `None`: every topic.
        topics: Option<Topics>,
    },
    /// Abandon the poll in flight (it went unanswered for `poll_timeout`, or the connection
    /// stopped): drop the request and do not report its result.
    CancelPoll,
    /// The server refused the credentials or ended the session for an auth reason: obtain
    /// new credentials (e.g. refresh the session) and report them with `handle_auth`, or
    /// `None` if there are none. The transport is already closed.
    NeedAuth(NeedAuth),
}

/// The application's answer to [`Io::NeedAuth`], for [`Connection::handle_auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// New credentials (e.g. from a refreshed session): tried at once if their token differs
    /// from the refused one, final otherwise.
    Renewed(ConnectAuth),
    /// There are none: the session is over (e.g. its refresh was refused with 401 or 403).
    /// Final: the connection stops with [`Event::Rejected`].
    Refused,
    /// None for now, for a passing reason (the refresh met a network error, a 5xx or a
    /// timeout): the machine asks again after a backoff and keeps the session meanwhile.
    Unavailable(String),
}

/// `Some` credentials are [`Renewal::Renewed`], `None` is [`Renewal::Refused`].
impl From<Option<ConnectAuth>> for Renewal {
    fn from(auth: Option<ConnectAuth>) -> Self {
        auth.map_or(Renewal::Refused, Renewal::Renewed)
    }
}

/// Why new credentials are needed; see [`Io::NeedAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedAuth {
    /// The server's reason: [`ErrorCode::TokenExpired`] or [`ErrorCode::Unauthorized`].
    pub reason: ErrorCode,
    /// The token the server refused, so a provider can tell whether it already holds a
    /// newer one or must obtain one.
    pub refused: Option<String>,
}

/// What one fallback poll brought back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// Log entries after the requested `since`, if they were asked for.
    pub events: Option<EventsPage>,
    /// The current statistics.
    pub stats: Option<Envelope<Stats>>,
    /// The server answered RESYNC_REQUIRED for `since` (another log, or a position ahead
    /// of it); `events` is then empty.
    pub resync: Option<pulse_protocol::WireError>,
    /// The server refused the credentials (HTTP 401: TOKEN_EXPIRED or UNAUTHORIZED);
    /// nothing else came. The machine asks for new ones as when the socket is refused.
    pub unauthorized: Option<pulse_protocol::WireError>,
}

/// The connection as an application shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The first connection is being made.
    Connecting,
    /// Joined and healthy.
    Live,
    /// Lost; attempt `attempt` runs now (`retry_at: None`) or starts at `retry_at`.
    Reconnecting {
        /// 1-based attempt number.
        attempt: u32,
        /// When the attempt starts, if it is waiting.
        retry_at: Option<Instant>,
    },
    /// The socket is down and still retried; meanwhile data comes over REST every `every`.
    Polling {
        /// Reconnection attempt number.
        attempt: u32,
        /// When the next reconnection attempt starts, if it is waiting.
        retry_at: Option<Instant>,
        /// The polling interval.
        every: Duration,
    },
    /// Not connected and not trying: never started, disconnected, refused or given up.
    Offline,
}

/// Why a live connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DisconnectReason {
    /// `disconnect()` was called. No reconnection.
    Client,
    /// The server disconnected this socket. No reconnection.
    Server,
    /// The server ended the session for an auth reason (its token expired or was revoked);
    /// the machine asks for new credentials ([`Io::NeedAuth`]) and resumes with them.
    Auth(ErrorCode),
    /// The transport closed or failed.
    Transport(String),
    /// No server ping within pingInterval + pingTimeout (e.g. after the device slept).
    PingTimeout,
    /// The application health ping went unanswered.
    HealthCheck,
    /// The server sent something that is not valid Socket.IO.
    Decode(String),
}

/// What a person reads: a connection's status page, a refused connection's reason. Written out
/// rather than derived: `{:?}` would bring string escaping and the error codes' variant names
/// into the browser bundles.
impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::Client => f.write_str("closed by this client"),
            DisconnectReason::Server => f.write_str("closed by the server"),
            DisconnectReason::Auth(code) => {
                write!(f, "signed out by the server ({})", code.as_str())
            }
            DisconnectReason::Transport(why) | DisconnectReason::Decode(why) => f.write_str(why),
            DisconnectReason::PingTimeout => f.write_str("no ping from the server in time"),
            DisconnectReason::HealthCheck => f.write_str("the health ping went unanswered"),
        }
    }
}

impl DisconnectReason {
    /// Whether the connection machine will try again by itself.
    pub fn reconnects(&self) -> bool {
        !matches!(self, DisconnectReason::Client | DisconnectReason::Server)
    }
}

/// An event from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Event name, e.g. `stats:updated`.
    pub event: String,
    /// The arguments after the name, as JSON text: [`Json::value`] reads one.
    pub args: Vec<Json>,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Vec<u8>>,
    /// Set when the server wants an answer: pass it to [`Connection::ack`].
    pub ack_id: Option<u64>,
}

/// The server's answer to an `emit_with_ack`.
#[derive(Debug, Clone, PartialEq)]
pub struct AckReply {
    /// The answer's arguments.
    pub args: Vec<Value>,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Vec<u8>>,
}

impl AckReply {
    /// Reads a Pulse action's answer `{ ok, data | error }`: the data as `T` (a protocol type,
    /// or a `Value` to decode further), or the server's refusal as [`Error::Server`].
    pub fn into_result<T: FromValue>(self) -> Result<T, Error> {
        let first = self.args.first().unwrap_or(&Value::Null);
        // Read as the serde derive reads it, without its deserializer (pulse_protocol::value).
        match pulse_protocol::Ack::<T>::from_value(first) {
            Some(ack) => ack.into_result().map_err(Error::Server),
            None => Err(Error::Reply(
                "not an action's answer { ok, data | error } of the expected type".into(),
            )),
        }
    }
}

/// What happened, for the application, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The status changed.
    Status(Status),
    /// The namespace was joined. `attempts` is how many reconnection attempts it took (0 on
    /// the first connection).
    Connected {
        /// Socket.IO session id.
        sid: String,
        /// Reconnection attempts this took.
        attempts: u32,
    },
    /// A live connection ended.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// Connecting failed (transport error, timeout); a retry may follow.
    ConnectFailed {
        /// What went wrong.
        reason: String,
    },
    /// The server refused the namespace join, or ended the session for an auth reason and no
    /// usable new credentials came (see [`Io::NeedAuth`]). No reconnection follows.
    Rejected(ConnectError),
    /// A reconnection attempt is scheduled. After a renewal of credentials that failed for a
    /// passing reason, the attempt starts by asking for them again ([`Io::NeedAuth`]).
    ReconnectScheduled {
        /// 1-based attempt number.
        attempt: u32,
        /// Wait before it starts.
        delay: Duration,
    },
    /// `reconnection_attempts` were used up; the connection is offline.
    ReconnectFailed,
    /// A server event.
    Message(Message),
    /// The answer to `emit_with_ack` number `id`.
    Ack {
        /// The id `emit_with_ack` returned.
        id: AckId,
        /// The answer, or why there is none.
        result: Result<AckReply, Error>,
    },
    /// A health ping came back.
    Rtt(Duration),
    /// The transport carrying the session changed: a WebSocket, long-polling (before an
    /// upgrade, or where no WebSocket could be opened), or none. Reported by the driver, which
    /// runs the [`Transports`](crate::transport::Transports) machine below this one; the
    /// connection machine itself never emits it.
    Transport(Option<crate::transport::Transport>),
    /// A fallback poll failed; the next one is scheduled.
    PollFailed {
        /// What went wrong.
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not started, or stopped for good (client, server, rejection, attempts exhausted).
    Stopped,
    /// Transport requested, waiting for it to open.
    Opening,
    /// Transport open, waiting for the Engine.IO OPEN packet.
    Handshake,
    /// CONNECT sent, waiting for the server's CONNECT.
    Joining,
    /// Joined.
    Live,
    /// Waiting for the reconnection timer (to ask for credentials again if `renewing`).
    Waiting,
    /// Waiting for new credentials (`Io::NeedAuth` was output).
    AwaitingAuth,
}

/// One Socket.IO client connection as a deterministic state machine. See the module docs.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    backoff: Backoff,
    timers: TimerTable,
    decoder: sio::Decoder,
    auth: Option<ConnectAuth>,
    /// The topics to receive; `None` until the application restricts them: every topic.
    topics: Option<Topics>,
    /// New credentials were tried after an auth refusal and the join has not succeeded
    /// since: another auth refusal is final.
    auth_retried: bool,
    /// The auth refusal being answered while `AwaitingAuth`; final if no new credentials.
    auth_refusal: Option<ConnectError>,
    /// What `Io::NeedAuth` asked, from the refusal until new credentials are tried or the
    /// connection stops; while set, the machine waits for a [`Renewal`] (also during the
    /// backoff after an unavailable one) and does not poll with the refused token.
    renewing: Option<NeedAuth>,
    /// The last auth `error` event of the live session, telling why a DISCONNECT follows.
    kick: Option<WireError>,
    /// The transport being opened was joined already ([`Connection::adopt`]): no CONNECT
    /// of the machine's own follows its handshake.
    adopted: bool,
    handshake: Option<eio::Handshake>,
    /// Packets waiting for a live connection.
    buffer: VecDeque<sio::Packet>,
    acks: Acks,
    /// Emits with an ack that were sent and not yet answered, to resend or fail on a drop.
    inflight: Inflight,
    /// The health ping in flight: its ack id and when it was sent.
    health: Option<(AckId, Instant)>,
    resume: Resume,
    /// Connection attempts that failed since the link was last live.
    failures: u32,
    polling: bool,
    poll_in_flight: bool,
    /// Idempotency keys are `<nonce>-<counter>`: unique per client instance.
    key_nonce: u64,
    key_counter: u64,
    io: VecDeque<Io>,
    transmit: VecDeque<Frame>,
    events: VecDeque<Event>,
    last_status: Status,
}

impl Connection {
    /// A stopped connection; call [`Connection::connect`] to start. `seed` drives the backoff
    /// jitter: drivers pass entropy, tests a constant.
    pub fn new(config: Config, seed: u64) -> Self {
        Connection {
            backoff: Backoff::new(config.backoff, seed),
            topics: config.topics,
            key_nonce: SplitMix64(seed ^ 0x5EED_1DE4_7E11_C0DE).next_u64(),
            key_counter: 0,
            inflight: Inflight::default(),
            resume: Resume::default(),
            failures: 0,
            polling: false,
            poll_in_flight: false,
            config,
            state: State::Stopped,
            timers: TimerTable::default(),
            decoder: sio::Decoder::new(),
            auth: None,
            auth_retried: false,
            auth_refusal: None,
            renewing: None,
            kick: None,
            adopted: false,
            handshake: None,
            buffer: VecDeque::new(),
            acks: Acks::default(),
            health: None,
            io: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_status: Status::Offline,
        }
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The status now; every change is also reported as [`Event::Status`].
    pub fn status(&self) -> Status {
        if let (true, Some(every)) =
            (self.polling && self.state != State::Stopped, self.config.poll_interval)
        {
            let retry_at =
                (self.state == State::Waiting).then(|| self.timers.get(Timer::Reconnect)).flatten();
            return Status::Polling { attempt: self.backoff.attempts(), retry_at, every };
        }
        match self.state {
            State::Stopped => Status::Offline,
            State::Live => Status::Live,
            State::Waiting => Status::Reconnecting {
                attempt: self.backoff.attempts(),
                retry_at: self.timers.get(Timer::Reconnect),
            },
            State::Opening | State::Handshake | State::Joining | State::AwaitingAuth => {
                if self.backoff.attempts() == 0 {
                    Status::Connecting
                } else {
                    Status::Reconnecting { attempt: self.backoff.attempts(), retry_at: None }
                }
            }
        }
    }

    /// True while joined.
    pub fn is_live(&self) -> bool {
        self.state == State::Live
    }

    /// Emits queued for the next connection.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The CONNECT credentials last set.
    pub fn auth(&self) -> Option<&ConnectAuth> {
        self.auth.as_ref()
    }

    /// The last event-log `seq` applied (see [`Resume`]).
    pub fn last_seq(&self) -> Option<u64> {
        self.resume.last_seq()
    }

    /// The epoch of the log `last_seq` belongs to, once known.
    pub fn epoch(&self) -> Option<&str> {
        self.resume.epoch()
    }

    /// The topics subscribed to; `None`: every topic.
    pub fn topics(&self) -> Option<Topics> {
        self.topics
    }

    /// The application's credentials with the topics, once the application restricted them.
    fn connect_auth(&self) -> Option<ConnectAuth> {
        match (&self.auth, self.topics) {
            (None, None) => None,
            (auth, topics) => Some(ConnectAuth { topics, ..auth.clone().unwrap_or_default() }),
        }
    }

    /// The server's Engine.IO handshake of the current transport, if any.
    pub fn handshake(&self) -> Option<&eio::Handshake> {
        self.handshake.as_ref()
    }

    // ----- inputs from the application -----

    /// The CONNECT credentials for the next (re)connection and fallback poll; the machine
    /// adds the log position. Drivers refresh them from the application right before acting
    /// on [`Io::Open`] and [`Io::Poll`].
    pub fn set_auth(&mut self, auth: Option<ConnectAuth>) {
        self.auth = auth;
    }

    /// Tells the machine the application already holds state up to log entry `seq` (e.g.
    /// loaded over REST): older entries will be dropped and replay starts after it.
    pub fn set_last_seq(&mut self, seq: u64) {
        self.resume.advance_to(seq);
    }

    /// Takes up a position saved earlier (`seq` of the log `epoch`), e.g. across a page
    /// reload: the next connection resumes after it, or is told to resync if the log changed.
    pub fn restore_position(&mut self, seq: u64, epoch: Option<&str>) {
        self.resume.restore(seq, epoch);
    }

    /// Takes up a transport that someone else opened and joined: a page's own script that
    /// showed live figures while its app's wasm was on its way, say. `join` is the CONNECT
    /// frame it sent. Accepted only while the machine waits for its own transport to open
    /// and when `join` is the frame the machine would send, to the byte (namespace,
    /// credentials, position and topics, written as the SDK writes JSON: keys in order, no
    /// spaces), so the server's session is the one the machine would have made; the driver
    /// then reports that socket's frames as the opened transport's, from its Engine.IO
    /// handshake on, and no CONNECT of the machine's own follows the handshake.
    pub fn adopt(&mut self, join: &str) -> bool {
        let ours = || eio::Packet::Message(self.connect_packet().encode().0).encode();
        self.adopted =
            self.state == State::Opening && matches!(ours(), Frame::Text(t) if t == join);
        self.adopted
    }

    /// Starts connecting, unless already connected or trying. Resets the attempt count, and
    /// ends a wait for credentials (the ones set now are used).
    pub fn connect(&mut self, now: Instant) {
        if matches!(self.state, State::Stopped | State::Waiting | State::AwaitingAuth) {
            self.backoff.reset();
            self.auth_retried = false;
            self.auth_refusal = None;
            self.renewing = None;
            self.timers.stop(Timer::Auth);
            self.timers.stop(Timer::Reconnect);
            self.open_transport(now);
        }
        self.sync_status();
    }

    /// Leaves the namespace and closes the transport; no reconnection follows. Pending acks
    /// and buffered emits fail with [`Error::Closed`].
    pub fn disconnect(&mut self, _now: Instant) {
        if self.state == State::Live {
            let pkt = sio::Packet {
                kind: Kind::Disconnect,
                nsp: self.config.namespace.clone(),
                id: None,
                data: Payload::None,
                attachments: Vec::new(),
            };
            self.send_packet(&pkt);
            self.events.push_back(Event::Disconnected { reason: DisconnectReason::Client });
        }
        if self.transport_active() {
            self.io.push_back(Io::Close);
        }
        self.stop();
        self.fail_all(Error::Closed);
        self.sync_status();
    }

    /// Subscribes to `topic` (`on`) or unsubscribes from it: the next CONNECT and every
    /// poll carry the new set, and a `module:subscribe` / `module:unsubscribe` asks the server
    /// now (queued while offline). Its answer ([`Event::Ack`] with the returned id) carries
    /// the log head from which the change holds ([`Subscribed`]); load the topic's state over
    /// REST after it, and nothing is missed in between.
    ///
    /// [`Subscribed`]: pulse_protocol::events::Subscribed
    pub fn subscribe(&mut self, now: Instant, topic: Topic, on: bool) -> Result<AckId, Error> {
        let mut topics = self.topics.unwrap_or_else(Topics::all);
        if on {
            topics.insert(topic);
        } else {
            topics.remove(topic);
        }
        self.topics = Some(topics);
        let event = if on { MODULE_SUBSCRIBE } else { MODULE_UNSUBSCRIBE };
        let args = vec![codec::object(vec![("moduleKey", topic.as_str().into())])];
        self.emit_with_ack(now, event, args, Vec::new(), None)
    }

    /// Sends an event, or queues it while offline.
    pub fn emit(&mut self, now: Instant, event: &str, args: Vec<Value>) -> Result<(), Error> {
        self.emit_packet(now, sio::Packet::event(&self.config.namespace, event, args, None))
    }

    /// Sends an event with binary attachments (referenced from `args` by
    /// [`sio::placeholder`]).
    pub fn emit_binary(
        &mut self,
        now: Instant,
        event: &str,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        let mut p = sio::Packet::event(&self.config.namespace, event, args, None);
        p.attachments = attachments;
        self.emit_packet(now, p)
    }

    /// Sends an event that asks for an answer, within `timeout` (default:
    /// `config.ack_timeout`). The answer arrives as [`Event::Ack`] with the returned id.
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        event: &str,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<AckId, Error> {
        let id = self.acks.next_id();
        let mut args = args;
        if self.config.idempotency_keys {
            if let Some(Value::Object(m)) = args.first_mut() {
                if !m.contains_key(IDEMPOTENCY_KEY) {
                    let key = self.new_idempotency_key();
                    m.insert(IDEMPOTENCY_KEY.into(), key.into());
                }
            }
        }
        let mut p = sio::Packet::event(&self.config.namespace, event, args, Some(id));
        p.attachments = attachments;
        self.emit_packet(now, p)?;
        self.acks.insert(id, now + timeout.unwrap_or(self.config.ack_timeout));
        Ok(id)
    }

    /// A key no other action of this connection (or, with overwhelming odds, of any other)
    /// carries; [`Connection::emit_with_ack`] adds one to each action it sends.
    pub fn new_idempotency_key(&mut self) -> String {
        self.key_counter += 1;
        format!("{:016x}-{}", self.key_nonce, self.key_counter)
    }

    /// Answers a server event that carried `ack_id`. Dropped if the connection is not live:
    /// the server forgot the id with the old session.
    pub fn ack(&mut self, ack_id: u64, args: Vec<Value>) {
        if self.state == State::Live {
            let pkt = sio::Packet {
                kind: Kind::Ack,
                nsp: self.config.namespace.clone(),
                id: Some(ack_id),
                data: Payload::Value(Value::Array(args)),
                attachments: Vec::new(),
            };
            self.send_packet(&pkt);
        }
    }

    // ----- inputs from the driver -----

    /// What the transport machine reported up ([`Transports::poll_up`]), as the three
    /// handlers below take it.
    ///
    /// [`Transports::poll_up`]: crate::transport::Transports::poll_up
    pub fn handle_up(&mut self, now: Instant, up: crate::transport::Up) {
        use crate::transport::Up;
        match up {
            Up::Open => self.handle_transport_open(now),
            Up::Frame(f) => self.handle_frame(now, f),
            Up::Closed(why) => self.handle_transport_closed(now, why),
        }
    }

    /// The transport requested by [`Io::Open`] is open.
    pub fn handle_transport_open(&mut self, _now: Instant) {
        // The connect deadline keeps covering the wait for the handshake.
        if self.state == State::Opening {
            self.state = State::Handshake;
        }
        self.sync_status();
    }

    /// The transport closed or failed to open. `reason` is for people.
    pub fn handle_transport_closed(&mut self, now: Instant, reason: String) {
        if self.transport_active() {
            self.lost(now, DisconnectReason::Transport(reason), true);
        }
        self.sync_status();
    }

    /// The answer to [`Io::NeedAuth`] (`Option<ConnectAuth>` converts: `None` is
    /// [`Renewal::Refused`]). Credentials with a token other than the refused one are tried at
    /// once (resuming from the last `seq`, and polling at once if the fallback is on); none
    /// or the same ones stop the connection with [`Event::Rejected`]; [`Renewal::Unavailable`]
    /// schedules another request after the reconnection backoff. Ignored unless the machine
    /// is renewing credentials (e.g. after `connect` or `disconnect`); an unavailable answer
    /// is also ignored while the retry is already scheduled.
    pub fn handle_auth(&mut self, now: Instant, renewal: impl Into<Renewal>) {
        let Some(need) = &self.renewing else { return };
        let renewal = renewal.into();
        let fresh = matches!(&renewal, Renewal::Renewed(auth)
            if auth.token.as_deref().is_some_and(|t| !t.is_empty() && Some(t) != need.refused.as_deref()));
        match renewal {
            Renewal::Renewed(auth) if fresh => {
                self.timers.stop(Timer::Auth);
                self.timers.stop(Timer::Reconnect);
                self.auth = Some(auth);
                self.auth_retried = true;
                self.auth_refusal = None;
                self.renewing = None;
                self.open_transport(now);
                // Polls were held back while the token was refused: catch up now.
                self.poll_now(now);
            }
            Renewal::Unavailable(reason) => {
                if self.state == State::AwaitingAuth {
                    self.renewal_unavailable(now, reason);
                }
            }
            Renewal::Renewed(_) | Renewal::Refused => self.auth_failed(),
        }
        self.sync_status();
    }

    /// A frame arrived on the transport.
    pub fn handle_frame(&mut self, now: Instant, frame: Frame) {
        if !self.transport_active() || self.state == State::Opening {
            return;
        }
        // A frame that arrives after the heartbeat expired (a laptop waking up) belongs to
        // a session the server has already dropped.
        if self.timers.is_due(Timer::Heartbeat, now) {
            self.lost(now, DisconnectReason::PingTimeout, false);
        } else if let Err(e) = self.on_frame(now, frame) {
            self.lost(now, DisconnectReason::Decode(e.to_string()), false);
        }
        self.sync_status();
    }

    /// The result of the poll requested by [`Io::Poll`]. Entries already applied are
    /// dropped; new ones come out as [`Event::Message`] like live events.
    pub fn handle_poll_result(&mut self, now: Instant, result: Result<Polled, String>) {
        self.poll_in_flight = false;
        self.timers.stop(Timer::PollTimeout);
        let mut more = false;
        match result {
            Ok(Polled { unauthorized: Some(why), .. }) if why.code.is_auth() => {
                self.events.push_back(Event::PollFailed { reason: why.to_string() });
                self.poll_refused(now, why);
            }
            Ok(polled) => {
                if let Some(err) = polled.resync {
                    // Handed on like the socket's `error` event, which also drops the
                    // position (see `Resume::accept`): the application reloads.
                    let args = vec![Json::from(wire_error_value(&err))];
                    self.deliver(pulse_protocol::events::ERROR.to_owned(), args, Vec::new(), None);
                }
                if let Some(page) = polled.events {
                    self.resume.learn_epoch(&page.epoch);
                    more = page.events.last().is_some_and(|e| e.seq < page.head);
                    for e in page.events {
                        let envelope =
                            vec![("seq", e.seq.into()), ("ts", e.ts.into()), ("data", e.data)];
                        let args = vec![Json::from(codec::object(envelope))];
                        self.deliver(e.event, args, Vec::new(), None);
                    }
                }
                if let Some(stats) = polled.stats {
                    // A client that applied nothing yet follows the log from here on.
                    if self.resume.last_seq().is_none() {
                        self.resume.advance_to(stats.seq);
                    }
                    let args = vec![Json::from(stats_value(&stats))];
                    self.deliver(STATS_UPDATED.to_owned(), args, Vec::new(), None);
                }
            }
            Err(reason) => self.events.push_back(Event::PollFailed { reason }),
        }
        if self.polling && self.state != State::Live {
            if let Some(every) = self.config.poll_interval {
                self.timers.set(Timer::Poll, if more { now } else { now + every });
            }
        }
        self.sync_status();
    }

    /// Time passed; fires every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.is_due(Timer::Heartbeat, now) {
            self.timers.stop(Timer::Heartbeat);
            if self.transport_active() {
                self.lost(now, DisconnectReason::PingTimeout, false);
            }
        }
        if self.timers.is_due(Timer::Connect, now) {
            self.timers.stop(Timer::Connect);
            if matches!(self.state, State::Opening | State::Handshake | State::Joining) {
                self.close_transport();
                self.connect_failed(now, "connection timed out".into());
            }
        }
        if self.timers.is_due(Timer::Auth, now) {
            self.timers.stop(Timer::Auth);
            if self.state == State::AwaitingAuth {
                let reason =
                    format!("no answer within {}", duration_text(self.config.connect_timeout));
                self.renewal_unavailable(now, reason);
            }
        }
        if self.timers.is_due(Timer::Reconnect, now) {
            self.timers.stop(Timer::Reconnect);
            if self.state == State::Waiting {
                match self.renewing.clone() {
                    Some(need) => self.ask_auth(now, need),
                    None => self.open_transport(now),
                }
            }
        }
        if self.health.is_some_and(|(_, sent)| now >= sent + self.config.health_timeout) {
            self.health = None;
            if self.state == State::Live {
                self.lost(now, DisconnectReason::HealthCheck, false);
            }
        }
        if self.timers.is_due(Timer::PollTimeout, now) {
            let abandoned = self.poll_in_flight;
            self.cancel_poll();
            if abandoned {
                let reason =
                    format!("no answer within {}", duration_text(self.config.poll_timeout));
                self.events.push_back(Event::PollFailed { reason });
                if self.polling && self.state != State::Live {
                    if let Some(every) = self.config.poll_interval {
                        self.timers.set(Timer::Poll, now + every);
                    }
                }
            }
        }
        if self.timers.is_due(Timer::Poll, now) {
            self.timers.stop(Timer::Poll);
            self.poll_now(now);
        }
        if self.timers.is_due(Timer::HealthPing, now) {
            self.timers.stop(Timer::HealthPing);
            self.send_health_ping(now);
        }
        while let Some(id) = self.acks.pop_expired(now) {
            self.buffer.retain(|p| p.id != Some(id));
            self.inflight.remove(&id);
            self.events.push_back(Event::Ack { id, result: Err(Error::AckTimeout) });
        }
        self.sync_status();
    }

    // ----- outputs -----

    /// The next transport action.
    pub fn poll_io(&mut self) -> Option<Io> {
        self.io.pop_front()
    }

    /// The next frame to send on the open transport.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next. Changes after any input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timers.next(), self.acks.next_deadline(), self.health_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    // ----- internals -----

    /// While the session is live in the default namespace, when its heartbeat expires: the
    /// JS package's fast path takes events without the machine until then (`src/js/fast.js`,
    /// opened by `js::machine`).
    #[cfg(all(feature = "js", target_arch = "wasm32"))]
    pub(crate) fn live_until(&self) -> Option<Instant> {
        (self.state == State::Live && self.config.namespace == "/")
            .then(|| self.timers.get(Timer::Heartbeat))
            .flatten()
    }

    /// Log entry `seq`, taken by a JS package's fast path: whether it is new.
    #[cfg(all(feature = "js", target_arch = "wasm32"))]
    pub(crate) fn accept_seq(&mut self, seq: u64) -> bool {
        self.resume.accept_seq(seq)
    }

    fn transport_active(&self) -> bool {
        matches!(self.state, State::Opening | State::Handshake | State::Joining | State::Live)
    }

    fn health_deadline(&self) -> Option<Instant> {
        self.health.map(|(_, sent)| sent + self.config.health_timeout)
    }

    fn open_transport(&mut self, now: Instant) {
        self.state = State::Opening;
        self.adopted = false;
        self.decoder.reset();
        self.handshake = None;
        self.kick = None;
        self.timers.set(Timer::Connect, now + self.config.connect_timeout);
        self.io.push_back(Io::Open { url: self.config.websocket_url() });
    }

    fn stop(&mut self) {
        // A poll still in flight would otherwise block every later one.
        self.cancel_poll();
        self.state = State::Stopped;
        self.timers = TimerTable::default();
        self.health = None;
        self.polling = false;
        self.decoder.reset();
        self.kick = None;
        self.renewing = None;
    }

    /// Stops for good because the server refused: the application hears why, and every
    /// pending emit fails with it.
    fn reject(&mut self, err: ConnectError) {
        self.stop();
        self.auth_refusal = None;
        self.events.push_back(Event::Rejected(err.clone()));
        self.fail_all(Error::Rejected(err));
    }

    /// The credentials were refused for an auth reason: ask for new ones and wait, keeping
    /// the position and the queued emits. The transport is closed already.
    fn need_auth(&mut self, now: Instant, reason: ErrorCode, err: ConnectError) {
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Heartbeat);
        self.timers.stop(Timer::HealthPing);
        self.timers.stop(Timer::Reconnect);
        // A poll in flight carries the refused token too; its 401 must not count against
        // the new one. The catch-up poll after the renewal replaces it.
        self.cancel_poll();
        self.health = None;
        self.decoder.reset();
        self.auth_refusal = Some(err);
        let refused = self.auth.as_ref().and_then(|a| a.token.clone());
        self.ask_auth(now, NeedAuth { reason, refused });
    }

    /// Outputs `Io::NeedAuth` (again, after an unavailable renewal) and waits for the answer.
    fn ask_auth(&mut self, now: Instant, need: NeedAuth) {
        self.state = State::AwaitingAuth;
        // A provider that never answers must not leave the connection hanging.
        self.timers.set(Timer::Auth, now + self.config.connect_timeout);
        self.renewing = Some(need.clone());
        self.io.push_back(Io::NeedAuth(need));
    }

    /// No credentials for now, for a passing reason: ask again after the reconnection
    /// backoff, keeping the session. Not a connection failure: fallback polling would meet
    /// the same refused token.
    fn renewal_unavailable(&mut self, now: Instant, reason: String) {
        self.timers.stop(Timer::Auth);
        let reason = format!("credentials not renewed: {reason}");
        self.events.push_back(Event::ConnectFailed { reason });
        self.schedule_reconnect(now);
    }

    /// A fallback poll was refused for an auth reason: renew the credentials as for a
    /// refused socket, unless that is under way already or the socket is up. New
    /// credentials refused again before a join are final, as at CONNECT.
    fn poll_refused(&mut self, now: Instant, why: WireError) {
        if self.renewing.is_some() || matches!(self.state, State::Stopped | State::Live) {
            return;
        }
        let err = ConnectError { message: why.message, data: None, code: Some(why.code) };
        if self.transport_active() {
            // The attempt in flight carries the same token.
            self.close_transport();
        }
        if self.auth_retried {
            self.reject(err);
            return;
        }
        self.need_auth(now, why.code, err);
    }

    /// No usable new credentials: the refusal being answered is final.
    fn auth_failed(&mut self) {
        let err = self.auth_refusal.take().unwrap_or_else(|| ConnectError {
            message: "no credentials".into(),
            data: None,
            code: Some(ErrorCode::Unauthorized),
        });
        self.reject(err);
    }

    /// The transport or link died: report, then retry if allowed.
    /// `transport_gone`: the driver reported the close itself, so no `Io::Close` is due.
    fn lost(&mut self, now: Instant, reason: DisconnectReason, transport_gone: bool) {
        if transport_gone {
            self.transmit.clear();
        } else {
            self.close_transport();
        }
        self.timers.stop(Timer::Heartbeat);
        self.timers.stop(Timer::HealthPing);
        self.health = None;
        self.decoder.reset();
        self.requeue_inflight(None);
        if self.state == State::Live {
            self.events.push_back(Event::Disconnected { reason });
            self.schedule_reconnect(now);
        } else {
            let why = reason.to_string();
            self.connect_failed(now, why);
        }
    }

    /// Asks the driver to close the socket; frames not yet sent on it are dropped with it.
    fn close_transport(&mut self) {
        self.transmit.clear();
        self.io.push_back(Io::Close);
    }

    fn connect_failed(&mut self, now: Instant, reason: String) {
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Heartbeat);
        self.events.push_back(Event::ConnectFailed { reason });
        self.failures = self.failures.saturating_add(1);
        self.schedule_reconnect(now);
        let due = self.failures >= self.config.poll_after_failures;
        if due
            && !self.polling
            && self.state != State::Stopped
            && self.config.poll_interval.is_some()
        {
            self.polling = true;
            self.poll_now(now);
        }
    }

    fn poll_now(&mut self, now: Instant) {
        if self.polling
            && self.state != State::Live
            && !self.poll_in_flight
            && self.renewing.is_none()
        {
            self.poll_in_flight = true;
            self.timers.set(Timer::PollTimeout, now + self.config.poll_timeout);
            let epoch = self.resume.epoch().map(str::to_owned);
            let topics = self.topics;
            self.io.push_back(Io::Poll { since: self.resume.last_seq(), epoch, topics });
        }
    }

    /// Gives up on the poll in flight; its result, if it ever comes, is not reported.
    fn cancel_poll(&mut self) {
        self.timers.stop(Timer::PollTimeout);
        if self.poll_in_flight {
            self.poll_in_flight = false;
            self.io.push_back(Io::CancelPoll);
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let exhausted =
            self.config.reconnection_attempts.is_some_and(|max| self.backoff.attempts() >= max);
        if !self.config.reconnection || exhausted {
            if exhausted {
                self.events.push_back(Event::ReconnectFailed);
            }
            self.stop();
            return;
        }
        let delay = self.backoff.next_delay();
        self.state = State::Waiting;
        self.timers.stop(Timer::Connect);
        self.timers.set(Timer::Reconnect, now + delay);
        self.events
            .push_back(Event::ReconnectScheduled { attempt: self.backoff.attempts(), delay });
    }

    fn on_frame(&mut self, now: Instant, frame: Frame) -> Result<(), Error> {
        match eio::Packet::decode(frame)? {
            eio::Packet::Open(h) if self.state == State::Handshake => {
                self.timers.set(Timer::Heartbeat, now + heartbeat_window(&h));
                self.handshake = Some(h);
                self.state = State::Joining;
                if std::mem::take(&mut self.adopted) {
                    return Ok(()); // its CONNECT was sent by whoever opened it
                }
                self.send_packet(&self.connect_packet());
            }
            eio::Packet::Open(_) => {}
            eio::Packet::Ping(data) => {
                if let Some(h) = &self.handshake {
                    self.timers.set(Timer::Heartbeat, now + heartbeat_window(h));
                }
                self.transmit.push_back(eio::Packet::Pong(data).encode());
            }
            eio::Packet::Close => self.lost(
                now,
                DisconnectReason::Transport("server closed the session".into()),
                false,
            ),
            eio::Packet::Pong(_) | eio::Packet::Upgrade | eio::Packet::Noop => {}
            eio::Packet::Message(text) => {
                if let Some(p) = self.decoder.decode_text(&text)? {
                    self.on_packet(now, p);
                }
            }
            eio::Packet::Binary(bytes) => {
                if let Some(p) = self.decoder.decode_binary(bytes)? {
                    self.on_packet(now, p);
                }
            }
        }
        Ok(())
    }

    fn on_packet(&mut self, now: Instant, p: sio::Packet) {
        if p.nsp != self.config.namespace {
            return;
        }
        match p.kind {
            Kind::Connect if self.state == State::Joining => {
                let sid = p
                    .data
                    .value()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let attempts = self.backoff.attempts();
                self.backoff.reset();
                self.state = State::Live;
                self.auth_retried = false;
                self.failures = 0;
                self.polling = false;
                self.timers.stop(Timer::Poll);
                self.timers.stop(Timer::Connect);
                self.events.push_back(Event::Connected { sid, attempts });
                self.flush_buffer();
                // The first health ping goes out at once, so the round trip is known as soon
                // as the connection is up; the next ones follow every `health_interval`.
                if self.config.health_interval.is_some() {
                    self.send_health_ping(now);
                }
            }
            Kind::Connect => {}
            Kind::ConnectError => {
                let code = p.data.value().and_then(WireError::from_wire).map(|e| e.code);
                let (message, data) = match p.data {
                    Payload::Value(Value::String(s)) => (s, None),
                    Payload::Value(Value::Object(mut m)) => {
                        // Taken out of their slots, not removed: the map goes anyway, and a
                        // BTreeMap removal would bring its rebalancing code to the browser.
                        let mut take = |k: &str| m.get_mut(k).map(Value::take);
                        let message = match take("message") {
                            Some(Value::String(s)) => s,
                            _ => "connection refused".to_owned(),
                        };
                        (message, take("data"))
                    }
                    _ => ("connection refused".to_owned(), None),
                };
                let err = ConnectError { message, data, code };
                self.close_transport();
                match code {
                    // Retried once with new credentials; the same refusal again is final.
                    Some(code) if code.is_auth() && !self.auth_retried => {
                        self.need_auth(now, code, err)
                    }
                    _ => self.reject(err),
                }
            }
            Kind::Disconnect => {
                self.close_transport();
                let was_live = self.state == State::Live;
                if let Some(why) = self.kick.take().filter(|_| was_live) {
                    // The session ended for an auth reason (the `error` event before said
                    // which).
                    self.session_ended_for_auth(now, why, None);
                    return;
                }
                self.stop();
                if was_live {
                    self.events.push_back(Event::Disconnected { reason: DisconnectReason::Server });
                }
                self.fail_all(Error::Closed);
            }
            Kind::Event => {
                let Payload::Event { name, args } = p.data else {
                    return;
                };
                if name == ERROR && self.state == State::Live {
                    // The server tells why before it ends a session; an auth reason makes
                    // the DISCONNECT that follows recoverable with new credentials.
                    let why = args.first().and_then(|a| WireError::from_wire(&a.value()));
                    self.kick = why.filter(|w| w.code.is_auth());
                }
                self.deliver(name, args, p.attachments, p.id);
            }
            Kind::Ack => {
                let Some(id) = p.id else { return };
                if self.state == State::Live {
                    if let Some(why) = token_expired(p.data.value()) {
                        // The server's clock passed the token's expiry before the client's
                        // did: every action would be refused until its expiry sweep ends the
                        // session. End it now; the refused action changed nothing, so it is
                        // resent after the rejoin.
                        let refused = (self.health.map(|(h, _)| h) != Some(id)).then_some(id);
                        self.close_transport();
                        self.session_ended_for_auth(now, why, refused);
                        return;
                    }
                }
                if let Some((_, sent)) = self.health.filter(|(h, _)| *h == id) {
                    self.health = None;
                    self.events.push_back(Event::Rtt(now.saturating_duration_since(sent)));
                    self.schedule_health_ping(now);
                    return;
                }
                self.inflight.remove(&id);
                if !self.acks.remove(id) {
                    return; // a late answer after its timeout
                }
                // An answer for an emit still queued (a server answering an id it was never
                // sent): the emit is settled, so it is not sent later.
                self.buffer.retain(|p| p.id != Some(id));
                let args = match p.data {
                    Payload::Value(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let reply = AckReply { args, attachments: p.attachments };
                self.events.push_back(Event::Ack { id, result: Ok(reply) });
            }
        }
    }

    fn emit_packet(&mut self, now: Instant, p: sio::Packet) -> Result<(), Error> {
        // Sending on a connection whose heartbeat expired would write into a dead socket.
        if self.state == State::Live && self.timers.is_due(Timer::Heartbeat, now) {
            self.lost(now, DisconnectReason::PingTimeout, false);
            self.sync_status();
        }
        let max = self.handshake.as_ref().map_or(1_000_000, |h| h.max_payload) as usize;
        let size = p.encode().0.len() + 1;
        if size > max {
            return Err(Error::PayloadTooLarge { size, max });
        }
        if self.state == State::Live {
            self.send_tracked(p);
            return Ok(());
        }
        if self.buffer.len() >= self.config.send_buffer {
            return Err(Error::BufferFull { capacity: self.config.send_buffer });
        }
        self.buffer.push_back(p);
        Ok(())
    }

    /// The CONNECT that joins the namespace: credentials, position, topics.
    fn connect_packet(&self) -> sio::Packet {
        sio::Packet {
            kind: Kind::Connect,
            nsp: self.config.namespace.clone(),
            id: None,
            data: match self.resume.connect_auth(self.connect_auth().as_ref()) {
                Some(auth) => Payload::Value(auth),
                None => Payload::None,
            },
            attachments: Vec::new(),
        }
    }

    fn send_packet(&mut self, p: &sio::Packet) {
        let (text, attachments) = p.encode();
        self.transmit.push_back(eio::Packet::Message(text).encode());
        for a in attachments {
            self.transmit.push_back(Frame::Binary(a.clone()));
        }
    }

    fn flush_buffer(&mut self) {
        while let Some(p) = self.buffer.pop_front() {
            self.send_tracked(p);
        }
    }

    /// Sends an application emit, remembering it until answered if it wants an answer.
    fn send_tracked(&mut self, p: sio::Packet) {
        self.send_packet(&p);
        if let Some(id) = p.id {
            self.inflight.insert(id, p);
        }
    }

    /// The link died with emits unanswered: those with an idempotency key go back to the
    /// front of the buffer (the server applies a key once), the others fail now rather than
    /// at their timeout, since their outcome is unknown.
    /// `refused`: an emit the server refused without applying it, resent even without a key.
    fn requeue_inflight(&mut self, refused: Option<AckId>) {
        let inflight = std::mem::take(&mut self.inflight);
        let mut retry = Vec::new();
        for (id, p) in inflight.0 {
            if has_idempotency_key(&p) || refused == Some(id) {
                retry.push(p);
            } else if self.acks.remove(id) {
                // Only if still unanswered: each id gets one `Event::Ack`.
                self.events.push_back(Event::Ack { id, result: Err(Error::ConnectionLost) });
            }
        }
        for p in retry.into_iter().rev() {
            self.buffer.push_front(p);
        }
    }

    /// The server ended the live session, or refused an action, for an auth reason: like a
    /// lost link, what was sent is resent after the rejoin, once new credentials came.
    /// The transport is closed already.
    fn session_ended_for_auth(&mut self, now: Instant, why: WireError, refused: Option<AckId>) {
        self.requeue_inflight(refused);
        let reason = DisconnectReason::Auth(why.code);
        self.events.push_back(Event::Disconnected { reason });
        let err = ConnectError { message: why.message, data: None, code: Some(why.code) };
        self.need_auth(now, why.code, err);
    }

    /// Hands a server event to the application unless it is a log entry already applied.
    fn deliver(
        &mut self,
        event: String,
        args: Vec<Json>,
        attachments: Vec<Vec<u8>>,
        ack_id: Option<u64>,
    ) {
        if self.resume.accept(&event, &args) {
            self.events.push_back(Event::Message(Message { event, args, attachments, ack_id }));
        }
    }

    fn schedule_health_ping(&mut self, now: Instant) {
        if let Some(every) = self.config.health_interval {
            self.timers.set(Timer::HealthPing, now + every);
        }
    }

    fn send_health_ping(&mut self, now: Instant) {
        if self.state != State::Live || self.health.is_some() {
            return;
        }
        let id = self.acks.next_id();
        let pkt = sio::Packet::event(
            &self.config.namespace,
            pulse_protocol::events::PING,
            vec![],
            Some(id),
        );
        self.send_packet(&pkt);
        // Tracked by `health` alone: its timeout is a dead link, not an app-visible ack.
        self.health = Some((id, now));
    }

    fn fail_all(&mut self, err: Error) {
        self.buffer.clear();
        self.inflight.clear();
        for id in self.acks.drain() {
            self.events.push_back(Event::Ack { id, result: Err(err.clone()) });
        }
        self.health = None;
    }

    fn sync_status(&mut self) {
        let now = self.status();
        if now != self.last_status {
            self.last_status = now.clone();
            self.events.push_back(Event::Status(now));
        }
    }
}

/// The payload field Pulse servers de-duplicate actions by.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency_key";

fn has_idempotency_key(p: &sio::Packet) -> bool {
    matches!(&p.data, Payload::Event { args, .. } if args.first().is_some_and(|a| a.member(IDEMPOTENCY_KEY).is_some()))
}

/// An ack that refuses its action with TOKEN_EXPIRED (`[{ ok: false, error }]`).
/// `d` as `{:?}` writes it, to the millisecond: Duration's Debug costs the browser bundle a
/// decimal formatter for two messages.
fn duration_text(d: Duration) -> String {
    // Seconds and milliseconds apart: `as_millis` is a u128, whose formatting costs 1 KB.
    match (d.as_secs(), d.subsec_millis()) {
        (0, 0) => "0ns".into(),
        (0, ms) => format!("{ms}ms"),
        (s, 0) => format!("{s}s"),
        (s, ms) => {
            let frac = format!("{ms:03}");
            format!("{s}.{}s", frac.trim_end_matches('0'))
        }
    }
}

/// `err` as the wire writes it (its serde form), built by hand: see [`codec::object`].
fn wire_error_value(err: &WireError) -> Value {
    codec::object(vec![
        ("code", err.code.as_str().into()),
        ("message", err.message.as_str().into()),
    ])
}

/// `stats` as the wire writes it (its serde form), built by hand: see [`codec::object`].
fn stats_value(stats: &Envelope<Stats>) -> Value {
    // Destructured, so a new field is a compile error here.
    let Stats {
        today_liters,
        today_sales,
        today_collection,
        outstanding,
        active_customers,
        deliveries_today,
    } = stats.data;
    let data = codec::object(vec![
        ("today_liters", today_liters.into()),
        ("today_sales", today_sales.into()),
        ("today_collection", today_collection.into()),
        ("outstanding", outstanding.into()),
        ("active_customers", active_customers.into()),
        ("deliveries_today", deliveries_today.into()),
    ]);
    codec::object(vec![("seq", stats.seq.into()), ("ts", stats.ts.into()), ("data", data)])
}

fn token_expired(data: Option<&Value>) -> Option<WireError> {
    let reply = match data? {
        Value::Array(a) => a.first()?,
        _ => return None,
    };
    if reply.get("ok").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    WireError::from_wire(reply.get("error")?).filter(|e| e.code == ErrorCode::TokenExpired)
}

fn heartbeat_window(h: &eio::Handshake) -> Duration {
    Duration::from_millis(h.ping_interval.saturating_add(h.ping_timeout))
}

/// Sent emits awaiting their answer, in id order: a map on a `VecDeque`, kept sorted. Ids grow
/// as emits are sent and answers mostly come in order, so inserts land at the back and
/// removals near the front; a `BTreeMap` of its own would add 5 KB to the browser bundle.
#[derive(Debug, Default)]
struct Inflight(VecDeque<(AckId, sio::Packet)>);

impl Inflight {
    fn insert(&mut self, id: AckId, p: sio::Packet) {
        match self.0.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(at) => self.0[at].1 = p,
            Err(at) => self.0.insert(at, (id, p)),
        }
    }

    fn remove(&mut self, id: &AckId) {
        if let Ok(at) = self.0.binary_search_by_key(id, |(i, _)| *i) {
            self.0.remove(at);
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Pending acknowledgements and their deadlines; the heap gives the earliest in O(log n),
/// entries of answered acks are skipped lazily.
#[derive(Debug, Default)]
struct Acks {
    next: AckId,
    /// In id order, which is the order they are handed out and inserted in: a binary search
    /// finds one, and draining needs no sort. Not a HashMap: its code would be the only
    /// hashing in the browser packages (with `Shared::waiters`).
    pending: Vec<(AckId, Instant)>,
    heap: BinaryHeap<Reverse<(Instant, AckId)>>,
}

impl Acks {
    fn next_id(&mut self) -> AckId {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        id
    }

    fn insert(&mut self, id: AckId, deadline: Instant) {
        // At the end, as ids come in order; in its place otherwise.
        let at = self.pending.partition_point(|(i, _)| *i < id);
        self.pending.insert(at, (id, deadline));
        self.heap.push(Reverse((deadline, id)));
    }

    /// Where pending ack `id` sits, if it is pending.
    fn at(&self, id: AckId) -> Option<usize> {
        self.pending.binary_search_by_key(&id, |(i, _)| *i).ok()
    }

    fn deadline(&self, id: AckId) -> Option<Instant> {
        self.at(id).map(|at| self.pending[at].1)
    }

    fn remove(&mut self, id: AckId) -> bool {
        let found = self.at(id).map(|at| self.pending.remove(at)).is_some();
        self.prune();
        found
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    fn pop_expired(&mut self, now: Instant) -> Option<AckId> {
        self.prune();
        let Reverse((at, id)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        self.remove(id);
        Some(id)
    }

    /// Every pending id, in order.
    fn drain(&mut self) -> Vec<AckId> {
        self.heap.clear();
        self.pending.drain(..).map(|(id, _)| id).collect()
    }

    /// Drops heap entries whose ack was answered, so `peek` is always live.
    fn prune(&mut self) {
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if self.deadline(*id) == Some(*at) {
                break;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_expire_by_deadline_and_drain_in_id_order() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut acks = Acks::default();
        let ids: Vec<AckId> = (0..6).map(|_| acks.next_id()).collect();
        // Deadlines out of id order, and one id inserted after later ones.
        for (i, s) in [(0, 5), (1, 2), (3, 9), (4, 2), (5, 7), (2, 1)] {
            acks.insert(ids[i], at(s));
        }
        assert!(acks.remove(ids[4]));
        assert!(!acks.remove(ids[4]), "answered once");
        assert_eq!(acks.next_deadline(), Some(at(1)));
        assert_eq!(acks.pop_expired(at(2)), Some(ids[2]));
        assert_eq!(acks.pop_expired(at(2)), Some(ids[1]));
        assert_eq!(acks.pop_expired(at(2)), None, "the answered one does not expire");
        assert_eq!(acks.next_deadline(), Some(at(5)));
        assert_eq!(acks.drain(), [ids[0], ids[3], ids[5]]);
        assert_eq!(acks.next_deadline(), None);
    }

    #[test]
    fn hand_built_values_match_their_serde_form() {
        let stats = Envelope {
            seq: 9,
            ts: -3,
            data: Stats {
                today_liters: 12.5,
                today_sales: 3.0,
                today_collection: f64::NAN,
                outstanding: -4.25,
                active_customers: 2,
                deliveries_today: u32::MAX,
            },
        };
        assert_eq!(stats_value(&stats), serde_json::to_value(&stats).unwrap());
        let err = WireError::new(ErrorCode::ResyncRequired, "another log");
        assert_eq!(wire_error_value(&err), serde_json::to_value(&err).unwrap());
    }

    #[test]
    fn inflight_keeps_id_order_whatever_the_insert_order() {
        let packet = |id| sio::Packet::event("/", "e", Vec::new(), Some(id));
        let mut f = Inflight::default();
        for id in [5, 1, 9, 3, 7, 3] {
            f.insert(id, packet(id));
        }
        f.remove(&7);
        f.remove(&8);
        let ids: Vec<AckId> =
            f.0.iter().map(|(id, p)| (assert_eq!(p.id, Some(*id)), *id).1).collect();
        assert_eq!(ids, [1, 3, 5, 9]);
        f.clear();
        assert!(f.0.is_empty());
    }

    #[test]
    fn duration_text_is_debug_to_the_millisecond() {
        for ms in [0, 1, 7, 999, 1000, 1001, 1500, 1050, 10_000, 20_000, 61_250, 3_600_000] {
            let d = Duration::from_millis(ms);
            assert_eq!(duration_text(d), format!("{d:?}"));
        }
    }
}
