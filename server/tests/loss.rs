//! Nothing lost, nothing twice: a client follows a stream of 1,000 payments while the server
//! process is killed (SIGKILL, no graceful anything) and restarted on the same database in
//! the middle of it. The producer is another SDK client that keeps up to 32 keyed emits in
//! flight, so the kill lands while some are unanswered (sent and maybe applied, or not yet
//! sent); the SDK resends them and the server applies each once. Each payment carries its own
//! note, and the database is counted note by note over REST afterwards, so one payment
//! applied twice and another lost cannot cancel out.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pulse_protocol::events::{ConnectAuth, PaymentAdded};
use pulse_protocol::rest::{LoginRequest, Page, Session};
use pulse_protocol::Ack;
use pulse_sdk::{Client, Config, Error, Status};
use serde_json::{json, Value};

use crate::fixture::{DEMO, PASSWORD};

const TOTAL: usize = 1000;
const KILL_AT: usize = 500;
/// Keyed emits unanswered at once.
const IN_FLIGHT: usize = 32;

struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(port: u16, data: &std::path::Path) -> ServerProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_pulse-server"))
            .env("PULSE_ADDR", format!("127.0.0.1:{port}"))
            .env("PULSE_DATA_DIR", data)
            .env("PULSE_DIST", data) // no dashboard needed
            .env("PULSE_DEMO", "false")
            .env("PULSE_EVENT_RATE", "100000")
            .env("PULSE_EVENT_BURST", "100000")
            .env("PULSE_ARGON2_M_COST_KIB", "1024")
            .env("RUST_LOG", "warn")
            .envs(crate::fixture::database_url_for(data).map(|url| ("PULSE_DATABASE_URL", url)))
            .spawn()
            .expect("pulse-server binary");
        ServerProcess { child }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_healthy(url: &str) {
    for _ in 0..600 {
        if reqwest::get(format!("{url}/health")).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {url} did not come up");
}

fn fast(url: &str) -> Config {
    let mut c = Config::new(url);
    c.backoff.initial = Duration::from_millis(100);
    c.backoff.max = Duration::from_millis(300);
    c.poll_interval = Some(Duration::from_millis(300));
    c.ack_timeout = Duration::from_secs(5);
    c.send_buffer = TOTAL;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_all_1000_events_once_across_a_server_crash() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let server = ServerProcess::start(port, data.path());
    wait_healthy(&url).await;

    let http = reqwest::Client::new();
    let session: Session = http
        .post(format!("{url}/api/auth/login"))
        .json(&LoginRequest { email: DEMO.into(), password: PASSWORD.into() })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customers: Page<Value> = http
        .get(format!("{url}/api/customers?limit=1"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = customers.items[0]["id"].as_i64().unwrap();
    let token = session.token.clone();
    let auth = move || Some(ConnectAuth::with_token(&token));

    // The consumer records every payment:added it is handed: payment id -> times seen.
    let consumer = Client::connect_with_auth(fast(&url), auth.clone());
    let seen: Arc<Mutex<BTreeMap<i64, usize>>> = Arc::default();
    let seqs: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (s, q) = (seen.clone(), seqs.clone());
    let _sub = consumer.on_event::<PaymentAdded>(move |env| {
        if env.data.note.as_deref().is_some_and(|n| n.starts_with("loss-")) {
            *s.lock().unwrap().entry(env.data.id).or_default() += 1;
            q.lock().unwrap().push(env.seq);
        }
    });
    consumer.wait_for(|s| *s == Status::Live, Duration::from_secs(30)).await.unwrap();

    let producer = Client::connect_with_auth(fast(&url), auth);
    producer.wait_for(|s| *s == Status::Live, Duration::from_secs(30)).await.unwrap();

    // The kill comes from another task once KILL_AT payments are acked, while up to
    // IN_FLIGHT more are on the wire or queued.
    let acked = Arc::new(AtomicUsize::new(0));
    let in_flight_at_kill = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (acked, sent, at_kill) = (acked.clone(), sent.clone(), in_flight_at_kill.clone());
        let data = data.path().to_owned();
        tokio::spawn(async move {
            while acked.load(Ordering::SeqCst) < KILL_AT {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            at_kill.store(
                sent.load(Ordering::SeqCst) - acked.load(Ordering::SeqCst),
                Ordering::SeqCst,
            );
            server.kill();
            tokio::time::sleep(Duration::from_millis(800)).await;
            ServerProcess::start(port, &data)
        })
    };
    let producer = &producer;
    futures_util::stream::iter(0..TOTAL)
        .map(|i| {
            let (acked, sent) = (acked.clone(), sent.clone());
            async move {
                let payload = json!({
                    "customer_id": customer, "amount": 1.0, "method": "CASH",
                    "note": format!("loss-{i}"), "idempotency_key": format!("loss-{i}"),
                });
                sent.fetch_add(1, Ordering::SeqCst);
                // Keyed emits are buffered and resent by the SDK; an ack that outlived the
                // outage is retried with the same key, which the server applies once.
                loop {
                    match producer.emit_with_ack("payment:add", vec![payload.clone()], None).await {
                        Ok(reply) => {
                            let ack: Ack<Value> =
                                serde_json::from_value(reply.args[0].clone()).unwrap();
                            ack.into_result()
                                .unwrap_or_else(|e| panic!("payment {i} refused: {e}"));
                            break;
                        }
                        Err(Error::AckTimeout) => continue,
                        Err(e) => panic!("payment {i}: {e}"),
                    }
                }
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let server = killer.await.expect("killer task");
    let at_kill = in_flight_at_kill.load(Ordering::SeqCst);
    assert!(at_kill > 0, "the kill must land while emits are in flight");

    // The database, note by note.
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for offset in (0..).step_by(500) {
        let page: Page<Value> = http
            .get(format!("{url}/api/payments?limit=500&offset={offset}"))
            .bearer_auth(&session.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for p in &page.items {
            if let Some(note) = p["note"].as_str().filter(|n| n.starts_with("loss-")) {
                *applied.entry(note.to_owned()).or_default() += 1;
            }
        }
        if page.items.len() < 500 {
            break;
        }
    }
    let missing: Vec<usize> =
        (0..TOTAL).filter(|i| !applied.contains_key(&format!("loss-{i}"))).collect();
    let doubled: Vec<_> = applied.iter().filter(|(_, n)| **n > 1).collect();
    assert!(missing.is_empty(), "not applied ({at_kill} in flight at the kill): {missing:?}");
    assert!(doubled.is_empty(), "applied more than once: {doubled:?}");

    // Generous: the machine may be busy; what matters is that everything arrives, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while seen.lock().unwrap().len() < TOTAL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer has {} of {TOTAL} payments",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // let any duplicate arrive
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), TOTAL, "every payment once");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    let seqs = seqs.lock().unwrap();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "applied in log order");
    drop(server);
}
