//! Limits and bad input: connections per user and per IP, event rate, payload size,
//! malformed packets. The server keeps serving everyone else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pulse_protocol::events::{ERROR, PAYMENT_ADD, PING};
use pulse_protocol::ErrorCode;
use pulse_sdk::{Event, Json, Status};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::fixture::{act, eventually, record, rejection, TestServer, DEMO, OTHER, WAIT};

#[tokio::test]
async fn a_sixth_connection_of_one_user_is_refused() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let mut live = Vec::new();
    for _ in 0..5 {
        let c = server.connect(&s.token, None);
        c.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
        live.push(c);
    }
    let sixth = server.connect(&s.token, None);
    assert_eq!(rejection(&sixth).await, "RATE_LIMITED: too many connections for this user");
    // Another user is not affected.
    let (_o, other) = server.live_client(OTHER).await;
    assert_eq!(other.status(), Status::Live);
    // Closing one frees a slot.
    live.pop().unwrap().disconnect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = server.connect(&s.token, None);
    again.wait_for(|st| *st == Status::Live, WAIT).await.expect("a slot was freed");
}

#[tokio::test]
async fn connections_per_ip_are_limited() {
    let server = TestServer::start(|c| c.max_conn_per_ip = 2).await;
    let (_a, _c1) = server.live_client(DEMO).await;
    let (_b, _c2) = server.live_client(OTHER).await;
    let staff = server.login("staff@pulse.demo").await;
    let third = server.connect(&staff.token, None);
    assert_eq!(rejection(&third).await, "RATE_LIMITED: too many connections from this address");
}

#[tokio::test]
async fn an_event_flood_gets_an_error_event_then_a_disconnect() {
    let server = TestServer::start(|c| {
        c.event_rate = 1.0;
        c.event_burst = 3.0;
    })
    .await;
    let (_s, flooder) = server.live_client(DEMO).await;
    let (_o, bystander) = server.live_client(OTHER).await;
    let (seen, _subs) = record(&flooder, &[ERROR]);
    let disconnected = Arc::new(Mutex::new(false));
    let d = disconnected.clone();
    let _sub = flooder.on_any(move |e| {
        if matches!(e, Event::Disconnected { .. }) {
            *d.lock().unwrap() = true;
        }
    });
    for _ in 0..10 {
        let _ = flooder.emit(PING, vec![]);
    }
    eventually("RATE_LIMITED error event", || !seen.lock().unwrap().is_empty()).await;
    assert_eq!(seen.lock().unwrap()[0].1["code"], "RATE_LIMITED");
    eventually("disconnect", || *disconnected.lock().unwrap()).await;
    let ack = act(&bystander, PING, Value::Null).await;
    assert!(ack.into_result().is_ok(), "others keep being served");
}

/// Floods until the server cuts the socket; returns the `error` codes and the disconnect
/// reason, in the order the client saw them.
async fn flood_until_cut(client: &pulse_sdk::Client) -> Vec<String> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let _sub = client.on_any(move |e| match e {
        Event::Message(m) if m.event == ERROR => {
            let first = m.args.first().map(Json::value).unwrap_or_default();
            let code = first["code"].as_str().unwrap_or("?");
            sink.lock().unwrap().push(format!("error {code}"));
        }
        Event::Disconnected { reason } => sink.lock().unwrap().push(format!("{reason:?}")),
        _ => {}
    });
    let cut = || seen.lock().unwrap().iter().any(|s| !s.starts_with("error"));
    let deadline = tokio::time::Instant::now() + WAIT;
    for _ in 0..60 {
        let _ = client.emit(PING, vec![]);
    }
    while !cut() {
        assert!(tokio::time::Instant::now() < deadline, "not disconnected: {:?}", seen.lock());
        for _ in 0..20 {
            let _ = client.emit(PING, vec![]);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seen = seen.lock().unwrap().clone();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_always_learns_why_before_it_is_disconnected() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    for i in 0..20 {
        let client = server.connect(&s.token, None);
        client.wait_for(|st| *st == Status::Live, WAIT).await.expect("live");
        let seen = flood_until_cut(&client).await;
        assert_eq!(seen, ["error RATE_LIMITED", "Server"], "try {i}");
        client.disconnect();
    }
}

#[tokio::test]
async fn an_oversized_payload_gets_payload_too_large() {
    let server = TestServer::start(|c| c.max_payload = 2_000).await;
    let (s, client) = server.live_client(DEMO).await;
    let note = "x".repeat(3_000);
    let ack = act(
        &client,
        PAYMENT_ADD,
        json!({ "customer_id": 1, "amount": 1, "method": "CASH", "note": note }),
    )
    .await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::PayloadTooLarge);
    assert_eq!(client.status(), Status::Live);
    let ack = act(&client, PING, Value::Null).await;
    assert!(ack.into_result().is_ok());
    let (status, body) = server
        .send(
            Method::POST,
            &s.token,
            "/api/payments",
            json!({ "customer_id": 1, "amount": 1, "method": "CASH", "note": note }),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
}

/// A client's WebSocket, spoken to frame by frame.
type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Engine.IO v4 WebSocket, joined to `/` with `token`.
async fn raw_socket(server: &TestServer, token: &str) -> RawSocket {
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'), "engine open: {open:?}");
    ws.send(Message::text(format!("40{}", json!({ "token": token })))).await.unwrap();
    loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.to_text().unwrap().starts_with("40") {
            return ws;
        }
    }
}

/// Over WebSocket as over polling, a frame past the engine's cap (4 × `max_payload`, at
/// least 16 KiB) closes the connection before it is read whole; one under it gets a clear
/// PAYLOAD_TOO_LARGE. Without the cap set on the WebSocket, tungstenite took frames up to
/// 16 MiB (messages up to 64 MiB), signed in or not.
#[tokio::test]
async fn a_frame_past_the_engines_cap_closes_only_that_connection() {
    let server = TestServer::start(|c| c.max_payload = 2_000).await;
    let (_s, client) = server.live_client(DEMO).await;
    let o = server.login(OTHER).await;
    let send = |n: usize| {
        let note = "x".repeat(n);
        let body = json!({ "customer_id": 1, "amount": 1, "method": "CASH", "note": note });
        Message::text(format!("421[\"{PAYMENT_ADD}\",{body}]"))
    };
    let mut ws = raw_socket(&server, &o.token).await;
    ws.send(send(10_000)).await.unwrap();
    let ack: Value = serde_json::from_str(&answer_1(&mut ws).await).unwrap();
    assert_eq!(ack[0]["error"]["code"], "PAYLOAD_TOO_LARGE", "{ack}");

    ws.send(send(20_000)).await.unwrap();
    assert!(closed_unanswered(&mut ws).await, "answered instead of closed");
    let ack = act(&client, PING, Value::Null).await;
    assert!(ack.into_result().is_ok(), "everyone else keeps being served");
}

/// Whether `t` is the server's answer to ack 1 (a binary event's answer may be binary):
/// its data, if so.
fn is_answer_1(t: &str) -> Option<&str> {
    t.strip_prefix("431").or_else(|| t.strip_prefix("461"))
}

/// The server's answer to ack 1 on `ws`: its data.
async fn answer_1(ws: &mut RawSocket) -> String {
    loop {
        let t = ws.next().await.unwrap().unwrap().to_text().unwrap().to_owned();
        if let Some(data) = is_answer_1(&t) {
            return data.to_owned();
        }
    }
}

/// Whether the server closes `ws` (within [`WAIT`]) rather than answering its ack 1.
async fn closed_unanswered(ws: &mut RawSocket) -> bool {
    tokio::time::timeout(WAIT, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(_)) | Err(_) => return true,
                Ok(Message::Text(t)) if is_answer_1(&t).is_some() => return false,
                Ok(_) => {}
            }
        }
        true
    })
    .await
    .expect("the server neither answered nor closed the connection")
}

/// Binary attachments are bounded as frames are: an event whose attachments together pass
/// the engine's cap closes that connection (socketioxide held up to 10 MB per socket by
/// default, until the event was whole); one within it is answered.
#[tokio::test]
async fn binary_attachments_past_the_engines_cap_close_only_that_connection() {
    let server = TestServer::start(|c| c.max_payload = 2_000).await;
    let (_s, client) = server.live_client(DEMO).await;
    let o = server.login(OTHER).await;
    let mut ws = raw_socket(&server, &o.token).await;
    let event = |n: usize| {
        let holders: Vec<Value> =
            (0..n).map(|i| json!({ "_placeholder": true, "num": i })).collect();
        Message::text(format!("45{n}-1[\"{PAYMENT_ADD}\",{}]", Value::Array(holders)))
    };
    ws.send(event(1)).await.unwrap();
    ws.send(Message::binary(vec![1u8; 100])).await.unwrap();
    let answered = answer_1(&mut ws).await;
    assert!(answered.contains("INVALID_INPUT"), "{answered}");

    ws.send(event(4)).await.unwrap();
    for _ in 0..4 {
        if ws.send(Message::binary(vec![2u8; 6_000])).await.is_err() {
            break;
        }
    }
    assert!(closed_unanswered(&mut ws).await, "answered instead of closed");
    let ack = act(&client, PING, Value::Null).await;
    assert!(ack.into_result().is_ok(), "everyone else keeps being served");
}

#[tokio::test]
async fn a_malformed_packet_closes_only_that_connection() {
    let server = TestServer::start(|_| {}).await;
    let (s, client) = server.live_client(DEMO).await;
    let (o, _) = (server.login(OTHER).await, ());
    let mut ws = raw_socket(&server, &o.token).await;
    ws.send(Message::text("42[\"payment:add\", {broken")).await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(_)) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        true
    })
    .await
    .expect("the server closes a connection that sends garbage");
    assert!(closed);
    let ack = act(&client, PING, Value::Null).await;
    assert!(ack.into_result().is_ok(), "everyone else keeps being served");
    let (status, _) = server.get(&s.token, "/api/stats").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_wrong_shape_over_a_raw_socket_gets_an_invalid_input_ack() {
    let server = TestServer::start(|_| {}).await;
    let s = server.login(DEMO).await;
    let mut ws = raw_socket(&server, &s.token).await;
    ws.send(Message::text("421[\"payment:add\",[1,2,3]]")).await.unwrap();
    let ack: Value = serde_json::from_str(&answer_1(&mut ws).await).unwrap();
    assert_eq!(ack[0]["ok"], false);
    assert_eq!(ack[0]["error"]["code"], "INVALID_INPUT");
}

/// Joins `/` over a raw WebSocket with an `X-Forwarded-For` header; returns the server's
/// answer to the CONNECT (`40…` accepted, `44…` refused).
async fn connect_forwarded(server: &TestServer, token: &str, forwarded_for: &str) -> String {
    connect_forwarded_via(server.addr, [127, 0, 0, 1].into(), token, forwarded_for).await
}

/// [`connect_forwarded`] to any address (e.g. a proxy in front of the server), from the
/// local address `from` (any of 127.0.0.0/8 is this machine).
pub(crate) async fn connect_forwarded_via(
    addr: std::net::SocketAddr,
    from: std::net::IpAddr,
    token: &str,
    forwarded_for: &str,
) -> String {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("x-forwarded-for", forwarded_for.parse().unwrap());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).expect("bind the client's address");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.expect("ws");
    let _open = ws.next().await.unwrap().unwrap();
    ws.send(Message::text(format!("40{}", json!({ "token": token })))).await.unwrap();
    loop {
        let m = ws.next().await.unwrap().unwrap();
        let text = m.to_text().unwrap().to_owned();
        if text.starts_with("40") || text.starts_with("44") {
            // Keep the connection open while the caller looks at the others.
            tokio::spawn(async move {
                let mut ws = ws;
                while let Some(Ok(_)) = ws.next().await {}
            });
            return text;
        }
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_per_ip_limit_counts_forwarded_clients() {
    let server = TestServer::start(|c| {
        c.max_conn_per_ip = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (a, b) = (server.login(DEMO).await, server.login(OTHER).await);
    // Two clients behind the proxy: one address each, so both fit under a limit of one.
    assert!(connect_forwarded(&server, &a.token, "203.0.113.1").await.starts_with("40"));
    assert!(connect_forwarded(&server, &b.token, "203.0.113.2").await.starts_with("40"));
    // A client cannot dodge the limit by writing its own header in front of the proxy's.
    let third = connect_forwarded(&server, &b.token, "198.51.100.9, 203.0.113.2").await;
    assert!(third.contains("too many connections from this address"), "{third}");
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = TestServer::start(|c| c.max_conn_per_ip = 1).await;
    let (a, b) = (server.login(DEMO).await, server.login(OTHER).await);
    assert!(connect_forwarded(&server, &a.token, "203.0.113.1").await.starts_with("40"));
    let second = connect_forwarded(&server, &b.token, "203.0.113.2").await;
    assert!(second.contains("too many connections from this address"), "{second}");
}
