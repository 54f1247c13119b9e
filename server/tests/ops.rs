//! Operations: health, metrics, and the dashboard's files.

use pulse_protocol::events::PING;
use serde_json::Value;

use crate::fixture::{act, TestServer, DEMO};

#[tokio::test]
async fn health_reports_the_database_and_connections() {
    let server = TestServer::start(|_| {}).await;
    let (_s, _client) = server.live_client(DEMO).await;
    let res = reqwest::get(format!("{}/health", server.url())).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let h: pulse_protocol::rest::Health = res.json().await.unwrap();
    assert_eq!((h.status.as_str(), h.database.as_str(), h.connections), ("ok", "ok", 1));
}

/// Shutting down closes the Socket.IO namespace before the HTTP server has finished: requests
/// still arriving on kept-alive connections are answered, not ended by a panic.
#[tokio::test]
async fn http_is_answered_after_the_sockets_closed_for_shutdown() {
    let server = TestServer::start(|_| {}).await;
    let (session, _client) = server.live_client(DEMO).await;
    server.state.io.clone().close().await;
    let res = reqwest::get(format!("{}/health", server.url())).await.expect("GET /health");
    assert_eq!(res.status().as_u16(), 200);
    let h: pulse_protocol::rest::Health = res.json().await.unwrap();
    assert_eq!(h.connections, 0);
    let res = reqwest::get(format!("{}/metrics", server.url())).await.expect("GET /metrics");
    assert!(res.text().await.unwrap().contains("pulse_connections_open 0"));
    let (status, _) =
        server.send(reqwest::Method::POST, &session.token, "/api/auth/logout", Value::Null).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let server = TestServer::start(|_| {}).await;
    let (_s, client) = server.live_client(DEMO).await;
    assert!(act(&client, PING, Value::Null).await.into_result().is_ok());
    let _ = act(&client, "no:such", Value::Null).await;
    let text =
        reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    for name in [
        "pulse_connections_active",
        "pulse_ack_latency_seconds_bucket",
        "pulse_errors_total{code=\"UNKNOWN_EVENT\"}",
        "pulse_events_emitted_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[tokio::test]
async fn the_dashboard_is_served_with_spa_fallback_compression_and_cache_headers() {
    let server = TestServer::start(|_| {}).await;
    let dist = server.data_dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let html = format!("<!doctype html><title>Pulse</title>{}", "<p>pulse</p>".repeat(100));
    std::fs::write(dist.join("index.html"), &html).unwrap();
    std::fs::write(dist.join("app-0123456789abcdef.js"), "console.log('pulse');".repeat(100))
        .unwrap();
    let http = reqwest::Client::new();
    for path in ["/", "/deliveries", "/customers/7"] {
        let res = http.get(format!("{}{path}", server.url())).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(res.text().await.unwrap(), html, "{path} falls back to index.html");
    }
    let res = http
        .get(format!("{}/app-0123456789abcdef.js", server.url()))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()["content-encoding"], "gzip");
    // A file that is not there is not the app: above all not under a hashed name, which would
    // be cached for a year (a chunk of an earlier build, asked for by a tab opened before).
    for path in ["/app-fedcba9876543210_bg.wasm", "/favicon.ico", "/deliveries/x.js"] {
        let res = http.get(format!("{}{path}", server.url())).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 404, "{path}");
        assert!(res.headers().get("cache-control").is_none(), "{path}: nothing to keep");
        assert_ne!(res.text().await.unwrap(), html, "{path}");
    }
}

#[tokio::test]
async fn a_precompressed_asset_is_served_as_built() {
    let server = TestServer::start(|_| {}).await;
    let dist = server.data_dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>Pulse</title>").unwrap();
    let wasm = "app-0123456789abcdef_bg.wasm";
    std::fs::write(dist.join(wasm), vec![7u8; 4096]).unwrap();
    // Not real brotli: the test tells the built variant from one compressed per request.
    std::fs::write(dist.join(format!("{wasm}.br")), b"built by scripts/precompress.mjs").unwrap();
    let http = reqwest::Client::new();
    let get = |encoding: &'static str| {
        http.get(format!("{}/{wasm}", server.url())).header("accept-encoding", encoding).send()
    };
    // What Chromium sends.
    let res = get("gzip, deflate, br, zstd").await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"built by scripts/precompress.mjs");
    // A client without brotli gets the file, compressed on the fly.
    let res = get("gzip").await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

/// Every metric the alert rules and the Grafana dashboard in deploy/ use is exported by a
/// node of a cluster (PostgreSQL and Redis), checked by deploy/check-metrics.
#[tokio::test(flavor = "multi_thread")]
async fn the_alerts_and_dashboard_watch_only_exported_metrics() {
    let pg = crate::services::Postgres::start();
    let redis = crate::services::Redis::start();
    let url = pg.create_database("metrics");
    let redis_url = redis.url();
    let server = TestServer::start(move |c| {
        c.database_url = Some(url);
        c.redis_url = Some(redis_url);
    })
    .await;
    let (session, _client) = server.live_client(DEMO).await;
    crate::fixture::pay(&server, &session.token, 3.0).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/check-metrics");
    let out = tokio::process::Command::new(script).arg(server.url()).output().await.expect("run");
    assert!(
        out.status.success(),
        "deploy/check-metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The deployment guide's metric table lists exactly what a node exports.
    let text =
        reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    let exported: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| Some(l.strip_prefix("# TYPE ")?.split(' ').next()?.to_owned()))
        .collect();
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/deploy.md"))
        .expect("docs/deploy.md");
    let documented: std::collections::BTreeSet<String> = guide
        .lines()
        .filter_map(|l| Some(format!("pulse_{}", l.strip_prefix("| `pulse_")?.split('`').next()?)))
        .collect();
    assert_eq!(exported, documented, "docs/deploy.md's metric table vs /metrics");
    server.stop().await;
}
