//! Production mode: an empty database stays empty (no public demo accounts), the first admin
//! is made with `pulse-server admin create` and can sign in; unsafe settings refuse to start.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use pulse_server::{Config, Mode, Server, SystemClock};

use crate::fixture::{database_url_for, sign_in, TestServer, DEMO, PASSWORD};

/// Runs `pulse-server admin create` on `data_dir`'s store with `password` on stdin.
fn admin_create(data_dir: &Path, email: &str, business: &str, password: &str) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse-server"));
    cmd.args(["admin", "create", "--email", email, "--business", business, "--name", "Boss"])
        .env("PULSE_DATA_DIR", data_dir)
        .env("PULSE_ARGON2_M_COST_KIB", "64")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url_for(data_dir) {
        cmd.env("PULSE_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("spawn pulse-server admin create");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().expect("admin create");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn production_starts_empty_and_the_first_admin_comes_from_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let production = |c: &mut Config| {
        c.mode = Some(Mode::Production);
        c.demo = true; // ignored in production: no generator
    };
    let server = TestServer::start_in(dir.path(), production).await;
    let (status, body) = sign_in(&server, DEMO, PASSWORD).await;
    assert_eq!(status, 401, "the public demo account must not exist in production: {body}");
    server.stop().await;

    let (ok, out) = admin_create(dir.path(), "Boss@Acme.test", "Acme Dairy", "short");
    assert!(!ok && out.contains("at least 12"), "a short password: {out}");
    let (ok, out) =
        admin_create(dir.path(), "boss@acme.test", "Acme Dairy", "correct horse battery");
    assert!(ok, "admin create: {out}");
    let (ok, out) = admin_create(dir.path(), "BOSS@acme.test", "Other", "correct horse battery");
    assert!(!ok && out.contains("exists"), "the same email twice: {out}");

    let server = TestServer::start_in(dir.path(), production).await;
    let (status, body) = sign_in(&server, "boss@acme.test", "correct horse battery").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin", "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, customers) = server.get(&token, "/api/customers").await;
    assert_eq!(status, 200);
    assert_eq!(customers["items"].as_array().map(Vec::len), Some(0), "{customers}");
    let (status, deliveries) = server.get(&token, "/api/deliveries").await;
    assert_eq!(status, 200);
    assert_eq!(deliveries["items"].as_array().map(Vec::len), Some(0), "no generator: {deliveries}");
    assert_eq!(sign_in(&server, DEMO, PASSWORD).await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_settings_refuse_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut short = Config::defaults();
    short.addr = "127.0.0.1:0".parse().unwrap();
    short.data_dir = dir.path().to_owned();
    short.database_url = database_url_for(dir.path());
    short.jwt_secret = Some("too-short".into());
    let e = Server::bind(short.clone(), std::sync::Arc::new(SystemClock)).await.err().unwrap();
    assert!(e.to_string().contains("at least 32"), "{e}");

    let mut public = short;
    public.jwt_secret = None;
    public.addr = "0.0.0.0:0".parse().unwrap();
    let e = Server::bind(public.clone(), std::sync::Arc::new(SystemClock)).await.err().unwrap();
    assert!(e.to_string().contains("PULSE_MODE"), "{e}");
    // Nothing was created before the refusal.
    assert!(!dir.path().join("pulse.db").exists());
}
