//! Topic subscriptions: a socket receives only the topics it subscribed to, live, in its
//! replay and through `GET /api/events`; a subscription holds from the head its ack names.

use pulse_protocol::events::{
    logged, Topic, Topics, ALERT_SYSTEM, DELIVERY_UPDATED, NOTIFICATION_NEW, PAYMENT_ADDED,
    STATS_UPDATED,
};
use pulse_protocol::money::LARGE_PAYMENT;
use pulse_sdk::{Client, Status};
use serde_json::{json, Value};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::fixture::{eventually, pay, record, Seen, TestServer, DEMO, WAIT};

fn only(topics: &[Topic]) -> impl FnOnce(&mut pulse_sdk::Config) + '_ {
    move |c| c.topics = Some(topics.iter().copied().collect())
}

async fn deliver(server: &TestServer, token: &str, quantity: f64) {
    deliver_to(server, token, 4, quantity).await
}

async fn deliver_to(server: &TestServer, token: &str, customer_id: i64, quantity: f64) {
    let body = json!({ "customer_id": customer_id, "date": "2026-11-20", "quantity": quantity });
    let (status, b) = server.send(reqwest::Method::POST, token, "/api/deliveries", body).await;
    assert_eq!(status, 200, "{b}");
}

fn names(seen: &Seen) -> Vec<String> {
    seen.lock().unwrap().iter().map(|(e, _)| e.clone()).collect()
}

fn every_event() -> Vec<&'static str> {
    let mut all = logged();
    all.push(STATS_UPDATED);
    all
}

async fn live(client: &Client) {
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
}

#[tokio::test]
async fn a_socket_receives_only_its_topics_and_changes_them_live() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let client = server.connect_with(&s.token, None, only(&[Topic::Payments]));
    let (seen, _subs) = record(&client, &every_event());
    live(&client).await;

    deliver(&server, &s.token, 3.0).await;
    pay(&server, &s.token, 1.5).await;
    eventually("the payment", || names(&seen).contains(&PAYMENT_ADDED.to_owned())).await;
    // The delivery was committed first, so it would have arrived first.
    let got = names(&seen);
    assert!(
        got.iter().all(|e| e == PAYMENT_ADDED),
        "a payments subscriber got only payments: {got:?}"
    );

    let sub = client.subscribe(Topic::Deliveries).await.expect("subscribed");
    assert_eq!(sub.topics, [Topic::Payments, Topic::Deliveries].into_iter().collect::<Topics>());
    let (_, page) = server.get(&s.token, "/api/events?since=0").await;
    assert_eq!(sub.head, page["head"].as_u64().unwrap(), "the ack names the head it holds from");
    deliver(&server, &s.token, 4.0).await;
    eventually("the delivery", || names(&seen).contains(&DELIVERY_UPDATED.to_owned())).await;

    client.unsubscribe(Topic::Payments).await.expect("unsubscribed");
    seen.lock().unwrap().clear();
    pay(&server, &s.token, 2.5).await;
    deliver(&server, &s.token, 5.0).await;
    eventually("the second delivery", || names(&seen).contains(&DELIVERY_UPDATED.to_owned())).await;
    assert_eq!(names(&seen), [DELIVERY_UPDATED], "no payment after unsubscribing");
    assert_eq!(client.topics(), Some([Topic::Deliveries].into_iter().collect()));
}

#[tokio::test]
async fn a_socket_that_never_subscribed_receives_every_topic() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let client = server.connect(&s.token, None);
    let (seen, _subs) = record(&client, &every_event());
    live(&client).await;
    deliver(&server, &s.token, 3.0).await;
    pay(&server, &s.token, 1.5).await;
    eventually("both", || {
        let n = names(&seen);
        n.contains(&PAYMENT_ADDED.to_owned()) && n.contains(&DELIVERY_UPDATED.to_owned())
    })
    .await;
}

#[tokio::test]
async fn a_resume_replays_only_the_subscribed_topics_as_the_rest_feed_does() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let (_, page) = server.get(&s.token, "/api/events?since=0").await;
    let from = page["head"].as_u64().unwrap();
    for i in 0..5 {
        deliver(&server, &s.token, 1.0 + i as f64).await;
        pay(&server, &s.token, 1.0 + i as f64).await;
    }
    let (status, page) =
        server.get(&s.token, &format!("/api/events?since={from}&topics=payments")).await;
    assert_eq!(status, 200, "{page}");
    let rest: Vec<(String, u64)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(rest.len(), 5, "five payments: {rest:?}");
    assert!(rest.iter().all(|(e, _)| e == PAYMENT_ADDED), "{rest:?}");

    let client = server.connect_with(&s.token, Some(from), only(&[Topic::Payments]));
    let (seen, _subs) = record(&client, &every_event());
    live(&client).await;
    eventually("the replay", || seen.lock().unwrap().len() >= 5).await;
    // Then a live delivery and payment: only the payment comes, after the replay.
    deliver(&server, &s.token, 9.0).await;
    pay(&server, &s.token, 9.0).await;
    eventually("the live payment", || seen.lock().unwrap().len() >= 6).await;
    let got: Vec<(String, u64)> =
        seen.lock().unwrap().iter().map(|(e, a)| (e.clone(), a["seq"].as_u64().unwrap())).collect();
    assert_eq!(got[..5], rest[..], "the replay is the REST feed's, in order");
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got[5].0 == PAYMENT_ADDED && got[5].1 > rest[4].1);
}

/// A user's own entries (their notifications) go to the user's one room and reach only those
/// of the user's sockets subscribed to the entry's topic.
#[tokio::test]
async fn a_users_own_entries_reach_only_their_sockets_with_the_topic() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let without = server.connect_with(&s.token, None, only(&[Topic::Payments]));
    let with = server.connect_with(&s.token, None, only(&[Topic::Payments, Topic::Notifications]));
    let watched = [PAYMENT_ADDED, NOTIFICATION_NEW];
    let (seen_without, _a) = record(&without, &watched);
    let (seen_with, _b) = record(&with, &watched);
    live(&without).await;
    live(&with).await;

    // A large payment notifies every user of the tenant.
    pay(&server, &s.token, LARGE_PAYMENT).await;
    eventually("the notification", || names(&seen_with).contains(&NOTIFICATION_NEW.to_owned()))
        .await;
    eventually("the payment", || names(&seen_without).contains(&PAYMENT_ADDED.to_owned())).await;
    // The notification was committed with the payment, in the same batch.
    assert_eq!(names(&seen_without), [PAYMENT_ADDED], "no notification without the topic");

    without.subscribe(Topic::Notifications).await.expect("subscribed");
    pay(&server, &s.token, LARGE_PAYMENT).await;
    eventually("a notification once subscribed", || {
        names(&seen_without).contains(&NOTIFICATION_NEW.to_owned())
    })
    .await;
}

#[tokio::test]
async fn alerts_reach_every_socket_whatever_its_topics() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let client = server.connect_with(&s.token, None, only(&[]));
    let (seen, _subs) = record(&client, &every_event());
    live(&client).await;
    // A new customer's balance over the credit limit raises a system alert.
    let body = json!({ "name": "Over Limit", "price_per_liter": 1.0 });
    let (status, c) = server.send(reqwest::Method::POST, &s.token, "/api/customers", body).await;
    assert_eq!(status, 200, "{c}");
    deliver_to(&server, &s.token, c["id"].as_i64().unwrap(), 500.0).await;
    eventually("the alert", || names(&seen).contains(&ALERT_SYSTEM.to_owned())).await;
    assert!(names(&seen).iter().all(|e| e == ALERT_SYSTEM), "{:?}", names(&seen));
    let (_, page) = server.get(&s.token, "/api/events?since=0&topics=").await;
    let events: Vec<&str> =
        page["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(!events.is_empty() && events.iter().all(|e| *e == ALERT_SYSTEM), "{events:?}");
}

#[tokio::test]
async fn unknown_topics_are_refused_with_a_clear_error() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let (status, body) = server.get(&s.token, "/api/events?since=0&topics=payments,kpi").await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "INVALID_INPUT");
    assert!(body["message"].as_str().unwrap().contains("unknown topic \"kpi\""), "{body}");

    // A raw CONNECT (the SDK's topics are typed and cannot name an unknown one).
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'), "engine open: {open:?}");
    let auth = json!({ "token": s.token, "topics": ["payments", "kpi"] });
    ws.send(Message::text(format!("40{auth}"))).await.unwrap();
    // Engine.IO pings ("2") may come first.
    let refused = loop {
        let m = ws.next().await.unwrap().unwrap();
        let text = m.to_text().unwrap().to_owned();
        if text.starts_with('4') {
            break text;
        }
    };
    assert!(refused.starts_with("44"), "CONNECT_ERROR: {refused}");
    assert!(refused.contains("INVALID_INPUT") && refused.contains("unknown topic"), "{refused}");

    let (_, ok) = server.live_client(DEMO).await;
    let reply = ok
        .emit_with_ack("module:subscribe", vec![json!({ "moduleKey": "kpi" })], None)
        .await
        .expect("answered");
    let ack: Value = reply.args[0].clone();
    assert_eq!(ack["ok"], false);
    assert_eq!(ack["error"]["code"], "INVALID_INPUT", "{ack}");
}

#[tokio::test]
async fn the_seed_shorthands_subscribe_a_socket_that_started_with_none() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let client = server.connect_with(&s.token, None, only(&[]));
    live(&client).await;
    let reply = client.emit_with_ack("dashboard:subscribe", vec![], None).await.expect("ack");
    let ack = &reply.args[0];
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["data"]["topics"], json!(["dashboard"]));
    let reply = client.emit_with_ack("notification:subscribe", vec![], None).await.expect("ack");
    assert_eq!(reply.args[0]["data"]["topics"], json!(["dashboard", "notifications"]));
    let (seen, _subs) = record(&client, &[STATS_UPDATED, "activity:updated"]);
    deliver(&server, &s.token, 2.0).await;
    eventually("the activity line", || names(&seen).contains(&"activity:updated".to_owned())).await;
}

// Fan-out keeps each room's sockets between broadcasts (`feed::broadcast::RoomLists`): a
// socket that joins after a broadcast to its rooms receives the next one. (Leaving a topic's
// room is the test above.)
#[tokio::test]
async fn a_socket_that_joins_after_a_broadcast_receives_the_next() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let first = server.connect(&s.token, None);
    let (seen_first, _a) = record(&first, &[PAYMENT_ADDED]);
    live(&first).await;
    pay(&server, &s.token, 1.0).await;
    eventually("the first payment", || names(&seen_first).len() == 1).await;

    let second = server.connect(&s.token, None);
    let (seen_second, _b) = record(&second, &[PAYMENT_ADDED]);
    live(&second).await;
    pay(&server, &s.token, 2.0).await;
    eventually("the second payment, at both", || {
        names(&seen_first).len() == 2 && names(&seen_second).len() == 1
    })
    .await;
}
