//! Interoperability: the native SDK against the official Node.js `socket.io@4` server
//! (`e2e/interop/node-server.mjs`, from the npm lockfile): auth, events both ways, acks
//! both ways, binary both ways, refusal and server-side disconnect.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_protocol::events::ConnectAuth;
use pulse_protocol::ErrorCode;
use pulse_sdk::codec::sio::placeholder;
use pulse_sdk::{Client, Config, DisconnectReason, Event, Message, Status, Transport};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

struct NodeServer {
    child: Child,
    url: String,
}

impl NodeServer {
    fn start() -> NodeServer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("node_modules/socket.io").exists(),
            "npm packages missing: run scripts/setup (it runs npm ci)"
        );
        let mut child = Command::new("node")
            .arg(root.join("e2e/interop/node-server.mjs"))
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node on PATH");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("ready ").expect("ready line").to_owned();
        NodeServer { child, url: format!("http://127.0.0.1:{port}") }
    }

    fn client(&self, token: &'static str) -> Client {
        self.client_over(token, &[Transport::WebSocket, Transport::Polling])
    }

    fn client_over(&self, token: &'static str, transports: &[Transport]) -> Client {
        let mut config = Config::new(&self.url);
        config.transports = transports.to_vec();
        config.poll_interval = None; // the Node server has no Pulse REST API
        config.reconnection_attempts = Some(3);
        Client::connect_with_auth(config, move || Some(ConnectAuth::with_token(token)))
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects every server event.
fn record(client: &Client) -> (Arc<Mutex<Vec<Event>>>, pulse_sdk::Subscription) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let sub = client.on_any(move |e| sink.lock().unwrap().push(e.clone()));
    (events, sub)
}

async fn message(events: &Arc<Mutex<Vec<Event>>>, name: &str) -> Message {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = events.lock().unwrap().iter().find_map(|e| match e {
            Event::Message(m) if m.event == name => Some(m.clone()),
            _ => None,
        });
        if let Some(m) = found {
            return m;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {name:?} event");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn connects_with_auth_and_exchanges_events_and_acks() {
    let server = NodeServer::start();
    let client = server.client("good");
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");

    let hello = message(&events, "hello").await;
    assert_eq!(hello.args, [json!({ "from": "node", "lastSeq": null }), json!(42)]);

    let reply = client
        .emit_with_ack("echo", vec![json!("a"), json!({ "n": [1, 2.5, null] })], None)
        .await
        .expect("echo ack");
    assert_eq!(reply.args[0], json!("a"));
    assert_eq!(reply.args[1]["n"], json!([1, 2.5, null]));

    // The Node server asks us; we answer its ack.
    let c = client.clone();
    let _answer = client.on("question", move |m| {
        if let Some(id) = m.ack_id {
            c.ack(id, vec![json!("pong!")]);
        }
    });
    client.emit("ask-me", vec![]).unwrap();
    let answer = message(&events, "answer-was").await;
    assert_eq!(answer.args, [json!("pong!")]);
}

#[tokio::test]
async fn binary_attachments_travel_both_ways() {
    let server = NodeServer::start();
    let client = server.client("good");
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");

    let bytes: Vec<u8> = (0..=255).collect();
    let reply = client
        .emit_binary_with_ack(
            "upload",
            vec![json!({ "name": "all-bytes" }), placeholder(0)],
            vec![bytes],
            None,
        )
        .await
        .expect("upload ack");
    assert_eq!(reply.args[0], json!({ "name": "all-bytes", "size": 256, "sum": 32640 }));

    let sent = client.emit_with_ack("send-me-binary", vec![], None).await.expect("ack");
    assert_eq!(sent.args, [Value::from("sent")]);
    let m = message(&events, "binary").await;
    assert_eq!(m.args, [json!({ "kind": "bytes" }), placeholder(0)]);
    assert_eq!(m.attachments, [vec![1, 2, 3, 250]]);
}

#[tokio::test]
async fn a_refused_handshake_is_a_typed_error_not_a_hang() {
    let server = NodeServer::start();
    let client = server.client("bad");
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Offline, WAIT).await.expect("gives up at once");
    let rejected = events.lock().unwrap().iter().find_map(|e| match e {
        Event::Rejected(r) => Some(r.clone()),
        _ => None,
    });
    let rejected = rejected.expect("Rejected event");
    assert_eq!(rejected.message, "UNAUTHORIZED: invalid token");
    assert_eq!(rejected.code, Some(ErrorCode::Unauthorized));
}

#[tokio::test]
async fn a_server_side_disconnect_is_surfaced_and_not_retried() {
    let server = NodeServer::start();
    let client = server.client("good");
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    client.emit("kick-me", vec![]).unwrap();
    client.wait_for(|s| *s == Status::Offline, WAIT).await.expect("offline");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(client.status(), Status::Offline, "no reconnection after a server kick");
    assert!(events
        .lock()
        .unwrap()
        .contains(&Event::Disconnected { reason: DisconnectReason::Server }));
}

#[tokio::test]
async fn keeps_up_with_a_fast_heartbeat_and_reconnects_after_a_server_restart() {
    let server = NodeServer::start();
    let url = server.url.clone();
    let client = server.client("good");
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    // pingInterval 300 ms + pingTimeout 300 ms: silence would kill us within 0.6 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(client.status(), Status::Live);
    drop(server);
    client
        .wait_for(|s| matches!(s, Status::Reconnecting { .. }), WAIT)
        .await
        .expect("notices the loss");
    let port = url.rsplit(':').next().unwrap();
    let mut again = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/interop/node-server.mjs"))
        .arg(port)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let live = client.wait_for(|s| *s == Status::Live, WAIT).await;
    let _ = again.kill();
    let _ = again.wait();
    live.expect("live again on the restarted server");
}

#[tokio::test]
async fn a_refusal_is_retried_once_when_the_auth_callback_offers_a_new_token() {
    let server = NodeServer::start();
    let mut config = Config::new(&server.url);
    config.poll_interval = None;
    // First the expired token, then (as if refreshed meanwhile) a good one.
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let client = Client::connect_with_auth(config, move || {
        let mut n = c.lock().unwrap();
        *n += 1;
        Some(ConnectAuth::with_token(if *n == 1 { "expired" } else { "good" }))
    });
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live with the new token");
    // The refusal was answered inside the connection: asked again, joined, never rejected.
    assert!(*calls.lock().unwrap() >= 2);
    assert!(!events.lock().unwrap().iter().any(|e| matches!(e, Event::Rejected(_))));

    // A callback that keeps offering the same refused token is not retried in a loop.
    let mut config = Config::new(&server.url);
    config.poll_interval = None;
    let stuck = Client::connect_with_auth(config, || Some(ConnectAuth::with_token("bad")));
    stuck.wait_for(|s| *s == Status::Offline, WAIT).await.expect("offline");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stuck.status(), Status::Offline);
}

#[tokio::test]
async fn subscriptions_unsubscribe_on_drop_and_never_double_deliver() {
    let server = NodeServer::start();
    let client = server.client("good");
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let count = Arc::new(Mutex::new((0, 0, 0)));
    let (a, b, c) = (count.clone(), count.clone(), count.clone());
    let kept = client.on("tick", move |_| a.lock().unwrap().0 += 1);
    let dropped = client.on("tick", move |_| b.lock().unwrap().1 += 1);
    let any = client.on_any(move |e| {
        if matches!(e, Event::Message(m) if m.event == "tick") {
            c.lock().unwrap().2 += 1;
        }
    });
    drop(dropped);
    let ack = client.emit_with_ack("repeat", vec![json!("tick"), json!(3)], None).await;
    assert_eq!(ack.expect("ack").args, [json!(3)]);
    assert_eq!(*count.lock().unwrap(), (3, 0, 3), "kept: 3, dropped: 0, catch-all: 3");
    drop((kept, any));
    client.emit_with_ack("repeat", vec![json!("tick"), json!(2)], None).await.expect("ack");
    assert_eq!(*count.lock().unwrap(), (3, 0, 3), "nothing after every guard dropped");
}

/// The transport the Node server says carries `client` now.
async fn server_side_transport(client: &Client) -> String {
    let reply = client.emit_with_ack("transport?", vec![], None).await.expect("transport? ack");
    reply.args[0].as_str().expect("a name").to_owned()
}

/// Events, acks both ways and binary both ways over whatever `client` runs on.
async fn exchange(client: &Client, events: &Arc<Mutex<Vec<Event>>>) {
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let hello = message(events, "hello").await;
    assert_eq!(hello.args, [json!({ "from": "node", "lastSeq": null }), json!(42)]);
    let reply = client.emit_with_ack("echo", vec![json!("a€"), json!([1, 2.5])], None).await;
    assert_eq!(reply.expect("echo ack").args, [json!("a€"), json!([1, 2.5])]);
    let bytes: Vec<u8> = (0..=255).rev().collect();
    let reply = client
        .emit_binary_with_ack(
            "upload",
            vec![json!({ "name": "b" }), placeholder(0)],
            vec![bytes],
            None,
        )
        .await
        .expect("upload ack");
    assert_eq!(reply.args[0], json!({ "name": "b", "size": 256, "sum": 32640 }));
    client.emit_with_ack("send-me-binary", vec![], None).await.expect("ack");
    assert_eq!(message(events, "binary").await.attachments, [vec![1, 2, 3, 250]]);
    // Many events in a row, in order (a long-poll answer carries several at once).
    let n = client.emit_with_ack("repeat", vec![json!("n"), json!(200)], None).await.expect("ack");
    assert_eq!(n.args, [json!(200)]);
    let seen: Vec<Value> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.event == "n" => Some(m.args[0].value()),
            _ => None,
        })
        .collect();
    assert_eq!(seen, (0..200).map(Value::from).collect::<Vec<_>>());
}

#[tokio::test]
async fn long_polling_alone_carries_events_acks_binary_and_heartbeats() {
    let server = NodeServer::start();
    let client = server.client_over("good", &[Transport::Polling]);
    let (events, _sub) = record(&client);
    exchange(&client, &events).await;
    assert_eq!(server_side_transport(&client).await, "polling");
    // pingInterval + pingTimeout is 0.6 s: pings and pongs travel over the polls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(client.status(), Status::Live);
    assert_eq!(server_side_transport(&client).await, "polling", "never upgraded");
}

#[tokio::test]
async fn long_polling_upgrades_to_a_websocket_and_goes_on() {
    let server = NodeServer::start();
    let client = server.client_over("good", &[Transport::Polling, Transport::WebSocket]);
    let (events, _sub) = record(&client);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let deadline = tokio::time::Instant::now() + WAIT;
    while server_side_transport(&client).await != "websocket" {
        assert!(tokio::time::Instant::now() < deadline, "never upgraded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    exchange(&client, &events).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.status(), Status::Live);
}
