//! Actions that outlive their client: queued offline in a [`FileOutbox`], the client dropped
//! (a closed tab, a stopped process), a later client with the same store sends them again,
//! and each is applied once, even when two clients resend the same actions.

use std::time::Duration;

use pulse_sdk::outbox::{FileOutbox, Outbox};
use pulse_sdk::{Client, Status};
use serde_json::{json, Value};

use crate::fixture::{TestServer, DEMO, WAIT};

fn payment(note: &str) -> Value {
    json!({ "customer_id": 4, "amount": 3.25, "method": "CASH", "note": note })
}

/// How many stored payments carry `note`.
async fn payments_noted(server: &TestServer, token: &str, note: &str) -> usize {
    let (status, page) = server.get(token, "/api/payments?limit=200").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").iter().filter(|p| p["note"] == note).count()
}

fn outbox_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pulse-outbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_queued_offline_are_applied_once_by_the_next_client() {
    let server = TestServer::start(|_| {}).await;
    let session = server.login(DEMO).await;
    let dir = outbox_dir("restore");
    let copy = outbox_dir("restore-copy");

    // Offline: nothing listens on the client's address. The actions wait, stored.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let offline = Client::connect(pulse_sdk::Config::new(dead_url));
    assert!(offline.attach_outbox(FileOutbox::open(&dir).unwrap(), None).is_empty());
    let notes = ["outbox-1", "outbox-2", "outbox-3"];
    let waiting: Vec<_> = notes
        .iter()
        .map(|n| offline.emit_action("payment:add", payment(n), json!({ "label": n }), None))
        .collect();
    assert_ne!(offline.status(), Status::Live);
    assert_eq!(FileOutbox::open(&dir).unwrap().load().len(), 3);
    // The tab closes: its waits end with the client, the actions stay stored.
    drop(offline);
    for w in waiting {
        assert!(matches!(w.await, Err(pulse_sdk::Error::Closed)));
    }
    assert_eq!(FileOutbox::open(&dir).unwrap().load().len(), 3);
    // A second tab saw the same store before the first one sent anything.
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }

    // The next client sends them again, in the order they were made, and each is applied.
    let next = server.connect(&session.token, None);
    let restored = next.attach_outbox(FileOutbox::open(&dir).unwrap(), Some(WAIT));
    let labels: Vec<&str> =
        restored.iter().map(|r| r.action.meta["label"].as_str().unwrap()).collect();
    assert_eq!(labels, notes);
    let mut ids = Vec::new();
    for r in restored {
        let reply = r.reply.await.expect("answered");
        let ack: Value = reply.args[0].clone();
        assert_eq!(ack["ok"], true, "{ack}");
        ids.push(ack["data"]["id"].clone());
    }
    assert!(FileOutbox::open(&dir).unwrap().load().is_empty(), "answered actions are forgotten");
    assert!(next.attach_outbox(FileOutbox::open(&dir).unwrap(), None).is_empty());

    // The second tab resends the same actions: the server answers with what it stored.
    let other = server.connect(&session.token, None);
    other.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let again = other.attach_outbox(FileOutbox::open(&copy).unwrap(), Some(WAIT));
    assert_eq!(again.len(), 3);
    for (r, id) in again.into_iter().zip(&ids) {
        let ack = r.reply.await.expect("answered").args[0].clone();
        assert_eq!(&ack["data"]["id"], id, "the same payment, not a new one: {ack}");
    }
    for n in notes {
        assert_eq!(payments_noted(&server, &session.token, n).await, 1, "{n} applied once");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_the_server_refuses_leaves_the_outbox_and_a_full_store_refuses_it() {
    let server = TestServer::start(|_| {}).await;
    let (_, client) = server.live_client(DEMO).await;

    /// A store that is full.
    struct Full;
    impl Outbox for Full {
        fn load(&self) -> Vec<pulse_sdk::outbox::StoredAction> {
            Vec::new()
        }
        fn put(&self, _: &pulse_sdk::outbox::StoredAction) -> Result<(), String> {
            Err("quota exceeded".into())
        }
        fn remove(&self, _: &str) {}
    }
    client.attach_outbox(Full, None);
    let refused = client.emit_action("payment:add", payment("never"), Value::Null, None).await;
    assert!(
        matches!(&refused, Err(pulse_sdk::Error::Storage(m)) if m.contains("quota")),
        "{refused:?}"
    );
    let not_object = client.emit_action("payment:add", json!([1]), Value::Null, None).await;
    assert!(matches!(not_object, Err(pulse_sdk::Error::Storage(_))));

    let dir = outbox_dir("refused");
    client.attach_outbox(FileOutbox::open(&dir).unwrap(), None);
    let bad = json!({ "customer_id": 4, "amount": -1, "method": "CASH" });
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.emit_action("payment:add", bad, Value::Null, None),
    )
    .await
    .expect("in time")
    .expect("answered");
    assert_eq!(reply.args[0]["ok"], false, "{:?}", reply.args);
    assert!(FileOutbox::open(&dir).unwrap().load().is_empty(), "a refusal is an answer");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restored_action_the_client_cannot_queue_stays_stored() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = pulse_sdk::Config::new(format!("http://{}", dead.local_addr().unwrap()));
    drop(dead);
    let store = pulse_sdk::outbox::MemoryOutbox::new();
    for (i, note) in ["a", "b", "c"].into_iter().enumerate() {
        let mut p = payment(note);
        p["idempotency_key"] = format!("k-{note}").into();
        let action = pulse_sdk::outbox::StoredAction {
            key: format!("k-{note}"),
            event: "payment:add".into(),
            payload: p,
            meta: Value::Null,
            at_ms: i as u64,
        };
        store.put(&action).unwrap();
    }
    // Room for one emit while offline: the other two are refused with BUFFER_FULL.
    config.send_buffer = 1;
    let client = Client::connect(config);
    let restored = client.attach_outbox(store.clone(), None);
    assert_eq!(restored.len(), 3);
    let mut full = 0;
    for r in restored.into_iter().skip(1) {
        full += matches!(r.reply.await, Err(pulse_sdk::Error::BufferFull { .. })) as usize;
    }
    assert_eq!(full, 2);
    assert_eq!(store.load().len(), 3, "refused before leaving: kept for the next client");
    // A new action refused the same way is not kept: its caller was told.
    let refused = client.emit_action("payment:add", payment("d"), Value::Null, None).await;
    assert!(matches!(refused, Err(pulse_sdk::Error::BufferFull { .. })), "{refused:?}");
    assert_eq!(store.load().len(), 3);
}
