//! The store goes away: with PostgreSQL stopped, actions are refused with UNAVAILABLE (503)
//! and nothing is half-applied, /health says degraded; when it is back, service resumes by
//! itself, a retry with the same idempotency key applies once, and a client connected all
//! along receives the entry.

use std::time::Duration;

use pulse_sdk::Status;
use serde_json::{json, Value};

use crate::fixture::{record, TestServer, DEMO, WAIT};
use crate::services::Postgres;

async fn health(server: &TestServer) -> (u16, Value) {
    let res = reqwest::get(format!("{}/health", server.url())).await.expect("health");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn pay_keyed(server: &TestServer, token: &str, note: &str, key: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/payments", server.url()))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .timeout(Duration::from_secs(20))
        .json(&json!({ "customer_id": 4, "amount": 7.5, "method": "CASH", "note": note }))
        .send()
        .await
        .expect("payment request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_refuses_cleanly_and_service_resumes_by_itself() {
    let pg = Postgres::start();
    let url = pg.create_database("outage");
    let server = TestServer::start(|c| c.database_url = Some(url)).await;
    let (session, client) = server.live_client(DEMO).await;
    let (seen, _subs) = record(&client, &["payment:added"]);
    let (status, _) = pay_keyed(&server, &session.token, "before", "k-before").await;
    assert_eq!(status, 200);

    pg.stop();
    let (status, body) = pay_keyed(&server, &session.token, "during", "k-during").await;
    assert_eq!(status, 503, "an action while the database is down: {body}");
    assert_eq!(body["code"], "UNAVAILABLE", "{body}");
    // A monitor learns it at once, not after the pool's 5 s acquire timeout (twice: the
    // peers are read from the same database).
    let asked = tokio::time::Instant::now();
    let (status, body) = health(&server).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(asked.elapsed() < Duration::from_secs(3), "/health took {:?}", asked.elapsed());

    pg.start_again();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while health(&server).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The retry the client makes after UNAVAILABLE, and a second one: applied once.
    for _ in 0..2 {
        let (status, body) = pay_keyed(&server, &session.token, "during", "k-during").await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, page) = server.get(&session.token, "/api/payments?limit=500").await;
    assert_eq!(status, 200);
    let notes: Vec<&str> =
        page["items"].as_array().unwrap().iter().filter_map(|p| p["note"].as_str()).collect();
    assert_eq!(notes.iter().filter(|n| **n == "during").count(), 1, "{notes:?}");
    assert_eq!(notes.iter().filter(|n| **n == "before").count(), 1, "{notes:?}");

    // The client connected before the outage gets the payment made after it, once.
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live again");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let n = seen.lock().unwrap().iter().filter(|(_, v)| v["data"]["note"] == "during").count();
        if n >= 1 {
            assert_eq!(n, 1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no payment:added after the outage");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// SQLite's write lock held elsewhere (a backup tool, a long transaction) for longer than the
/// busy timeout: the action is refused with UNAVAILABLE, not an internal error, and a retry
/// with the same key after the lock is released applies once.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_sqlite_write_lock_refuses_with_unavailable_and_the_retry_applies_once() {
    use sqlx::{Connection, Executor};
    if crate::fixture::backend_name() != "sqlite" {
        return;
    }
    let server = TestServer::start(|_| {}).await;
    let session = server.login(DEMO).await;
    let file = server.data_dir.join("pulse.db");
    let mut holder =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();

    let (status, body) = pay_keyed(&server, &session.token, "busy", "k-busy").await;
    assert_eq!(status, 503, "an action while another writer holds the lock: {body}");
    assert_eq!(body["code"], "UNAVAILABLE", "{body}");
    assert!(body["message"].as_str().unwrap_or("").contains("busy"), "{body}");

    holder.execute("ROLLBACK").await.unwrap();
    for _ in 0..2 {
        let (status, body) = pay_keyed(&server, &session.token, "busy", "k-busy").await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, page) = server.get(&session.token, "/api/payments?limit=500").await;
    assert_eq!(status, 200);
    let applied = page["items"].as_array().unwrap().iter().filter(|p| p["note"] == "busy").count();
    assert_eq!(applied, 1, "{page}");
    holder.close().await.unwrap();
    server.stop().await;
}
