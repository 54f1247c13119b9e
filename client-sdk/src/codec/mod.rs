//! This module deals with turning packets into WebSocket frames and back, for the two protocol
//! layers: Engine.IO v4 ([`eio`]) carries Socket.IO v5 ([`sio`]). Pure functions and one small
//! reassembly buffer; no IO, no clock.

pub mod eio;
pub(crate) mod scan;
pub mod sio;

pub use scan::NotJson;
use serde_json::Value;
use std::slice::SliceIndex;

/// `s[range]` for a range whose ends the caller found at ASCII bytes (a quote, a delimiter), so
/// on char boundaries: read with `str::get` rather than by indexing, whose panic path (which
/// formats the char it would cut) would be code in every browser bundle for a case that
/// cannot happen.
pub(crate) fn cut<R: SliceIndex<str, Output = str>>(s: &str, range: R) -> &str {
    let part = s.get(range);
    debug_assert!(part.is_some(), "cut inside a char");
    part.unwrap_or_default()
}

/// `text` as a tree. The SDK reads every JSON text through here (not `serde_json::from_str`):
/// one reader in the bundle, and not serde's, which an application decoding its own JSON can
/// share the same way (read the tree here, then `T::deserialize(&value)`).
pub fn parse_json(text: &str) -> Result<Value, NotJson> {
    scan::value(text)
}

/// Appends `v` as compact JSON to `out`, as `serde_json::to_writer` writes it. Every JSON text
/// the SDK writes goes through here: one writer in the bundle, and not serde's serialiser.
pub(crate) fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // serde_json's own number writer (itoa, and zmij for floats): shortest round trip.
        Value::Number(n) => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// `s` as a JSON string: quotes, backslashes and control characters escaped, as serde_json
/// escapes them; everything else (`/`, all of Unicode) as it is.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(cut(s, plain..i));
        plain = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(cut(s, plain..));
    out.push('"');
}

/// `v` as compact JSON, as `serde_json::to_string` writes it. Public so an application writing
/// JSON text shares this one serialiser.
pub fn json_text(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v);
    s
}

/// One JSON value kept as its text. A received event's arguments stay text until someone reads
/// them: JavaScript callers get them through the browser's `JSON.parse`, Rust callers decode
/// what they need ([`Json::value`]), and no tree is built on the way. The text was checked to
/// be JSON when the packet was decoded.
#[derive(Clone)]
pub struct Json {
    text: Box<str>,
}

impl Json {
    /// The JSON text, compact as the server wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value as a tree (`Null` for text that is not JSON, which decoding never makes).
    pub fn value(&self) -> Value {
        parse_json(&self.text).unwrap_or(Value::Null)
    }

    /// `part`, already checked to be one JSON value.
    pub(crate) fn checked(part: &str) -> Json {
        Json { text: part.into() }
    }

    /// The text of member `key` if this is an object that has one, read without building
    /// the object (e.g. a log entry's `seq`).
    pub fn member(&self, key: &str) -> Option<&str> {
        scan::member(&self.text, key)
    }
}

/// The same text is the same value, wherever it came from.
impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        self.text == other.text
    }
}

impl Eq for Json {}

impl From<&Value> for Json {
    fn from(v: &Value) -> Json {
        Json { text: json_text(v).into() }
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Json {
        Json::from(&v)
    }
}

impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Compares the value, not the text (`{"a":1, "b":2}` equals `{"b":2,"a":1}`).
impl PartialEq<Value> for Json {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

/// A JSON object of `fields`, in order. The SDK builds the JSON it sends by hand rather than
/// through serde's `to_value`/`json!`: those add a serialiser per type to the browser bundle.
/// Not generic, and inserted one by one: collecting into the map would sort, and each
/// instance would add its own copy.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in fields {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

/// One WebSocket message, as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (every Engine.IO packet but binary messages).
    Text(String),
    /// A binary frame (an Engine.IO binary message: a Socket.IO attachment).
    Binary(Vec<u8>),
}

/// Why bytes could not be decoded. The message names the offending part so logs are useful.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame was empty.
    #[error("empty packet")]
    Empty,
    /// The leading packet-type character is not one the protocol defines.
    #[error("unknown {layer} packet type {}", PacketType(*found))]
    UnknownType {
        /// `engine.io` or `socket.io`.
        layer: &'static str,
        /// The character found.
        found: char,
    },
    /// A JSON body did not parse or had the wrong shape.
    #[error("invalid {what}: {detail}")]
    Json {
        /// Which part was being decoded.
        what: &'static str,
        /// serde's message.
        detail: String,
    },
    /// The packet's header (attachment count, namespace, ack id) is malformed.
    #[error("malformed header: {0}")]
    Header(&'static str),
    /// A binary frame arrived when no packet was waiting for attachments.
    #[error("unexpected binary frame")]
    UnexpectedBinary,
    /// A text packet arrived while attachments of a previous packet were still expected.
    #[error("text packet while {0} binary attachment(s) were pending")]
    AttachmentsPending(usize),
    /// The frame exceeds the negotiated maxPayload.
    #[error("packet of {size} bytes exceeds maxPayload {max}")]
    TooLarge {
        /// Size of the frame.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// A packet's type character in an error: `'9'`, or its code point (`U+0001`) when it is not a
/// printable ASCII character. Not `{:?}`: `char`'s Debug carries Unicode tables (2.7 KB
/// gzip) into the browser bundles for this one message.
struct PacketType(char);

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0)
        } else {
            write!(f, "U+{:04X}", u32::from(self.0))
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::tests::util::arb_json;
    use proptest::prelude::*;

    proptest! {
        // The same text as serde_json writes, byte for byte.
        #[test]
        fn writes_what_serde_json_writes(item in arb_json()) {
            prop_assert_eq!(json_text(&item), serde_json::to_string(&item).unwrap());
        }

        // Every character, control characters and quotes included.
        #[test]
        fn writes_any_string_as_serde_json_does(s in any::<String>(), k in any::<String>()) {
            let item = object(vec![(&k, Value::String(s))]);
            prop_assert_eq!(json_text(&item), serde_json::to_string(&item).unwrap());
        }
    }
}
