//! `wss://` and `https://` from the native SDK, through a TLS terminator (HAProxy) as a
//! deployment has it: with a certificate the application trusts (`tls::add_root_pem`, e.g. a
//! private CA) the client goes live, gets answers and its REST calls go through; a
//! certificate nobody trusts is refused, and the error says why.

use std::time::Duration;

use pulse_protocol::events::ConnectAuth;
use pulse_sdk::{http, Client, Config, Status};

use crate::fixture::{TestServer, DEMO, WAIT};
use crate::services::{self_signed_cert, Proxy};

#[tokio::test(flavor = "multi_thread")]
async fn the_native_sdk_speaks_wss_and_https_to_a_trusted_certificate_and_refuses_others() {
    let server = TestServer::start(|_| {}).await;
    let session = server.login(DEMO).await;
    let dir = tempfile::tempdir().unwrap();
    let trusted = self_signed_cert(dir.path(), "trusted");
    let stranger = self_signed_cert(dir.path(), "stranger");
    let good = Proxy::tls(server.addr, &trusted);
    let bad = Proxy::tls(server.addr, &stranger);
    // Only this test adds a root: the others in this process speak plain HTTP.
    assert_eq!(pulse_sdk::tls::add_root_pem(&trusted.cert_pem).expect("a usable root"), 1);

    // https: the REST API.
    let health = http::send("GET", &format!("https://{}/health", good.addr()), None, None)
        .await
        .expect("an answer over https");
    assert_eq!(health.status, 200, "{}", health.body);

    // wss: live, and an action answered.
    let token = session.token.clone();
    let client =
        Client::connect_with_auth(Config::new(format!("https://{}", good.addr())), move || {
            Some(ConnectAuth::with_token(&token))
        });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live over wss");
    let pong = client.emit_with_ack("ping", vec![], None).await.expect("an answer over wss");
    assert!(pong.args[0]["data"]["server_time"].is_i64(), "{:?}", pong.args);

    // A certificate nobody trusts: refused, saying why; the socket never goes live.
    let refused = http::send("GET", &format!("https://{}/health", bad.addr()), None, None)
        .await
        .expect_err("an untrusted certificate");
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    let stranger_client = Client::connect(Config::new(format!("https://{}", bad.addr())));
    let never = stranger_client.wait_for(|s| *s == Status::Live, Duration::from_secs(2)).await;
    assert!(never.is_err(), "live with an untrusted certificate: {never:?}");
}
