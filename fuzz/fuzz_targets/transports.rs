//! The transport machine (`pulse_sdk::transport::Transports`) driven by a fuzz input the way
//! `client-sdk/src/driver` drives it, checking after every step what it promises.
//!
//! The input is split on `0xFF` (see `src/lib.rs`); each piece is one operation, named by its
//! first byte, with the rest as its argument. Unknown bytes are skipped.
//!
//! | byte | operation | argument |
//! |---|---|---|
//! | `C` | transports, first piece only | `w`/`p` per transport, in order |
//! | `o` / `c` | `open` / `close` | — |
//! | `s` / `S` | `send` a text / binary frame (text gets a `4` in front, loses any `\x1e`) | the data |
//! | `O` | WebSocket opened (the newest one the machine asked for) | — |
//! | `f` | a frame on that WebSocket | the frame |
//! | `x` | that WebSocket closed | reason |
//! | `g` | the oldest request in flight answered 200 | the body |
//! | `G` | the oldest request in flight answered with an error status | the body |
//! | `e` | the oldest request in flight got no answer | — |
//! | `z` | a report about an id the machine never used | — |
//!
//! Invariants: no panic; at most one GET in flight, and at most one POST besides the close
//! packet's; frames go only to a WebSocket that was opened and not closed since; what the
//! connection sent leaves (in POST bodies and WebSocket frames) in order, each once, with
//! nothing else but the probe, the upgrade and the close packet; `Up::Open` at most once per
//! session, and `Up::Frame` only after it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_sdk::codec::eio::decode_payload;
use pulse_sdk::codec::Frame;
use pulse_sdk::transport::{Action, IoId, Transports, Up};
use pulse_sdk::{Config, Transport};

#[derive(Default)]
struct World {
    sockets: Vec<IoId>,
    /// The WebSockets opened, newest last, including closed ones (reports may still come).
    opened: Vec<IoId>,
    /// Requests in flight: (id, is a GET, is the close packet's POST).
    requests: Vec<(IoId, bool, bool)>,
    /// What the connection sent since the session opened, and what has left of it.
    sent: Vec<Frame>,
    left: Vec<Frame>,
    up_open: bool,
}

impl World {
    fn act(&mut self, t: &mut Transports) {
        while let Some(a) = t.poll_action() {
            match a {
                Action::OpenWebSocket { id, url } => {
                    assert!(url.starts_with("ws://"), "{url}");
                    self.sockets.push(id);
                    self.opened.push(id);
                }
                Action::SendWebSocket { id, frame } => {
                    assert!(self.sockets.contains(&id), "a frame for WebSocket {id}, not open");
                    self.leave(frame);
                }
                Action::CloseWebSocket { id } => self.sockets.retain(|s| *s != id),
                Action::Get { id, url } => {
                    assert!(url.contains("transport=polling"), "{url}");
                    self.requests.push((id, true, false));
                }
                Action::Post { id, url, body } => {
                    assert!(url.contains("&sid="), "a POST outside a session: {url}");
                    let frames = decode_payload(&body).expect("a POST body is a payload");
                    let close = frames == [Frame::Text("1".into())];
                    self.requests.push((id, false, close));
                    if !close {
                        frames.into_iter().for_each(|f| self.leave(f));
                    }
                }
                Action::Cancel { id } => self.requests.retain(|r| r.0 != id),
            }
            let gets = self.requests.iter().filter(|r| r.1).count();
            let posts = self.requests.iter().filter(|r| !r.1 && !r.2).count();
            assert!(gets <= 1 && posts <= 1, "{gets} GETs and {posts} POSTs in flight");
        }
        while let Some(up) = t.poll_up() {
            match up {
                Up::Open => {
                    assert!(!self.up_open, "opened twice");
                    self.up_open = true;
                }
                Up::Frame(_) => assert!(self.up_open, "a frame before the transport opened"),
                Up::Closed(_) => self.up_open = false,
            }
        }
    }

    fn leave(&mut self, f: Frame) {
        let control = matches!(&f, Frame::Text(t) if t == "2probe" || t == "5");
        if control {
            return;
        }
        self.left.push(f);
        assert!(self.left.len() <= self.sent.len(), "more left than was sent");
        assert_eq!(self.left, self.sent[..self.left.len()], "frames left out of order or twice");
    }

    fn answer(&mut self, t: &mut Transports, result: Result<(u16, String), String>) {
        if self.requests.is_empty() {
            return;
        }
        let (id, ..) = self.requests.remove(0);
        t.handle_http(id, result);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut pieces = pulse_fuzz::pieces(data).peekable();
    let mut config = Config::new("http://h:1");
    if let Some(p) = pieces.peek().filter(|p| p.first() == Some(&b'C')) {
        config.transports = p[1..]
            .iter()
            .filter_map(|b| match b {
                b'w' => Some(Transport::WebSocket),
                b'p' => Some(Transport::Polling),
                _ => None,
            })
            .take(4)
            .collect();
        pieces.next();
    }
    let mut t = Transports::new(config);
    let mut w = World::default();
    for piece in pieces {
        let Some((&op, arg)) = piece.split_first() else { continue };
        let text = String::from_utf8_lossy(arg).into_owned();
        match op {
            b'o' | b'c' => {
                if op == b'o' {
                    t.open();
                } else {
                    t.close();
                }
                w.sent.clear();
                w.left.clear();
                w.up_open = false;
            }
            b's' | b'S' => {
                let frame = match op {
                    // Without the payload separator, as every Socket.IO packet is (JSON
                    // escapes control characters).
                    b's' => Frame::Text(format!("4{}", text.replace('\x1e', ""))),
                    _ => Frame::Binary(arg.to_vec()),
                };
                // Only an open transport takes frames (the connection sends nothing before).
                if t.current().is_some() {
                    w.sent.push(frame.clone());
                }
                t.send(frame);
            }
            b'O' => {
                if let Some(&id) = w.opened.last() {
                    t.handle_ws_open(id);
                }
            }
            b'f' => {
                if let Some(&id) = w.opened.last() {
                    t.handle_ws_frame(id, pulse_fuzz::frame(arg));
                }
            }
            b'x' => {
                if let Some(&id) = w.opened.last() {
                    w.sockets.retain(|s| *s != id);
                    t.handle_ws_closed(id, text);
                }
            }
            b'g' => w.answer(&mut t, Ok((200, text))),
            b'G' => {
                w.answer(&mut t, Ok((400 + u16::from(arg.first().copied().unwrap_or(0)), text)))
            }
            b'e' => w.answer(&mut t, Err(text)),
            b'z' => {
                t.handle_http(u64::MAX, Ok((200, "1".into())));
                t.handle_ws_closed(u64::MAX, "x".into());
            }
            _ => {}
        }
        w.act(&mut t);
    }
});
