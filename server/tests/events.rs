//! The event log: replay on reconnect from `lastSeq`, the REST feed, the resync cap.

use futures_util::{SinkExt, StreamExt};
use pulse_protocol::events::{is_logged, logged, ERROR, PAYMENT_ADD, PAYMENT_ADDED};
use pulse_sdk::Status;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::fixture::{act, eventually, pay, record, TestServer, DEMO, WAIT};

#[tokio::test]
async fn a_reconnecting_socket_gets_missed_events_in_order_before_live_ones() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    pay(&server, &s.token, 1.0).await;
    let (_, page) = server.get(&s.token, "/api/events?since=0").await;
    let last_seen = page["head"].as_u64().unwrap();
    for amount in [2.0, 3.0, 4.0] {
        pay(&server, &s.token, amount).await;
    }
    let (_, page) = server.get(&s.token, "/api/events?since=0").await;
    let head = page["head"].as_u64().unwrap();

    let client = server.connect(&s.token, Some(last_seen));
    let (seen, _subs) = record(&client, &logged());
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    let ack =
        act(&client, PAYMENT_ADD, json!({ "customer_id": 4, "amount": 5.0, "method": "CASH" }))
            .await;
    assert!(ack.into_result().is_ok());
    eventually("replay and the live payment", || {
        seen.lock().unwrap().iter().filter(|(e, _)| e == PAYMENT_ADDED).count() == 4
    })
    .await;
    let v = seen.lock().unwrap().clone();
    let seqs: Vec<u64> = v.iter().map(|(_, a)| a["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {seqs:?}");
    assert_eq!(seqs[0], last_seen + 1, "starts right after lastSeq");
    let expected: Vec<u64> = (last_seen + 1..=head).collect();
    assert_eq!(&seqs[..expected.len()], &expected[..], "every missed entry, replayed first");
    let amounts: Vec<f64> = v
        .iter()
        .filter(|(e, _)| e == PAYMENT_ADDED)
        .map(|(_, a)| a["data"]["amount"].as_f64().unwrap())
        .collect();
    assert_eq!(amounts, [2.0, 3.0, 4.0, 5.0]);
}

#[tokio::test]
async fn a_replay_longer_than_the_socket_queue_arrives_whole_and_in_order() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    // 250 payments are 750 entries: several times socketioxide's per-socket queue (128).
    for i in 0..250 {
        pay(&server, &s.token, 1.0 + i as f64).await;
    }
    let visible = visible_seqs(&server, &s.token, 0).await;
    assert!(visible.len() > 700, "{} entries", visible.len());
    let client = server.connect(&s.token, Some(0));
    let (seen, _subs) = record(&client, &logged());
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    eventually("the whole replay", || seen.lock().unwrap().len() >= visible.len()).await;
    // And live events follow the replay, in order.
    pay(&server, &s.token, 1.0).await;
    eventually("the live payment", || seen.lock().unwrap().len() > visible.len()).await;
    let seqs: Vec<u64> =
        seen.lock().unwrap().iter().map(|(_, a)| a["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs[..visible.len()], visible[..], "every missed entry, once, in order");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "then live ones, in order");
}

/// The seqs after `since` the token's user may see (some entries are other users'
/// notifications), read through REST.
async fn visible_seqs(server: &TestServer, token: &str, since: u64) -> Vec<u64> {
    let mut visible = Vec::new();
    loop {
        let after = visible.last().copied().unwrap_or(since);
        let (_, page) = server.get(token, &format!("/api/events?since={after}")).await;
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return visible;
        }
        visible.extend(events.iter().map(|e| e["seq"].as_u64().unwrap()));
    }
}

#[tokio::test]
async fn a_live_socket_that_stops_reading_misses_nothing_once_it_reads_again() {
    // A short send queue, so that 900 entries overflow it.
    let server = TestServer::start(|c| c.send_queue = 128).await;
    let s = server.login(DEMO).await;
    let (_, page) = server.get(&s.token, "/api/events?since=0&limit=1").await;
    let start = page["head"].as_u64().unwrap();
    // A tiny receive window and segment size keep the kernel from buffering much (loopback's
    // 64 KiB segments would let the server's send buffer grow to megabytes) for a reader
    // that stalls, so the server's per-socket queue fills.
    let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    tcp.set_tcp_mss(536).unwrap();
    tcp.connect(&server.addr.into()).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let stream = tokio::net::TcpStream::from_std(tcp.into()).unwrap();
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("ws");
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'), "engine open: {open:?}");
    ws.send(Message::text(format!("40{}", json!({ "token": s.token })))).await.unwrap();
    while !ws.next().await.unwrap().unwrap().to_text().unwrap().starts_with("40") {}
    let catchups_before = queue_full_catchups(&server, &s.token).await;

    // The socket reads nothing while 300 payments (900+ entries) are made.
    for i in 0..300 {
        pay(&server, &s.token, 1.0 + i as f64).await;
    }
    let visible = visible_seqs(&server, &s.token, start).await;
    assert!(
        queue_full_catchups(&server, &s.token).await > catchups_before,
        "the socket's queue filled (else this test proves nothing)"
    );

    let mut seqs = Vec::new();
    let read_all = async {
        while seqs.len() < visible.len() {
            let text = ws.next().await.unwrap().unwrap().into_text().unwrap();
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.unwrap();
            } else if let Some(event) = text.strip_prefix("42") {
                let v: serde_json::Value = serde_json::from_str(event).unwrap();
                if is_logged(v[0].as_str().unwrap()) {
                    seqs.push(v[1]["seq"].as_u64().unwrap());
                }
            }
        }
    };
    tokio::time::timeout(WAIT * 2, read_all).await.expect("every entry arrives");
    assert_eq!(seqs, visible, "every entry once, in order");
}

/// `pulse_catchups_total{reason="queue_full"}` from `/metrics` (process-wide in tests).
async fn queue_full_catchups(server: &TestServer, token: &str) -> u64 {
    let res = reqwest::Client::new()
        .get(format!("http://{}/metrics", server.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("pulse_catchups_total{reason=\"queue_full\"}"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn the_events_endpoint_pages_through_the_log() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    for amount in [1.0, 2.0] {
        pay(&server, &s.token, amount).await;
    }
    let (_, all) = server.get(&s.token, "/api/events?since=0").await;
    let head = all["head"].as_u64().unwrap();
    assert_eq!(
        all["events"].as_array().unwrap().len() as u64,
        head,
        "one payment is three entries"
    );
    let mut since = 0;
    let mut got = Vec::new();
    loop {
        let (_, page) = server.get(&s.token, &format!("/api/events?since={since}&limit=2")).await;
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        assert!(events.len() <= 2);
        since = events.last().unwrap()["seq"].as_u64().unwrap();
        got.extend(events);
    }
    assert_eq!(got, *all["events"].as_array().unwrap());
    assert_eq!(got[0]["event"], PAYMENT_ADDED);
    assert_eq!(got[0]["data"]["amount"], 1.0);
    let (status, body) = server.get(&s.token, "/api/events?since=-1").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("INVALID_INPUT")));
}

#[tokio::test]
async fn too_many_missed_events_ask_the_client_to_resync() {
    let server = TestServer::start(|c| c.replay_limit = 2).await;
    let s = server.login(DEMO).await;
    pay(&server, &s.token, 1.0).await;
    let client = server.connect(&s.token, Some(0));
    let (seen, _subs) = record(&client, &[ERROR, PAYMENT_ADDED]);
    client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    eventually("RESYNC_REQUIRED", || !seen.lock().unwrap().is_empty()).await;
    let v = seen.lock().unwrap().clone();
    assert_eq!(v[0].0, ERROR);
    assert_eq!(v[0].1["code"], "RESYNC_REQUIRED");
    assert_eq!(v.len(), 1, "nothing replayed");
    // Live events still flow afterwards.
    pay(&server, &s.token, 2.0).await;
    eventually("live payment", || seen.lock().unwrap().len() > 1).await;
}

#[tokio::test]
async fn concurrent_actions_are_broadcast_in_seq_order() {
    let server = TestServer::start(|_| {}).await;
    let (_o, observer) = server.live_client(DEMO).await;
    let (seen, _subs) = record(&observer, &logged());
    let (_a, a) = server.live_client(DEMO).await;
    let (_b, b) = server.live_client(DEMO).await;
    let run = |client: pulse_sdk::Client, customer: i64| async move {
        for i in 0..10 {
            let ack = act(
                &client,
                PAYMENT_ADD,
                json!({ "customer_id": customer, "amount": 1.0 + i as f64, "method": "CASH" }),
            )
            .await;
            assert!(ack.into_result().is_ok());
        }
    };
    tokio::join!(run(a, 8), run(b, 9));
    // Each payment logs three tenant-wide entries.
    eventually("all 60 entries", || seen.lock().unwrap().len() == 60).await;
    let seqs: Vec<u64> =
        seen.lock().unwrap().iter().map(|(_, a)| a["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>(), "gapless and in order");
}

/// A room past the fan-out's small-room bound (256) is written in arrival order
/// (`feed::broadcast::fan_out`): every socket still gets every entry once and in order while
/// another action commits meanwhile.
#[tokio::test]
async fn a_large_room_gets_every_entry_once_and_in_order() {
    const SOCKETS: usize = 300;
    let server = TestServer::start(|c| {
        c.max_conn_per_user = SOCKETS + 1;
        c.max_conn_per_ip = SOCKETS + 1;
    })
    .await;
    let s = server.login(DEMO).await;
    let mut clients = Vec::new();
    for _ in 0..SOCKETS {
        let client = server.connect(&s.token, None);
        let (seen, subs) = record(&client, &logged());
        clients.push((client, seen, subs));
    }
    for (client, _, _) in &clients {
        client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
    }
    // Two writers at once, so entries commit while others are being fanned out.
    tokio::join!(
        async {
            for i in 0..5 {
                pay(&server, &s.token, 1.0 + i as f64).await;
            }
        },
        async {
            for i in 0..5 {
                pay(&server, &s.token, 100.0 + i as f64).await;
            }
        }
    );
    // What this user may see of the log, as the REST feed says.
    let want = visible_seqs(&server, &s.token, 0).await;
    assert!(want.len() >= 30, "three or more entries per payment: {want:?}");
    eventually("every socket has every entry", || {
        clients.iter().all(|(_, seen, _)| seen.lock().unwrap().len() >= want.len())
    })
    .await;
    for (i, (_, seen, _)) in clients.iter().enumerate() {
        let seqs: Vec<u64> =
            seen.lock().unwrap().iter().map(|(_, a)| a["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, want, "socket {i}: each entry once, in order");
    }
}
