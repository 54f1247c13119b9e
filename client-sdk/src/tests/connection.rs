use std::time::Duration;

use pulse_protocol::events::ConnectAuth;
use pulse_protocol::{ErrorCode, WireError};
use serde_json::json;

use super::util::{Harness, URL};
use crate::codec::Json;
use crate::connection::{DisconnectReason, Event, Io, Message, NeedAuth, Renewal, Status};
use crate::error::{ConnectError, Error};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

#[test]
fn connects_with_the_documented_handshake() {
    let mut h = Harness::new(Harness::config());
    h.conn.set_auth(Some(ConnectAuth::with_token("abc")));
    h.connect();
    assert_eq!(
        h.take_io(),
        [Io::Open { url: "ws://pulse.test/socket.io/?EIO=4&transport=websocket".into() }]
    );
    assert_eq!(h.conn.status(), Status::Connecting);
    h.transport_opens();
    assert!(h.take_sent().is_empty(), "the client waits for the server's OPEN");
    h.handshake(25_000, 20_000);
    assert_eq!(h.take_sent(), [r#"40{"token":"abc"}"#]);
    h.server_sends(r#"40{"sid":"sio1"}"#);
    let ev = h.take_events();
    assert!(ev.contains(&Event::Connected { sid: "sio1".into(), attempts: 0 }), "{ev:?}");
    assert!(ev.contains(&Event::Status(Status::Live)));
    assert_eq!(URL, "http://pulse.test");
}

#[test]
fn answers_server_pings_and_keeps_the_link() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    for _ in 0..10 {
        h.advance(secs(25));
        h.server_sends("2");
        assert_eq!(h.take_sent(), ["3"]);
    }
    assert!(h.conn.is_live());
    assert!(h.take_events().iter().all(|e| !matches!(e, Event::Disconnected { .. })));
}

#[test]
fn a_silent_server_is_declared_dead_after_ping_interval_plus_timeout() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.advance(ms(44_999));
    assert!(h.conn.is_live());
    h.advance(ms(1));
    let ev = h.take_events();
    assert!(ev.contains(&Event::Disconnected { reason: DisconnectReason::PingTimeout }), "{ev:?}");
    assert!(ev.contains(&Event::ReconnectScheduled { attempt: 1, delay: secs(1) }));
    assert_eq!(h.take_io(), [Io::Close]);
}

#[test]
fn nothing_is_sent_on_a_link_whose_ping_expired() {
    // A laptop sleeps for a minute: no timer fired, then the app emits straight away.
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.now += secs(60);
    h.conn.emit(h.now, "delivery:update", vec![json!({ "id": 1 })]).unwrap();
    h.drain();
    assert!(h.take_sent().is_empty(), "must not write into a dead socket");
    assert_eq!(h.conn.buffered(), 1, "the emit waits for the next connection");
    let ev = h.take_events();
    assert!(ev.contains(&Event::Disconnected { reason: DisconnectReason::PingTimeout }));
    // …and goes out once reconnected.
    h.advance(secs(1));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.server_sends(r#"40{"sid":"sio2"}"#);
    let sent = h.take_sent();
    assert_eq!(sent.last().unwrap(), r#"42["delivery:update",{"id":1}]"#);
}

#[test]
fn acks_resolve_or_time_out_and_late_answers_are_ignored() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    let a = h.conn.emit_with_ack(h.now, "stats:request", vec![], vec![], None).unwrap();
    let b = h.conn.emit_with_ack(h.now, "ping", vec![], vec![], Some(ms(500))).unwrap();
    h.drain();
    assert_eq!(h.take_sent(), [format!(r#"42{a}["stats:request"]"#), format!(r#"42{b}["ping"]"#)]);
    h.server_sends(&format!(r#"43{a}[{{"ok":true,"data":1}}]"#));
    h.advance(ms(500));
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Ack { id, result: Ok(r) } if *id == a && r.args == [json!({"ok":true,"data":1})])));
    assert!(ev.contains(&Event::Ack { id: b, result: Err(Error::AckTimeout) }));
    h.server_sends(&format!(r#"43{b}[{{"ok":true,"data":2}}]"#));
    assert!(h.take_events().is_empty(), "late answer dropped");
}

#[test]
fn offline_emits_are_buffered_in_order_then_flushed_and_the_buffer_is_bounded() {
    let mut cfg = Harness::config();
    cfg.send_buffer = 3;
    let mut h = Harness::new(cfg);
    h.connect();
    for i in 0..3 {
        h.conn.emit(h.now, "n", vec![json!(i)]).unwrap();
    }
    assert_eq!(h.conn.emit(h.now, "n", vec![json!(3)]), Err(Error::BufferFull { capacity: 3 }));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.take_sent();
    h.server_sends(r#"40{"sid":"s"}"#);
    assert_eq!(h.take_sent(), [r#"42["n",0]"#, r#"42["n",1]"#, r#"42["n",2]"#]);
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn a_buffered_emit_whose_ack_expired_is_not_sent_later() {
    let mut h = Harness::new(Harness::config());
    h.connect();
    let id = h.conn.emit_with_ack(h.now, "x", vec![], vec![], Some(secs(1))).unwrap();
    h.advance(secs(1));
    assert!(h.take_events().contains(&Event::Ack { id, result: Err(Error::AckTimeout) }));
    assert_eq!(h.conn.buffered(), 0);
}

#[test]
fn reconnection_backs_off_then_gives_up_when_attempts_are_limited() {
    let mut cfg = Harness::config();
    cfg.reconnection_attempts = Some(4);
    let mut h = Harness::new(cfg);
    h.go_live();
    h.transport_closes("reset by peer");
    let mut delays = Vec::new();
    for _ in 0..10 {
        let ev = h.take_events();
        if ev.contains(&Event::ReconnectFailed) {
            break;
        }
        let (attempt, delay) = ev
            .iter()
            .find_map(|e| match e {
                Event::ReconnectScheduled { attempt, delay } => Some((*attempt, *delay)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no retry scheduled in {ev:?}"));
        assert!(
            matches!(h.conn.status(), Status::Reconnecting { attempt: a, retry_at: Some(_) } if a == attempt)
        );
        delays.push(delay.as_millis());
        h.advance(delay);
        assert!(matches!(h.take_io().as_slice(), [Io::Open { .. }]));
        h.transport_closes("connection refused");
    }
    assert_eq!(delays, [1000, 2000, 4000, 5000]);
    assert_eq!(h.conn.status(), Status::Offline);
    assert_eq!(h.conn.poll_timeout(), None, "nothing more is scheduled");
}

#[test]
fn a_successful_reconnection_resets_the_backoff_and_reports_attempts() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.transport_closes("gone");
    h.advance(secs(1));
    h.transport_closes("refused");
    h.advance(secs(2));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.server_sends(r#"40{"sid":"again"}"#);
    assert!(h.take_events().contains(&Event::Connected { sid: "again".into(), attempts: 2 }));
    h.transport_closes("gone again");
    assert!(h.take_events().contains(&Event::ReconnectScheduled { attempt: 1, delay: secs(1) }));
}

#[test]
fn a_refused_connection_is_surfaced_and_not_retried() {
    let mut h = Harness::new(Harness::config());
    let pending = h.conn.emit_with_ack(h.now, "x", vec![], vec![], None).unwrap();
    h.connect();
    h.transport_opens();
    h.handshake(25_000, 20_000);
    // Not an auth reason: new credentials would not help.
    h.server_sends(r#"44{"message":"RATE_LIMITED: too many connections for this user"}"#);
    let ev = h.take_events();
    let rejected = ev.iter().find_map(|e| match e {
        Event::Rejected(r) => Some(r.clone()),
        _ => None,
    });
    let rejected = rejected.expect("rejection surfaced");
    assert_eq!(
        (rejected.message.as_str(), rejected.code),
        ("RATE_LIMITED: too many connections for this user", Some(ErrorCode::RateLimited))
    );
    assert!(ev.contains(&Event::Ack { id: pending, result: Err(Error::Rejected(rejected)) }));
    assert_eq!(h.conn.status(), Status::Offline);
    assert_eq!(h.conn.poll_timeout(), None);
    assert!(h.take_io().contains(&Io::Close));
}

#[test]
fn a_server_side_disconnect_is_not_retried() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.server_sends("41");
    assert!(h.take_events().contains(&Event::Disconnected { reason: DisconnectReason::Server }));
    assert_eq!(h.conn.poll_timeout(), None);
    assert_eq!(h.conn.status(), Status::Offline);
}

#[test]
fn a_client_disconnect_says_goodbye_and_fails_pending_acks() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    let id = h.conn.emit_with_ack(h.now, "x", vec![], vec![], None).unwrap();
    h.drain();
    h.take_sent();
    h.conn.disconnect(h.now);
    h.drain();
    assert_eq!(h.take_sent(), ["41"], "DISCONNECT goes out before the close");
    assert_eq!(h.take_io(), [Io::Close]);
    let ev = h.take_events();
    assert!(ev.contains(&Event::Disconnected { reason: DisconnectReason::Client }));
    assert!(ev.contains(&Event::Ack { id, result: Err(Error::Closed) }));
    assert_eq!(h.conn.poll_timeout(), None);
    // Manual connect works again afterwards.
    h.connect();
    assert!(matches!(h.take_io().as_slice(), [Io::Open { .. }]));
}

#[test]
fn a_stuck_handshake_times_out_and_retries() {
    let mut h = Harness::new(Harness::config());
    h.connect();
    h.transport_opens();
    h.take_io();
    h.advance(secs(20));
    let ev = h.take_events();
    assert!(ev.contains(&Event::ConnectFailed { reason: "connection timed out".into() }), "{ev:?}");
    assert!(ev.contains(&Event::ReconnectScheduled { attempt: 1, delay: secs(1) }));
    assert_eq!(h.take_io(), [Io::Close]);
}

#[test]
fn health_pings_measure_rtt_and_a_missed_one_forces_a_reconnect() {
    let mut cfg = Harness::config();
    cfg.health_interval = Some(secs(30));
    cfg.health_timeout = secs(5);
    let mut h = Harness::new(cfg);
    h.connect();
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.take_sent();
    h.server_sends(r#"40{"sid":"sio1"}"#);
    // The first goes out as soon as the connection is up, so the RTT is known at once.
    let sent = h.take_sent();
    let ping = sent.iter().find(|s| s.ends_with(r#"["ping"]"#)).expect("a health ping at once");
    let id: String = ping[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
    h.advance(ms(40));
    h.server_sends(&format!(r#"43{id}[{{"ok":true,"data":{{"server_time":1}}}}]"#));
    assert!(h.take_events().contains(&Event::Rtt(ms(40))));
    // Then one every 30 s; keep the engine heartbeat alive throughout.
    h.advance(secs(20));
    h.server_sends("2");
    assert!(!h.take_sent().iter().any(|s| s.ends_with(r#"["ping"]"#)), "not before 30 s");
    h.advance(secs(10));
    let sent = h.take_sent();
    let ping = sent.iter().find(|s| s.ends_with(r#"["ping"]"#)).expect("the next one at 30 s");
    let id: String = ping[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
    h.server_sends(&format!(r#"43{id}[{{"ok":true,"data":{{"server_time":2}}}}]"#));
    // The next one goes unanswered.
    h.advance(secs(20));
    h.server_sends("2");
    h.advance(secs(10));
    assert!(h.take_sent().iter().any(|s| s.ends_with(r#"["ping"]"#)));
    h.advance(secs(5));
    let ev = h.take_events();
    assert!(ev.contains(&Event::Disconnected { reason: DisconnectReason::HealthCheck }), "{ev:?}");
    assert!(!ev.iter().any(|e| matches!(e, Event::Ack { .. })), "health acks are internal");
}

#[test]
fn server_events_arrive_with_binary_attachments_and_can_be_acked() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.server_sends(r#"451-7["file",{"name":"a"},{"_placeholder":true,"num":0}]"#);
    assert!(h.take_events().is_empty(), "waits for the attachment");
    h.server_sends_binary(&[1, 2, 3]);
    let ev = h.take_events();
    assert_eq!(
        ev,
        [Event::Message(Message {
            event: "file".into(),
            args: vec![json!({"name":"a"}).into(), crate::codec::sio::placeholder(0).into()],
            attachments: vec![vec![1, 2, 3]],
            ack_id: Some(7),
        })]
    );
    h.conn.ack(7, vec![json!("thanks")]);
    h.drain();
    assert_eq!(h.take_sent(), [r#"437["thanks"]"#]);
}

// An event's arguments reach the application as the server wrote them (no tree built and
// written again): key order, number forms and escapes stay, and a log entry's `seq` is still
// read for de-duplication.
#[test]
fn server_events_keep_their_arguments_as_the_server_wrote_them() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    let entry = r#"{"seq":3,"ts":1,"data":{"z":1.50,"a":"\u00e9"}}"#;
    h.server_sends(&format!(r#"42["payment:added", {entry} ,[]]"#));
    h.server_sends(&format!(r#"42["payment:added",{entry}]"#));
    let ev = h.take_events();
    let [Event::Message(m)] = ev.as_slice() else { panic!("one delivery, not its replay: {ev:?}") };
    assert_eq!(m.args.iter().map(Json::text).collect::<Vec<_>>(), [entry, "[]"]);
    assert_eq!(m.args[0].value()["data"]["a"], "é");
}

#[test]
fn binary_emits_send_their_attachments_after_the_header() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.conn
        .emit_binary(h.now, "up", vec![crate::codec::sio::placeholder(0)], vec![vec![9, 9]])
        .unwrap();
    h.drain();
    assert_eq!(h.take_sent(), [r#"451-["up",{"_placeholder":true,"num":0}]"#]);
    assert_eq!(h.binary_sent, [vec![9, 9]]);
}

#[test]
fn oversized_emits_are_refused_against_the_servers_max_payload() {
    let mut h = Harness::new(Harness::config());
    h.go_live(); // maxPayload 1000 in the harness handshake
    let big = "x".repeat(2000);
    let r = h.conn.emit(h.now, "big", vec![json!(big)]);
    assert!(matches!(r, Err(Error::PayloadTooLarge { max: 1000, .. })), "{r:?}");
    h.drain();
    assert!(h.take_sent().is_empty());
}

#[test]
fn garbage_from_the_server_drops_the_link_and_retries() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.server_sends("4{not json");
    let ev = h.take_events();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Disconnected { reason: DisconnectReason::Decode(_) })),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::ReconnectScheduled { .. })));
}

#[test]
fn events_for_other_namespaces_are_ignored() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    h.server_sends(r#"42/admin,["secret"]"#);
    assert!(h.take_events().is_empty());
}

fn live_after_drop(h: &mut Harness, sid: &str) {
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.server_sends(&format!(r#"40{{"sid":"{sid}"}}"#));
    assert!(h.conn.is_live());
}

#[test]
fn acked_emits_get_an_idempotency_key_and_are_resent_after_a_drop() {
    let mut h = Harness::new(Harness::config());
    h.go_live();
    let id = h
        .conn
        .emit_with_ack(h.now, "payment:add", vec![json!({ "amount": 5 })], vec![], None)
        .unwrap();
    h.drain();
    let first = h.take_sent();
    assert_eq!(first.len(), 1);
    assert!(first[0].contains(r#""idempotency_key":""#), "{first:?}");
    h.transport_closes("wifi dropped");
    assert_eq!(h.conn.buffered(), 1, "the unanswered emit waits to be resent");
    h.advance(secs(1));
    live_after_drop(&mut h, "s2");
    let resent = h.take_sent();
    assert_eq!(resent.last(), first.last(), "same packet, same key");
    h.server_sends(&format!(r#"43{id}[{{"ok":true,"data":1}}]"#));
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Ack { id: i, result: Ok(_) } if *i == id)));
}

#[test]
fn an_explicit_key_is_kept_and_emits_without_one_fail_fast_on_a_drop() {
    let mut cfg = Harness::config();
    cfg.idempotency_keys = false;
    let mut h = Harness::new(cfg);
    h.go_live();
    let keyed = h
        .conn
        .emit_with_ack(h.now, "a", vec![json!({ "idempotency_key": "mine" })], vec![], None)
        .unwrap();
    let plain = h.conn.emit_with_ack(h.now, "b", vec![json!({ "x": 1 })], vec![], None).unwrap();
    h.drain();
    let sent = h.take_sent();
    assert!(sent[0].contains(r#""idempotency_key":"mine""#));
    assert!(!sent[1].contains("idempotency_key"), "keys are off");
    h.transport_closes("gone");
    let ev = h.take_events();
    assert!(ev.contains(&Event::Ack { id: plain, result: Err(Error::ConnectionLost) }));
    assert!(!ev.iter().any(|e| matches!(e, Event::Ack { id, .. } if *id == keyed)));
    assert_eq!(h.conn.buffered(), 1);
}

#[test]
fn log_entries_are_applied_once_and_reconnects_ask_for_what_was_missed() {
    let mut h = Harness::new(Harness::config());
    h.conn.set_auth(Some(ConnectAuth::with_token("t")));
    h.go_live();
    let entry = |seq: u64| format!(r#"42["payment:added",{{"seq":{seq},"ts":1,"data":{{}}}}]"#);
    h.server_sends(&entry(1));
    h.server_sends(&entry(2));
    h.server_sends(&entry(2));
    let delivered = h.take_events().len();
    assert_eq!(delivered, 2, "the duplicate is dropped");
    assert_eq!(h.conn.last_seq(), Some(2));
    h.transport_closes("gone");
    h.advance(secs(1));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    assert_eq!(h.take_sent(), [r#"40{"lastSeq":2,"token":"t"}"#]);
    h.server_sends(r#"40{"sid":"s"}"#);
    // The replay overlaps what we have: only 3 is new.
    h.server_sends(&entry(2));
    h.server_sends(&entry(3));
    let msgs: Vec<_> =
        h.take_events().into_iter().filter(|e| matches!(e, Event::Message(_))).collect();
    assert_eq!(msgs.len(), 1);
}

#[test]
fn topics_go_with_every_connect_and_poll_and_change_by_subscribing() {
    use pulse_protocol::events::{Topic, Topics};
    let mut config = polling_config();
    config.topics = Some([Topic::Payments].into_iter().collect());
    let mut h = Harness::new(config);
    h.conn.set_auth(Some(ConnectAuth::with_token("t")));
    h.conn.connect(h.now);
    h.drain();
    h.transport_opens();
    h.handshake(25_000, 20_000);
    assert_eq!(h.take_sent(), [r#"40{"token":"t","topics":["payments"]}"#]);
    h.server_sends(r#"40{"sid":"s"}"#);
    h.take_events();
    h.conn.subscribe(h.now, Topic::Deliveries, true).unwrap();
    h.drain();
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with(r#"420["module:subscribe",{"#), "{sent:?}");
    assert!(sent[0].contains(r#""moduleKey":"deliveries""#), "{sent:?}");
    h.conn.subscribe(h.now, Topic::Payments, false).unwrap();
    h.drain();
    assert!(h.take_sent()[0].contains(r#""module:unsubscribe""#));
    let now: Topics = [Topic::Deliveries].into_iter().collect();
    assert_eq!(h.conn.topics(), Some(now));
    // The next connection and the fallback polls carry the new set.
    h.transport_closes("gone");
    h.advance(secs(1));
    h.transport_closes("connection refused");
    assert!(
        h.take_io().contains(&Io::Poll { since: None, epoch: None, topics: Some(now) }),
        "polls ask for the subscribed topics"
    );
    h.advance(secs(5));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    assert_eq!(h.take_sent()[0], r#"40{"token":"t","topics":["deliveries"]}"#);
}

fn polling_config() -> crate::config::Config {
    let mut cfg = Harness::config();
    cfg.poll_interval = Some(secs(10));
    cfg.poll_timeout = secs(5);
    cfg
}

fn polled(seqs: &[u64], head: u64, stats_seq: u64) -> crate::connection::Polled {
    use pulse_protocol::rest::{EventsPage, LoggedEvent};
    crate::connection::Polled {
        events: Some(EventsPage {
            events: seqs
                .iter()
                .map(|&seq| LoggedEvent {
                    seq,
                    ts: 1,
                    event: "delivery:updated".into(),
                    data: json!({}),
                })
                .collect(),
            head,
            epoch: "e1".into(),
        }),
        stats: Some(pulse_protocol::Envelope { seq: stats_seq, ts: 1, data: Default::default() }),
        ..Default::default()
    }
}

#[test]
fn polling_starts_after_a_failed_reconnect_and_stops_the_moment_the_socket_is_back() {
    let mut h = Harness::new(polling_config());
    h.go_live();
    h.server_sends(r#"42["delivery:updated",{"seq":4,"ts":1,"data":{}}]"#);
    h.take_events();
    h.transport_closes("server restarting");
    assert!(matches!(h.conn.status(), Status::Reconnecting { .. }), "no polling on the first drop");
    h.advance(secs(1));
    h.transport_closes("connection refused");
    assert_eq!(
        h.take_io().last(),
        Some(&Io::Poll { since: Some(4), epoch: None, topics: None }),
        "first failed reconnect starts polling"
    );
    assert!(matches!(h.conn.status(), Status::Polling { every, .. } if every == secs(10)));
    h.conn.handle_poll_result(h.now, Ok(polled(&[4, 5, 6], 6, 6)));
    h.drain();
    let ev = h.take_events();
    let seqs: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.event == "delivery:updated" => m.args[0].value()["seq"].as_u64(),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [5, 6], "4 was already applied");
    assert!(ev.iter().any(|e| matches!(e, Event::Message(m) if m.event == "stats:updated")));
    // Next poll after the interval, from the new position.
    h.advance(secs(10));
    assert!(h.take_io().contains(&Io::Poll {
        since: Some(6),
        epoch: Some("e1".into()),
        topics: None
    }));
    // The socket comes back while that poll is in flight: no further polls, ever.
    let deadline = h.now + secs(60);
    while h.now < deadline && !h.conn.is_live() {
        if h.take_io().iter().any(|io| matches!(io, Io::Open { .. })) {
            live_after_drop(&mut h, "back");
        } else {
            h.advance(ms(500));
        }
    }
    assert!(h.conn.is_live());
    assert_eq!(h.conn.status(), Status::Live);
    h.conn.handle_poll_result(h.now, Ok(polled(&[7], 7, 7)));
    h.drain();
    h.take_io();
    for _ in 0..12 {
        h.advance(secs(10));
        h.server_sends("2");
    }
    assert!(
        !h.take_io().iter().any(|io| matches!(io, Io::Poll { .. })),
        "zero polls while connected"
    );
}

#[test]
fn a_failed_poll_is_reported_and_retried_and_more_pages_are_fetched_at_once() {
    let mut h = Harness::new(polling_config());
    h.connect();
    h.transport_closes("refused");
    assert!(
        h.take_io().contains(&Io::Poll { since: None, epoch: None, topics: None }),
        "a client with no position asks for stats only"
    );
    h.conn.handle_poll_result(h.now, Err("GET /api/stats: 502".into()));
    h.drain();
    assert!(h.take_events().contains(&Event::PollFailed { reason: "GET /api/stats: 502".into() }));
    h.advance(secs(10));
    assert!(h.take_io().contains(&Io::Poll { since: None, epoch: None, topics: None }));
    h.conn.handle_poll_result(
        h.now,
        Ok(crate::connection::Polled {
            events: None,
            stats: Some(pulse_protocol::Envelope { seq: 90, ts: 1, data: Default::default() }),
            ..Default::default()
        }),
    );
    h.drain();
    assert_eq!(h.conn.last_seq(), Some(90), "follows the log from the stats' head on");
    h.advance(secs(10));
    assert!(h.take_io().contains(&Io::Poll { since: Some(90), epoch: None, topics: None }));
    h.conn.handle_poll_result(h.now, Ok(polled(&[91, 92], 500, 500)));
    h.drain();
    h.advance(ms(1));
    assert!(
        h.take_io().contains(&Io::Poll { since: Some(92), epoch: Some("e1".into()), topics: None }),
        "more remain: fetch at once"
    );
}

#[test]
fn a_poll_that_is_never_answered_is_abandoned_and_polling_goes_on() {
    let mut h = Harness::new(polling_config());
    h.connect();
    h.transport_closes("refused");
    assert!(h.take_io().contains(&Io::Poll { since: None, epoch: None, topics: None }));
    // No answer, no failure: a request swallowed by the network.
    h.advance(secs(5));
    assert!(h.take_io().contains(&Io::CancelPoll), "abandoned after poll_timeout");
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::PollFailed { reason } if reason.contains("no answer"))));
    assert!(matches!(h.conn.status(), Status::Polling { .. }));
    h.advance(secs(10));
    assert!(
        h.take_io().contains(&Io::Poll { since: None, epoch: None, topics: None }),
        "the next poll follows after poll_interval"
    );
    // An answer in time stops the deadline.
    h.conn.handle_poll_result(h.now, Ok(polled(&[1], 1, 1)));
    h.drain();
    h.advance(secs(6));
    assert!(!h.take_io().contains(&Io::CancelPoll));

    // A poll left hanging by a disconnect does not block polling after the next connect.
    let mut h = Harness::new(polling_config());
    h.connect();
    h.transport_closes("refused");
    assert!(h.take_io().iter().any(|io| matches!(io, Io::Poll { .. })));
    h.conn.disconnect(h.now);
    h.drain();
    assert!(h.take_io().contains(&Io::CancelPoll));
    assert_eq!(h.conn.poll_timeout(), None);
    h.connect();
    h.transport_closes("refused");
    assert!(h.take_io().iter().any(|io| matches!(io, Io::Poll { .. })), "polling again");
}

#[test]
fn no_polling_when_disabled_or_after_an_explicit_disconnect() {
    let mut cfg = Harness::config();
    cfg.poll_interval = None;
    let mut h = Harness::new(cfg);
    h.connect();
    h.transport_closes("refused");
    h.advance(secs(30));
    assert!(!h.take_io().iter().any(|io| matches!(io, Io::Poll { .. })));

    let mut h = Harness::new(polling_config());
    h.connect();
    h.transport_closes("refused");
    h.take_io();
    h.conn.disconnect(h.now);
    h.drain();
    h.advance(secs(60));
    assert!(!h.take_io().iter().any(|io| matches!(io, Io::Poll { .. })));
    assert_eq!(h.conn.status(), Status::Offline);
}

#[test]
fn a_poll_refused_with_resync_drops_the_position_and_tells_the_application() {
    let mut h = Harness::new(polling_config());
    h.go_live();
    h.server_sends(
        r#"42["connection:status",{"seq":3,"ts":1,"data":{"epoch":"e1","head":3,"node":"n"}}]"#,
    );
    h.server_sends(r#"42["delivery:updated",{"seq":4,"ts":1,"data":{}}]"#);
    h.take_events();
    h.transport_closes("server restarting");
    h.advance(secs(1));
    h.transport_closes("connection refused");
    assert_eq!(
        h.take_io().last(),
        Some(&Io::Poll { since: Some(4), epoch: Some("e1".into()), topics: None }),
        "the poll names the log its position belongs to"
    );
    let refusal = pulse_protocol::WireError::new(
        pulse_protocol::ErrorCode::ResyncRequired,
        "the event log was replaced",
    );
    h.conn.handle_poll_result(
        h.now,
        Ok(crate::connection::Polled { resync: Some(refusal), ..Default::default() }),
    );
    h.drain();
    let events = h.take_events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Message(m) if m.event == "error"
            && m.args[0].value()["code"] == "RESYNC_REQUIRED")),
        "the application hears it as the socket's error event: {events:?}"
    );
    assert_eq!(h.conn.last_seq(), None, "the position is dropped");
    // The new log's entries are applied, whatever their seq.
    h.conn.handle_poll_result(h.now, Ok(polled(&[2], 2, 2)));
    assert_eq!(h.conn.last_seq(), Some(2));
}

// ----- session recovery: credentials refused or expired -----

fn need_auths(io: &[Io]) -> Vec<NeedAuth> {
    io.iter()
        .filter_map(|io| match io {
            Io::NeedAuth(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn rejected(ev: &[Event]) -> Option<ConnectError> {
    ev.iter().find_map(|e| match e {
        Event::Rejected(r) => Some(r.clone()),
        _ => None,
    })
}

/// Opens the transport the machine asked for and completes the Engine.IO handshake; returns
/// the CONNECT packet it sent.
fn reopen(h: &mut Harness) -> String {
    assert!(
        h.take_io().iter().any(|io| matches!(io, Io::Open { .. })),
        "the machine asked for a transport"
    );
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.take_sent().pop().expect("a CONNECT")
}

/// Connects with `token` up to the server's answer to the CONNECT.
fn connect_with(h: &mut Harness, token: &str) {
    h.conn.set_auth(Some(ConnectAuth::with_token(token)));
    h.connect();
    assert_eq!(reopen(h), format!(r#"40{{"token":"{token}"}}"#));
}

#[test]
fn an_expired_token_at_connect_asks_for_credentials_then_joins_with_the_new_ones() {
    let mut h = Harness::new(Harness::config());
    let pending =
        h.conn.emit_with_ack(h.now, "payment:add", vec![json!({})], vec![], None).unwrap();
    connect_with(&mut h, "old");
    // socketioxide's shape: the code only in the message.
    h.server_sends(r#"44{"message":"TOKEN_EXPIRED: token expired"}"#);
    let io = h.take_io();
    assert_eq!(io.first(), Some(&Io::Close));
    assert_eq!(
        need_auths(&io),
        [NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("old".into()) }]
    );
    let ev = h.take_events();
    assert_eq!(rejected(&ev), None, "not final: new credentials may come");
    assert!(!ev.iter().any(|e| matches!(e, Event::Ack { .. })), "the emit waits: {ev:?}");
    assert_ne!(h.conn.status(), Status::Offline);
    assert_eq!(h.conn.buffered(), 1);

    // The application refreshed its session: tried at once, no backoff.
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("new")));
    h.drain();
    assert_eq!(reopen(&mut h), r#"40{"token":"new"}"#);
    h.server_sends(r#"40{"sid":"s"}"#);
    let ev = h.take_events();
    assert!(ev.contains(&Event::Connected { sid: "s".into(), attempts: 0 }), "{ev:?}");
    let sent = h.take_sent();
    assert!(
        sent.iter().any(|f| f.starts_with(&format!("42{pending}[\"payment:add\""))),
        "{sent:?}"
    );
}

#[test]
fn kicked_mid_session_for_an_expired_token_resumes_from_last_seq_with_nothing_lost() {
    let mut h = Harness::new(Harness::config());
    h.conn.set_auth(Some(ConnectAuth::with_token("t1")));
    h.go_live();
    let entry = |seq: u64| format!(r#"42["payment:added",{{"seq":{seq},"ts":1,"data":{{}}}}]"#);
    h.server_sends(&entry(1));
    h.server_sends(&entry(2));
    // An action in flight when the session ends, and one queued while it is down.
    let inflight =
        h.conn.emit_with_ack(h.now, "payment:add", vec![json!({ "a": 1 })], vec![], None).unwrap();
    h.drain();
    let first = h.take_sent().pop().unwrap();
    h.take_events();
    // What the server's expiry sweep sends: why, then DISCONNECT.
    h.server_sends(r#"42["error",{"code":"TOKEN_EXPIRED","message":"the session token expired"}]"#);
    h.server_sends("41");
    let ev = h.take_events();
    assert!(
        ev.contains(&Event::Disconnected {
            reason: DisconnectReason::Auth(ErrorCode::TokenExpired)
        }),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::Message(m) if m.event == "error")));
    assert!(!ev.iter().any(|e| matches!(e, Event::Ack { .. } | Event::Rejected(_))), "{ev:?}");
    let io = h.take_io();
    assert_eq!(
        need_auths(&io),
        [NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("t1".into()) }]
    );
    let queued = h.conn.emit_with_ack(h.now, "payment:add", vec![json!({ "b": 2 })], vec![], None);
    let queued = queued.unwrap();

    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    assert_eq!(reopen(&mut h), r#"40{"lastSeq":2,"token":"t2"}"#, "resumes after seq 2");
    h.server_sends(r#"40{"sid":"again"}"#);
    let sent = h.take_sent();
    assert_eq!(sent.first(), Some(&first), "the unanswered action again, same key");
    assert!(sent.iter().any(|f| f.starts_with(&format!("42{queued}["))), "{sent:?}");
    // The replay overlaps what was applied: 2 is dropped, 3 is new.
    h.server_sends(&entry(2));
    h.server_sends(&entry(3));
    h.server_sends(&format!(r#"43{inflight}[{{"ok":true}}]"#));
    let ev = h.take_events();
    let seqs: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) if m.event == "payment:added" => m.args[0].value()["seq"].as_u64(),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [3]);
    assert!(ev.iter().any(|e| matches!(e, Event::Ack { id, result: Ok(_) } if *id == inflight)));
    assert_eq!(h.conn.last_seq(), Some(3));
}

#[test]
fn new_credentials_refused_again_stop_with_the_error_and_are_not_retried() {
    let mut h = Harness::new(Harness::config());
    let pending = h.conn.emit_with_ack(h.now, "x", vec![], vec![], None).unwrap();
    connect_with(&mut h, "t1");
    h.server_sends(r#"44{"message":"TOKEN_EXPIRED: token expired"}"#);
    assert_eq!(need_auths(&h.take_io()).len(), 1);
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    assert_eq!(reopen(&mut h), r#"40{"token":"t2"}"#);
    // The Node.js shape this time: the code in `data`.
    h.server_sends(r#"44{"message":"invalid token","data":{"code":"UNAUTHORIZED"}}"#);
    let io = h.take_io();
    assert!(need_auths(&io).is_empty(), "asked once, not again: {io:?}");
    let ev = h.take_events();
    let err = rejected(&ev).expect("the refusal is final");
    assert_eq!(err.code, Some(ErrorCode::Unauthorized));
    assert_eq!(
        (err.message.as_str(), &err.data),
        ("invalid token", &Some(json!({"code":"UNAUTHORIZED"})))
    );
    assert!(ev.contains(&Event::Ack { id: pending, result: Err(Error::Rejected(err)) }));
    assert_eq!(h.conn.status(), Status::Offline);
    assert_eq!(h.conn.poll_timeout(), None);
    h.advance(secs(300));
    assert!(h.take_io().is_empty(), "no loop");

    // A later successful join makes the next expiry recoverable again.
    connect_with(&mut h, "t3");
    h.server_sends(r#"40{"sid":"s"}"#);
    h.server_sends(r#"42["error",{"code":"TOKEN_EXPIRED","message":"expired"}]"#);
    h.server_sends("41");
    assert_eq!(need_auths(&h.take_io()).len(), 1);
}

#[test]
fn no_credentials_or_the_same_ones_stop_with_the_refusal() {
    let refused = r#"44{"message":"TOKEN_EXPIRED: token expired"}"#;
    // `Refused` is what a provider answers when the session's refresh is rejected (401/403).
    let answers: [Renewal; 4] = [
        Renewal::Refused,
        None::<ConnectAuth>.into(),
        Renewal::Renewed(ConnectAuth::with_token("t1")),
        Renewal::Renewed(ConnectAuth::default()),
    ];
    for answer in answers {
        let mut h = Harness::new(Harness::config());
        connect_with(&mut h, "t1");
        h.server_sends(refused);
        assert_eq!(need_auths(&h.take_io()).len(), 1);
        h.take_events();
        h.conn.handle_auth(h.now, answer.clone());
        h.drain();
        let ev = h.take_events();
        let err = rejected(&ev).unwrap_or_else(|| panic!("{answer:?}: not stopped: {ev:?}"));
        assert_eq!(
            (err.message.as_str(), err.code),
            ("TOKEN_EXPIRED: token expired", Some(ErrorCode::TokenExpired))
        );
        assert_eq!(h.conn.status(), Status::Offline, "{answer:?}");
        assert_eq!(h.conn.poll_timeout(), None, "{answer:?}");
        assert!(!h.take_io().iter().any(|io| matches!(io, Io::Open { .. })), "{answer:?}");
        // A late answer changes nothing.
        h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("late")));
        h.drain();
        assert!(h.take_io().is_empty() && h.take_events().is_empty(), "{answer:?}");
    }
}

/// The last `ReconnectScheduled` among `ev`.
fn scheduled(ev: &[Event]) -> Option<(u32, Duration)> {
    ev.iter().rev().find_map(|e| match e {
        Event::ReconnectScheduled { attempt, delay } => Some((*attempt, *delay)),
        _ => None,
    })
}

#[test]
fn a_renewal_that_fails_for_a_passing_reason_is_asked_again_with_backoff_and_the_session_goes_live()
{
    let mut cfg = Harness::config();
    cfg.backoff = crate::backoff::BackoffConfig::default(); // 1 s, ×2, 5 s cap, ±50 %
    let mut reference = crate::backoff::Backoff::new(cfg.backoff, 7);
    let mut h = Harness::new(cfg);
    h.conn.set_auth(Some(ConnectAuth::with_token("t1")));
    h.go_live();
    h.server_sends(r#"42["payment:added",{"seq":5,"ts":1,"data":{}}]"#);
    h.server_sends(r#"42["error",{"code":"TOKEN_EXPIRED","message":"the session token expired"}]"#);
    h.server_sends("41");
    let asked = NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("t1".into()) };
    assert_eq!(need_auths(&h.take_io()), std::slice::from_ref(&asked));
    // An action waits for the session (its own deadline is far off).
    let queued =
        h.conn.emit_with_ack(h.now, "payment:add", vec![json!({})], vec![], Some(secs(600)));
    let queued = queued.unwrap();
    h.take_events();

    // The refresh meets a 503, a network error, then no answer at all (the provider's
    // request hangs), and more 503s: each time the machine asks again after the backoff.
    let mut delays = Vec::new();
    for round in 0..6 {
        if round == 2 {
            h.advance(secs(20)); // connect_timeout
        } else {
            let why = if round == 1 { "network error" } else { "HTTP 503" };
            h.conn.handle_auth(h.now, Renewal::Unavailable(why.into()));
            h.drain();
        }
        let ev = h.take_events();
        assert!(
            ev.iter().any(|e| matches!(e, Event::ConnectFailed { reason }
                if reason.starts_with("credentials not renewed: "))),
            "{ev:?}"
        );
        assert_eq!(rejected(&ev), None, "not final: {ev:?}");
        assert!(!ev.iter().any(|e| matches!(e, Event::Ack { .. })), "the emit waits: {ev:?}");
        let (attempt, delay) = scheduled(&ev).unwrap_or_else(|| panic!("no retry: {ev:?}"));
        delays.push((attempt, delay));
        assert_eq!(
            h.conn.status(),
            Status::Reconnecting { attempt, retry_at: Some(h.now + delay) },
            "the session is kept and the wait shown"
        );
        assert!(h.take_io().is_empty(), "nothing opened with the refused token");
        // Asked again when the delay has passed, not before.
        h.advance(delay - ms(1));
        assert!(h.take_io().is_empty(), "round {round}: asked again too early");
        h.advance(ms(1));
        assert_eq!(need_auths(&h.take_io()), std::slice::from_ref(&asked), "round {round}");
    }
    let expected: Vec<(u32, Duration)> = (1..=6).map(|a| (a, reference.next_delay())).collect();
    assert_eq!(delays, expected, "the reconnection backoff");
    assert!(delays.iter().all(|(_, d)| *d <= secs(5)), "capped: {delays:?}");
    assert!(delays.iter().any(|(a, d)| *d != secs(1 << (a - 1)).min(secs(5))), "jittered");
    assert_eq!(h.conn.buffered(), 1);

    // The refresh succeeds: tried at once, resuming where the session was.
    h.conn.handle_auth(h.now, Renewal::Renewed(ConnectAuth::with_token("t2")));
    h.drain();
    assert_eq!(reopen(&mut h), r#"40{"lastSeq":5,"token":"t2"}"#);
    h.server_sends(r#"40{"sid":"back"}"#);
    assert!(h.take_events().contains(&Event::Connected { sid: "back".into(), attempts: 6 }));
    assert!(h.take_sent().iter().any(|f| f.starts_with(&format!("42{queued}["))));
    assert_eq!(h.conn.status(), Status::Live);
}

#[test]
fn a_renewal_refused_after_passing_failures_still_stops_with_the_refusal() {
    let mut h = Harness::new(Harness::config());
    connect_with(&mut h, "t1");
    h.server_sends(r#"44{"message":"TOKEN_EXPIRED: token expired"}"#);
    assert_eq!(need_auths(&h.take_io()).len(), 1);
    h.conn.handle_auth(h.now, Renewal::Unavailable("HTTP 502".into()));
    h.drain();
    // An answer while the retry waits: a success is taken at once, a refusal is final.
    h.conn.handle_auth(h.now, Renewal::Unavailable("HTTP 502".into()));
    h.drain();
    let (_, delay) = scheduled(&h.take_events()).expect("a retry");
    h.advance(delay);
    assert_eq!(need_auths(&h.take_io()).len(), 1);
    h.conn.handle_auth(h.now, Renewal::Refused);
    h.drain();
    let ev = h.take_events();
    assert_eq!(rejected(&ev).and_then(|e| e.code), Some(ErrorCode::TokenExpired), "{ev:?}");
    assert_eq!(h.conn.status(), Status::Offline);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn an_action_refused_with_token_expired_before_the_expiry_sweep_renews_and_is_resent() {
    let mut cfg = Harness::config();
    cfg.health_interval = Some(secs(30));
    let mut h = Harness::new(cfg);
    h.conn.set_auth(Some(ConnectAuth::with_token("t1")));
    h.connect();
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.server_sends(r#"40{"sid":"s1"}"#);
    h.take_events();
    h.take_io();
    let ping = h.take_sent().pop().expect("the first health ping");
    let ping_id: String = ping[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
    h.server_sends(&format!(r#"43{ping_id}[{{"ok":true,"data":{{"server_time":1}}}}]"#));
    // The server's clock is past the token's expiry, the client's is not: the server
    // refuses the action before its expiry sweep ends the session.
    let id = h.conn.emit_with_ack(h.now, "payment:add", vec![json!({ "a": 1 })], vec![], None);
    let id = id.unwrap();
    h.drain();
    let action = h.take_sent().pop().unwrap();
    h.take_events();
    let expired = r#"[{"ok":false,"error":{"code":"TOKEN_EXPIRED","message":"token expired; refresh and reconnect"}}]"#;
    h.server_sends(&format!("43{id}{expired}"));
    let ev = h.take_events();
    assert!(
        ev.contains(&Event::Disconnected {
            reason: DisconnectReason::Auth(ErrorCode::TokenExpired)
        }),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Ack { .. })), "the action waits: {ev:?}");
    let io = h.take_io();
    assert_eq!(io.first(), Some(&Io::Close));
    assert_eq!(
        need_auths(&io),
        [NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("t1".into()) }]
    );
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    assert_eq!(reopen(&mut h), r#"40{"token":"t2"}"#);
    h.server_sends(r#"40{"sid":"s2"}"#);
    let sent = h.take_sent();
    assert_eq!(sent.first(), Some(&action), "the refused action again, same key");
    h.server_sends(&format!(r#"43{id}[{{"ok":true}}]"#));
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Ack { id: i, result: Ok(_) } if *i == id)));

    // The health ping meets the same refusal: renewed likewise.
    let ping = sent.iter().find(|f| f.ends_with(r#"["ping"]"#)).expect("a health ping at once");
    let ping_id: String = ping[2..].chars().take_while(|c| c.is_ascii_digit()).collect();
    h.server_sends(&format!("43{ping_id}{expired}"));
    assert!(!h.take_events().iter().any(|e| matches!(e, Event::Rtt(_))));
    assert_eq!(
        need_auths(&h.take_io()),
        [NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("t2".into()) }]
    );
}

/// A client with token `t1` that was live, then failed to reconnect twice: the fallback
/// poll is in flight.
fn polling_with_t1() -> Harness {
    let mut h = Harness::new(polling_config());
    h.conn.set_auth(Some(ConnectAuth::with_token("t1")));
    h.go_live();
    h.transport_closes("websocket blocked");
    h.advance(secs(1));
    h.transport_closes("websocket blocked");
    assert!(matches!(h.take_io().last(), Some(Io::Poll { .. })), "a poll in flight");
    h
}

#[test]
fn a_poll_refused_with_401_renews_the_credentials_and_a_rejected_renewal_stops() {
    let answers = [Renewal::Renewed(ConnectAuth::with_token("t2")), Renewal::Refused];
    for answer in answers {
        let mut h = polling_with_t1();
        h.take_events();
        let why = WireError::new(ErrorCode::TokenExpired, "token expired");
        let refused = crate::connection::Polled { unauthorized: Some(why), ..Default::default() };
        h.conn.handle_poll_result(h.now, Ok(refused));
        h.drain();
        let io = h.take_io();
        assert_eq!(
            need_auths(&io),
            [NeedAuth { reason: ErrorCode::TokenExpired, refused: Some("t1".into()) }],
            "{io:?}"
        );
        let ev = h.take_events();
        assert!(ev.iter().any(|e| matches!(e, Event::PollFailed { .. })), "{ev:?}");
        assert_eq!(rejected(&ev), None);
        // Nothing more with the refused token meanwhile: no poll, no socket.
        h.advance(secs(15));
        let io = h.take_io();
        assert!(!io.iter().any(|io| matches!(io, Io::Poll { .. } | Io::Open { .. })), "{io:?}");
        assert_ne!(h.conn.status(), Status::Offline);
        h.conn.handle_auth(h.now, answer.clone());
        h.drain();
        let io = h.take_io();
        let ev = h.take_events();
        match answer {
            Renewal::Renewed(_) => {
                assert!(io.iter().any(|io| matches!(io, Io::Open { .. })), "at once: {io:?}");
                assert!(io.iter().any(|io| matches!(io, Io::Poll { .. })), "at once: {io:?}");
                assert_eq!(h.conn.auth().and_then(|a| a.token.as_deref()), Some("t2"));
            }
            _ => {
                let err = rejected(&ev).unwrap_or_else(|| panic!("not stopped: {ev:?}"));
                assert_eq!(err.code, Some(ErrorCode::TokenExpired));
                assert_eq!(h.conn.status(), Status::Offline);
                assert!(io.is_empty(), "{io:?}");
            }
        }
    }
}

/// Found by the `connection` fuzz target: the catch-up poll after a renewal was refused
/// again while the new socket was still opening; the machine stopped and left that socket up,
/// so the next `connect` opened a second one beside it.
#[test]
fn new_credentials_refused_by_a_poll_stop_and_close_the_socket_being_opened() {
    let mut h = polling_with_t1();
    let refused = |h: &mut Harness| {
        let why = WireError::new(ErrorCode::TokenExpired, "token expired");
        let polled = crate::connection::Polled { unauthorized: Some(why), ..Default::default() };
        h.conn.handle_poll_result(h.now, Ok(polled));
        h.drain();
    };
    refused(&mut h);
    assert_eq!(need_auths(&h.take_io()).len(), 1);
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    let io = h.take_io();
    assert!(io.iter().any(|io| matches!(io, Io::Open { .. })), "{io:?}");
    h.take_events();
    // The catch-up poll carries t2 too, and is refused before the socket opens.
    refused(&mut h);
    let ev = h.take_events();
    let err = rejected(&ev).unwrap_or_else(|| panic!("not stopped: {ev:?}"));
    assert_eq!(err.code, Some(ErrorCode::TokenExpired));
    assert_eq!(h.conn.status(), Status::Offline);
    assert_eq!(h.take_io(), [Io::Close], "the socket being opened is left up");
    // A later connect starts from no socket.
    h.conn.connect(h.now);
    h.drain();
    let io = h.take_io();
    assert!(matches!(io.as_slice(), [Io::Open { .. }, ..]), "{io:?}");
}

#[test]
fn a_poll_in_flight_with_the_refused_token_is_dropped_when_credentials_are_asked_for() {
    let mut h = polling_with_t1();
    // The next attempt reaches the server, which finds the token expired.
    let (_, delay) = scheduled(&h.take_events()).expect("a retry");
    h.advance(delay);
    assert_eq!(reopen(&mut h), r#"40{"token":"t1"}"#);
    h.server_sends(r#"44{"message":"TOKEN_EXPIRED: token expired"}"#);
    let io = h.take_io();
    assert!(io.contains(&Io::CancelPoll), "its 401 would count against new ones: {io:?}");
    assert_eq!(need_auths(&io).len(), 1);
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    let io = h.take_io();
    assert!(io.iter().any(|io| matches!(io, Io::Open { .. })), "{io:?}");
    assert!(io.iter().any(|io| matches!(io, Io::Poll { .. })), "caught up at once: {io:?}");
}

/// Takes the reconnection the machine scheduled and lets its delay pass.
fn next_retry(h: &mut Harness, scheduled: &mut Vec<(u32, Duration)>) {
    let ev = h.take_events();
    let (attempt, delay) = ev
        .iter()
        .find_map(|e| match e {
            Event::ReconnectScheduled { attempt, delay } => Some((*attempt, *delay)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no retry scheduled: {ev:?}"));
    scheduled.push((attempt, delay));
    h.advance(delay);
}

#[test]
fn non_auth_failures_keep_their_backoff_and_jitter_around_an_auth_retry() {
    let mut cfg = Harness::config();
    cfg.backoff = crate::backoff::BackoffConfig::default(); // ±50 % jitter
    let mut reference = crate::backoff::Backoff::new(cfg.backoff, 7);
    let mut h = Harness::new(cfg);
    h.conn.set_auth(Some(ConnectAuth::with_token("t1")));
    h.go_live();
    let mut scheduled = Vec::new();
    h.transport_closes("wifi dropped");
    next_retry(&mut h, &mut scheduled);
    h.transport_closes("refused");
    next_retry(&mut h, &mut scheduled);
    // The third attempt reaches a server that finds the token expired.
    assert_eq!(reopen(&mut h), r#"40{"token":"t1"}"#);
    h.server_sends(r#"44{"message":"TOKEN_EXPIRED: token expired"}"#);
    let io = h.take_io();
    assert_eq!(need_auths(&io).len(), 1);
    assert!(!h.take_events().iter().any(|e| matches!(e, Event::ReconnectScheduled { .. })));
    h.conn.handle_auth(h.now, Some(ConnectAuth::with_token("t2")));
    h.drain();
    assert!(h.take_io().iter().any(|io| matches!(io, Io::Open { .. })), "at once");
    // The network fails again: the backoff goes on where it was.
    h.transport_closes("refused");
    next_retry(&mut h, &mut scheduled);
    let expected: Vec<(u32, Duration)> = (1..=3).map(|a| (a, reference.next_delay())).collect();
    assert_eq!(scheduled, expected);
    assert!(expected.iter().any(|(a, d)| *d != secs(1 << (a - 1))), "jitter is on");
}

#[test]
fn disconnect_reasons_read_as_text() {
    let text = |r: DisconnectReason| r.to_string();
    assert_eq!(text(DisconnectReason::Client), "closed by this client");
    assert_eq!(text(DisconnectReason::Server), "closed by the server");
    assert_eq!(
        text(DisconnectReason::Auth(ErrorCode::TokenExpired)),
        "signed out by the server (TOKEN_EXPIRED)"
    );
    assert_eq!(text(DisconnectReason::Transport("websocket closed".into())), "websocket closed");
    assert_eq!(text(DisconnectReason::Decode("empty packet".into())), "empty packet");
    assert_eq!(text(DisconnectReason::PingTimeout), "no ping from the server in time");
    assert_eq!(text(DisconnectReason::HealthCheck), "the health ping went unanswered");
}

#[test]
fn a_socket_joined_with_the_same_connect_is_taken_up_without_joining_again() {
    use pulse_protocol::events::{Topic, Topics};
    let mut config = Harness::config();
    let topics: Topics = [Topic::Dashboard, Topic::Payments].into_iter().collect();
    config.topics = Some(topics);
    let mut h = Harness::new(config);
    h.conn.set_auth(Some(ConnectAuth::with_token("abc")));
    h.connect();
    assert!(h.conn.adopt(r#"40{"token":"abc","topics":["dashboard","payments"]}"#));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    assert!(h.take_sent().is_empty(), "the socket was joined already");
    h.server_sends(r#"40{"sid":"sio1"}"#);
    assert!(h.take_events().contains(&Event::Connected { sid: "sio1".into(), attempts: 0 }));
    h.server_sends(r#"42["payment:added",{"seq":9,"ts":0,"data":{}}]"#);
    assert_eq!(h.conn.last_seq(), Some(9));

    // Taken up once: the next transport (after a drop) is joined by the machine again, with
    // its position.
    h.transport_closes("gone");
    h.advance(secs(5));
    h.transport_opens();
    h.handshake(25_000, 20_000);
    assert_eq!(
        h.take_sent(),
        [r#"40{"lastSeq":9,"token":"abc","topics":["dashboard","payments"]}"#]
    );
}

#[test]
fn a_socket_joined_otherwise_is_not_taken_up() {
    use pulse_protocol::events::{Topic, Topics};
    let fresh = || {
        let mut config = Harness::config();
        config.topics = Some([Topic::Dashboard].into_iter().collect::<Topics>());
        let mut h = Harness::new(config);
        h.conn.set_auth(Some(ConnectAuth::with_token("abc")));
        h
    };
    for other in [
        r#"40{"token":"abc","topics":["dashboard","payments"]}"#, // other topics
        r#"40{"token":"abd","topics":["dashboard"]}"#,            // another token
        r#"40{"lastSeq":4,"token":"abc","topics":["dashboard"]}"#, // another position
        r#"40/admin,{"token":"abc","topics":["dashboard"]}"#,     // another namespace
        r#"40{"topics":["dashboard"],"token":"abc"}"#,            // not as the SDK writes it
        r#"41"#,                                                  // not a CONNECT
    ] {
        let mut h = fresh();
        h.connect();
        assert!(!h.conn.adopt(other), "{other}");
        h.transport_opens();
        h.handshake(25_000, 20_000);
        assert_eq!(h.take_sent(), [r#"40{"token":"abc","topics":["dashboard"]}"#], "{other}");
    }
    // Only while the machine opens a transport: not once it is live.
    let mut h = fresh();
    h.connect();
    h.transport_opens();
    h.handshake(25_000, 20_000);
    h.server_sends(r#"40{"sid":"sio1"}"#);
    assert!(!h.conn.adopt(r#"40{"token":"abc","topics":["dashboard"]}"#));
}
