//! The socket path end to end: connect, live stats, ping acks, heartbeat.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_protocol::events::{Pong, Stats, PING, STATS_REQUEST, STATS_UPDATED};
use pulse_protocol::{Ack, Envelope};
use pulse_sdk::{Event, Status};

use crate::fixture::{TestServer, DEMO, WAIT};

#[tokio::test]
async fn client_receives_live_stats_that_change() {
    let server = TestServer::start(|c| c.demo = true).await;
    let session = server.login(DEMO).await;
    let client = server.connect(&session.token, None);
    let seen: Arc<Mutex<Vec<Envelope<Stats>>>> = Arc::default();
    let sink = seen.clone();
    let _sub = client.on(STATS_UPDATED, move |m| {
        let env: Envelope<Stats> = serde_json::from_value(m.args[0].value()).expect("stats shape");
        sink.lock().unwrap().push(env);
    });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let distinct = {
            // The generator goes through the same actions as clients: its changes are logged.
            // (On PostgreSQL it starts once this node has won the leader election, which may
            // be a moment after the client is live.)
            let (_, log) = server.get(&session.token, "/api/activity?limit=1").await;
            if let Some(item) = log["items"].get(0) {
                assert_eq!(item["actor"], "demo");
            }
            let v = seen.lock().unwrap();
            let mut seqs: Vec<u64> = v.iter().map(|e| e.seq).collect();
            seqs.dedup();
            seqs.len()
        };
        if distinct >= 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stats did not change 3 times");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v = seen.lock().unwrap();
    assert!(v.windows(2).all(|w| w[0].seq <= w[1].seq && w[0].ts <= w[1].ts), "ordered");
    assert!(v.last().unwrap().data.today_liters > 0.0, "demo deliveries are counted");
}

#[tokio::test]
async fn ping_is_acked_with_server_time_and_stats_on_request() {
    let server = TestServer::start(|_| {}).await;
    // No health pings: the SDK's first one (sent as soon as it is live) would bring a second
    // `pong`, before or after this handler exists.
    let (_s, client) = server.live_client_with(DEMO, |c| c.health_interval = None).await;
    let pongs = Arc::new(Mutex::new(0));
    let p = pongs.clone();
    let _pong = client.on(pulse_protocol::events::PONG, move |_| *p.lock().unwrap() += 1);

    let reply = client.emit_with_ack(PING, vec![], None).await.expect("ping ack");
    let ack: Ack<Pong> = serde_json::from_value(reply.args[0].clone()).unwrap();
    let pong = ack.into_result().unwrap();
    let now = pulse_server::Clock::now_ms(&pulse_server::SystemClock);
    assert!((now - pong.server_time).abs() < 5_000, "server time is current");

    let reply = client.emit_with_ack(STATS_REQUEST, vec![], None).await.expect("stats ack");
    let ack: Ack<Envelope<Stats>> = serde_json::from_value(reply.args[0].clone()).unwrap();
    assert!(ack.into_result().is_ok());
    crate::fixture::eventually("pong event", || *pongs.lock().unwrap() == 1).await;
}

#[tokio::test]
async fn client_answers_heartbeats_and_stays_connected() {
    // 200 ms pings with a 200 ms timeout: a client that did not answer would be dropped
    // within half a second; we stay two seconds.
    let server = TestServer::start(|c| {
        c.ping_interval_ms = 200;
        c.ping_timeout_ms = 200;
    })
    .await;
    let session = server.login(DEMO).await;
    let client = server.connect(&session.token, None);
    let disconnects = Arc::new(Mutex::new(0));
    let d = disconnects.clone();
    let _sub = client.on_any(move |e| {
        if matches!(e, Event::Disconnected { .. }) {
            *d.lock().unwrap() += 1;
        }
    });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(*disconnects.lock().unwrap(), 0);
    assert_eq!(client.status(), Status::Live);
}

#[tokio::test]
async fn client_reconnects_after_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), |c| c.demo = false).await;
    let addr = server.addr;
    let session = server.login(DEMO).await;
    let client = server.connect(&session.token, None);
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
    drop(server);
    client
        .wait_for(|s| matches!(s, Status::Reconnecting { .. }), WAIT)
        .await
        .expect("notices the loss");
    // Same data directory: same JWT secret, so the token still verifies.
    let again = TestServer::start_in(dir.path(), |c| {
        c.addr = addr;
        c.demo = false;
    })
    .await;
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live again");
    drop(again);
}
