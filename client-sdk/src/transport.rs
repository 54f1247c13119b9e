//! This module deals with Engine.IO's transports, below the [`Connection`](crate::Connection):
//! a WebSocket, or HTTP long-polling (a GET held open by the server for what it sends, POSTs
//! for what the client sends), the upgrade from polling to WebSocket once a probe proves the
//! WebSocket works, and the fallback to polling when a WebSocket cannot be opened (a proxy
//! that refuses the upgrade).
//!
//! [`Transports`] is a deterministic machine like the connection's: it is told what the
//! sockets and HTTP requests did and answers with [`Action`]s for the driver and [`Up`]
//! reports for the connection, which sees one transport that opens, carries frames and
//! closes, whichever is underneath. It reads no clock: the connection's connect deadline and
//! heartbeat already bound every wait here.
//!
//! Reference: <https://socket.io/docs/v4/engine-io-protocol/>.

use crate::codec::eio::{self, Packet};
use crate::codec::Frame;
use crate::config::Config;

/// A way to carry Engine.IO packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// One WebSocket for the whole session.
    WebSocket,
    /// HTTP long-polling, upgraded to a WebSocket when the server offers it and
    /// [`Transport::WebSocket`] is allowed too.
    Polling,
}

impl Transport {
    /// The name Engine.IO uses (`transport=` in URLs, `upgrades` in the handshake).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
        }
    }

    /// Reads Engine.IO's name for a transport.
    pub fn parse(name: &str) -> Option<Transport> {
        match name {
            "websocket" => Some(Transport::WebSocket),
            "polling" => Some(Transport::Polling),
            _ => None,
        }
    }
}

/// Identifies one WebSocket or one HTTP request the machine asked for; reports about an id
/// the machine no longer follows are ignored.
pub type IoId = u64;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a WebSocket; report with [`Transports::handle_ws_open`], `handle_ws_frame` and
    /// `handle_ws_closed`.
    OpenWebSocket {
        /// Names this socket in reports.
        id: IoId,
        /// `ws://` or `wss://`.
        url: String,
    },
    /// Send a frame on WebSocket `id`.
    SendWebSocket {
        /// The socket.
        id: IoId,
        /// The frame.
        frame: Frame,
    },
    /// Close WebSocket `id` and drop whatever it still delivers.
    CloseWebSocket {
        /// The socket.
        id: IoId,
    },
    /// `GET url` (text/plain); report with [`Transports::handle_http`].
    Get {
        /// Names this request in reports.
        id: IoId,
        /// `http://` or `https://`.
        url: String,
    },
    /// `POST url` with `body` (text/plain); report with [`Transports::handle_http`].
    Post {
        /// Names this request in reports.
        id: IoId,
        /// `http://` or `https://`.
        url: String,
        /// An Engine.IO payload.
        body: String,
    },
    /// Drop request `id` without waiting for its answer.
    Cancel {
        /// The request.
        id: IoId,
    },
}

/// What the connection above is told (as `handle_transport_open`, `handle_frame` and
/// `handle_transport_closed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Up {
    /// The transport is open; the Engine.IO handshake comes next as a frame.
    Open,
    /// A frame from the server.
    Frame(Frame),
    /// The transport closed or could not be opened; why, for people.
    Closed(String),
}

/// How a long-polling session moves to a WebSocket.
#[derive(Debug, PartialEq, Eq)]
enum Probe {
    /// Not tried (yet), or it failed.
    None,
    /// The WebSocket is opening.
    Opening(IoId),
    /// `2probe` sent; waiting for `3probe`.
    Sent(IoId),
    /// The probe answered: the requests in flight finish, none start, then `5` goes out on
    /// the WebSocket and it carries the session.
    Pausing(IoId),
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Closed,
    /// A WebSocket opening as the session's first transport.
    WebSocketOpening(IoId),
    /// The session runs over this WebSocket (opened directly or upgraded to).
    WebSocket(IoId),
    /// The long-polling handshake request is in flight.
    Handshake(IoId),
    Polling(Polling),
}

#[derive(Debug, PartialEq, Eq)]
struct Polling {
    sid: String,
    max_payload: usize,
    get: Option<IoId>,
    post: Option<IoId>,
    probe: Probe,
}

/// The transport machine: one Engine.IO session at a time, over the transports in
/// [`Config::transports`], in their order.
#[derive(Debug)]
pub struct Transports {
    config: Config,
    state: State,
    /// Transports still to try in this opening, after the current one.
    untried: Vec<Transport>,
    /// Why the transports tried so far in this opening failed, one after the other.
    failures: String,
    /// A WebSocket failed while polling worked: the next opening starts with polling (which
    /// still probes for an upgrade), not with another WebSocket that a proxy refuses.
    websocket_failed: bool,
    /// Frames the connection sent that no transport has taken yet.
    queue: Vec<Frame>,
    next_id: IoId,
    actions: Vec<Action>,
    up: Vec<Up>,
    /// How many of `up` were taken: a long-poll answer can carry hundreds of frames, which
    /// `Vec::remove(0)` would shift once each.
    up_taken: usize,
}

impl Transports {
    /// A machine with no session, for the server and transports of `config`.
    pub fn new(config: Config) -> Self {
        Transports {
            config,
            state: State::Closed,
            untried: Vec::new(),
            failures: String::new(),
            websocket_failed: false,
            queue: Vec::new(),
            next_id: 0,
            actions: Vec::new(),
            up: Vec::new(),
            up_taken: 0,
        }
    }

    /// What the machine was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The transport carrying the session now, if one is open or opening.
    pub fn current(&self) -> Option<Transport> {
        match self.state {
            State::Closed => None,
            State::WebSocketOpening(_) | State::WebSocket(_) => Some(Transport::WebSocket),
            State::Handshake(_) | State::Polling(_) => Some(Transport::Polling),
        }
    }

    /// The WebSocket carrying the session, once it does (not while it opens or is probed).
    pub fn websocket(&self) -> Option<IoId> {
        match self.state {
            State::WebSocket(id) => Some(id),
            _ => None,
        }
    }

    /// Opens a new session (closing any current one), trying the transports in order.
    pub fn open(&mut self) {
        self.close();
        self.failures.clear();
        let mut order = self.config.transports.clone();
        order.dedup();
        if self.websocket_failed && order.contains(&Transport::Polling) {
            order.retain(|t| *t == Transport::Polling);
            order.push(Transport::WebSocket);
        }
        order.reverse();
        self.untried = order;
        self.try_next();
    }

    /// Closes the session, telling the server when it is polled; reports nothing up.
    pub fn close(&mut self) {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => {}
            State::WebSocketOpening(id) | State::WebSocket(id) => {
                self.actions.push(Action::CloseWebSocket { id })
            }
            State::Handshake(id) => self.actions.push(Action::Cancel { id }),
            State::Polling(p) => {
                self.drop_polling(&p);
                // Best effort: the server ends the session now instead of at its ping
                // timeout. Its answer is not followed.
                let id = self.id();
                let url = self.url(Transport::Polling, Some(&p.sid), id);
                let body = eio::encode_payload(&[Packet::Close.encode()]);
                self.actions.push(Action::Post { id, url, body });
            }
        }
        self.queue.clear();
    }

    /// Queues a frame for the server; it leaves with the next action the transport allows.
    pub fn send(&mut self, frame: Frame) {
        match self.state {
            State::WebSocket(id) => self.actions.push(Action::SendWebSocket { id, frame }),
            State::Closed => {}
            _ => self.queue.push(frame),
        }
    }

    /// WebSocket `id` is open.
    pub fn handle_ws_open(&mut self, id: IoId) {
        if self.state == State::WebSocketOpening(id) {
            self.state = State::WebSocket(id);
            self.up.push(Up::Open);
            self.flush_to_websocket(id);
        } else if let State::Polling(p) = &mut self.state {
            if p.probe == Probe::Opening(id) {
                p.probe = Probe::Sent(id);
                let frame = Packet::Ping("probe".into()).encode();
                self.actions.push(Action::SendWebSocket { id, frame });
            }
        }
    }

    /// A frame arrived on WebSocket `id`.
    pub fn handle_ws_frame(&mut self, id: IoId, frame: Frame) {
        match &mut self.state {
            State::WebSocket(ws) if *ws == id => self.up.push(Up::Frame(frame)),
            State::Polling(p) if p.probe == Probe::Sent(id) => {
                if frame == Packet::Pong("probe".into()).encode() {
                    p.probe = Probe::Pausing(id);
                    self.finish_upgrade();
                } else {
                    self.probe_failed(id, "the upgrade probe got another answer");
                }
            }
            _ => {}
        }
    }

    /// WebSocket `id` closed or could not be opened.
    pub fn handle_ws_closed(&mut self, id: IoId, reason: String) {
        match &self.state {
            State::WebSocketOpening(ws) if *ws == id => {
                self.state = State::Closed;
                self.failed(Transport::WebSocket, reason);
            }
            State::WebSocket(ws) if *ws == id => {
                self.state = State::Closed;
                self.queue.clear();
                self.up.push(Up::Closed(reason));
            }
            State::Polling(p) if p.probe.socket() == Some(id) => self.probe_failed(id, &reason),
            _ => {}
        }
    }

    /// HTTP request `id` was answered with `status` and `body`, or got no answer (`Err`).
    pub fn handle_http(&mut self, id: IoId, result: Result<(u16, String), String>) {
        match &mut self.state {
            State::Handshake(h) if *h == id => self.handshake_answered(result),
            State::Polling(p) if p.get == Some(id) => {
                p.get = None;
                let frames = match result {
                    Ok((200, body)) => eio::decode_payload(&body).map_err(|e| e.to_string()),
                    Ok((status, body)) => Err(http_failure("GET", status, &body)),
                    Err(e) => Err(format!("polling GET: {e}")),
                };
                match frames {
                    Ok(frames) => {
                        let close = frames.iter().any(|f| *f == Packet::Close.encode());
                        self.up.extend(frames.into_iter().map(Up::Frame));
                        if close {
                            // The connection reads the close packet; nothing more comes.
                            self.end(None);
                        } else {
                            self.finish_upgrade();
                        }
                    }
                    Err(why) => self.end(Some(why)),
                }
            }
            State::Polling(p) if p.post == Some(id) => {
                p.post = None;
                match result {
                    Ok((200, _)) => self.finish_upgrade(),
                    Ok((status, body)) => self.end(Some(http_failure("POST", status, &body))),
                    Err(e) => self.end(Some(format!("polling POST: {e}"))),
                }
            }
            _ => {}
        }
    }

    /// The next thing the driver must do. Requests are made here, not when frames are
    /// queued: what the connection sent in one round leaves in one POST.
    pub fn poll_action(&mut self) -> Option<Action> {
        if !self.actions.is_empty() {
            return Some(self.actions.remove(0));
        }
        let State::Polling(p) = &self.state else { return None };
        if !matches!(p.probe, Probe::Pausing(_)) {
            if p.post.is_none() && !self.queue.is_empty() {
                return Some(self.post());
            }
            if p.get.is_none() {
                let sid = p.sid.clone();
                let id = self.id();
                let url = self.url(Transport::Polling, Some(&sid), id);
                if let State::Polling(p) = &mut self.state {
                    p.get = Some(id);
                }
                return Some(Action::Get { id, url });
            }
        }
        None
    }

    /// The next report for the connection.
    pub fn poll_up(&mut self) -> Option<Up> {
        // Vecs, not VecDeques: one collection type less in the browser packages.
        match self.up.get_mut(self.up_taken) {
            Some(up) => {
                self.up_taken += 1;
                Some(std::mem::replace(up, Up::Open))
            }
            None => {
                self.up.clear();
                self.up_taken = 0;
                None
            }
        }
    }

    // ----- internals -----

    fn id(&mut self) -> IoId {
        self.next_id += 1;
        self.next_id
    }

    fn url(&self, transport: Transport, sid: Option<&str>, id: IoId) -> String {
        let mut url = self.config.engine_url(transport);
        if let Some(sid) = sid {
            url.push_str("&sid=");
            url.push_str(sid);
        }
        if transport == Transport::Polling {
            // Engine.IO's cache buster: no cache between us and the server may answer a
            // poll with an earlier one's body.
            url.push_str("&t=");
            url.push_str(&id.to_string());
        }
        url
    }

    fn try_next(&mut self) {
        let Some(next) = self.untried.pop() else {
            let why = match self.failures.is_empty() {
                true => "no transport is allowed (Config::transports is empty)".to_owned(),
                false => std::mem::take(&mut self.failures),
            };
            self.up.push(Up::Closed(why));
            return;
        };
        let id = self.id();
        let url = self.url(next, None, id);
        match next {
            Transport::WebSocket => {
                self.state = State::WebSocketOpening(id);
                self.actions.push(Action::OpenWebSocket { id, url });
            }
            Transport::Polling => {
                self.state = State::Handshake(id);
                self.actions.push(Action::Get { id, url });
            }
        }
    }

    /// `transport` failed before the session opened: the next one is tried.
    fn failed(&mut self, transport: Transport, reason: String) {
        if transport == Transport::WebSocket && self.untried.contains(&Transport::Polling) {
            self.websocket_failed = true;
        }
        if !self.failures.is_empty() {
            self.failures.push_str("; then ");
        }
        self.failures.push_str(transport.as_str());
        self.failures.push_str(": ");
        self.failures.push_str(&reason);
        self.try_next();
    }

    fn handshake_answered(&mut self, result: Result<(u16, String), String>) {
        self.state = State::Closed;
        let frames = match result {
            Ok((200, body)) => eio::decode_payload(&body).map_err(|e| e.to_string()),
            Ok((status, body)) => Err(http_failure("handshake", status, &body)),
            Err(e) => Err(e),
        };
        let open = frames.and_then(|frames| match frames.first().cloned().map(Packet::decode) {
            Some(Ok(Packet::Open(h))) => Ok((h, frames)),
            Some(Err(e)) => Err(e.to_string()),
            _ => Err("the handshake answer is not an open packet".into()),
        });
        let (handshake, frames) = match open {
            Ok(open) => open,
            Err(why) => return self.failed(Transport::Polling, why),
        };
        let upgrade = self.config.transports.contains(&Transport::WebSocket)
            && handshake.upgrades.iter().any(|u| u == Transport::WebSocket.as_str())
            && !self.websocket_failed;
        let sid = handshake.sid.clone();
        self.state = State::Polling(Polling {
            sid: sid.clone(),
            max_payload: usize::try_from(handshake.max_payload).unwrap_or(usize::MAX),
            get: None,
            post: None,
            probe: Probe::None,
        });
        self.up.push(Up::Open);
        self.up.extend(frames.into_iter().map(Up::Frame));
        if upgrade {
            let id = self.id();
            let url = self.url(Transport::WebSocket, Some(&sid), id);
            if let State::Polling(p) = &mut self.state {
                p.probe = Probe::Opening(id);
            }
            self.actions.push(Action::OpenWebSocket { id, url });
        }
    }

    /// A POST of as many queued frames as the server's `maxPayload` takes (at least one).
    fn post(&mut self) -> Action {
        let id = self.id();
        let State::Polling(p) = &mut self.state else { unreachable!("called while polling") };
        p.post = Some(id);
        let (max, sid) = (p.max_payload, p.sid.clone());
        let (mut n, mut len) = (0, 0);
        for f in &self.queue {
            let add = eio::payload_len(f) + usize::from(n > 0);
            if n > 0 && len + add > max {
                break;
            }
            len += add;
            n += 1;
        }
        let rest = self.queue.split_off(n);
        let batch = std::mem::replace(&mut self.queue, rest);
        let url = self.url(Transport::Polling, Some(&sid), id);
        Action::Post { id, url, body: eio::encode_payload(&batch) }
    }

    /// Once the probe has answered and no request is in flight, the WebSocket takes over.
    fn finish_upgrade(&mut self) {
        let State::Polling(p) = &self.state else { return };
        let Probe::Pausing(ws) = p.probe else { return };
        if p.get.is_some() || p.post.is_some() {
            return;
        }
        self.state = State::WebSocket(ws);
        let frame = Packet::Upgrade.encode();
        self.actions.push(Action::SendWebSocket { id: ws, frame });
        self.flush_to_websocket(ws);
    }

    fn flush_to_websocket(&mut self, id: IoId) {
        for frame in self.queue.drain(..) {
            self.actions.push(Action::SendWebSocket { id, frame });
        }
    }

    /// The upgrade did not work: the session stays on polling, and no later session tries
    /// the WebSocket first.
    fn probe_failed(&mut self, id: IoId, _why: &str) {
        self.websocket_failed = true;
        self.actions.push(Action::CloseWebSocket { id });
        if let State::Polling(p) = &mut self.state {
            p.probe = Probe::None;
        }
    }

    /// The polled session ended: with `why` reported up, or silently after a close packet
    /// the connection reads itself.
    fn end(&mut self, why: Option<String>) {
        if let State::Polling(p) = std::mem::replace(&mut self.state, State::Closed) {
            self.drop_polling(&p);
        }
        self.queue.clear();
        if let Some(why) = why {
            self.up.push(Up::Closed(why));
        }
    }

    fn drop_polling(&mut self, p: &Polling) {
        for id in [p.get, p.post].into_iter().flatten() {
            self.actions.push(Action::Cancel { id });
        }
        if let Some(id) = p.probe.socket() {
            self.actions.push(Action::CloseWebSocket { id });
        }
    }
}

impl Probe {
    fn socket(&self) -> Option<IoId> {
        match *self {
            Probe::None => None,
            Probe::Opening(id) | Probe::Sent(id) | Probe::Pausing(id) => Some(id),
        }
    }
}

/// An answer other than 200, with the server's reason when it gave one in a short body
/// (Engine.IO answers `{"code":1,"message":"Session ID unknown"}` for an expired session).
fn http_failure(what: &str, status: u16, body: &str) -> String {
    let body = body.trim();
    if body.is_empty() || body.len() > 200 {
        format!("polling {what}: HTTP {status}")
    } else {
        format!("polling {what}: HTTP {status}: {body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = r#"0{"sid":"S1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":40}"#;
    const OPEN_NO_UPGRADE: &str =
        r#"0{"sid":"S1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;

    fn machine(transports: &[Transport]) -> Transports {
        let mut config = Config::new("http://h:1");
        config.transports = transports.to_vec();
        Transports::new(config)
    }

    fn actions(t: &mut Transports) -> Vec<Action> {
        std::iter::from_fn(|| t.poll_action()).collect()
    }

    fn ups(t: &mut Transports) -> Vec<Up> {
        std::iter::from_fn(|| t.poll_up()).collect()
    }

    fn text(s: &str) -> Frame {
        Frame::Text(s.into())
    }

    /// Opens a polled session; returns the id of the first long-poll GET.
    fn polled(t: &mut Transports, open: &str) -> IoId {
        t.open();
        let [Action::Get { id, url }] = &actions(t)[..] else { panic!("handshake GET") };
        assert_eq!(url, &format!("http://h:1/socket.io/?EIO=4&transport=polling&t={id}"));
        t.handle_http(*id, Ok((200, open.into())));
        assert_eq!(ups(t), vec![Up::Open, Up::Frame(text(open))]);
        let get = actions(t)
            .into_iter()
            .find_map(|a| match a {
                Action::Get { id, url } => {
                    assert!(url.contains("transport=polling&sid=S1&t="), "{url}");
                    Some(id)
                }
                _ => None,
            })
            .expect("a long-poll GET");
        assert_eq!(t.current(), Some(Transport::Polling));
        get
    }

    #[test]
    fn polling_holds_one_get_and_one_post_and_batches_what_waits() {
        let mut t = machine(&[Transport::Polling]);
        let get = polled(&mut t, OPEN_NO_UPGRADE);
        t.send(text("40"));
        t.send(text("42[\"a\"]"));
        let [Action::Post { id: post, url, body }] = &actions(&mut t)[..] else { panic!() };
        assert!(url.contains("sid=S1"), "{url}");
        assert_eq!(body, "40\x1e42[\"a\"]");
        // One POST at a time: the next frame waits for the answer.
        t.send(Frame::Binary(vec![1, 2, 3]));
        assert_eq!(actions(&mut t), vec![]);
        t.handle_http(*post, Ok((200, "ok".into())));
        let [Action::Post { body, .. }] = &actions(&mut t)[..] else { panic!() };
        assert_eq!(body, "bAQID");
        // The long poll answers with two packets: both go up, and the next GET goes out.
        t.handle_http(get, Ok((200, "2\x1e42[\"tick\",1]".into())));
        assert_eq!(ups(&mut t), vec![Up::Frame(text("2")), Up::Frame(text("42[\"tick\",1]"))]);
        assert!(matches!(&actions(&mut t)[..], [Action::Get { .. }]));
        // Reports about requests the machine no longer follows change nothing.
        t.handle_http(get, Ok((200, "1".into())));
        t.handle_ws_closed(get, "x".into());
        assert_eq!((ups(&mut t), actions(&mut t)), (vec![], vec![]));
    }

    #[test]
    fn a_post_stays_under_the_servers_max_payload() {
        let mut t = machine(&[Transport::Polling]);
        let _get = polled(&mut t, OPEN); // maxPayload 40
        let twenty = "4".repeat(20);
        for _ in 0..3 {
            t.send(text(&twenty));
        }
        t.send(text(&"4".repeat(60))); // alone above the limit: sent alone
        let [Action::Post { id, body, .. }] = &actions(&mut t)[..] else { panic!() };
        assert_eq!(body, &twenty, "20 + 1 + 20 > 40");
        let mut bodies = vec![body.clone()];
        let mut post = *id;
        for _ in 0..3 {
            t.handle_http(post, Ok((200, "ok".into())));
            let [Action::Post { id, body, .. }] = &actions(&mut t)[..] else { panic!() };
            post = *id;
            bodies.push(body.clone());
        }
        assert_eq!(bodies[1..], [twenty.clone(), twenty, "4".repeat(60)]);
    }

    #[test]
    fn polling_upgrades_after_the_probe_once_the_requests_in_flight_are_done() {
        let mut t = machine(&[Transport::Polling, Transport::WebSocket]);
        t.open();
        let [Action::Get { id, .. }] = &actions(&mut t)[..] else { panic!() };
        t.handle_http(*id, Ok((200, OPEN.into())));
        ups(&mut t);
        let got = actions(&mut t);
        let ws = match &got[0] {
            Action::OpenWebSocket { id, url } => {
                assert_eq!(url, "ws://h:1/socket.io/?EIO=4&transport=websocket&sid=S1");
                *id
            }
            other => panic!("{other:?}"),
        };
        let Action::Get { id: get, .. } = got[1] else { panic!("{got:?}") };
        t.handle_ws_open(ws);
        assert_eq!(actions(&mut t), vec![Action::SendWebSocket { id: ws, frame: text("2probe") }]);
        t.send(text("40"));
        let [Action::Post { id: post, .. }] = &actions(&mut t)[..] else { panic!() };
        t.handle_ws_frame(ws, text("3probe"));
        // Paused: what the connection sends now waits, and no request starts.
        t.send(text("42[\"late\"]"));
        assert_eq!(actions(&mut t), vec![]);
        t.handle_http(*post, Ok((200, "ok".into())));
        assert_eq!(actions(&mut t), vec![]);
        t.handle_http(get, Ok((200, "6".into())));
        assert_eq!(ups(&mut t), vec![Up::Frame(text("6"))]);
        assert_eq!(
            actions(&mut t),
            vec![
                Action::SendWebSocket { id: ws, frame: text("5") },
                Action::SendWebSocket { id: ws, frame: text("42[\"late\"]") },
            ]
        );
        assert_eq!(t.current(), Some(Transport::WebSocket));
        t.send(text("3"));
        t.handle_ws_frame(ws, text("2"));
        assert_eq!(actions(&mut t), vec![Action::SendWebSocket { id: ws, frame: text("3") }]);
        assert_eq!(ups(&mut t), vec![Up::Frame(text("2"))]);
        t.handle_ws_closed(ws, "gone".into());
        assert_eq!(ups(&mut t), vec![Up::Closed("gone".into())]);
    }

    #[test]
    fn a_failed_probe_keeps_the_session_on_polling() {
        let mut t = machine(&[Transport::Polling, Transport::WebSocket]);
        t.open();
        let [Action::Get { id, .. }] = &actions(&mut t)[..] else { panic!() };
        t.handle_http(*id, Ok((200, OPEN.into())));
        let got = actions(&mut t);
        let Action::OpenWebSocket { id: ws, .. } = got[0] else { panic!("{got:?}") };
        t.handle_ws_closed(ws, "403 from a proxy".into());
        assert_eq!(actions(&mut t), vec![Action::CloseWebSocket { id: ws }]);
        assert_eq!(ups(&mut t), vec![Up::Open, Up::Frame(text(OPEN))]);
        assert_eq!(t.current(), Some(Transport::Polling));
        t.send(text("40"));
        assert!(matches!(&actions(&mut t)[..], [Action::Post { .. }]));
        // A new session does not try the WebSocket again: it failed here.
        t.open();
        let got = actions(&mut t);
        assert!(got.iter().any(|a| matches!(a, Action::Get { url, .. } if !url.contains("sid"))));
        let Some(Action::Get { id, .. }) = got.last() else { panic!() };
        t.handle_http(*id, Ok((200, OPEN.into())));
        assert!(!actions(&mut t).iter().any(|a| matches!(a, Action::OpenWebSocket { .. })));
    }

    #[test]
    fn a_probe_answered_wrongly_is_closed_and_polling_goes_on() {
        let mut t = machine(&[Transport::Polling, Transport::WebSocket]);
        t.open();
        let [Action::Get { id, .. }] = actions(&mut t)[..] else { panic!() };
        t.handle_http(id, Ok((200, OPEN.into())));
        let got = actions(&mut t);
        let (Action::OpenWebSocket { id: ws, .. }, Action::Get { id: get, .. }) =
            (&got[0], &got[1])
        else {
            panic!("{got:?}")
        };
        t.handle_ws_open(*ws);
        actions(&mut t);
        t.handle_ws_frame(*ws, text("3something-else"));
        assert_eq!(actions(&mut t), vec![Action::CloseWebSocket { id: *ws }]);
        t.handle_http(*get, Ok((200, "6".into())));
        assert!(matches!(&actions(&mut t)[..], [Action::Get { .. }]), "still polling");
        assert_eq!(t.current(), Some(Transport::Polling));
    }

    #[test]
    fn a_refused_websocket_falls_back_to_polling_and_the_next_session_starts_there() {
        let mut t = machine(&[Transport::WebSocket, Transport::Polling]);
        t.open();
        let [Action::OpenWebSocket { id, url }] = &actions(&mut t)[..] else { panic!() };
        assert_eq!(url, "ws://h:1/socket.io/?EIO=4&transport=websocket");
        t.send(text("early")); // kept until a transport opens
        t.handle_ws_closed(*id, "HTTP 403".into());
        assert_eq!(ups(&mut t), vec![]);
        let [Action::Get { id, .. }] = &actions(&mut t)[..] else { panic!() };
        t.handle_http(*id, Ok((200, OPEN.into())));
        assert_eq!(ups(&mut t), vec![Up::Open, Up::Frame(text(OPEN))]);
        let got = actions(&mut t);
        assert!(!got.iter().any(|a| matches!(a, Action::OpenWebSocket { .. })), "{got:?}");
        assert!(got.iter().any(|a| matches!(a, Action::Post { body, .. } if body == "early")));
        t.open();
        let got = actions(&mut t);
        assert!(matches!(got.last(), Some(Action::Get { url, .. }) if !url.contains("sid")));
    }

    #[test]
    fn an_open_websocket_opens_the_session_and_carries_it() {
        let mut t = machine(&[Transport::WebSocket, Transport::Polling]);
        t.open();
        let [Action::OpenWebSocket { id, .. }] = actions(&mut t)[..] else { panic!() };
        t.handle_ws_open(id);
        t.handle_ws_frame(id, text(OPEN));
        assert_eq!(ups(&mut t), vec![Up::Open, Up::Frame(text(OPEN))]);
        t.send(text("40"));
        assert_eq!(actions(&mut t), vec![Action::SendWebSocket { id, frame: text("40") }]);
        // Once open, a close is a lost session, not a reason to try polling.
        t.handle_ws_closed(id, "reset".into());
        assert_eq!(ups(&mut t), vec![Up::Closed("reset".into())]);
        assert_eq!(actions(&mut t), vec![]);
    }

    #[test]
    fn when_every_transport_fails_the_connection_hears_each_reason() {
        let mut t = machine(&[Transport::WebSocket, Transport::Polling]);
        t.open();
        let [Action::OpenWebSocket { id, .. }] = actions(&mut t)[..] else { panic!() };
        t.handle_ws_closed(id, "refused".into());
        let [Action::Get { id, .. }] = actions(&mut t)[..] else { panic!() };
        t.handle_http(id, Err("refused too".into()));
        assert_eq!(
            ups(&mut t),
            vec![Up::Closed("websocket: refused; then polling: refused too".into())]
        );
        let mut none = machine(&[]);
        none.open();
        assert!(matches!(&ups(&mut none)[..], [Up::Closed(why)] if why.contains("no transport")));
    }

    #[test]
    fn a_polled_session_ends_on_an_error_answer_a_close_packet_or_garbage() {
        for (answer, want) in [
            (
                Ok((400, r#"{"code":1,"message":"Session ID unknown"}"#.to_owned())),
                Some("HTTP 400"),
            ),
            (Err("network down".to_owned()), Some("network down")),
            (Ok((200, "\x1e".to_owned())), Some("empty")),
            (Ok((200, "42[\"x\"]\x1e1".to_owned())), None),
        ] {
            let mut t = machine(&[Transport::Polling]);
            let get = polled(&mut t, OPEN_NO_UPGRADE);
            t.send(text("3"));
            let [Action::Post { id: post, .. }] = actions(&mut t)[..] else { panic!() };
            t.handle_http(get, answer.clone());
            let up = ups(&mut t);
            match want {
                Some(want) => {
                    assert!(matches!(&up[..], [Up::Closed(w)] if w.contains(want)), "{up:?}")
                }
                // The close packet goes up for the connection to read; nothing else.
                None => assert_eq!(up, vec![Up::Frame(text("42[\"x\"]")), Up::Frame(text("1"))]),
            }
            assert_eq!(actions(&mut t), vec![Action::Cancel { id: post }], "{answer:?}");
            assert_eq!(t.current(), None);
        }
    }

    #[test]
    fn closing_a_polled_session_tells_the_server_and_drops_the_requests() {
        let mut t = machine(&[Transport::Polling]);
        let get = polled(&mut t, OPEN_NO_UPGRADE);
        t.send(text("42[\"unsent\"]"));
        t.close();
        let got = actions(&mut t);
        assert_eq!(got[0], Action::Cancel { id: get });
        assert!(
            matches!(&got[1], Action::Post { url, body, .. } if url.contains("sid=S1") && body == "1")
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(ups(&mut t), vec![]);
    }

    #[test]
    fn a_handshake_that_is_not_an_open_packet_fails_the_transport() {
        for body in ["", "4hello", "0{}", "<html>proxy</html>"] {
            let mut t = machine(&[Transport::Polling]);
            t.open();
            let [Action::Get { id, .. }] = actions(&mut t)[..] else { panic!() };
            t.handle_http(id, Ok((200, body.into())));
            assert!(
                matches!(&ups(&mut t)[..], [Up::Closed(w)] if w.starts_with("polling: ")),
                "{body}"
            );
        }
    }
}
