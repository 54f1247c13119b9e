//! A restart on the same SQLite file loses nothing.

use pulse_protocol::events::{PAYMENT_ADD, PAYMENT_ADDED};
use reqwest::Method;
use serde_json::json;

use crate::fixture::{act, TestServer, DEMO};

#[tokio::test]
async fn a_restart_on_the_same_file_loses_nothing_and_continues_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), |c| c.demo = false).await;
    let (s, client) = server.live_client(DEMO).await;
    let ack = act(
        &client,
        PAYMENT_ADD,
        json!({ "customer_id": 7, "amount": 155, "method": "BANK", "idempotency_key": "k1" }),
    )
    .await;
    let payment = ack.into_result().unwrap();
    let (status, _) = server
        .send(
            Method::POST,
            &s.token,
            "/api/deliveries",
            json!({ "customer_id": 7, "date": "2025-04-01", "quantity": 4 }),
        )
        .await;
    assert_eq!(status, 200);
    server.send(Method::POST, &s.token, "/api/notifications/read", json!({})).await;
    let (_, before) = server.get(&s.token, "/api/events?since=0").await;
    let (_, customer_before) = server.get(&s.token, "/api/customers/7").await;
    let (_, notes_before) = server.get(&s.token, "/api/notifications").await;
    drop(client);
    server.stop().await;

    let server = TestServer::start_in(dir.path(), |c| c.demo = false).await;
    // The JWT secret persisted with the data, so the old token is still good.
    let (_, after) = server.get(&s.token, "/api/events?since=0").await;
    assert_eq!(after, before, "the whole log survived");
    let (_, customer_after) = server.get(&s.token, "/api/customers/7").await;
    assert_eq!(customer_after, customer_before);
    let (_, notes_after) = server.get(&s.token, "/api/notifications").await;
    assert_eq!(notes_after, notes_before);
    let (_, customers) = server.get(&s.token, "/api/customers").await;
    assert_eq!(customers["total"], 40, "not seeded twice");

    // The same idempotency key still answers with the stored result.
    let (s2, client) = server.live_client(DEMO).await;
    let again = act(
        &client,
        PAYMENT_ADD,
        json!({ "customer_id": 7, "amount": 155, "method": "BANK", "idempotency_key": "k1" }),
    )
    .await;
    assert_eq!(again.into_result().unwrap(), payment);
    // New entries continue the sequence.
    let ack =
        act(&client, PAYMENT_ADD, json!({ "customer_id": 7, "amount": 1, "method": "CASH" })).await;
    assert!(ack.into_result().is_ok());
    let head = before["head"].as_u64().unwrap();
    let (_, next) = server.get(&s2.token, &format!("/api/events?since={head}")).await;
    assert_eq!(next["events"][0]["seq"].as_u64(), Some(head + 1));
    assert_eq!(next["events"][0]["event"], PAYMENT_ADDED);
    // Refresh tokens survive too.
    let (status, _) = server
        .send(Method::POST, "", "/api/auth/refresh", json!({ "refresh_token": s.refresh_token }))
        .await;
    assert_eq!(status, 200);
}
