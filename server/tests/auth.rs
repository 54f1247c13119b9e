//! Sign-in, refresh, logout, and the socket handshake's CONNECT_ERROR codes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_protocol::events::{ConnectAuth, ERROR, PAYMENT_ADDED};
use pulse_protocol::rest::{RefreshRequest, Session};
use pulse_sdk::{Client, DisconnectReason, Event, Status};
use reqwest::Method;
use serde_json::json;

use crate::fixture::{eventually, pay, record, rejection, TestServer, DEMO, WAIT};

#[tokio::test]
async fn login_gives_a_jwt_and_a_single_use_refresh_token() {
    let server = TestServer::start(|_| {}).await;
    let session = server.login(DEMO).await;
    assert_eq!(session.user.email, DEMO);
    assert_eq!(session.user.role, "admin");
    let (status, me) = server.get(&session.token, "/api/auth/me").await;
    assert_eq!((status, me["email"].as_str()), (200, Some(DEMO)));

    let (status, body) = server
        .send(Method::POST, "", "/api/auth/login", json!({ "email": DEMO, "password": "nope" }))
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));

    let refresh = RefreshRequest { refresh_token: session.refresh_token.clone() };
    let (status, fresh) = server
        .send(Method::POST, "", "/api/auth/refresh", serde_json::to_value(&refresh).unwrap())
        .await;
    assert_eq!(status, 200);
    let fresh: Session = serde_json::from_value(fresh).unwrap();
    assert_ne!(fresh.refresh_token, session.refresh_token);
    let (status, body) = server
        .send(Method::POST, "", "/api/auth/refresh", serde_json::to_value(&refresh).unwrap())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "refresh tokens are single-use"
    );
}

#[tokio::test]
async fn rest_without_a_valid_token_is_unauthorized() {
    let server = TestServer::start(|_| {}).await;
    let (status, body) = server.get("", "/api/stats").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let (status, body) = server.get("garbage", "/api/deliveries").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
}

#[tokio::test]
async fn socket_without_token_gets_connect_error_unauthorized() {
    let server = TestServer::start(|_| {}).await;
    let client = Client::connect(server.sdk_config());
    assert_eq!(rejection(&client).await, "UNAUTHORIZED: missing token");
}

#[tokio::test]
async fn socket_with_invalid_token_gets_connect_error_unauthorized() {
    let server = TestServer::start(|_| {}).await;
    let client = server.connect("not.a.jwt", None);
    assert_eq!(rejection(&client).await, "UNAUTHORIZED: invalid token");
    // A token signed by another server (another secret) is invalid too.
    let other = TestServer::start(|_| {}).await;
    let foreign = other.login(DEMO).await;
    let client = server.connect(&foreign.token, None);
    assert_eq!(rejection(&client).await, "UNAUTHORIZED: invalid token");
}

#[tokio::test]
async fn expired_token_gets_connect_error_token_expired() {
    let server = TestServer::start(|c| c.token_ttl_s = 60).await;
    let session = server.login(DEMO).await;
    server.clock.advance(61_000);
    let client = server.connect(&session.token, None);
    assert_eq!(rejection(&client).await, "TOKEN_EXPIRED: token expired");
    let (status, body) = server.get(&session.token, "/api/stats").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOKEN_EXPIRED")));
    let _ = WAIT;
}

#[tokio::test]
async fn actions_on_a_socket_whose_token_expired_are_refused() {
    // No expiry sweep during this test: the action must meet the expired token itself.
    let server = TestServer::start(|c| {
        c.token_ttl_s = 60;
        c.expiry_check_ms = 3_600_000;
    })
    .await;
    // No health pings: the first goes out as the client goes live, and one still unanswered
    // when the clock jumps is refused with TOKEN_EXPIRED, which ends the session before the
    // action is sent (the action then fails with ConnectionLost); this test is about the
    // action.
    let (_s, client) = server.live_client_with(DEMO, |c| c.health_interval = None).await;
    server.clock.advance(61_000);
    let reply = client
        .emit_with_ack(pulse_protocol::events::STATS_REQUEST, vec![serde_json::Value::Null], None)
        .await;
    // The SDK asks for new credentials on that refusal; this client has only the expired
    // token, so the refusal is final, and says why.
    match reply {
        Err(pulse_sdk::Error::Rejected(e)) => {
            assert_eq!(e.code, Some(pulse_protocol::ErrorCode::TokenExpired))
        }
        other => panic!("expected a TOKEN_EXPIRED refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_action_refused_for_an_expired_token_is_resent_on_a_refreshed_socket() {
    // No expiry sweep: the action meets the expired token first (the server's clock is past
    // the expiry, the client's refresh timer has not fired yet).
    let server = TestServer::start(|c| {
        c.token_ttl_s = 60;
        c.expiry_check_ms = 3_600_000;
    })
    .await;
    let first = server.login(DEMO).await;
    // No health pings: one answered after the clock moved would meet the expired token
    // before the application holds the new one (under load, the first ping's answer can be
    // that late), and this test is about the action.
    let mut config = server.sdk_config();
    config.health_interval = None;
    let (token, client) = refreshable_with(config, &first.token);
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    let kicks = Arc::new(Mutex::new(0));
    let count = kicks.clone();
    let _kicked = client.on_any(move |e| {
        let expired = DisconnectReason::Auth(pulse_protocol::ErrorCode::TokenExpired);
        if matches!(e, Event::Disconnected { reason } if *reason == expired) {
            *count.lock().unwrap() += 1;
        }
    });
    server.clock.advance(61_000);
    // The application holds a refreshed session; the socket still carries the old token.
    *token.lock().unwrap() = server.login(DEMO).await.token;
    let ack = crate::fixture::act(
        &client,
        pulse_protocol::events::STATS_REQUEST,
        serde_json::Value::Null,
    )
    .await;
    assert!(ack.into_result().is_ok(), "answered on the refreshed socket");
    assert_eq!(*kicks.lock().unwrap(), 1, "the refusal ended the old session once");
    assert_eq!(client.status(), Status::Live);
}

#[tokio::test]
async fn a_socket_whose_token_expires_is_told_and_disconnected() {
    let server = TestServer::start(|c| {
        c.token_ttl_s = 60;
        c.expiry_check_ms = 50;
    })
    .await;
    // No health ping: one in flight when the clock jumps is refused with TOKEN_EXPIRED, and
    // the SDK then ends the session itself before the sweep can tell it (a flake seen once
    // in ten full runs).
    let (_s, client) = server.live_client_with(DEMO, |c| c.health_interval = None).await;
    let (seen, _subs) = record(&client, &[ERROR, PAYMENT_ADDED]);
    server.clock.advance(61_000);
    client.wait_for(|st| *st == Status::Offline, WAIT).await.expect("disconnected");
    let errors = seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1["code"], "TOKEN_EXPIRED");
    // Its tenant's events no longer reach it, and it does not come back with the old token.
    let fresh = server.login(DEMO).await;
    pay(&server, &fresh.token, 5.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing after the disconnect");
    assert_eq!(client.status(), Status::Offline);
}

#[tokio::test]
async fn a_client_with_a_refreshed_token_carries_on_after_expiry_and_misses_nothing() {
    let server = TestServer::start(|c| {
        c.token_ttl_s = 60;
        c.expiry_check_ms = 50;
    })
    .await;
    let first = server.login(DEMO).await;
    let (token, client) = refreshable(&server, &first.token);
    let (seen, _subs) = record(&client, &[PAYMENT_ADDED]);
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    pay(&server, &first.token, 1.0).await;
    eventually("the first payment", || seen.lock().unwrap().len() == 1).await;

    let kicks = Arc::new(Mutex::new(0));
    let count = kicks.clone();
    let _kicked = client.on_any(move |e| {
        let expired = DisconnectReason::Auth(pulse_protocol::ErrorCode::TokenExpired);
        if matches!(e, Event::Disconnected { reason } if *reason == expired) {
            *count.lock().unwrap() += 1;
        }
    });

    // The application refreshes its session, then the old token expires.
    server.clock.advance(50_000);
    let renewed = server.login(DEMO).await;
    *token.lock().unwrap() = renewed.token.clone();
    server.clock.advance(11_000);
    pay(&server, &renewed.token, 2.0).await;
    eventually("the server ends the old session", || *kicks.lock().unwrap() == 1).await;
    eventually("both payments, once each", || seen.lock().unwrap().len() == 2).await;
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live again");
    pay(&server, &renewed.token, 3.0).await;
    eventually("a live payment after the reconnect", || seen.lock().unwrap().len() == 3).await;
    let amounts: Vec<f64> =
        seen.lock().unwrap().iter().map(|(_, a)| a["data"]["amount"].as_f64().unwrap()).collect();
    assert_eq!(amounts, [1.0, 2.0, 3.0]);
}

#[tokio::test]
async fn logout_revokes_the_sessions_refresh_tokens_and_ends_its_sockets_with_a_reason() {
    let server = TestServer::start(|_| {}).await;
    let refresh = |token: &str| {
        let body = serde_json::to_value(RefreshRequest { refresh_token: token.into() }).unwrap();
        server.send(Method::POST, "", "/api/auth/refresh", body)
    };
    let first = server.login(DEMO).await;
    // A session lives on through its refreshes.
    let (status, renewed) = refresh(&first.refresh_token).await;
    assert_eq!(status, 200);
    let renewed: Session = serde_json::from_value(renewed).unwrap();
    let ended = server.connect(&renewed.token, None);
    let (seen, _subs) = record(&ended, &[ERROR]);
    ended.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    // Another sign-in of the same user (another browser) is not touched.
    let (other, bystander) = server.live_client(DEMO).await;

    let (status, body) = server.send(Method::POST, "", "/api/auth/logout", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let (status, _) = server.send(Method::POST, &first.token, "/api/auth/logout", json!({})).await;
    assert_eq!(status, 204);

    ended.wait_for(|st| *st == Status::Offline, WAIT).await.expect("disconnected");
    let errors = seen.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1["code"], "UNAUTHORIZED");
    assert!(errors[0].1["message"].as_str().unwrap().contains("signed out"), "{errors:?}");
    let (status, body) = refresh(&renewed.refresh_token).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")), "revoked");
    // Its access tokens no longer open sockets.
    let again = server.connect(&renewed.token, None);
    assert!(rejection(&again).await.starts_with("UNAUTHORIZED: signed out"));

    assert_eq!(bystander.status(), Status::Live);
    let (status, _) = refresh(&other.refresh_token).await;
    assert_eq!(status, 200, "the other session goes on");
}

/// A client that connects with the application's current token, as a dashboard keeps it
/// after refreshing; set the token through the returned cell.
fn refreshable(server: &TestServer, token: &str) -> (Arc<Mutex<String>>, Client) {
    refreshable_with(server.sdk_config(), token)
}

/// [`refreshable`] with its own SDK configuration.
fn refreshable_with(config: pulse_sdk::Config, token: &str) -> (Arc<Mutex<String>>, Client) {
    let cell = Arc::new(Mutex::new(token.to_owned()));
    let current = cell.clone();
    let client = Client::connect_with_auth(config, move || {
        Some(ConnectAuth::with_token(current.lock().unwrap().clone()))
    });
    (cell, client)
}
