//! A real server on a free loopback port, and native SDK clients for it.

use std::net::SocketAddr;
use std::sync::Arc;

use pulse_server::{Config, Server, SystemClock};
use tokio::sync::oneshot;

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server with fast ticks so tests see several updates quickly.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::defaults();
        config.addr = "127.0.0.1:0".parse().unwrap();
        config.stats_interval_ms = 100;
        config.demo_rate = 20.0;
        tweak(&mut config);
        let server = Server::bind(config, Arc::new(SystemClock))
            .await
            .expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn sdk_config(&self) -> pulse_sdk::Config {
        pulse_sdk::Config::new(self.url())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
