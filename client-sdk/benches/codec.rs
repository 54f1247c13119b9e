//! SDK hot paths, natively: decoding a typical Pulse event frame (codec only, and the whole
//! machine path with resume de-duplication), encoding an emit, and folding events into the
//! live store. Run: `cargo bench -p pulse-sdk --bench codec`.

// criterion runs natively only; the wasm figures (bundle sizes) come from `scripts/bench`.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::all();
    criterion::Criterion::default().configure_from_args().final_summary();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{BatchSize, Criterion, Throughput};
    use pulse_sdk::codec::sio::{Decoder, Packet};
    use pulse_sdk::codec::{eio, Frame};
    use pulse_sdk::store::LiveState;
    use pulse_sdk::{Config, Connection, Event, Instant};
    use serde_json::json;

    /// A `payment:added` frame as the server sends it (about 230 bytes).
    fn payment_frame(seq: u64) -> String {
        format!(
            r#"42["payment:added",{{"seq":{seq},"ts":1763790000000,"data":{{"id":{seq},"customer_id":17,"customer_name":"Asha Verma","amount":12.5,"method":"MOBILE","date":"2026-11-22","note":null,"created_at":1763790000000}}}}]"#
        )
    }

    fn live_connection() -> (Connection, Instant) {
        let now = Instant::now();
        let mut config = Config::new("http://bench.invalid");
        config.health_interval = None;
        let mut conn = Connection::new(config, 1);
        conn.connect(now);
        conn.handle_transport_open(now);
        conn.handle_frame(
            now,
            Frame::Text(r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#.into()),
        );
        conn.handle_frame(now, Frame::Text(r#"40{"sid":"x"}"#.into()));
        while conn.poll_transmit().is_some()
            || conn.poll_io().is_some()
            || conn.poll_event().is_some()
        {}
        (conn, now)
    }

    fn decode(c: &mut Criterion) {
        let mut g = c.benchmark_group("decode");
        g.throughput(Throughput::Elements(1));
        let text = payment_frame(1);
        g.bench_function("socket.io packet (codec only)", |b| {
            let mut d = Decoder::new();
            b.iter(|| black_box(d.decode_text(black_box(&text[1..])).unwrap()))
        });
        // The browser bench's tick (bench/js-event-cost.mjs): most of its 256 bytes in one
        // string.
        let tick = format!(
            r#"2["bench:tick",{{"sent_at_us":1764892800123456,"due_at_us":1764892800123000,"n":4711,"pad":"{}"}}]"#,
            "x".repeat(160)
        );
        g.bench_function("socket.io bench:tick (codec only)", |b| {
            let mut d = Decoder::new();
            b.iter(|| black_box(d.decode_text(black_box(&tick)).unwrap()))
        });
        g.bench_function("frame through the connection machine", |b| {
            let (mut conn, now) = live_connection();
            let mut seq = 0u64;
            // A fresh seq per frame, so resume applies each one; building it is not timed.
            b.iter_batched(
                || {
                    seq += 1;
                    Frame::Text(payment_frame(seq))
                },
                |frame| {
                    conn.handle_frame(now, frame);
                    black_box(conn.poll_event().expect("applied"))
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }

    fn encode(c: &mut Criterion) {
        let mut g = c.benchmark_group("encode");
        g.throughput(Throughput::Elements(1));
        let args = vec![
            json!({ "customer_id": 17, "amount": 12.5, "method": "MOBILE", "idempotency_key": "0123456789abcdef-42" }),
        ];
        g.bench_function("payment:add emit", |b| {
            b.iter(|| {
                let p = Packet::event("/", "payment:add", black_box(args.clone()), Some(7));
                black_box(eio::Packet::Message(p.encode().0).encode())
            })
        });
        g.finish();
    }

    /// The SDK's JSON reader and `FromValue` beside serde_json's reader and the serde derive
    /// they replace in the browser bundles, on a `payment:added` argument.
    fn json(c: &mut Criterion) {
        use pulse_protocol::events::Payment;
        use pulse_protocol::{Envelope, FromValue};
        let mut g = c.benchmark_group("json");
        g.throughput(Throughput::Elements(1));
        let frame = payment_frame(1);
        let text = &frame[r#"42["payment:added","#.len()..frame.len() - 1];
        g.bench_function("text to Value: codec::parse_json", |b| {
            b.iter(|| black_box(pulse_sdk::codec::parse_json(black_box(text)).unwrap()))
        });
        g.bench_function("text to Value: serde_json::from_str", |b| {
            b.iter(|| {
                black_box(serde_json::from_str::<serde_json::Value>(black_box(text)).unwrap())
            })
        });
        let value = pulse_sdk::codec::parse_json(text).unwrap();
        g.bench_function("Value to Envelope<Payment>: FromValue", |b| {
            b.iter(|| black_box(Envelope::<Payment>::from_value(black_box(&value)).unwrap()))
        });
        g.bench_function("Value to Envelope<Payment>: serde derive", |b| {
            use serde::Deserialize;
            b.iter(|| black_box(Envelope::<Payment>::deserialize(black_box(&value)).unwrap()))
        });
        g.bench_function("Value to text: codec::json_text", |b| {
            b.iter(|| black_box(pulse_sdk::codec::json_text(black_box(&value))))
        });
        g.bench_function("Value to text: serde_json::to_string", |b| {
            b.iter(|| black_box(serde_json::to_string(black_box(&value)).unwrap()))
        });
        g.finish();
    }

    fn store(c: &mut Criterion) {
        let mut g = c.benchmark_group("store");
        g.throughput(Throughput::Elements(1));
        let (mut conn, now) = live_connection();
        let events: Vec<Event> = (1..=1024u64)
            .map(|seq| {
                conn.handle_frame(now, Frame::Text(payment_frame(seq)));
                conn.poll_event().expect("message")
            })
            .collect();
        g.bench_function("apply payment:added", |b| {
            let mut state = LiveState::default();
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % events.len();
                black_box(state.apply(&events[i]))
            })
        });
        g.finish();
    }

    criterion::criterion_group! {
        name = all;
        config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        targets = decode, encode, json, store
    }
}
