//! The server's side of the wire, without a server: the frames a client sends go through the
//! same parsers pulse-server runs (engineioxide-core's Engine.IO `Packet::parse`, then
//! socketioxide's `CommonParser` with one `ParserState` per socket, closing it on a parse
//! error as socketioxide does), and every complete packet through what the handlers do with
//! it: the CONNECT auth into `ConnectAuth`, an event's argument into `serde_json::Value`
//! (`TryData<Value>`) and then into the payload type of its catalogue event, and the size
//! check's `to_string`. Decoded payloads must round-trip.
//!
//! Input: frames split on 0xFF, binary after 0xFE (see `src/lib.rs`).
#![no_main]

use bytes::Bytes;
use engineioxide_core::{Packet as EioPacket, ProtocolVersion};
use libfuzzer_sys::fuzz_target;
use pulse_protocol::events::{
    ConnectAuth, CustomerUpdate, DeliveryUpdate, MarkRead, PaymentAdd, CUSTOMER_UPDATE,
    DELIVERY_UPDATE, NOTIFICATION_MARK_READ, PAYMENT_ADD,
};
use pulse_sdk::codec::Frame;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::parser::{Parse, ParseConfig, ParseError, ParserState};
use socketioxide_parser_common::CommonParser;

fn typed<T: Serialize + DeserializeOwned + std::fmt::Debug>(v: Value) {
    if let Ok(t) = serde_json::from_value::<T>(v) {
        let s = serde_json::to_string(&t).expect("serializes");
        let back: T = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(pulse_fuzz::same(&back, &t), "round trip through {s}: {back:?} != {t:?}");
    }
}

/// What the connect middleware and the event handlers do with a complete packet.
fn handle(p: Packet) {
    let parser = CommonParser;
    // The packet re-encodes (socketioxide's serializer must accept what its parser built).
    let _ = parser.encode(p.clone());
    match p.inner {
        PacketData::Connect(auth) => {
            if let Ok(a) = parser.decode_default::<ConnectAuth>(auth.as_ref()) {
                typed::<ConnectAuth>(serde_json::to_value(a).expect("serializes"));
            }
        }
        PacketData::Event(mut v, _) | PacketData::BinaryEvent(mut v, _) => {
            let Ok(name) = parser.read_event(&v).map(str::to_owned) else { return };
            // `TryData<Value>`: no or a bad argument reads as null.
            let payload = parser.decode_value::<Value>(&mut v, true).unwrap_or(Value::Null);
            // `limits::check_size`.
            let _ = serde_json::to_string(&payload).map(|s| s.len());
            match name.as_str() {
                DELIVERY_UPDATE => typed::<DeliveryUpdate>(payload),
                PAYMENT_ADD => typed::<PaymentAdd>(payload),
                CUSTOMER_UPDATE => typed::<CustomerUpdate>(payload),
                NOTIFICATION_MARK_READ => {
                    let v = if payload.is_null() { serde_json::json!({}) } else { payload };
                    typed::<MarkRead>(v)
                }
                _ => {}
            }
        }
        PacketData::EventAck(mut v, _) | PacketData::BinaryAck(mut v, _) => {
            let _ = parser.decode_value::<Value>(&mut v, false);
        }
        PacketData::Disconnect | PacketData::ConnectError(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let config = ParseConfig::default();
    let mut state = ParserState::default();
    for frame in pulse_fuzz::frames(data).take(512) {
        let result = match frame {
            Frame::Text(t) => match EioPacket::parse(ProtocolVersion::V4, t) {
                Ok(EioPacket::Message(m)) => CommonParser.decode_str(&config, &state, m),
                // Polling carries binary as base64 text.
                Ok(EioPacket::Binary(b)) => CommonParser.decode_bin(&config, &state, b),
                Ok(_) => continue,
                Err(_) => {
                    state = ParserState::default(); // engineioxide closes the session
                    continue;
                }
            },
            Frame::Binary(b) => CommonParser.decode_bin(&config, &state, Bytes::from(b)),
        };
        match result {
            Ok(p) => handle(p),
            Err(ParseError::NeedsMoreBinaryData) => {}
            // socketioxide closes the socket on any other parse error.
            Err(_) => state = ParserState::default(),
        }
    }
});
