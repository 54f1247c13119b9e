//! Engine.IO decode, and re-encode where decode succeeds: `decode(encode(p)) == p`.
//! The input is one frame: text, or binary after a 0xFE byte (see `src/lib.rs`); the same
//! bytes are also tried as a binary frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_sdk::codec::{eio::Packet, Frame};

fn check(frame: Frame) {
    let Ok(p) = Packet::decode(frame.clone()) else { return };
    let encoded = p.encode();
    assert_eq!(Packet::decode(encoded.clone()).as_ref(), Ok(&p), "round trip of {frame:?}");
    // Packets that carry their data verbatim re-encode to the very same frame.
    if matches!(p, Packet::Ping(_) | Packet::Pong(_) | Packet::Message(_) | Packet::Binary(_)) {
        assert_eq!(encoded, frame, "lossless packet re-encoded differently");
    }
}

fuzz_target!(|data: &[u8]| {
    check(pulse_fuzz::frame(data));
    check(Frame::Binary(data.to_vec()));
});
