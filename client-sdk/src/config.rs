//! This module deals with everything a user can tune, with socket.io-client's defaults.

use pulse_protocol::events::Topics;
use std::time::Duration;

use crate::backoff::BackoffConfig;
use crate::transport::Transport;

/// How a [`Connection`](crate::Connection) behaves. `Config::new(url)` gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Server base URL: `http(s)://host:port` or `ws(s)://host:port`.
    pub url: String,
    /// Engine.IO path on the server.
    pub path: String,
    /// The transports to open a session with, tried in this order when one cannot be opened
    /// (socket.io-client's `transports` with `tryAllTransports`). A session on
    /// [`Transport::Polling`] upgrades to a WebSocket when the server offers it and
    /// [`Transport::WebSocket`] is listed. The default, WebSocket then polling, opens a
    /// WebSocket straight away and falls back to long-polling where a proxy refuses it.
    pub transports: Vec<Transport>,
    /// In the browser, long-polling requests to a server on another origin carry its
    /// cookies and keep those it sets (fetch's `credentials: "include"`; socket.io-client's
    /// `withCredentials`, also off by default). A sticky load balancer's cookie then keeps
    /// every request of a session on the node that holds it; without it each request may land
    /// on another node, which does not know the session. The server must list the page's
    /// origin (`PULSE_CORS_ORIGINS`). Natively the client always keeps the cookies its
    /// server sets, so this changes nothing there.
    pub with_credentials: bool,
    /// Socket.IO namespace to join.
    pub namespace: String,
    /// Reconnect automatically after a lost connection.
    pub reconnection: bool,
    /// Give up after this many failed attempts in a row; `None` never gives up.
    pub reconnection_attempts: Option<u32>,
    /// Delay policy between attempts.
    pub backoff: BackoffConfig,
    /// Opening the transport and joining the namespace must finish within this.
    pub connect_timeout: Duration,
    /// Default deadline of `emit_with_ack`.
    pub ack_timeout: Duration,
    /// Emits kept while offline; beyond this `emit` fails with `BufferFull`.
    pub send_buffer: usize,
    /// Every so often a `ping` emit with ack measures RTT; `None` disables it.
    pub health_interval: Option<Duration>,
    /// A health ping unanswered this long marks the link dead and forces a reconnect.
    pub health_timeout: Duration,
    /// While the socket is down, fetch missed events over REST this often; `None` disables
    /// the fallback.
    pub poll_interval: Option<Duration>,
    /// A fallback poll unanswered this long is abandoned and counts as failed (a request
    /// lost in a partition may never be answered nor refused); the next one follows after
    /// `poll_interval`.
    pub poll_timeout: Duration,
    /// Start polling after this many failed connection attempts in a row.
    pub poll_after_failures: u32,
    /// Add an `idempotency_key` to the object payload of every `emit_with_ack` that lacks
    /// one, and resend such emits after a reconnection if their answer was lost.
    pub idempotency_keys: bool,
    /// The topics to receive from the start (sent in the CONNECT auth, and with every
    /// fallback poll); `None`: every topic. Change them later with `subscribe` /
    /// `unsubscribe`.
    pub topics: Option<Topics>,
}

impl Config {
    /// Defaults for a server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            url: url.into(),
            path: "/socket.io/".into(),
            transports: vec![Transport::WebSocket, Transport::Polling],
            with_credentials: false,
            namespace: "/".into(),
            reconnection: true,
            reconnection_attempts: None,
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(20),
            ack_timeout: Duration::from_secs(10),
            send_buffer: 1000,
            health_interval: Some(Duration::from_secs(30)),
            health_timeout: Duration::from_secs(10),
            poll_interval: Some(Duration::from_secs(10)),
            poll_timeout: Duration::from_secs(10),
            poll_after_failures: 1,
            idempotency_keys: true,
            topics: None,
        }
    }

    /// The HTTP base URL for REST calls (fallback polling).
    pub fn http_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if let Some(rest) = base.strip_prefix("wss://") {
            format!("https://{rest}")
        } else if let Some(rest) = base.strip_prefix("ws://") {
            format!("http://{rest}")
        } else {
            base.to_owned()
        }
    }

    /// The WebSocket URL of the Engine.IO endpoint.
    pub fn websocket_url(&self) -> String {
        self.engine_url(Transport::WebSocket)
    }

    /// The Engine.IO endpoint's URL for `transport`: `ws(s)://` for a WebSocket,
    /// `http(s)://` for polling, ending in `?EIO=4&transport=…`.
    pub fn engine_url(&self, transport: Transport) -> String {
        let base = match transport {
            Transport::Polling => self.http_url(),
            Transport::WebSocket => {
                let base = self.url.trim_end_matches('/');
                if let Some(rest) = base.strip_prefix("https://") {
                    format!("wss://{rest}")
                } else if let Some(rest) = base.strip_prefix("http://") {
                    format!("ws://{rest}")
                } else {
                    base.to_owned()
                }
            }
        };
        let path = self.path.trim_matches('/');
        format!("{base}/{path}/?EIO=4&transport={}", transport.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_url_maps_schemes() {
        assert_eq!(
            Config::new("http://127.0.0.1:3000").websocket_url(),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            Config::new("https://pulse.example/").websocket_url(),
            "wss://pulse.example/socket.io/?EIO=4&transport=websocket"
        );
        let mut c = Config::new("ws://h:1");
        c.path = "custom".into();
        assert_eq!(c.websocket_url(), "ws://h:1/custom/?EIO=4&transport=websocket");
        assert_eq!(c.engine_url(Transport::Polling), "http://h:1/custom/?EIO=4&transport=polling");
        assert_eq!(
            Config::new("wss://pulse.example").engine_url(Transport::Polling),
            "https://pulse.example/socket.io/?EIO=4&transport=polling"
        );
    }
}
