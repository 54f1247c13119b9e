//! Engine.IO decode, and re-encode where decode succeeds: `decode(encode(p)) == p`.
//! The input is one frame: text, or binary after a 0xFE byte (see `src/lib.rs`); the same
//! bytes are also tried as a binary frame. Text input is also read as a long-polling payload:
//! what decodes re-encodes to frames that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_sdk::codec::eio::{decode_payload, encode_payload, payload_len, Packet};
use pulse_sdk::codec::Frame;

fn check(frame: Frame) {
    let Ok(p) = Packet::decode(frame.clone()) else { return };
    let encoded = p.encode();
    assert_eq!(Packet::decode(encoded.clone()).as_ref(), Ok(&p), "round trip of {frame:?}");
    // Packets that carry their data verbatim re-encode to the very same frame.
    if matches!(p, Packet::Ping(_) | Packet::Pong(_) | Packet::Message(_) | Packet::Binary(_)) {
        assert_eq!(encoded, frame, "lossless packet re-encoded differently");
    }
}

fn check_payload(text: &str) {
    let Ok(frames) = decode_payload(text) else { return };
    let encoded = encode_payload(&frames);
    assert_eq!(decode_payload(&encoded).as_ref(), Ok(&frames), "payload round trip of {text:?}");
    let lens: usize = frames.iter().map(payload_len).sum::<usize>() + frames.len() - 1;
    assert_eq!(lens, encoded.len(), "payload_len disagrees with encode_payload");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_payload(text);
    }
    check(pulse_fuzz::frame(data));
    check(Frame::Binary(data.to_vec()));
});
