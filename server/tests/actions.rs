//! Actions over the socket and REST: computed amounts, events in order, validation,
//! idempotency, unknown events, notifications.

use pulse_protocol::events::{
    logged, Delivery, ACTIVITY_REQUEST, ACTIVITY_UPDATED, BALANCE_UPDATED, DELIVERY_UPDATE,
    DELIVERY_UPDATED, ERROR, NOTIFICATION_MARK_READ, NOTIFICATION_NEW, NOTIFICATION_READ,
    PAYMENT_ADD, PING,
};
use pulse_protocol::{Envelope, ErrorCode};
use pulse_sdk::Status;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fixture::{act, eventually, record, TestServer, DEMO};

#[tokio::test]
async fn delivery_amount_is_computed_by_the_server_and_broadcast_in_order() {
    let server = TestServer::start(|_| {}).await;
    let (_s, client) = server.live_client(DEMO).await;
    let (seen, _subs) = record(&client, &logged());
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "customer_id": 3, "date": "2025-03-01", "quantity": 2.5, "price_per_liter": 1.2, "amount": 999 }),
    )
    .await;
    let d: Delivery = serde_json::from_value(ack.into_result().unwrap()).unwrap();
    assert_eq!(d.amount, 3.0);
    assert_eq!(d.customer_name, "Carmen Diaz");
    eventually("three events", || seen.lock().unwrap().len() >= 3).await;
    let v = seen.lock().unwrap().clone();
    let names: Vec<&str> = v.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, [DELIVERY_UPDATED, BALANCE_UPDATED, ACTIVITY_UPDATED]);
    let seqs: Vec<u64> = v.iter().map(|(_, a)| a["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let env: Envelope<Delivery> = serde_json::from_value(v[0].1.clone()).unwrap();
    assert_eq!(env.data, d);
    assert_eq!(v[1].1["data"], json!({ "customer_id": 3, "balance": 3.0 }));
    assert_eq!(v[2].1["data"]["seq"], 1, "activity describes the delivery's entry");

    // Changing it moves the balance by the difference.
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "id": d.id, "customer_id": 3, "date": "2025-03-01", "quantity": 1.0 }),
    )
    .await;
    let d2: Delivery = serde_json::from_value(ack.into_result().unwrap()).unwrap();
    assert_eq!(
        (d2.id, d2.price_per_liter, d2.amount),
        (d.id, 1.1, 1.1),
        "customer's default price"
    );
    let (_, c) = server.get(&_s.token, "/api/customers/3").await;
    assert_eq!(c["balance"], 1.1);
}

#[tokio::test]
async fn invalid_input_is_refused_with_an_error_ack() {
    let server = TestServer::start(|_| {}).await;
    let (s, client) = server.live_client(DEMO).await;
    let cases = [
        (
            DELIVERY_UPDATE,
            json!({ "customer_id": 1, "date": "2025-03-01", "quantity": -1 }),
            ErrorCode::InvalidInput,
        ),
        (
            DELIVERY_UPDATE,
            json!({ "customer_id": 1, "date": "March 1st", "quantity": 1 }),
            ErrorCode::InvalidInput,
        ),
        (DELIVERY_UPDATE, json!("a string"), ErrorCode::InvalidInput),
        (DELIVERY_UPDATE, json!({ "customer_id": "one" }), ErrorCode::InvalidInput),
        (
            DELIVERY_UPDATE,
            json!({ "customer_id": 999, "date": "2025-03-01", "quantity": 1 }),
            ErrorCode::NotFound,
        ),
        (
            PAYMENT_ADD,
            json!({ "customer_id": 1, "amount": 5, "method": "GOLD" }),
            ErrorCode::InvalidInput,
        ),
        (
            PAYMENT_ADD,
            json!({ "customer_id": 1, "amount": 0, "method": "CASH" }),
            ErrorCode::InvalidInput,
        ),
        (ACTIVITY_REQUEST, json!(-3), ErrorCode::InvalidInput),
        (
            pulse_protocol::events::CUSTOMER_UPDATE,
            json!({ "id": 1, "name": "  " }),
            ErrorCode::InvalidInput,
        ),
    ];
    for (event, payload, code) in cases {
        let ack = act(&client, event, payload.clone()).await;
        let err = ack.into_result().expect_err("refused");
        assert_eq!(err.code, code, "{event} {payload}: {}", err.message);
        assert!(!err.message.is_empty());
    }
    let (_, log) = server.get(&s.token, "/api/events?since=0").await;
    assert_eq!(log["head"], 0, "no refused action changed anything");
    let (status, body) = server
        .send(
            Method::POST,
            &s.token,
            "/api/payments",
            json!({ "customer_id": 1, "amount": "lots" }),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("INVALID_INPUT")));
    let (status, body) = server.get(&s.token, "/api/deliveries?date=yesterday").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("INVALID_INPUT")));
    assert_eq!(client.status(), Status::Live, "the socket stays up");
}

#[tokio::test]
async fn the_same_idempotency_key_applies_once_and_returns_the_same_result() {
    let server = TestServer::start(|_| {}).await;
    let (s, client) = server.live_client(DEMO).await;
    let pay =
        json!({ "customer_id": 2, "amount": 7.5, "method": "MOBILE", "idempotency_key": "pay-1" });
    let first = act(&client, PAYMENT_ADD, pay.clone()).await.into_result().unwrap();
    let second = act(&client, PAYMENT_ADD, pay.clone()).await.into_result().unwrap();
    assert_eq!(first, second);
    let (status, third) = server.send(Method::POST, &s.token, "/api/payments", pay).await;
    assert_eq!((status, &third), (200, &first), "REST shares the key space");
    let (_, page) = server.get(&s.token, "/api/payments").await;
    assert_eq!(page["total"], 1);
    let (_, c) = server.get(&s.token, "/api/customers/2").await;
    assert_eq!(c["balance"], -7.5, "applied once");

    // The key in a header works for REST, and a key reused for another action conflicts.
    let res = reqwest::Client::new()
        .post(format!("{}/api/deliveries", server.url()))
        .bearer_auth(&s.token)
        .header("Idempotency-Key", "pay-1")
        .json(&json!({ "customer_id": 2, "date": "2025-03-01", "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "CONFLICT");
}

#[tokio::test]
async fn unknown_events_get_an_error_event_and_ack_and_the_socket_keeps_serving() {
    let server = TestServer::start(|_| {}).await;
    let (_s, client) = server.live_client(DEMO).await;
    let (seen, _subs) = record(&client, &[ERROR]);
    let ack = act(&client, "delivery:explode", json!({})).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::UnknownEvent);
    eventually("error event", || !seen.lock().unwrap().is_empty()).await;
    assert_eq!(seen.lock().unwrap()[0].1["code"], "UNKNOWN_EVENT");
    let ack = act(&client, PING, Value::Null).await;
    assert!(ack.into_result().unwrap()["server_time"].as_i64().is_some());
}

#[tokio::test]
async fn rest_mirrors_the_socket_actions_and_lists_filter() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let t = &s.token;
    let (status, d) = server
        .send(
            Method::POST,
            t,
            "/api/deliveries",
            json!({ "customer_id": 5, "date": "2025-03-01", "quantity": 2 }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["amount"], 2.4);
    let (status, d2) = server
        .send(
            Method::PUT,
            t,
            &format!("/api/deliveries/{}", d["id"]),
            json!({ "customer_id": 5, "date": "2025-03-02", "quantity": 3 }),
        )
        .await;
    assert_eq!(
        (status, d2["id"].clone(), d2["date"].as_str()),
        (200, d["id"].clone(), Some("2025-03-02"))
    );
    server
        .send(
            Method::POST,
            t,
            "/api/deliveries",
            json!({ "customer_id": 6, "date": "2025-03-02", "quantity": 1 }),
        )
        .await;
    let (_, page) = server.get(t, "/api/deliveries?date=2025-03-02").await;
    assert_eq!(page["total"], 2);
    let (_, page) = server.get(t, "/api/deliveries?customer_id=6").await;
    assert_eq!(
        (page["total"].clone(), page["items"][0]["customer_id"].clone()),
        (json!(1), json!(6))
    );
    let (_, page) = server.get(t, "/api/deliveries?from=2025-03-03").await;
    assert_eq!(page["total"], 0);
    let (status, c) = server
        .send(Method::PATCH, t, "/api/customers/5", json!({ "phone": "+1 555", "active": false }))
        .await;
    assert_eq!(
        (status, c["phone"].as_str(), c["active"].as_bool()),
        (200, Some("+1 555"), Some(false))
    );
    let (_, custs) = server.get(t, "/api/customers?limit=10&offset=0&include_inactive=true").await;
    assert_eq!((custs["total"].clone(), custs["items"].as_array().unwrap().len()), (json!(40), 10));
    let (_, past_end) = server.get(t, "/api/customers?offset=100&include_inactive=true").await;
    assert_eq!(
        (past_end["total"].clone(), past_end["items"].as_array().unwrap().len()),
        (json!(40), 0)
    );
    let (_, act_page) = server.get(t, "/api/activity?customer_id=5").await;
    assert_eq!(act_page["total"], 3);
    let (_, stats) = server.get(t, "/api/stats").await;
    assert!(stats["seq"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn notifications_are_per_user_and_mark_read_syncs() {
    let server = TestServer::start(|_| {}).await;
    let (admin, client) = server.live_client(DEMO).await;
    let staff = server.login("staff@pulse.demo").await;
    let (seen, _subs) = record(&client, &[NOTIFICATION_NEW, NOTIFICATION_READ]);
    let ack =
        act(&client, PAYMENT_ADD, json!({ "customer_id": 1, "amount": 180, "method": "BANK" }))
            .await;
    assert!(ack.into_result().is_ok());
    eventually("notification:new", || !seen.lock().unwrap().is_empty()).await;
    let n = seen.lock().unwrap()[0].1.clone();
    assert_eq!(n["data"]["read"], false);
    let (_, mine) = server.get(&admin.token, "/api/notifications?unread=true").await;
    assert_eq!(mine["total"], 1);
    let (_, theirs) = server.get(&staff.token, "/api/notifications").await;
    assert_eq!(theirs["total"], 1, "every user of the tenant gets their own");
    let staff_id = theirs["items"][0]["id"].clone();

    // Someone else's notification is not yours to mark.
    let ack = act(&client, NOTIFICATION_MARK_READ, json!({ "id": staff_id })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::Forbidden);
    let ack = act(&client, NOTIFICATION_MARK_READ, json!({})).await;
    assert_eq!(ack.into_result().unwrap()["ids"], json!([n["data"]["id"]]));
    eventually("notification:read", || {
        seen.lock().unwrap().iter().any(|(e, _)| e == NOTIFICATION_READ)
    })
    .await;
    let (_, mine) = server.get(&admin.token, "/api/notifications?unread=true").await;
    assert_eq!(mine["total"], 0);
    // The staff user's entries are not in the admin's feed.
    let (_, feed) = server.get(&admin.token, "/api/events?since=0").await;
    let count = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == NOTIFICATION_NEW)
        .count();
    assert_eq!(count, 1);
    let ack = act(&client, ACTIVITY_REQUEST, json!(5)).await;
    assert_eq!(ack.into_result().unwrap().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn crossing_the_credit_limit_raises_a_system_alert() {
    let server = TestServer::start(|_| {}).await;
    let (_s, client) = server.live_client(DEMO).await;
    let (seen, _subs) = record(&client, &[pulse_protocol::events::ALERT_SYSTEM]);
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "customer_id": 3, "date": "2025-03-01", "quantity": 100 }),
    )
    .await;
    assert!(ack.into_result().is_ok());
    eventually("alert:system", || !seen.lock().unwrap().is_empty()).await;
    let alert = seen.lock().unwrap()[0].1.clone();
    assert_eq!(alert["data"]["level"], "warning");
    assert!(alert["data"]["message"].as_str().unwrap().contains("Carmen Diaz"));
}
