//! A real server on a free loopback port with its own temporary SQLite file (or, with
//! `PULSE_TEST_DB=postgres`, its own database on a PostgreSQL server shared by the test
//! binary), a clock tests can move, and helpers to sign in and connect the native SDK.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_protocol::events::ConnectAuth;
use pulse_protocol::rest::{LoginRequest, Session};
use pulse_protocol::Ack;
use pulse_sdk::{Client, Event, Json, Status};
use pulse_server::{AppState, Clock, Config, Server, SystemClock};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const WAIT: Duration = Duration::from_secs(10);
pub const DEMO: &str = "admin@pulse.demo";
pub const OTHER: &str = "admin@other.demo";
pub const PASSWORD: &str = "pulse-demo";

/// The store the tests run on: `postgres` when `PULSE_TEST_DB=postgres`, else `sqlite`.
pub fn backend_name() -> &'static str {
    match std::env::var("PULSE_TEST_DB").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => "postgres",
        Ok("") | Ok("sqlite") | Err(_) => "sqlite",
        Ok(other) => panic!("PULSE_TEST_DB={other}: expected postgres or sqlite"),
    }
}

/// The `database_url` for a server on `data_dir`: `None` on SQLite (the file in the data
/// directory). On PostgreSQL a fresh database on the shared test server the first time a
/// data directory is used; its name is kept in `data_dir/pg-database`, so a restart on the
/// same directory reopens the same database.
pub fn database_url_for(data_dir: &Path) -> Option<String> {
    if backend_name() != "postgres" {
        return None;
    }
    let pg = crate::services::shared_postgres();
    let marker = data_dir.join("pg-database");
    let name = match std::fs::read_to_string(&marker) {
        Ok(name) => name.trim().to_owned(),
        Err(_) => {
            let name = crate::services::unique_db_name("pulse_test");
            pg.create_database(&name);
            std::fs::create_dir_all(data_dir).expect("data dir");
            std::fs::write(&marker, &name).expect("write pg-database");
            name
        }
    };
    Some(pg.url(&name))
}

/// System time plus an offset tests can move forward.
#[derive(Debug, Default)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

/// A running server; stops (gracefully) when dropped or [`TestServer::stop`]ped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The running server's shared state (e.g. its password-check count).
    pub state: AppState,
    pub clock: Arc<TestClock>,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory, demo generator off.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_owned();
        let mut s = Self::start_in(&path, |c| {
            c.demo = false;
            tweak(c)
        })
        .await;
        s._dir = Some(dir);
        s
    }

    /// Starts a server on `data_dir` (kept by the caller).
    pub async fn start_in(data_dir: &Path, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::defaults();
        config.addr = "127.0.0.1:0".parse().unwrap();
        config.data_dir = data_dir.to_owned();
        config.dist = data_dir.join("dist");
        config.stats_interval_ms = 100;
        config.demo_rate = 20.0;
        // Cheap hashing: the tests sign in many times on a debug build.
        config.argon2_m_cost_kib = 64;
        config.database_url = database_url_for(data_dir);
        tweak(&mut config);
        let clock = Arc::new(TestClock::default());
        let server = Server::bind(config, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("bind ({}): {e}", backend_name()));
        let addr = server.local_addr();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            clock,
            data_dir: data_dir.to_owned(),
            stop: Some(stop),
            done: Some(done),
            _dir: None,
        }
    }

    /// Shuts down gracefully and waits until the server has flushed its database.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            d.await.expect("server task").expect("server result");
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn sdk_config(&self) -> pulse_sdk::Config {
        pulse_sdk::Config::new(self.url())
    }

    /// Signs in over REST.
    pub async fn login(&self, email: &str) -> Session {
        let res = reqwest::Client::new()
            .post(format!("{}/api/auth/login", self.url()))
            .json(&LoginRequest { email: email.into(), password: PASSWORD.into() })
            .send()
            .await
            .expect("login request");
        assert!(res.status().is_success(), "login: {}", res.status());
        res.json().await.expect("session")
    }

    /// A REST GET with a bearer token, returning status and JSON body.
    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let res = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A REST call with a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Connects the SDK with `token`, resuming after `last_seq` when given.
    pub fn connect(&self, token: &str, last_seq: Option<u64>) -> Client {
        self.connect_with(token, last_seq, |_| {})
    }

    /// [`TestServer::connect`] with `tweak` applied to the SDK's configuration.
    pub fn connect_with(
        &self,
        token: &str,
        last_seq: Option<u64>,
        tweak: impl FnOnce(&mut pulse_sdk::Config),
    ) -> Client {
        let token = token.to_owned();
        let mut config = self.sdk_config();
        config.backoff.initial = Duration::from_millis(50);
        config.backoff.max = Duration::from_millis(200);
        tweak(&mut config);
        Client::connect_with_auth(config, move || {
            Some(ConnectAuth { last_seq, ..ConnectAuth::with_token(&token) })
        })
    }

    /// Signs in and connects; waits until live.
    pub async fn live_client(&self, email: &str) -> (Session, Client) {
        self.live_client_with(email, |_| {}).await
    }

    /// [`TestServer::live_client`] with `tweak` applied to the SDK's configuration.
    pub async fn live_client_with(
        &self,
        email: &str,
        tweak: impl FnOnce(&mut pulse_sdk::Config),
    ) -> (Session, Client) {
        let session = self.login(email).await;
        let client = self.connect_with(&session.token, None, tweak);
        client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live");
        (session, client)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Emits an action and decodes its one ack argument.
pub async fn act(client: &Client, event: &str, payload: Value) -> Ack<Value> {
    let reply = client.emit_with_ack(event, vec![payload], None).await.expect("ack");
    serde_json::from_value(reply.args[0].clone()).expect("ack shape")
}

/// Events a test recorded: `(name, args[0])` in arrival order.
pub type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// Collects `(event, args[0])` for the given events.
pub fn record(client: &Client, events: &[&str]) -> (Seen, Vec<pulse_sdk::Subscription>) {
    let seen: Seen = Arc::default();
    let subs = events
        .iter()
        .map(|e| {
            let sink = seen.clone();
            let name = e.to_string();
            client.on(e, move |m| {
                sink.lock()
                    .unwrap()
                    .push((name.clone(), m.args.first().map_or(Value::Null, Json::value)))
            })
        })
        .collect();
    (seen, subs)
}

/// Records a cash payment of `amount` for customer 4 over REST, as another client would.
pub async fn pay(server: &TestServer, token: &str, amount: f64) {
    let body = json!({ "customer_id": 4, "amount": amount, "method": "CASH" });
    let (status, _) = server.send(reqwest::Method::POST, token, "/api/payments", body).await;
    assert_eq!(status, 200);
}

/// Waits until `cond` holds, polling every 20 ms.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The CONNECT_ERROR message a client gets.
pub async fn rejection(client: &Client) -> String {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let sink = seen.clone();
    let _sub = client.on_any(move |e| {
        if let Event::Rejected(err) = e {
            *sink.lock().unwrap() = Some(err.message.clone());
        }
    });
    // Subscribed right after `connect`: the handshake needs a network round trip first.
    eventually("a CONNECT_ERROR", || seen.lock().unwrap().is_some()).await;
    let m = seen.lock().unwrap().clone().unwrap();
    m
}

/// Signs in with any password; the status and body, success or not.
pub async fn sign_in(server: &TestServer, email: &str, password: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.url()))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login request");
    (res.status().as_u16(), res.json().await.unwrap_or(serde_json::Value::Null))
}
