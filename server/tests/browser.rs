//! What browsers are told: security headers on the API and the dashboard (a CSP that hashes
//! the dashboard's inline loader), CORS only for the listed origins, and the same list for
//! browser pages opening the Socket.IO endpoint.

use base64::Engine as _;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::fixture::TestServer;

const LOADER: &str = "\nimport init from '/app-0123456789abcdef.js';\nawait init();\n";
const ALLOWED: &str = "http://admin.example:8080";

async fn head(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    origin: Option<&str>,
) -> (u16, HeaderMap) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.url()));
    if let Some(o) = origin {
        req = req
            .header("origin", o)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization");
    }
    let res = req.send().await.expect("request");
    (res.status().as_u16(), res.headers().clone())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_api_and_the_dashboard_answer_with_security_headers() {
    let dist = tempfile::tempdir().unwrap();
    let html = format!(
        "<!DOCTYPE html><html><head><script type=\"module\">{LOADER}</script>\
         <link rel=\"modulepreload\" href=\"/app-0123456789abcdef.js\"></head><body></body></html>"
    );
    std::fs::write(dist.path().join("index.html"), html).unwrap();
    let path = dist.path().to_owned();
    let server = TestServer::start(move |c| c.dist = path).await;

    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(LOADER.as_bytes()));
    for page in ["/", "/deliveries"] {
        let (status, h) = head(&server, reqwest::Method::GET, page, None).await;
        assert_eq!(status, 200, "{page}");
        let csp = header(&h, "content-security-policy").expect("CSP");
        for part in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            &format!("'sha256-{hash}'"),
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{page}: `{part}` missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
    }
    let (status, h) = head(&server, reqwest::Method::GET, "/api/stats", None).await;
    assert_eq!(status, 401);
    assert_eq!(
        header(&h, "content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn cors_answers_the_listed_origins_only() {
    let server = TestServer::start(|c| c.cors_origins = vec![ALLOWED.into()]).await;
    let options = reqwest::Method::OPTIONS;
    let (status, h) = head(&server, options.clone(), "/api/auth/login", Some(ALLOWED)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(ALLOWED));
    let methods = header(&h, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let (_, h) = head(&server, reqwest::Method::GET, "/api/stats", Some(ALLOWED)).await;
    assert_eq!(header(&h, "access-control-allow-origin"), Some(ALLOWED));
    // The SDK's long-polling with `withCredentials` (a sticky balancer's cookie) needs this
    // on the Engine.IO answers; the browser drops them without it.
    let polling = "/socket.io/?EIO=4&transport=polling";
    let (status, h) = head(&server, reqwest::Method::GET, polling, Some(ALLOWED)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));

    for origin in ["https://evil.example", "http://admin.example:8081", "null"] {
        let (_, h) = head(&server, options.clone(), "/api/auth/login", Some(origin)).await;
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin}");
        let (_, h) = head(&server, reqwest::Method::GET, "/api/stats", Some(origin)).await;
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin}");
    }

    // By default no origin gets CORS headers.
    let closed = TestServer::start(|_| {}).await;
    let (_, h) = head(&closed, options, "/api/auth/login", Some(ALLOWED)).await;
    assert_eq!(header(&h, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn browser_pages_may_open_the_socket_from_the_same_or_a_listed_origin_only() {
    let server = TestServer::start(|c| c.cors_origins = vec![ALLOWED.into()]).await;
    let handshake = "/socket.io/?EIO=4&transport=polling";
    let own = server.url();
    for (origin, expected) in [
        (None, 200),
        (Some(own.as_str()), 200),
        (Some(ALLOWED), 200),
        (Some("https://evil.example"), 403),
    ] {
        let (status, _) = head(&server, reqwest::Method::GET, handshake, origin).await;
        assert_eq!(status, expected, "{origin:?}");
    }
    let res = reqwest::Client::new()
        .get(format!("{}{handshake}", server.url()))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "FORBIDDEN");
    assert!(body["message"].as_str().unwrap().contains("PULSE_CORS_ORIGINS"));
    // A WebSocket upgrade from another origin is refused too.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr),
    )
    .unwrap();
    req.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}
