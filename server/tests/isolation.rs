//! Tenants only see and touch their own data.

use std::time::Duration;

use pulse_protocol::events::{logged, CUSTOMER_UPDATE, PAYMENT_ADD, PAYMENT_ADDED};
use pulse_protocol::ErrorCode;
use reqwest::Method;
use serde_json::json;

use crate::fixture::{act, eventually, record, TestServer, DEMO, OTHER};

/// Demo customers are ids 1–40, the other tenant's 41–45 (seed order).
const DEMO_CUSTOMER: i64 = 1;

#[tokio::test]
async fn a_client_receives_only_its_own_tenants_events() {
    let server = TestServer::start(|_| {}).await;
    let (_a, alice) = server.live_client(DEMO).await;
    let (b, bob) = server.live_client(OTHER).await;
    let (seen_a, _s1) = record(&alice, &logged());
    let (seen_b, _s2) = record(&bob, &logged());
    let ack = act(
        &alice,
        PAYMENT_ADD,
        json!({ "customer_id": DEMO_CUSTOMER, "amount": 160.0, "method": "CASH" }),
    )
    .await;
    assert!(ack.into_result().is_ok());
    eventually("tenant A's events", || {
        seen_a.lock().unwrap().iter().any(|(e, _)| e == PAYMENT_ADDED)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen_b.lock().unwrap().is_empty(), "tenant B saw {:?}", seen_b.lock().unwrap());
    let (_, page) = server.get(&b.token, "/api/events?since=0").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 0);
    assert_eq!(page["head"], 0);
    let (_, payments) = server.get(&b.token, "/api/payments").await;
    assert_eq!(payments["total"], 0);
}

#[tokio::test]
async fn another_tenants_data_answers_not_found_and_changes_nothing() {
    let server = TestServer::start(|_| {}).await;
    let a = server.login(DEMO).await;
    let (b, bob) = server.live_client(OTHER).await;
    let (_, before) = server.get(&a.token, &format!("/api/customers/{DEMO_CUSTOMER}")).await;

    let ack = act(
        &bob,
        PAYMENT_ADD,
        json!({ "customer_id": DEMO_CUSTOMER, "amount": 5.0, "method": "CASH" }),
    )
    .await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);
    let ack = act(&bob, CUSTOMER_UPDATE, json!({ "id": DEMO_CUSTOMER, "name": "Mallory" })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);
    let ack = act(
        &bob,
        pulse_protocol::events::DELIVERY_UPDATE,
        json!({ "customer_id": DEMO_CUSTOMER, "date": "2025-01-01", "quantity": 1.0 }),
    )
    .await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);

    let (status, body) = server
        .send(
            Method::PATCH,
            &b.token,
            &format!("/api/customers/{DEMO_CUSTOMER}"),
            json!({ "name": "Mallory" }),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = server.get(&b.token, &format!("/api/customers/{DEMO_CUSTOMER}")).await;
    assert_eq!(status, 404);

    let (_, after) = server.get(&a.token, &format!("/api/customers/{DEMO_CUSTOMER}")).await;
    assert_eq!(before, after, "nothing changed");
    let (_, log) = server.get(&a.token, "/api/events?since=0").await;
    assert_eq!(log["head"], 0, "nothing was logged");
}
