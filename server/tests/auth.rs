//! Sign-in, refresh, and the socket handshake's CONNECT_ERROR codes.

use pulse_protocol::rest::{RefreshRequest, Session};
use pulse_sdk::Client;
use reqwest::Method;
use serde_json::json;

use crate::fixture::{rejection, TestServer, DEMO, WAIT};

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
    let server = TestServer::start(|c| c.token_ttl_s = 60).await;
    let (_s, client) = server.live_client(DEMO).await;
    server.clock.advance(61_000);
    let ack = crate::fixture::act(
        &client,
        pulse_protocol::events::STATS_REQUEST,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(ack.into_result().unwrap_err().code, pulse_protocol::ErrorCode::TokenExpired);
}
