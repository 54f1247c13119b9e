//! A client's position belongs to one log. When the log under a live client is replaced (its
//! data directory wiped, or an older backup restored) the client is told RESYNC_REQUIRED
//! instead of being resumed into the wrong log, drops its position, and then receives the new
//! log's entries live instead of discarding them as duplicates.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_protocol::events::{ConnectionStatusEvent, PaymentAdded};
use pulse_protocol::WireError;
use pulse_sdk::{Client, Status};

use crate::fixture::{backend_name, pay, TestServer, DEMO, WAIT};

const SECRET: &str = "a-fixed-test-secret-of-more-than-32-characters";

/// What a client saw: epochs announced, errors, and payment seqs.
#[derive(Default)]
struct Seen {
    epochs: Vec<String>,
    errors: Vec<String>,
    payments: Vec<u64>,
}

fn watch(client: &Client) -> (Arc<Mutex<Seen>>, Vec<pulse_sdk::Subscription>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (a, b, c) = (seen.clone(), seen.clone(), seen.clone());
    let subs = vec![
        client.on_event::<ConnectionStatusEvent>(move |e| {
            a.lock().unwrap().epochs.push(e.data.epoch.clone())
        }),
        client.on("error", move |m| {
            let code = m
                .args
                .first()
                .and_then(|v| serde_json::from_value::<WireError>(v.value()).ok())
                .map(|e| e.code.as_str().to_owned())
                .unwrap_or_default();
            b.lock().unwrap().errors.push(code);
        }),
        client.on_event::<PaymentAdded>(move |e| c.lock().unwrap().payments.push(e.seq)),
    ];
    (seen, subs)
}

async fn until(what: &str, seen: &Arc<Mutex<Seen>>, cond: impl Fn(&Seen) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond(&seen.lock().unwrap()) {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn wipe(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wiped_log_under_a_live_client_means_resync_then_live_entries() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = |c: &mut pulse_server::Config| {
        c.demo = false;
        c.jwt_secret = Some(SECRET.into());
    };
    let server = TestServer::start_in(dir.path(), fixed).await;
    let addr = server.addr;
    let (session, client) = server.live_client(DEMO).await;
    let (seen, _subs) = watch(&client);
    for _ in 0..5 {
        pay(&server, &session.token, 2.0).await;
    }
    until("five payments", &seen, |s| s.payments.len() == 5).await;
    let old_last = client.last_seq().unwrap();
    let (_, page) = server.get(&session.token, "/api/events?since=0").await;
    let old_epoch = page["epoch"].as_str().unwrap().to_owned();
    server.stop().await;

    wipe(dir.path());
    let server = TestServer::start_in(dir.path(), |c| {
        fixed(c);
        c.addr = addr;
    })
    .await;
    // The old log's connection:status may have been recorded too (it races with `watch`):
    // a new log shows as an epoch other than the old one.
    until("the new log's epoch", &seen, |s| s.epochs.iter().any(|e| *e != old_epoch)).await;
    until("RESYNC_REQUIRED", &seen, |s| s.errors.iter().any(|e| e == "RESYNC_REQUIRED")).await;
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live on the new log");
    // The new log starts again at 1, far below the old position: still applied.
    pay(&server, &session.token, 3.0).await;
    until("a payment of the new log", &seen, |s| s.payments.len() == 6).await;
    let new_seq = *seen.lock().unwrap().payments.last().unwrap();
    assert!(
        new_seq <= old_last,
        "the test needs the new seq ({new_seq}) below the old ({old_last})"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_backup_restored_under_a_live_client_means_resync_then_live_entries() {
    if backend_name() != "sqlite" {
        // A PostgreSQL restore is pg_restore's business; the epoch check is the same.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixed = |c: &mut pulse_server::Config| {
        c.demo = false;
        c.jwt_secret = Some(SECRET.into());
    };
    let server = TestServer::start_in(dir.path(), fixed).await;
    let addr = server.addr;
    let (session, client) = server.live_client(DEMO).await;
    let (seen, _subs) = watch(&client);
    pay(&server, &session.token, 2.0).await;
    until("a payment", &seen, |s| s.payments.len() == 1).await;
    server.stop().await;
    let backup = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("pulse.db"), backup.path().join("pulse.db")).unwrap();

    let server = TestServer::start_in(dir.path(), |c| {
        fixed(c);
        c.addr = addr;
    })
    .await;
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live after a plain restart");
    for _ in 0..6 {
        pay(&server, &session.token, 2.0).await;
    }
    until("seven payments", &seen, |s| s.payments.len() == 7).await;
    assert!(seen.lock().unwrap().errors.is_empty(), "a plain restart needs no resync");
    server.stop().await;

    // The older file comes back: same epoch, but the client is ahead of its head.
    for f in ["pulse.db-wal", "pulse.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    std::fs::copy(backup.path().join("pulse.db"), dir.path().join("pulse.db")).unwrap();
    let server = TestServer::start_in(dir.path(), |c| {
        fixed(c);
        c.addr = addr;
    })
    .await;
    until("RESYNC_REQUIRED", &seen, |s| s.errors.iter().any(|e| e == "RESYNC_REQUIRED")).await;
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live on the restored log");
    pay(&server, &session.token, 3.0).await;
    until("a payment of the restored log", &seen, |s| s.payments.len() == 8).await;
    server.stop().await;
}
