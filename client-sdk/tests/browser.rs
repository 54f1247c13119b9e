//! The browser driver in a real headless Chromium against a real pulse-server. The test
//! command (`scripts/test`, via `e2e/wasm-server.mjs`) passes at build time the server's URL,
//! a demo token, and a control URL that restarts the server.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use pulse_protocol::events::{ConnectAuth, Pong, StatsUpdated, PING};
use pulse_protocol::{Ack, ErrorCode};
use pulse_sdk::{Client, Config, Event, Status};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("PULSE_TEST_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:3000",
};
const TOKEN: Option<&str> = option_env!("PULSE_TEST_TOKEN");
const CONTROL: Option<&str> = option_env!("PULSE_TEST_CONTROL");
const WAIT: Duration = Duration::from_secs(15);

fn client(config: Config) -> Client {
    Client::connect_with_auth(config, || TOKEN.map(ConnectAuth::with_token))
}

async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// In the browser the SDK's JSON reader takes numbers from `parseFloat`: they must be the
/// floats Rust's own (correctly rounded) reader gives, and out of range refused as natively.
#[wasm_bindgen_test]
fn json_numbers_read_in_the_browser_as_rust_reads_them() {
    use pulse_sdk::codec::parse_json;
    for text in [
        "0.1",
        "-2.5e-3",
        "1e308",
        "1.7976931348623157e308",
        "5e-324",
        "1e-400",
        "123456789012345678901234567890",
        "0.30000000000000004",
        "2.2250738585072011e-308",
        "-0.0",
    ] {
        let ours = parse_json(text).unwrap().as_f64().unwrap();
        let rust = text.parse::<f64>().unwrap();
        assert_eq!(ours.to_bits(), rust.to_bits(), "{text}");
    }
    assert_eq!(parse_json("18446744073709551615").unwrap().as_u64(), Some(u64::MAX));
    assert_eq!(parse_json("-9223372036854775808").unwrap().as_i64(), Some(i64::MIN));
    assert!(parse_json("1e309").is_err());
    assert!(parse_json("-1e309").is_err());
}

#[wasm_bindgen_test]
async fn connects_over_the_browser_websocket_and_receives_live_stats() {
    let client = client(Config::new(SERVER));
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live in the browser");
    let seqs = Rc::new(RefCell::new(Vec::<i64>::new()));
    let sink = seqs.clone();
    let _sub = client.on_event::<StatsUpdated>(move |env| sink.borrow_mut().push(env.ts));
    let start = Client::now();
    while seqs.borrow().len() < 2 {
        assert!(start.elapsed() < WAIT, "no stats:updated within {WAIT:?}");
        sleep_ms(20).await;
    }
}

#[wasm_bindgen_test]
async fn emit_with_ack_round_trips_in_the_browser() {
    let client = client(Config::new(SERVER));
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let reply = client.emit_with_ack(PING, vec![], None).await.expect("ack");
    let ack: Ack<Pong> = serde_json::from_value(reply.args[0].clone()).expect("ack shape");
    assert!(ack.into_result().expect("ok").server_time > 1_600_000_000_000);
}

#[wasm_bindgen_test]
async fn a_bad_token_is_refused_with_a_clear_error() {
    let mut config = Config::new(SERVER);
    config.poll_interval = None;
    let client = Client::connect_with_auth(config, || Some(ConnectAuth::with_token("not-a-jwt")));
    let rejected = Rc::new(RefCell::new(None));
    let sink = rejected.clone();
    let _sub = client.on_any(move |e| {
        if let Event::Rejected(r) = e {
            *sink.borrow_mut() = Some(r.clone());
        }
    });
    client.wait_for(|s| *s == Status::Offline, WAIT).await.expect("offline, not retrying");
    let r = rejected.borrow().clone().expect("Rejected event");
    assert_eq!(r.code, Some(ErrorCode::Unauthorized), "{r:?}");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_reports_reconnecting_not_a_hang() {
    let mut config = Config::new("http://127.0.0.1:9");
    config.backoff.initial = Duration::from_millis(50);
    config.poll_interval = None;
    let client = Client::connect(config);
    client
        .wait_for(|s| matches!(s, Status::Reconnecting { .. }), WAIT)
        .await
        .expect("reconnecting");
}

#[wasm_bindgen_test]
async fn reconnects_and_falls_back_to_polling_across_a_server_restart() {
    let control = CONTROL.expect("PULSE_TEST_CONTROL: run through scripts/test");
    let mut config = Config::new(SERVER);
    config.backoff.initial = Duration::from_millis(200);
    config.backoff.max = Duration::from_millis(400);
    config.poll_interval = Some(Duration::from_millis(300));
    let client = client(config);
    let states = Rc::new(RefCell::new(Vec::<&'static str>::new()));
    let sink = states.clone();
    let _sub = client.on_any(move |e| {
        if let Event::Status(s) = e {
            sink.borrow_mut().push(match s {
                Status::Live => "live",
                Status::Reconnecting { .. } => "reconnecting",
                Status::Polling { .. } => "polling",
                Status::Connecting => "connecting",
                Status::Offline => "offline",
            });
        }
    });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let window = web_sys::window().expect("a window");
    let restart = window.fetch_with_str_and_init(&format!("{control}/restart"), &init);
    let response: web_sys::Response =
        JsFuture::from(restart).await.expect("restart request").unchecked_into();
    assert!(response.ok(), "restart failed");
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live again after the restart");
    let seen = states.borrow().clone();
    assert!(seen.contains(&"reconnecting"), "{seen:?}");
    assert!(seen.contains(&"polling"), "fallback while the server was down: {seen:?}");
    assert_eq!(seen.last(), Some(&"live"));
}

#[wasm_bindgen_test]
async fn polls_the_rest_api_while_the_socket_cannot_open() {
    let mut config = Config::new(SERVER);
    // No Engine.IO endpoint there: every socket attempt fails while the REST API answers.
    config.path = "/no-socket-here/".into();
    config.backoff.initial = Duration::from_millis(100);
    config.backoff.max = Duration::from_millis(200);
    config.poll_interval = Some(Duration::from_millis(300));
    let client = client(config);
    let stats = Rc::new(RefCell::new(0usize));
    let logged = Rc::new(RefCell::new(Vec::<String>::new()));
    let (stats_sink, logged_sink) = (stats.clone(), logged.clone());
    let _stats = client.on_event::<StatsUpdated>(move |_| *stats_sink.borrow_mut() += 1);
    let _any = client.on_any(move |e| {
        if let Event::Message(m) = e {
            if m.event != "stats:updated" {
                logged_sink.borrow_mut().push(m.event.clone());
            }
        }
    });
    client
        .wait_for(|s| matches!(s, Status::Polling { .. }), WAIT)
        .await
        .expect("polling while the socket cannot open");
    // The first poll answers stats and the log's head, the next ones the entries after it
    // (the demo business writes some every second).
    let start = Client::now();
    while *stats.borrow() < 2 || logged.borrow().is_empty() {
        assert!(
            start.elapsed() < WAIT,
            "over REST within {WAIT:?}: {} stats, entries {:?}",
            stats.borrow(),
            logged.borrow()
        );
        sleep_ms(50).await;
    }
    assert!(matches!(client.status(), Status::Polling { .. }), "{:?}", client.status());
}

#[wasm_bindgen_test]
async fn a_request_dropped_before_its_answer_is_aborted() {
    let control = CONTROL.expect("PULSE_TEST_CONTROL: run through scripts/test");
    let id = (js_sys::Math::random() * 1e15) as u64;
    let state = || async move {
        let url = format!("{control}/hang-state?id={id}");
        pulse_sdk::http::send("GET", &url, None, None).await.expect("control answers").body
    };
    // The control server holds this request open and never answers it.
    let url = format!("{control}/hang?id={id}");
    {
        let hang = pulse_sdk::http::send("GET", &url, None, None);
        let held = async {
            let start = Client::now();
            while state().await != "open" {
                assert!(start.elapsed() < WAIT, "the request never reached the server");
                sleep_ms(50).await;
            }
        };
        match select(pin!(hang), pin!(held)).await {
            Either::Left((answer, _)) => panic!("a request held open was answered: {answer:?}"),
            Either::Right(_) => {}
        }
    }
    let start = Client::now();
    loop {
        let s = state().await;
        if s == "closed" {
            break;
        }
        assert!(start.elapsed() < WAIT, "the dropped request is still {s} after {WAIT:?}");
        sleep_ms(50).await;
    }
}
