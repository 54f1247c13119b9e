//! REST errors: every refusal under `/api`, whichever layer makes it (routing, path, query,
//! body), answers `{ code, message }` as JSON with the status that goes with the code.

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::fixture::{TestServer, DEMO};

/// Sends `req` and checks the answer is the one error shape; returns its status and code.
async fn error_of(req: RequestBuilder) -> (u16, String) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let what = format!("{} {}", status, res.url().path());
    let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    assert_eq!(content_type.as_deref(), Some("application/json"), "{what}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: a message for people: {text}");
    (status, body["code"].as_str().unwrap_or_else(|| panic!("{what}: no code: {text}")).to_owned())
}

/// A server whose dashboard folder holds an `index.html`, so the SPA fallback is live.
async fn server_with_dashboard() -> (TestServer, String) {
    let server = TestServer::start(|_| {}).await;
    let dist = server.data_dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let html = "<!doctype html><title>Pulse</title>".to_owned();
    std::fs::write(dist.join("index.html"), &html).unwrap();
    (server, html)
}

#[tokio::test]
async fn an_unknown_api_route_is_not_found_in_the_error_shape_while_pages_fall_back() {
    let (server, html) = server_with_dashboard().await;
    let s = server.login(DEMO).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    for (method, path) in [
        (Method::GET, "/api/nope"),
        (Method::GET, "/api"),
        (Method::GET, "/api/"),
        (Method::GET, "/api/customers/1/orders"),
        (Method::POST, "/api/nope/deeper"),
        (Method::DELETE, "/api/v2/customers"),
    ] {
        let req = http.request(method.clone(), url(path)).bearer_auth(&s.token);
        assert_eq!(error_of(req).await, (404, "NOT_FOUND".into()), "{method} {path}");
    }
    // Without a token too: the answer does not depend on who asks.
    assert_eq!(error_of(http.get(url("/api/nope"))).await, (404, "NOT_FOUND".into()));
    // The dashboard's client-side routes still get its page.
    for path in ["/deliveries", "/customers/7", "/apiary", "/health/nope"] {
        let res = http.get(url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(res.text().await.unwrap(), html, "{path} falls back to index.html");
    }
}

#[tokio::test]
async fn a_malformed_path_parameter_is_invalid_input_in_the_error_shape() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    let cases = [
        http.get(url("/api/customers/abc")),
        http.get(url("/api/customers/1.5")),
        http.get(url("/api/customers/99999999999999999999")),
        http.patch(url("/api/customers/abc")).json(&serde_json::json!({ "name": "x" })),
        http.put(url("/api/deliveries/abc"))
            .json(&serde_json::json!({ "customer_id": 1, "date": "2025-03-01", "quantity": 1 })),
    ];
    for req in cases {
        assert_eq!(error_of(req.bearer_auth(&s.token)).await, (422, "INVALID_INPUT".into()));
    }
    // A well-formed id still reaches the handler.
    let (status, body) = server.get(&s.token, "/api/customers/999999").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test]
async fn malformed_bodies_and_queries_and_wrong_methods_answer_in_the_error_shape() {
    let server = TestServer::start(|c| c.max_payload = 2_000).await;
    let s = server.login(DEMO).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    let json = "application/json";
    let invalid = [
        // Not JSON at all.
        http.post(url("/api/payments")).header("content-type", json).body("{broken"),
        // JSON of the wrong shape.
        http.post(url("/api/payments")).header("content-type", json).body("[1, 2, 3]"),
        // JSON sent as something else, and no content type at all.
        http.post(url("/api/payments"))
            .header("content-type", "text/plain")
            .body(r#"{"customer_id":1,"amount":1,"method":"CASH"}"#),
        http.post(url("/api/payments")).body(r#"{"customer_id":1,"amount":1,"method":"CASH"}"#),
        // Queries that do not parse.
        http.get(url("/api/customers?limit=abc")),
        http.get(url("/api/events?since=-1")),
        http.get(url("/api/notifications?unread=maybe")),
    ];
    for req in invalid {
        assert_eq!(error_of(req.bearer_auth(&s.token)).await, (422, "INVALID_INPUT".into()));
    }
    let big =
        format!(r#"{{"customer_id":1,"amount":1,"method":"CASH","note":"{}"}}"#, "x".repeat(5_000));
    let req = http.post(url("/api/payments")).header("content-type", json).body(big);
    assert_eq!(error_of(req.bearer_auth(&s.token)).await, (413, "PAYLOAD_TOO_LARGE".into()));
    // A route that exists, with a method it does not take: 405 with `Allow`, same shape.
    let res = http.delete(url("/api/customers")).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.headers().get("allow").map(|v| v.to_str().unwrap()), Some("GET,HEAD,POST"));
    let req = http.delete(url("/api/customers")).bearer_auth(&s.token);
    assert_eq!(error_of(req).await, (405, "METHOD_NOT_ALLOWED".into()));
    let req = http.get(url("/api/auth/login"));
    assert_eq!(error_of(req).await, (405, "METHOD_NOT_ALLOWED".into()));
    // And without a token, refusals keep the shape.
    assert_eq!(error_of(http.get(url("/api/customers/abc"))).await, (401, "UNAUTHORIZED".into()));
}
