//! The deployment guide's examples in `deploy/`: the nginx site passes `nginx -t` with a
//! self-signed certificate, and the same file, served on a loopback port without TLS,
//! carries a live client (WebSocket upgrade, REST, events) to a real server and names the
//! client in X-Forwarded-For for the per-IP limit, so a forged header does not help; the
//! systemd unit passes `systemd-analyze verify`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pulse_sdk::Status;

use crate::fixture::{record, TestServer, DEMO, OTHER, WAIT};
use crate::limits::connect_forwarded_via;
use crate::services::{free_port, tail, Watchdog};

fn example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf");
    std::fs::read_to_string(path).expect("deploy/nginx.conf")
}

/// A main nginx.conf around the site file, everything under `dir`.
fn main_conf(dir: &Path, site: &Path) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         include {};\n}}\n",
        site.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn nginx(conf: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new("nginx");
    cmd.arg("-p").arg(dir).arg("-c").arg(conf);
    cmd
}

#[test]
fn the_nginx_example_passes_nginx_t_with_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj"])
        .arg("/CN=pulse.example.com")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let site = example()
        .replace(
            "/etc/letsencrypt/live/pulse.example.com/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace("/etc/letsencrypt/live/pulse.example.com/privkey.pem", &key.display().to_string());
    let site_path = dir.path().join("pulse.conf");
    std::fs::write(&site_path, site).unwrap();
    let out = nginx(&main_conf(dir.path(), &site_path), dir.path()).arg("-t").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("test is successful"), "nginx -t:\n{text}");
}

#[test]
fn the_nginx_example_keeps_sockets_past_the_heartbeat() {
    // proxy_read_timeout must exceed the default pingInterval + pingTimeout (25 s + 20 s).
    let site = example();
    let timeouts: Vec<u64> = site
        .lines()
        .filter_map(|l| l.trim().strip_prefix("proxy_read_timeout "))
        .map(|v| v.trim_end_matches(';').trim_end_matches('s').parse().unwrap())
        .collect();
    assert_eq!(timeouts.len(), 1, "one proxy_read_timeout, in the /socket.io/ location");
    let defaults = pulse_server::Config::defaults();
    assert!(timeouts[0] * 1000 > defaults.ping_interval_ms + defaults.ping_timeout_ms);
}

/// nginx in the foreground with the example's site, TLS taken out, on a loopback port.
struct Nginx {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
    _watchdog: Watchdog,
}

impl Nginx {
    fn start(backend: SocketAddr) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut site = String::new();
        let mut server_blocks = 0;
        for line in example().lines() {
            let t = line.trim();
            if t.starts_with("server {") {
                server_blocks += 1;
            }
            let line = if t == "server 127.0.0.1:3000;" {
                format!("    server {backend};")
            } else if t.starts_with("listen 443 ssl") {
                format!("    listen {addr};")
            } else if t.starts_with("ssl_") || t.starts_with("listen [::]:443") {
                continue;
            } else if t.starts_with("listen 80") || t.starts_with("listen [::]:80") {
                // The redirect block: on another free port, out of the way.
                format!("    listen 127.0.0.1:{};", free_port())
            } else {
                line.to_owned()
            };
            site.push_str(&line);
            site.push('\n');
        }
        assert_eq!(server_blocks, 2, "the example's redirect and TLS server blocks");
        let site_path = dir.path().join("pulse.conf");
        std::fs::write(&site_path, site).unwrap();
        let conf = main_conf(dir.path(), &site_path);
        let child = nginx(&conf, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (scripts/setup --cluster installs it)");
        let watchdog = Watchdog::spawn(&format!("kill -9 {}", child.id()));
        let n = Nginx { addr, child, dir, _watchdog: watchdog };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start:\n{}", n.log());
            std::thread::sleep(Duration::from_millis(25));
        }
        n
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        tail(&self.dir.path().join("error.log"), 30)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_client_through_the_nginx_example() {
    let server = TestServer::start(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.max_conn_per_ip = 1;
    })
    .await;
    let proxy = Nginx::start(server.addr);
    let session = server.login(DEMO).await;

    let mut config = pulse_sdk::Config::new(proxy.url());
    config.backoff.initial = Duration::from_millis(50);
    let token = session.token.clone();
    let client = pulse_sdk::Client::connect_with_auth(config, move || {
        Some(pulse_protocol::events::ConnectAuth::with_token(&token))
    });
    client.wait_for(|s| *s == Status::Live, WAIT).await.expect("live through nginx");
    let (seen, _subs) = record(&client, &["payment:added"]);
    let res = reqwest::Client::new()
        .post(format!("{}/api/payments", proxy.url()))
        .bearer_auth(&session.token)
        .json(&serde_json::json!({ "customer_id": 4, "amount": 3.5, "method": "CASH" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "REST through nginx");
    let deadline = Instant::now() + WAIT;
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no payment:added through nginx:\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Per-IP limit of one, with nginx (127.0.0.1) trusted: the live client above counts as
    // 127.0.0.1; clients from 127.0.0.2 and 127.0.0.3 count as themselves, whatever
    // X-Forwarded-For they write, so a second socket from 127.0.0.2 is refused even with
    // another forged address.
    let other = server.login(OTHER).await;
    let via = |from: [u8; 4], forged: &'static str| {
        let token = other.token.clone();
        async move { connect_forwarded_via(proxy.addr, from.into(), &token, forged).await }
    };
    for from in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        let answer = via(from, "203.0.113.7").await;
        assert!(answer.starts_with("40"), "from {from:?} through nginx: {answer}");
    }
    let again = via([127, 0, 0, 2], "203.0.113.99").await;
    assert!(again.contains("too many connections from this address"), "a forged header: {again}");
    drop(client);
    server.stop().await;
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/pulse.service");
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(text.contains("ExecStart=/usr/local/bin/pulse-server\n"));
    // verify checks that ExecStart exists: point it at the binary just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pulse.service");
    let bin = env!("CARGO_BIN_EXE_pulse-server");
    std::fs::write(&copy, text.replace("/usr/local/bin/pulse-server", bin)).unwrap();
    let out =
        Command::new("systemd-analyze").arg("verify").arg(&copy).output().expect("systemd-analyze");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let complaints: Vec<&str> = text.lines().filter(|l| l.contains("pulse.service")).collect();
    assert!(out.status.success() && complaints.is_empty(), "systemd-analyze verify:\n{text}");
}
