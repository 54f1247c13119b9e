//! The browser driver in a real headless Chromium against a real pulse-server, whose URL the
//! test command passes at build time in `PULSE_TEST_SERVER`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use pulse_protocol::events::{Pong, Stats, PING, STATS_UPDATED};
use pulse_protocol::{Ack, Envelope};
use pulse_sdk::{Client, Config, Status};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("PULSE_TEST_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:3000",
};
const WAIT: Duration = Duration::from_secs(10);

#[wasm_bindgen_test]
async fn connects_over_the_browser_websocket_and_receives_live_stats() {
    let client = Client::connect(Config::new(SERVER));
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live in the browser");
    let seqs = Rc::new(RefCell::new(Vec::<u64>::new()));
    let sink = seqs.clone();
    let _sub = client.on(STATS_UPDATED, move |m| {
        let env: Envelope<Stats> = serde_json::from_value(m.args[0].clone()).expect("stats shape");
        sink.borrow_mut().push(env.seq);
    });
    let start = Client::now();
    while seqs.borrow().len() < 2 {
        assert!(start.elapsed() < WAIT, "no stats:updated within {WAIT:?}");
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
}

#[wasm_bindgen_test]
async fn emit_with_ack_round_trips_in_the_browser() {
    let client = Client::connect(Config::new(SERVER));
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let reply = client.emit_with_ack(PING, vec![], None).await.expect("ack");
    let ack: Ack<Pong> = serde_json::from_value(reply.args[0].clone()).expect("ack shape");
    assert!(ack.into_result().expect("ok").server_time > 1_600_000_000_000);
}

#[wasm_bindgen_test]
async fn an_unreachable_server_reports_reconnecting_not_a_hang() {
    let mut config = Config::new("http://127.0.0.1:9");
    config.backoff.initial = Duration::from_millis(50);
    let client = Client::connect(config);
    client
        .wait_for(|s| matches!(s, Status::Reconnecting { .. }), WAIT)
        .await
        .expect("reconnecting");
}
