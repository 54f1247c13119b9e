//! Socket.IO decode with binary attachment reassembly: the input is a sequence of frames
//! (text, or binary after 0xFE; split on 0xFF, see `src/lib.rs`) fed to one `Decoder`, as the
//! connection feeds Engine.IO messages. Every complete packet must have as many attachments
//! as its header announced, an event's arguments must be JSON to serde_json as well as to the
//! SDK's scanner, and every packet must survive `encode` → decode unchanged (up to one ulp in a
//! float while serde_json lacks `float_roundtrip`: see `pulse_fuzz::floats_round_trip`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_sdk::codec::sio::{Decoder, Kind, Packet, Payload, MAX_ATTACHMENTS};
use pulse_sdk::codec::Frame;

fn round_trip(p: &Packet) {
    let (text, attachments) = p.encode();
    let mut d = Decoder::new();
    let mut out = d.decode_text(&text).unwrap_or_else(|e| panic!("re-decode {text:?}: {e}"));
    for a in attachments {
        assert!(out.is_none(), "complete before its attachments: {text:?}");
        out = d.decode_binary(a.clone()).expect("attachment");
    }
    let q = out.unwrap_or_else(|| panic!("incomplete after its attachments: {text:?}"));
    let same = (q.kind, &q.nsp, q.id, &q.attachments) == (p.kind, &p.nsp, p.id, &p.attachments)
        && match (&q.data, &p.data) {
            (Payload::Value(a), Payload::Value(b)) => pulse_fuzz::same_json(a, b),
            // An event's arguments are text, written again as they were read.
            (a, b) => a == b,
        };
    assert!(same, "round trip through {text:?}: {q:?} != {p:?}");
    assert!(!d.is_pending());
}

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new();
    // Binary frames accepted since the last header, to check the count on completion.
    let mut received = 0usize;
    for frame in pulse_fuzz::frames(data).take(512) {
        let was_pending = d.is_pending();
        let result = match frame {
            Frame::Text(t) => d.decode_text(&t),
            Frame::Binary(b) => {
                received += usize::from(was_pending);
                d.decode_binary(b)
            }
        };
        match result {
            Ok(Some(p)) => {
                assert!(!d.is_pending());
                if was_pending {
                    assert_eq!(p.attachments.len(), received, "attachments lost or invented");
                    assert!(matches!(p.kind, Kind::Event | Kind::Ack));
                } else {
                    assert!(p.attachments.is_empty());
                }
                assert!(p.attachments.len() <= MAX_ATTACHMENTS);
                assert!(p.nsp.starts_with('/'), "namespace {:?}", p.nsp);
                if let Payload::Event { args, .. } = &p.data {
                    for a in args {
                        // The SDK's scanner let it through: serde_json reads it too (but for
                        // a number out of range, which the scanner does not check).
                        if let Err(e) = serde_json::from_str::<serde_json::Value>(a.text()) {
                            assert!(e.to_string().starts_with("number out of range"), "{a:?}: {e}");
                        }
                    }
                }
                round_trip(&p);
            }
            Ok(None) => {
                assert!(d.is_pending());
                if !was_pending {
                    received = 0; // a new binary header
                }
            }
            Err(_) => assert_eq!(d.is_pending(), was_pending, "an error changed the pending state"),
        }
    }
});
