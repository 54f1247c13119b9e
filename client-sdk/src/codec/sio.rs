//! This module deals with Socket.IO v5 packets carried in Engine.IO messages:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<json>]`, followed, for BINARY_EVENT and
//! BINARY_ACK, by one binary frame per attachment.
//!
//! Binary attachments stay where the protocol puts them: the JSON keeps its
//! `{"_placeholder":true,"num":N}` markers and the bytes travel in [`Packet::attachments`],
//! so nothing is copied to rebuild a tree. [`placeholder`] builds a marker for sending.
//!
//! Reference: <https://socket.io/docs/v4/socket-io-protocol/>.

use serde_json::Value;

use super::{DecodeError, Json};

/// Upper bound on attachments per packet, so a hostile peer cannot make us buffer forever.
pub const MAX_ATTACHMENTS: usize = 64;

/// What a Socket.IO packet is for. Binary variants are implied by non-empty attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `0`: join a namespace (client) or accept the join (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2` / `5`: an event `[name, ...args]`.
    Event,
    /// `3` / `6`: the answer to an event that asked for one.
    Ack,
    /// `4`: the server refused the namespace join.
    ConnectError,
}

/// A Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// What the packet is for.
    pub kind: Kind,
    /// The namespace, `/` by default.
    pub nsp: String,
    /// Acknowledgement id, for events that want an answer and for the answers.
    pub id: Option<u64>,
    /// The JSON body, with placeholders where attachments go.
    pub data: Payload,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Vec<u8>>,
}

/// A packet's JSON body.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// No body.
    None,
    /// The body of a CONNECT, CONNECT_ERROR or ACK, as a tree: the connection reads into them.
    Value(Value),
    /// An EVENT's `[name, ...args]`: the name, and each argument as its JSON text. Events are
    /// most of the traffic, and only their reader needs their arguments' insides.
    Event {
        /// The event's name.
        name: String,
        /// The arguments after the name.
        args: Vec<Json>,
    },
}

impl Payload {
    /// The tree of a CONNECT, CONNECT_ERROR or ACK body.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Payload::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// The marker that stands in the JSON for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    super::object(vec![("_placeholder", true.into()), ("num", num.into())])
}

impl Packet {
    /// An event `[name, ...args]` on a namespace.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let args = args.iter().map(Json::from).collect();
        Packet {
            kind: Kind::Event,
            nsp: nsp.to_owned(),
            id,
            data: Payload::Event { name: name.to_owned(), args },
            attachments: Vec::new(),
        }
    }

    /// Encodes the packet: the text of the Engine.IO message, then the attachments to send
    /// as binary frames right after it.
    pub fn encode(&self) -> (String, &[Vec<u8>]) {
        use std::fmt::Write;
        let binary = !self.attachments.is_empty();
        let kind = match (self.kind, binary) {
            (Kind::Connect, _) => '0',
            (Kind::Disconnect, _) => '1',
            (Kind::Event, false) => '2',
            (Kind::Ack, false) => '3',
            (Kind::ConnectError, _) => '4',
            (Kind::Event, true) => '5',
            (Kind::Ack, true) => '6',
        };
        let mut s = String::with_capacity(32);
        s.push(kind);
        if binary && matches!(self.kind, Kind::Event | Kind::Ack) {
            let _ = write!(s, "{}-", self.attachments.len());
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            s.push_str(&self.nsp);
            s.push(',');
        }
        if let Some(id) = self.id {
            let _ = write!(s, "{id}");
        }
        match &self.data {
            Payload::None => {}
            Payload::Value(data) => super::write_json(&mut s, data),
            Payload::Event { name, args } => {
                s.push('[');
                super::write_json(&mut s, &Value::String(name.clone()));
                for a in args {
                    s.push(',');
                    s.push_str(a.text());
                }
                s.push(']');
            }
        }
        (s, &self.attachments)
    }

    /// For an event, its name.
    pub fn event_name(&self) -> Option<&str> {
        match &self.data {
            Payload::Event { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// Reassembles binary packets from their text header and following binary frames.
/// Holds at most one partial packet: the protocol sends attachments right after their header.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Option<(Packet, usize)>,
}

impl Decoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a binary packet still waits for attachments.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Forgets a partial packet, e.g. when the transport closed.
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Decodes the text of an Engine.IO message. Returns `None` when the packet waits for
    /// binary attachments.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if let Some((_, n)) = &self.pending {
            return Err(DecodeError::AttachmentsPending(*n));
        }
        let (packet, expected) = parse(text)?;
        if expected == 0 {
            Ok(Some(packet))
        } else {
            self.pending = Some((packet, expected));
            Ok(None)
        }
    }

    /// Feeds one binary frame. Returns the packet once its last attachment arrived.
    pub fn decode_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, DecodeError> {
        let (mut packet, expected) = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        packet.attachments.push(bytes);
        if packet.attachments.len() == expected {
            Ok(Some(packet))
        } else {
            self.pending = Some((packet, expected));
            Ok(None)
        }
    }
}

fn parse(text: &str) -> Result<(Packet, usize), DecodeError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    let (kind, binary) = match first {
        b'0' => (Kind::Connect, false),
        b'1' => (Kind::Disconnect, false),
        b'2' => (Kind::Event, false),
        b'3' => (Kind::Ack, false),
        b'4' => (Kind::ConnectError, false),
        b'5' => (Kind::Event, true),
        b'6' => (Kind::Ack, true),
        _ => {
            let found = text.chars().next().unwrap_or('?');
            return Err(DecodeError::UnknownType { layer: "socket.io", found });
        }
    };
    let mut i = 1;
    let mut expected = 0;
    if binary {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || bytes.get(i) != Some(&b'-') {
            return Err(DecodeError::Header("binary packet without attachment count"));
        }
        expected = super::cut(text, start..i)
            .parse::<usize>()
            .map_err(|_| DecodeError::Header("attachment count out of range"))?;
        if expected == 0 || expected > MAX_ATTACHMENTS {
            return Err(DecodeError::Header("attachment count out of range"));
        }
        i += 1;
    }
    let mut nsp = "/";
    if bytes.get(i) == Some(&b'/') {
        let end = super::cut(text, i..)
            .find(',')
            .map(|e| i + e)
            // A namespace with no body runs to the end (e.g. `1/admin`).
            .unwrap_or(bytes.len());
        nsp = super::cut(text, i..end);
        i = (end + 1).min(bytes.len());
    }
    let mut id = None;
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        id = Some(
            super::cut(text, start..i)
                .parse::<u64>()
                .map_err(|_| DecodeError::Header("ack id out of range"))?,
        );
    }
    let body = super::cut(text, i..);
    let json = |super::NotJson(at)| DecodeError::Json {
        what: "socket.io payload",
        detail: format!("not JSON at byte {} of the packet", i + at),
    };
    let data = if kind == Kind::Event {
        if !body.trim_start().starts_with('[') {
            return Err(bad_shape(kind));
        }
        // Checked as JSON and split into its elements, but no element is built.
        let items = super::scan::elements(body).map_err(json)?;
        let name = match items.first() {
            Some(n) if !n.starts_with('"') => return Err(bad_shape(kind)),
            Some(n) => super::scan::unquote(n),
            None => return Err(bad_shape(kind)),
        };
        Payload::Event { name, args: items[1..].iter().map(|a| Json::checked(a)).collect() }
    } else if body.is_empty() {
        Payload::None
    } else {
        Payload::Value(super::parse_json(body).map_err(json)?)
    };
    check_shape(kind, &data, id)?;
    Ok((Packet { kind, nsp: nsp.to_owned(), id, data, attachments: Vec::new() }, expected))
}

fn bad_shape(kind: Kind) -> DecodeError {
    let detail = match kind {
        Kind::Connect => "CONNECT payload must be an object",
        // As socket.io-parser: a DISCONNECT carries no payload. Accepting one would also make
        // `1 2` (a payload after whitespace) re-encode as `12`, a DISCONNECT with ack id 2.
        Kind::Disconnect => "DISCONNECT carries no payload",
        Kind::Event => "EVENT payload must be an array starting with the event name",
        Kind::Ack => "ACK needs an id and an array payload",
        Kind::ConnectError => "CONNECT_ERROR payload must be an object",
    };
    DecodeError::Json { what: "socket.io payload", detail: detail.into() }
}

fn check_shape(kind: Kind, data: &Payload, id: Option<u64>) -> Result<(), DecodeError> {
    let ok = match (kind, data) {
        (Kind::Connect, Payload::None | Payload::Value(Value::Object(_))) => true,
        (Kind::Disconnect, Payload::None) => true,
        (Kind::Event, Payload::Event { .. }) => true,
        (Kind::Ack, Payload::Value(Value::Array(_))) => id.is_some(),
        (Kind::ConnectError, Payload::Value(Value::Object(_) | Value::String(_))) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad_shape(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode_one(s: &str) -> Packet {
        Decoder::new().decode_text(s).unwrap().expect("complete packet")
    }

    // Vectors from the Socket.IO v5 protocol document.
    #[test]
    fn documented_vectors_decode() {
        let p = decode_one("0");
        assert_eq!((p.kind, p.nsp.as_str(), p.data), (Kind::Connect, "/", Payload::None));

        let p = decode_one(r#"0/admin,{"token":"123"}"#);
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Payload::Value(json!({"token":"123"})));

        let p = decode_one(r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#);
        assert_eq!(p.data, Payload::Value(json!({"sid":"oSO0OpakMV_3jnilAAAA"})));

        let p = decode_one(r#"4{"message":"Not authorized"}"#);
        assert_eq!(p.kind, Kind::ConnectError);

        let p = decode_one("1/admin,");
        assert_eq!((p.kind, p.nsp.as_str()), (Kind::Disconnect, "/admin"));

        let p = decode_one(r#"2["foo"]"#);
        assert_eq!(p.event_name(), Some("foo"));

        let p = decode_one(r#"2/admin,["bar"]"#);
        assert_eq!((p.nsp.as_str(), p.event_name()), ("/admin", Some("bar")));

        let p = decode_one(r#"212["foo"]"#);
        assert_eq!(p.id, Some(12));

        let p = decode_one(r#"3/admin,13["bar"]"#);
        assert_eq!((p.kind, p.id, p.data), (Kind::Ack, Some(13), Payload::Value(json!(["bar"]))));
    }

    #[test]
    fn documented_binary_vectors_reassemble() {
        let mut d = Decoder::new();
        let head = r#"51-["baz",{"_placeholder":true,"num":0}]"#;
        assert_eq!(d.decode_text(head).unwrap(), None);
        assert!(d.is_pending());
        let p = d.decode_binary(vec![1, 2, 3, 4]).unwrap().unwrap();
        assert_eq!(p.event_name(), Some("baz"));
        assert_eq!(p.attachments, vec![vec![1, 2, 3, 4]]);
        assert_eq!(p.data, Packet::event("/", "baz", vec![placeholder(0)], None).data);

        let head = r#"61-/admin,15[{"_placeholder":true,"num":0}]"#;
        assert_eq!(d.decode_text(head).unwrap(), None);
        let p = d.decode_binary(vec![9]).unwrap().unwrap();
        assert_eq!((p.kind, p.id, p.nsp.as_str()), (Kind::Ack, Some(15), "/admin"));
    }

    #[test]
    fn encodes_like_the_reference_implementation() {
        let p = Packet::event("/", "hello", vec![json!(1)], None);
        assert_eq!(p.encode().0, r#"2["hello",1]"#);
        let p = Packet::event("/admin", "hello", vec![], Some(456));
        assert_eq!(p.encode().0, r#"2/admin,456["hello"]"#);
        let mut p = Packet::event("/", "up", vec![placeholder(0)], Some(1));
        p.attachments.push(vec![0xff]);
        let (text, att) = p.encode();
        assert_eq!(text, r#"51-1["up",{"_placeholder":true,"num":0}]"#);
        assert_eq!(att, &[vec![0xff]]);
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        let cases = [
            "",
            "7",
            "x",
            "2",
            "2{}",
            "2[1]",
            "3[\"a\"]",
            "0[]",
            "5[\"a\"]",
            "5-[\"a\"]",
            "50-[\"a\"]",
            "5999-[\"a\"]",
            "2[\"a\"",
            "299999999999999999999999[\"a\"]",
            "4",
        ];
        for c in cases {
            assert!(Decoder::new().decode_text(c).is_err(), "{c:?} should be rejected");
        }
        for (c, why) in [
            ("2{}", "EVENT payload must be an array starting with the event name"),
            ("2[1]", "EVENT payload must be an array starting with the event name"),
            ("2[\"a\",01]", "not JSON at byte 7 of the packet"),
        ] {
            let err = Decoder::new().decode_text(c).unwrap_err().to_string();
            assert!(err.ends_with(why), "{c:?}: {err}");
        }
        let mut d = Decoder::new();
        assert_eq!(d.decode_binary(vec![1]), Err(DecodeError::UnexpectedBinary));
        d.decode_text(r#"52-["a",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(d.decode_text(r#"2["b"]"#), Err(DecodeError::AttachmentsPending(2)));
        d.reset();
        assert!(!d.is_pending());
    }

    // Found by `fuzz/` (target `sio`, input `fuzz/regressions/sio/disconnect-with-payload`).
    #[test]
    fn disconnect_with_a_payload_is_rejected() {
        for c in ["1\n2\n", "1 2", "1[]", "1/admin,{}", "1\"bye\""] {
            assert!(Decoder::new().decode_text(c).is_err(), "{c:?} should be rejected");
        }
        // What servers send still decodes.
        for c in ["1", "1/admin,", "1/admin"] {
            assert_eq!(decode_one(c).kind, Kind::Disconnect, "{c:?}");
        }
    }

    // proptest needs OS entropy, which wasm32-unknown-unknown lacks.
    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use crate::tests::util::arb_json;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn events_round_trip(
                nsp in prop_oneof![Just("/".to_string()), "/[a-z]{1,8}"],
                name in "[a-z:._-]{1,16}",
                args in prop::collection::vec(arb_json(), 0..4),
                id in proptest::option::of(0u64..u64::MAX),
                attachments in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..3),
            ) {
                let mut p = Packet::event(&nsp, &name, args, id);
                p.attachments = attachments.clone();
                let (text, att) = p.encode();
                let mut d = Decoder::new();
                let mut out = d.decode_text(&text).unwrap();
                for a in att {
                    prop_assert!(out.is_none());
                    out = d.decode_binary(a.clone()).unwrap();
                }
                prop_assert_eq!(out.unwrap(), p);
            }

            #[test]
            fn arbitrary_text_never_panics(s in "\\PC{0,40}") {
                let _ = Decoder::new().decode_text(&s);
            }
        }
    }
}
