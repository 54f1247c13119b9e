//! Engine.IO transports against the real server: a session on HTTP long-polling alone, the
//! upgrade from polling to a WebSocket, and a proxy that refuses WebSockets, where the
//! SDK's default (WebSocket, then polling) goes live over polling instead of falling back to
//! the REST poll.

use std::time::Duration;

use pulse_protocol::events::{PAYMENT_ADD, PAYMENT_ADDED, PING};
use pulse_sdk::{Client, Status, Transport};
use serde_json::json;

use crate::fixture::{act, eventually, pay, record, TestServer, DEMO, WAIT};
use crate::services::Proxy;

/// A server pinging every 300 ms (gone after 600 ms of silence), so heartbeats are
/// exercised over the polls within the test.
async fn fast_heartbeat_server() -> TestServer {
    TestServer::start(|c| {
        c.ping_interval_ms = 300;
        c.ping_timeout_ms = 300;
    })
    .await
}

/// Actions answered, REST writes and socket actions delivered as events, in order.
async fn works_live(server: &TestServer, token: &str, client: &Client) {
    let (seen, _subs) = record(client, &[PAYMENT_ADDED]);
    let pong = act(client, PING, json!(null)).await;
    assert!(pong.into_result().is_ok());
    for i in 0..5 {
        pay(server, token, 1.0 + f64::from(i)).await;
    }
    let added = act(
        client,
        PAYMENT_ADD,
        json!({ "customer_id": 2, "amount": 9.5, "method": "CASH", "idempotency_key": "k1" }),
    )
    .await;
    assert!(added.into_result().is_ok());
    eventually("six payment:added events", || seen.lock().unwrap().len() == 6).await;
    let amounts: Vec<f64> =
        seen.lock().unwrap().iter().map(|(_, e)| e["data"]["amount"].as_f64().unwrap()).collect();
    assert_eq!(amounts, [1.0, 2.0, 3.0, 4.0, 5.0, 9.5]);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_alone_carries_a_live_session_with_its_heartbeats() {
    let server = fast_heartbeat_server().await;
    let session = server.login(DEMO).await;
    let client = server.connect_with(&session.token, None, |c| {
        c.transports = vec![Transport::Polling];
        c.poll_interval = None; // live over polling, or not at all
    });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live over long-polling");
    assert_eq!(client.transport(), Some(Transport::Polling));
    works_live(&server, &session.token, &client).await;
    // Several heartbeats (600 ms of silence would end the session) go over the polls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(client.status(), Status::Live);
    assert_eq!(client.transport(), Some(Transport::Polling), "never upgraded");
}

#[tokio::test(flavor = "multi_thread")]
async fn long_polling_upgrades_to_a_websocket_without_losing_a_frame() {
    let server = fast_heartbeat_server().await;
    let session = server.login(DEMO).await;
    let (_, page) = server.get(&session.token, "/api/events?since=0&limit=1").await;
    let head = page["head"].as_u64().expect("head");
    // Resuming from `head`: what is written while the session opens comes by resume or live.
    let client = server.connect_with(&session.token, Some(head), |c| {
        c.transports = vec![Transport::Polling, Transport::WebSocket];
        c.poll_interval = None;
    });
    let (seen, _subs) = record(&client, &[PAYMENT_ADDED]);
    // Writes made while the session opens and upgrades reach it once each, in order.
    let writer = {
        let token = session.token.clone();
        let url = server.url();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..20 {
                let body =
                    json!({ "customer_id": 4, "amount": 100.0 + f64::from(i), "method": "CASH" });
                let res = http
                    .post(format!("{url}/api/payments"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    eventually("the upgrade", || client.transport() == Some(Transport::WebSocket)).await;
    writer.await.unwrap();
    eventually("20 payment:added events", || seen.lock().unwrap().len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let amounts: Vec<f64> = seen
        .lock()
        .unwrap()
        .drain(..)
        .map(|(_, e)| e["data"]["amount"].as_f64().unwrap())
        .collect();
    let want: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i)).collect();
    assert_eq!(amounts, want, "each once, in order");
    works_live(&server, &session.token, &client).await;
    assert_eq!(client.status(), Status::Live);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_proxy_that_refuses_websockets_the_default_client_goes_live_over_polling() {
    let server = fast_heartbeat_server().await;
    let session = server.login(DEMO).await;
    let proxy = Proxy::refusing_websockets(server.addr);
    let url = format!("http://{}", proxy.addr());
    let through_proxy = |transports: Option<Vec<Transport>>| {
        let token = session.token.clone();
        let mut config = pulse_sdk::Config::new(&url);
        config.poll_interval = None;
        if let Some(t) = transports {
            config.transports = t;
        }
        Client::connect_with_auth(config, move || {
            Some(pulse_protocol::events::ConnectAuth::with_token(&token))
        })
    };
    // The proxy does refuse them: a WebSocket-only client never goes live.
    let websocket_only = through_proxy(Some(vec![Transport::WebSocket]));
    let never = websocket_only.wait_for(|s| *s == Status::Live, Duration::from_secs(2)).await;
    assert!(never.is_err(), "live through a proxy that refuses WebSockets: {never:?}");
    drop(websocket_only);

    let client = through_proxy(None);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live over polling");
    assert_eq!(client.transport(), Some(Transport::Polling));
    works_live(&server, &session.token, &client).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.status(), Status::Live);
    assert_eq!(client.transport(), Some(Transport::Polling), "the upgrade was refused too");
}
