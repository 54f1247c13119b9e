//! Socket.IO decode with binary attachment reassembly: the input is a sequence of frames
//! (text, or binary after 0xFE; split on 0xFF, see `src/lib.rs`) fed to one `Decoder`, as the
//! connection feeds Engine.IO messages. Every complete packet must have as many attachments
//! as its header announced, and must survive `encode` → decode unchanged (up to one ulp in a
//! float while serde_json lacks `float_roundtrip`: see `pulse_fuzz::floats_round_trip`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_sdk::codec::sio::{Decoder, Kind, Packet, MAX_ATTACHMENTS};
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
            (Some(a), Some(b)) => pulse_fuzz::same_json(a, b),
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
