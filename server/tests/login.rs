//! Sign-in throttling (failed logins per account and per client address, refilled over a
//! window; successes never counted) and the cost of a login for an unknown email.

use serde_json::{json, Value};

use crate::fixture::{TestServer, DEMO, OTHER, PASSWORD};

/// What `POST /api/auth/login` answered: status, JSON body, `Retry-After` in seconds.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

async fn login_as(server: &TestServer, email: &str, password: &str, from: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.url()))
        .json(&json!({ "email": email, "password": password }));
    if let Some(ip) = from {
        req = req.header("x-forwarded-for", ip);
    }
    let res = req.send().await.expect("login request");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    Answer { status, body: res.json().await.unwrap_or(Value::Null), retry_after }
}

fn assert_throttled(a: &Answer, max_wait_s: u64) {
    assert_eq!((a.status, a.body["code"].as_str()), (429, Some("RATE_LIMITED")), "{}", a.body);
    let wait = a.retry_after.expect("Retry-After");
    assert!((1..=max_wait_s).contains(&wait), "Retry-After {wait}");
}

#[tokio::test]
async fn failed_sign_ins_close_the_account_everywhere_until_one_refill() {
    let server = TestServer::start(|c| {
        c.login_failures_per_account = 3;
        c.login_failures_per_ip = 100;
        c.login_window_s = 3.0;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for _ in 0..3 {
        let a = login_as(&server, DEMO, "guess", Some("203.0.113.7")).await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    let checks = server.state.passwords.verified();
    // The right password does not get through either, from this address or another: the
    // answer tells nothing about the guess.
    assert_throttled(&login_as(&server, DEMO, PASSWORD, Some("203.0.113.7")).await, 1);
    assert_throttled(
        &login_as(&server, "Admin@Pulse.demo", PASSWORD, Some("198.51.100.9")).await,
        1,
    );
    assert_eq!(server.state.passwords.verified(), checks, "refused before any password check");
    // Other accounts are open.
    assert_eq!(login_as(&server, OTHER, PASSWORD, Some("203.0.113.7")).await.status, 200);
    // One failure's worth refills after a third of the window: the real user gets in.
    let mut answer = login_as(&server, DEMO, PASSWORD, None).await;
    for _ in 0..50 {
        if answer.status != 429 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        answer = login_as(&server, DEMO, PASSWORD, None).await;
    }
    assert_eq!(answer.status, 200, "reopened within 10 s: {}", answer.body);
}

#[tokio::test]
async fn failed_sign_ins_close_the_client_address_named_by_a_trusted_proxy() {
    let server = TestServer::start(|c| {
        c.login_failures_per_account = 100;
        c.login_failures_per_ip = 3;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    // Spraying: a different (even unknown) account each time, from one client.
    for email in ["a@nowhere.demo", "b@nowhere.demo", OTHER] {
        let a = login_as(&server, email, "guess", Some("203.0.113.7")).await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    assert_throttled(&login_as(&server, DEMO, PASSWORD, Some("203.0.113.7")).await, 100);
    // The proxy appends the address it saw; what the client wrote before it does not count.
    let forged = login_as(&server, DEMO, PASSWORD, Some("198.51.100.1, 203.0.113.7")).await;
    assert_throttled(&forged, 100);
    // Another client behind the same proxy is not affected.
    assert_eq!(login_as(&server, DEMO, PASSWORD, Some("203.0.113.8")).await.status, 200);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored_by_the_throttle() {
    let server = TestServer::start(|c| {
        c.login_failures_per_account = 100;
        c.login_failures_per_ip = 3;
    })
    .await;
    // Each failure claims another address; all of them come from 127.0.0.1.
    for (i, email) in ["a@nowhere.demo", "b@nowhere.demo", OTHER].into_iter().enumerate() {
        let from = format!("203.0.113.{i}");
        assert_eq!(login_as(&server, email, "guess", Some(&from)).await.status, 401);
    }
    assert_throttled(&login_as(&server, DEMO, PASSWORD, Some("192.0.2.99")).await, 100);
}

#[tokio::test]
async fn successful_sign_ins_are_never_counted() {
    let server = TestServer::start(|c| {
        c.login_failures_per_account = 2;
        c.login_failures_per_ip = 2;
    })
    .await;
    for _ in 0..30 {
        assert_eq!(login_as(&server, DEMO, PASSWORD, None).await.status, 200);
    }
    assert_eq!(login_as(&server, DEMO, "typo", None).await.status, 401);
    assert_eq!(login_as(&server, DEMO, PASSWORD, None).await.status, 200);
}

#[tokio::test]
async fn an_unknown_email_costs_one_full_argon2_verification_like_a_known_one() {
    let server = TestServer::start(|_| {}).await;
    let checks = || server.state.passwords.verified();
    let before = checks();
    assert_eq!(login_as(&server, "nobody@nowhere.demo", PASSWORD, None).await.status, 401);
    assert_eq!(checks(), before + 1, "an unknown email is checked against the dummy hash");
    assert_eq!(login_as(&server, DEMO, "wrong", None).await.status, 401);
    assert_eq!(checks(), before + 2);
    assert_eq!(login_as(&server, DEMO, PASSWORD, None).await.status, 200);
    assert_eq!(checks(), before + 3);
}
