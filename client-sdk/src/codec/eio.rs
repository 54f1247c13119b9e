//! This module deals with Engine.IO v4 packets: over WebSocket one packet per frame, the type
//! as a leading digit for text, and raw bytes for binary messages; over HTTP long-polling a
//! payload of packets separated by a record separator, binary ones as `b` + base64.
//!
//! Reference: <https://socket.io/docs/v4/engine-io-protocol/>.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DecodeError, Frame};

/// The server's handshake, sent in the OPEN packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// Engine.IO session id.
    pub sid: String,
    /// Transports the session may upgrade to.
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// How often the server pings, in milliseconds.
    pub ping_interval: u64,
    /// How long the server waits for a pong, in milliseconds.
    pub ping_timeout: u64,
    /// Largest packet the server accepts, in bytes.
    #[serde(default = "default_max_payload")]
    pub max_payload: u64,
}

fn default_max_payload() -> u64 {
    1_000_000
}

// Read and written through `Value` by hand, as every JSON of the SDK's: the serde derives
// above stay for applications, but a derived decoder in the codec would add its own code and
// serde's error texts (which format floats) to the browser bundle.
impl Handshake {
    fn from_json(text: &str) -> Result<Handshake, String> {
        let v = super::parse_json(text).map_err(|e| e.to_string())?;
        if !v.is_object() {
            return Err("expected an object".into());
        }
        let field = |k: &str| v.get(k).ok_or_else(|| format!("missing field `{k}`"));
        let bad = |k: &str| format!("invalid field `{k}`");
        let number = |k: &str| field(k)?.as_u64().ok_or_else(|| bad(k));
        let mut upgrades = Vec::new();
        if let Some(u) = v.get("upgrades") {
            for t in u.as_array().ok_or_else(|| bad("upgrades"))? {
                upgrades.push(t.as_str().ok_or_else(|| bad("upgrades"))?.to_owned());
            }
        }
        Ok(Handshake {
            sid: field("sid")?.as_str().ok_or_else(|| bad("sid"))?.to_owned(),
            upgrades,
            ping_interval: number("pingInterval")?,
            ping_timeout: number("pingTimeout")?,
            max_payload: match v.get("maxPayload") {
                None => default_max_payload(),
                Some(_) => number("maxPayload")?,
            },
        })
    }

    fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("sid".into(), self.sid.clone().into());
        m.insert("upgrades".into(), self.upgrades.clone().into());
        m.insert("pingInterval".into(), self.ping_interval.into());
        m.insert("pingTimeout".into(), self.ping_timeout.into());
        m.insert("maxPayload".into(), self.max_payload.into());
        super::json_text(&Value::Object(m))
    }
}

/// An Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + handshake JSON (server → client).
    Open(Handshake),
    /// `1`: the session is closing.
    Close,
    /// `2` (+ optional data, e.g. `probe`).
    Ping(String),
    /// `3` (+ optional data).
    Pong(String),
    /// `4` + text: a Socket.IO packet.
    Message(String),
    /// A binary frame: a Socket.IO attachment.
    Binary(Vec<u8>),
    /// `5`: upgrade complete.
    Upgrade,
    /// `6`: no-op.
    Noop,
}

impl Packet {
    /// Encodes the packet as one WebSocket frame.
    pub fn encode(&self) -> Frame {
        let text = match self {
            Packet::Open(h) => format!("0{}", h.to_json()),
            Packet::Close => "1".to_owned(),
            Packet::Ping(d) => format!("2{d}"),
            Packet::Pong(d) => format!("3{d}"),
            Packet::Message(m) => {
                let mut s = String::with_capacity(m.len() + 1);
                s.push('4');
                s.push_str(m);
                s
            }
            Packet::Binary(b) => return Frame::Binary(b.clone()),
            Packet::Upgrade => "5".to_owned(),
            Packet::Noop => "6".to_owned(),
        };
        Frame::Text(text)
    }

    /// Decodes one WebSocket frame.
    pub fn decode(frame: Frame) -> Result<Packet, DecodeError> {
        match frame {
            Frame::Binary(b) => Ok(Packet::Binary(b)),
            Frame::Text(t) => Self::decode_text(t),
        }
    }

    fn decode_text(mut t: String) -> Result<Packet, DecodeError> {
        let kind = t.chars().next().ok_or(DecodeError::Empty)?;
        Ok(match kind {
            '0' => {
                let h = Handshake::from_json(super::cut(&t, 1..))
                    .map_err(|detail| DecodeError::Json { what: "engine.io handshake", detail })?;
                Packet::Open(h)
            }
            '1' => Packet::Close,
            '2' => Packet::Ping(t.split_off(1)),
            '3' => Packet::Pong(t.split_off(1)),
            // In place: a message is most frames, and `split_off` would copy it anew.
            '4' => Packet::Message({
                t.remove(0);
                t
            }),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            found => return Err(DecodeError::UnknownType { layer: "engine.io", found }),
        })
    }
}

/// Separates the packets of one long-polling payload (ASCII record separator).
const SEPARATOR: char = '\x1e';

/// Joins frames into one long-polling payload: text as is, binary as `b` + base64. A text
/// frame must not contain the separator (`\x1e`); no Socket.IO packet does, since JSON
/// escapes control characters.
pub fn encode_payload(frames: &[Frame]) -> String {
    let mut out = String::new();
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match f {
            Frame::Text(t) => out.push_str(t),
            Frame::Binary(b) => {
                out.push('b');
                base64_encode(b, &mut out);
            }
        }
    }
    out
}

/// The length [`encode_payload`] gives one frame, without encoding it: how a sender keeps a
/// batch under the server's `maxPayload`.
pub fn payload_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(t) => t.len(),
        Frame::Binary(b) => 1 + b.len().div_ceil(3) * 4,
    }
}

/// Splits a long-polling payload into the frames it carries.
pub fn decode_payload(payload: &str) -> Result<Vec<Frame>, DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut frames = Vec::new();
    for part in payload.split(SEPARATOR) {
        match part.strip_prefix('b') {
            Some(b64) => frames.push(Frame::Binary(
                base64_decode(b64).ok_or(DecodeError::Header("invalid base64 binary packet"))?,
            )),
            None if part.is_empty() => return Err(DecodeError::Empty),
            None => frames.push(Frame::Text(part.to_owned())),
        }
    }
    Ok(frames)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Base64 by hand: a few lines here against a crate in the browser bundle for the one place
// (binary packets over long-polling) that needs it.
fn base64_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (q, quad) in text.chunks(4).enumerate() {
        let last = q + 1 == text.len() / 4;
        let pad = quad.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in quad[..4 - pad].iter().enumerate() {
            let v = B64.iter().position(|b| b == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the Engine.IO v4 protocol document.
    #[test]
    fn decodes_documented_open_packet() {
        let raw = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let p = Packet::decode(Frame::Text(raw.into())).unwrap();
        assert_eq!(
            p,
            Packet::Open(Handshake {
                sid: "lv_VI97HAXpY6yYWAAAC".into(),
                upgrades: vec!["websocket".into()],
                ping_interval: 25000,
                ping_timeout: 20000,
                max_payload: 1_000_000,
            })
        );
    }

    #[test]
    fn simple_packets_round_trip() {
        for p in [
            Packet::Close,
            Packet::Ping(String::new()),
            Packet::Ping("probe".into()),
            Packet::Pong("probe".into()),
            Packet::Message("hello €".into()),
            Packet::Upgrade,
            Packet::Noop,
            Packet::Binary(vec![1, 2, 3]),
        ] {
            assert_eq!(Packet::decode(p.encode()).unwrap(), p);
        }
        assert_eq!(Packet::Message("hello".into()).encode(), Frame::Text("4hello".into()));
        assert_eq!(Packet::Pong(String::new()).encode(), Frame::Text("3".into()));
    }

    /// The hand-written reader accepts and refuses what the serde derive does.
    #[test]
    fn handshake_reads_as_its_serde_derive_reads_it() {
        let base = r#""sid":"s1","pingInterval":25000,"pingTimeout":20000"#;
        for json in [
            format!("{{{base}}}"),
            format!(r#"{{{base},"upgrades":["websocket"],"maxPayload":5}}"#),
            format!(r#"{{{base},"upgrades":[],"unknown":true}}"#),
            format!(r#"{{{base},"upgrades":[1]}}"#),
            format!(r#"{{{base},"upgrades":null}}"#),
            format!(r#"{{{base},"maxPayload":-1}}"#),
            format!(r#"{{{base},"maxPayload":null}}"#),
            r#"{"sid":"s1","pingInterval":25000}"#.to_owned(),
            r#"{"sid":1,"pingInterval":25000,"pingTimeout":20000}"#.to_owned(),
            r#"{"sid":"s1","pingInterval":2.5,"pingTimeout":20000}"#.to_owned(),
            "[]".to_owned(),
            "null".to_owned(),
        ] {
            let serde = serde_json::from_str::<Handshake>(&json).ok();
            assert_eq!(Handshake::from_json(&json).ok(), serde, "{json}");
            if let Some(h) = serde {
                let encoded = serde_json::from_str::<Value>(&h.to_json()).unwrap();
                assert_eq!(encoded, serde_json::to_value(&h).unwrap());
            }
        }
    }

    #[test]
    fn payloads_round_trip_with_binary_as_base64() {
        // The protocol document's example: a text packet and a binary one.
        let frames = vec![Frame::Text("4hello".into()), Frame::Binary(vec![1, 2, 3, 4])];
        assert_eq!(encode_payload(&frames), "4hello\x1ebAQIDBA==");
        assert_eq!(decode_payload("4hello\x1ebAQIDBA==").unwrap(), frames);
        for len in 0..8 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 97 + 250) as u8).collect();
            let f = vec![Frame::Binary(bytes.clone()), Frame::Text("2".into())];
            let text = encode_payload(&f);
            assert_eq!(payload_len(&f[0]), text.find('\x1e').unwrap(), "{len}");
            assert_eq!(decode_payload(&text).unwrap(), f, "{len}");
        }
        assert_eq!(decode_payload("6").unwrap(), vec![Frame::Text("6".into())]);
    }

    #[test]
    fn bad_payloads_are_refused() {
        for bad in ["", "4a\x1e", "\x1e4a", "bAQI", "bAQ=D", "bA===", "b!!!!", "bAQ==AAA"] {
            assert!(decode_payload(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Packet::decode(Frame::Text(String::new())), Err(DecodeError::Empty));
        assert!(matches!(
            Packet::decode(Frame::Text("9".into())),
            Err(DecodeError::UnknownType { found: '9', .. })
        ));
        // The type quoted, or its code point when it would not show.
        let said = |text: &str| Packet::decode(Frame::Text(text.into())).unwrap_err().to_string();
        assert_eq!(said("9"), "unknown engine.io packet type '9'");
        assert_eq!(said("\u{1}x"), "unknown engine.io packet type U+0001");
        assert_eq!(said("é"), "unknown engine.io packet type U+00E9");
        assert!(matches!(
            Packet::decode(Frame::Text("0{not json".into())),
            Err(DecodeError::Json { .. })
        ));
    }
}
