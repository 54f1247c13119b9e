//! The generator's smoke run, part of `cargo test --workspace`: a real Pulse server in bench
//! mode in this process, 20 connections, 20 broadcasts a second for 2 s. Every tick must
//! arrive exactly once; latencies only get generous sanity bounds (a busy CI machine is not
//! a benchmark). The figures that matter come from `scripts/bench`.

use std::sync::Arc;
use std::time::Duration;

use pulse_bench::load::{self, Scenario, Target, Wire};
use pulse_bench::servers;
use pulse_server::{Config, Server, SystemClock};

async fn start(bench: bool) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::defaults();
    c.addr = "127.0.0.1:0".parse().unwrap();
    c.data_dir = dir.path().to_owned();
    c.dist = dir.path().to_owned();
    c.demo = false;
    c.bench = bench;
    c.argon2_m_cost_kib = 64;
    c.max_conn_per_user = 1_000;
    c.max_conn_per_ip = 1_000;
    let server = Server::bind(c, Arc::new(SystemClock)).await.expect("bind");
    let url = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (url, stop, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_connections_get_every_tick_once() {
    let (url, _stop, _dir) = start(true).await;
    let token = servers::login(&url).await.expect("login");
    // Memory and CPU of this whole test process; only their presence is checked.
    let target = Target::single("pulse", Wire::SocketIo, url, token, Some(std::process::id()));
    let mut sc = Scenario::new("smoke", 20, 20.0, 256, 2.0);
    sc.batch = 10;
    let r = load::run_broadcast(&target, &sc).await.expect("run");
    assert_eq!((r.up, r.connect_errors, r.disconnects), (20, 0, 0), "{r:?}");
    assert_eq!(r.emitted, 40, "{r:?}");
    assert_eq!((r.expected, r.received, r.lost, r.server_dropped), (800, 800, 0, 0), "{r:?}");
    assert_eq!((r.duplicated, r.lost_on_dropped, r.undelivered), (0, 0, 0), "{r:?}");
    assert!(r.disconnect_reasons.is_empty(), "{r:?}");
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms, "{r:?}");
    assert!(r.max_ms < 5_000.0, "{r:?}");
    assert!(r.due_p50_ms > 0.0 && r.due_p50_ms >= r.p50_ms * 0.99, "{r:?}");
    assert!(r.delivered_per_s > 0.0 && r.rss_connected_kib > 0, "{r:?}");

    let acks = load::run_acks(&target, 20).await.expect("acks");
    assert_eq!((acks.received, acks.lost), (20, 0), "{acks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_every_logged_entry_of_real_writes_once_in_order() {
    let (url, _stop, _dir) = start(false).await;
    let token = servers::login(&url).await.expect("login");
    let target = Target::single("pulse", Wire::SocketIo, url, token, Some(std::process::id()));
    let mut sc = Scenario::log("smoke log", 10, 10.0, 1.0, 2);
    sc.batch = 10;
    let r = pulse_bench::logged::run_log(&target, &sc).await.expect("run");
    assert_eq!((r.up, r.connect_errors, r.disconnects), (10, 0, 0), "{r:?}");
    assert_eq!((r.writes_ok, r.writes_failed), (10, 0), "{r:?}");
    // A payment below the large-payment threshold logs payment:added, balance:updated and
    // activity:updated, all tenant-wide.
    assert_eq!(r.log_entries, 30, "{r:?}");
    assert_eq!((r.expected, r.received, r.lost), (300, 300, 0), "{r:?}");
    assert_eq!((r.clients_with_gaps, r.out_of_order, r.unexpected), (0, 0, 0), "{r:?}");
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.max_ms < 5_000.0, "{r:?}");
    assert!(r.write_p50_ms > 0.0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broadcaster_is_off_unless_bench_mode_is_on() {
    let (url, _stop, _dir) = start(false).await;
    let token = servers::login(&url).await.expect("login");
    let res = reqwest::Client::new()
        .post(format!("{url}/api/bench/broadcast"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "rate": 1, "size": 10, "seconds": 1 }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    // Without the route the request falls through to the dashboard's static files, which
    // refuse a POST.
    assert!(matches!(res.status().as_u16(), 404 | 405), "{}", res.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_tcp_floor_delivers_every_frame_once() {
    let port = servers::free_port().unwrap();
    tokio::spawn(pulse_bench::floor::serve(port));
    let url = format!("127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&url).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "the floor server listens");
    let target =
        Target::single("floor", Wire::RawTcp, url, String::new(), Some(std::process::id()));
    let mut sc = Scenario::new("smoke", 20, 20.0, 256, 2.0);
    sc.batch = 10;
    let r = load::run_broadcast(&target, &sc).await.expect("run");
    assert_eq!((r.up, r.emitted, r.expected, r.received, r.lost), (20, 40, 800, 800, 0), "{r:?}");
    assert_eq!(r.duplicated, 0, "{r:?}");
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms, "{r:?}");
}

/// The Node.js side of the comparison (`bench/node-server.mjs`, the official socket.io under
/// node from PATH) stays runnable: the same generator, every tick once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodejs_server_delivers_every_tick_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = servers::start_node("node".as_ref(), &root.join("bench/node-server.mjs"))
        .await
        .expect("node bench/node-server.mjs starts (node and npm's socket.io installed)");
    let mut sc = Scenario::new("smoke", 20, 20.0, 256, 2.0);
    sc.batch = 10;
    let r = load::run_broadcast(&node.target, &sc).await.expect("run");
    node.stop().await;
    assert!(r.due_p50_ms > 0.0 && r.due_p50_ms >= r.p50_ms * 0.99, "{r:?}");
    assert_eq!((r.up, r.connect_errors, r.disconnects), (20, 0, 0), "{r:?}");
    assert_eq!(r.emitted, 40, "{r:?}");
    assert_eq!((r.expected, r.received, r.lost, r.duplicated), (800, 800, 0, 0), "{r:?}");
    assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms, "{r:?}");
}

/// The second generator (the official socket.io-client in Node.js workers,
/// `bench/sio-load.mjs`) stays runnable against both servers: every tick once, as it counts
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_io_client_generator_counts_every_tick_once_on_both_servers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let generator = load::Generator::SocketIoClient(load::NodeGenerator {
        node: "node".into(),
        script: root.join("bench/sio-load.mjs"),
        workers: 2,
    });
    let (url, _stop, _dir) = start(true).await;
    let token = servers::login(&url).await.expect("login");
    let pulse = Target::single("pulse", Wire::SocketIo, url, token, Some(std::process::id()));
    let node = servers::start_node("node".as_ref(), &root.join("bench/node-server.mjs"))
        .await
        .expect("node bench/node-server.mjs starts");
    for target in [&pulse, &node.target] {
        let sc = Scenario::new("smoke", 21, 20.0, 256, 2.0);
        let r = load::run_broadcast_with(target, &sc, &generator).await.expect("run");
        assert_eq!(r.generator, "socket.io-client");
        assert_eq!((r.up, r.connect_errors, r.disconnects), (21, 0, 0), "{r:?}");
        assert_eq!(r.emitted, 40, "{r:?}");
        assert_eq!((r.expected, r.received, r.lost, r.duplicated), (840, 840, 0, 0), "{r:?}");
        assert_eq!((r.lost_on_dropped, r.undelivered), (0, 0), "{r:?}");
        assert!(r.p50_ms > 0.0 && r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms, "{r:?}");
        assert!(r.generator_cpu_pct > 0.0, "{r:?}");
        // A tick leaves at or after it is due: latency from due is not below that from send
        // (within the histograms' 3 significant digits).
        assert!(r.due_p50_ms > 0.0 && r.due_p50_ms >= r.p50_ms * 0.99, "{r:?}");
    }
    node.stop().await;
}
