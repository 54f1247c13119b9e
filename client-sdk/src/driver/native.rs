//! This module deals with the native runtime: tokio tasks, tokio-tungstenite WebSockets and
//! tokio timers. Used by tests, benchmarks and load generators.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc as tmpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{Input, Runtime, Socket, TransportEvent};
use crate::client::Shared;
use crate::codec::Frame;
use crate::transport::IoId;

pub(crate) struct Native;

pub(crate) struct NativeSocket {
    out: Option<tmpsc::UnboundedSender<Frame>>,
}

impl Socket for NativeSocket {
    fn send(&mut self, frame: Frame) {
        if let Some(out) = &self.out {
            let _ = out.send(frame);
        }
    }

    fn close(&mut self) {
        // The socket task sends a close frame and exits once its queue is closed.
        self.out = None;
    }
}

impl Runtime for Native {
    type Socket = NativeSocket;
    type Sleep = tokio::time::Sleep;

    fn open(&self, url: &str, id: IoId, tx: UnboundedSender<Input>) -> NativeSocket {
        let (out_tx, out_rx) = tmpsc::unbounded_channel();
        tokio::spawn(socket_task(url.to_owned(), id, tx, out_rx));
        NativeSocket { out: Some(out_tx) }
    }

    fn sleep(&self, d: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(d)
    }
}

async fn socket_task(
    url: String,
    id: IoId,
    tx: UnboundedSender<Input>,
    mut out: tmpsc::UnboundedReceiver<Frame>,
) {
    let report = |event| {
        let _ = tx.unbounded_send(Input::Socket { id, event });
    };
    // A 4 KiB read buffer instead of 128 KiB: tungstenite zeroes its whole buffer before each
    // read, which cost a load generator a third of its CPU and 160 KB per connection
    // (bench/ANALYSIS.md). Nagle off, so small emits go out at once.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    // wss:// through rustls with the roots of `tls` (ignored for ws://).
    let tls = tokio_tungstenite::Connector::Rustls(crate::tls::client_config());
    let ws = match tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(config),
        true,
        Some(tls),
    )
    .await
    {
        Ok((ws, _)) => ws,
        Err(e) => return report(TransportEvent::Closed(e.to_string())),
    };
    report(TransportEvent::Open);
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            frame = out.recv() => match frame {
                Some(Frame::Text(t)) => {
                    if let Err(e) = sink.send(WsMessage::text(t)).await {
                        return report(TransportEvent::Closed(e.to_string()));
                    }
                }
                Some(Frame::Binary(b)) => {
                    if let Err(e) = sink.send(WsMessage::binary(b)).await {
                        return report(TransportEvent::Closed(e.to_string()));
                    }
                }
                None => {
                    let _ = sink.close().await;
                    return;
                }
            },
            msg = stream.next() => match msg {
                Some(Ok(WsMessage::Text(t))) => report(TransportEvent::Frame(Frame::Text(t.as_str().to_owned()))),
                Some(Ok(WsMessage::Binary(b))) => report(TransportEvent::Frame(Frame::Binary(b.to_vec()))),
                Some(Ok(WsMessage::Close(_))) | None => {
                    return report(TransportEvent::Closed("connection closed by server".into()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return report(TransportEvent::Closed(e.to_string())),
            },
        }
    }
}

pub(crate) fn spawn(shared: Arc<Shared>, rx: UnboundedReceiver<Input>, tx: UnboundedSender<Input>) {
    tokio::spawn(super::run(Native, shared, rx, tx));
}

pub(crate) fn spawn_task(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(fut);
}

pub(crate) fn seed() -> u64 {
    // RandomState is seeded from the OS; no extra dependency for 64 bits of jitter entropy.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

pub(crate) async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}
