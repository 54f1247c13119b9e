//! The ws transport module is responsible for handling websocket connections
//! The only public function is [`new_req`] which is used to upgrade a http request to a websocket connection
//!
//! Other functions are used internally to handle the websocket connection through tasks and channels
//! and to handle upgrade from polling to ws

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt, TryStreamExt, stream::SplitStream};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, request::Parts};
use smallvec::smallvec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        self, Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};
use tokio_util::future::FutureExt as _;

use engineioxide_core::{Packet, ProtocolVersion, Sid, Str, TransportType};

use crate::{
    DisconnectReason, Socket, body::ResponseBody, config::EngineIoConfig, engine::EngineIo,
    errors::Error, handler::EngineIoHandler, transport::make_open_packet,
};

/// Create a response for websocket upgrade
fn ws_response<B>(ws_key: &HeaderValue) -> Response<ResponseBody<B>> {
    let derived = derive_accept_key(ws_key.as_bytes());
    let sec = derived.parse::<HeaderValue>().unwrap();
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        )
        .header(http::header::SEC_WEBSOCKET_ACCEPT, sec)
        .body(ResponseBody::empty_response())
        .unwrap() // we are only using constants
}

/// Upgrade a websocket request to create a websocket connection.
///
/// If a sid is provided in the query it means that is is upgraded from an existing HTTP polling request.
/// In this case the http polling request is closed and the SID is kept for the websocket
pub fn new_req<R: Send + 'static, B, H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req: Request<R>,
) -> Result<Response<ResponseBody<B>>, Error> {
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts.clone(), body);

    let ws_key = parts
        .headers
        .get("Sec-WebSocket-Key")
        .ok_or(Error::InvalidWebSocketKey)?
        .clone();
    let parts = without_ws_key(parts);

    // PATCH (Pulse, see vendor/README.md): boxed, because a task keeps room for what it
    // captured until it ends, and this one lasts as long as the connection.
    let (req, parts) = (Box::new(req), Box::new(parts));
    tokio::spawn(async move {
        // PATCH: out of their boxes at once. A box whose content was moved out is freed only
        // when its binding goes out of scope, which for a captured one is when the task ends.
        let parts = {
            let boxed = parts;
            *boxed
        };
        let upgrade = hyper::upgrade::on({
            let boxed = req;
            *boxed
        });
        let conn = upgrade.await.map(hyper_util::rt::TokioIo::new);

        let res = match conn {
            Ok(conn) => on_init(engine.clone(), conn, protocol, sid, parts).await,
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("ws upgrade error: {}", _e);
                return;
            }
        };

        match res {
            Ok(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed")
            }
            Err(Error::MultipleWebsocketRequests) => {}
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed with error: {_e}");
                if let Some(sid) = sid {
                    engine.close_session(sid, DisconnectReason::TransportError);
                }
            }
        }
    });

    Ok(ws_response(&ws_key))
}

/// PATCH (Pulse, see vendor/README.md): the request head a WebSocket session keeps for its
/// life, without the handshake's key, which is answered once here: a direct connection's
/// head then often has no header left, and holds no header map.
fn without_ws_key(mut parts: Parts) -> Parts {
    let all = std::mem::take(&mut parts.headers);
    let key = http::header::SEC_WEBSOCKET_KEY;
    let mut kept = HeaderMap::with_capacity(all.len() - all.get_all(&key).iter().count());
    for (name, value) in all.iter().filter(|(name, _)| **name != key) {
        kept.append(name.clone(), value.clone());
    }
    parts.headers = kept;
    parts
}

/// Handle a websocket connection upgrade
///
/// Sends an open packet if it is not an upgrade from a polling request
///
/// Read packets from the websocket and handle them, it will block until the connection is closed
///
/// PATCH (Pulse, see vendor/README.md): the opening (handshake or upgrade, with the stream
/// and the request head) runs in a future of its own on the heap, freed once the session is
/// open; what stays for the life of the connection is only what serving it needs. The
/// writer runs in this future too, beside the read loop, instead of in a task of its own.
pub fn on_init<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = super::write_buffer::WriteBuffer::new(conn);
    let open = Box::pin(open(engine.clone(), conn, protocol, sid, req_data));
    async move {
        let (socket, ws) = open.await?;
        let (tx, rx) = ws.split();
        // Boxed here, as the socket keeps it (`Direct::sink`): a future keeps room for its
        // arguments for its whole life, and the sink half is 64 B.
        serve(engine, socket, Box::pin(tx), rx, sid.is_some()).await;
        Ok(())
    }
}

/// Opens the session: the Engine.IO handshake on a new one, the upgrade handshake on one that
/// started on polling.
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", name = "init_websocket", skip(engine, conn, req_data))
)]
async fn open<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> Result<(Arc<Socket<H::Data>>, WebSocketStream<S>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(engine.config.ws_read_buffer_size)
        // PATCH: frames go on at once to the connection's `WriteBuffer`, which gathers them
        // until a flush and then frees them; tungstenite's own buffer would keep its largest
        // size for the life of the connection.
        .write_buffer_size(0)
        .max_message_size(Some(engine.config.ws_max_message_size))
        .max_frame_size(Some(engine.config.ws_max_frame_size));

    let ws_init = move || WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config));
    if let Some(sid) = sid {
        match engine.get_socket(sid) {
            None => Err(Error::UnknownSessionID(sid)),
            Some(socket) if socket.is_ws() => Err(Error::MultipleWebsocketRequests),
            Some(socket) => {
                let mut ws = ws_init().await;

                let upgrade_fut = upgrade_handshake::<H, S>(&socket, &mut ws);
                match tokio::time::timeout(engine.config.upgrade_timeout, upgrade_fut)
                    .with_cancellation_token(&socket.cancellation_token)
                    .await
                {
                    Some(Ok(res)) => res?,
                    Some(Err(_)) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "ws upgrade timed out, closing session");
                        engine.close_session(socket.id, DisconnectReason::TransportError);
                        return Err(Error::Upgrade);
                    }
                    None => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "socket is being closed");
                        return Err(Error::Upgrade);
                    }
                }
                Ok((socket, ws))
            }
        }
    } else {
        let socket = engine.create_session(protocol, TransportType::Websocket, req_data, false);

        #[cfg(feature = "tracing")]
        tracing::debug!("new websocket connection");

        let mut ws = ws_init().await;
        init_handshake(socket.id, &mut ws, &engine.config).await?;
        Ok((socket, ws))
    }
}

/// Serves an open session until it closes: the read loop, the writer and, for a session that
/// started on WebSocket, the heartbeat, all in the connection's task.
async fn serve<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    socket: Arc<Socket<H::Data>>,
    tx: crate::socket::WsSink,
    rx: SplitStream<WebSocketStream<S>>,
    upgraded: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use futures_util::future::{Either, select};
    use std::pin::pin;
    // Every future here is built where it is polled: a future moved from one local into
    // another keeps room in both (about 1 KB per connection here).
    //
    // PATCH: the writer ends when the session's channel closes or the session is cancelled,
    // after its closing flush.
    let writer = pin!(forward_to_socket::<H>(socket.clone(), tx));
    let reading = pin!(
        async {
            let read = pin!(forward_to_handler(&engine, rx, &socket));
            // PATCH: a session that starts on WebSocket runs its heartbeat here, beside the
            // read loop, instead of in a task of its own. A session upgraded from polling
            // keeps the heartbeat task it started with.
            let heartbeat = pin!(async {
                if upgraded {
                    return std::future::pending().await;
                }
                let res = socket
                    .heartbeat_job(engine.config.ping_interval, engine.config.ping_timeout)
                    .await;
                if let Err(_e) = res {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(id = ?socket.id, "heartbeat error: {_e}");
                }
            });
            match select(read, heartbeat).await {
                Either::Left((res, _)) => Some(res),
                // The heartbeat ends only when the client missed it.
                Either::Right(((), _)) => None,
            }
        }
        .with_cancellation_token(&socket.cancellation_token)
    );
    // The writer outlives the reader: what closing the session queued (a disconnect, the
    // close packet) is still written and flushed. A writer that ends first (the session was
    // closed) leaves the reader to see the cancellation.
    // PATCH: what the reader ended with, in a block of its own: a local this future keeps
    // is kept until its scope ends, and the reader's error is large.
    let writer = {
        let (res, writer) = match select(reading, writer).await {
            Either::Left((res, writer)) => (res, Some(writer)),
            Either::Right(((), reading)) => (reading.await, None),
        };
        match res {
            Some(None) => socket.close(DisconnectReason::HeartbeatTimeout),
            Some(Some(Err(ref e))) => {
                let reason =
                    Option::<DisconnectReason>::from(e).unwrap_or(DisconnectReason::TransportError);

                #[cfg(feature = "tracing")]
                tracing::debug!("error when handling packet: {:?}", e);
                engine.close_session(socket.id, reason);
            }
            Some(Some(Ok(()))) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = %socket.id, "ws transport was closed");
                engine.close_session(socket.id, DisconnectReason::TransportClose);
            }
            None => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = %socket.id, "socket is closing");
            }
        }
        writer
    };
    if let Some(writer) = writer {
        writer.await;
    }
}

/// Forwards all packets received from a websocket to a EngineIo [`Socket`]
async fn forward_to_handler<H: EngineIoHandler, S>(
    engine: &Arc<EngineIo<H>>,
    mut rx: SplitStream<WebSocketStream<S>>,
    socket: &Arc<Socket<H::Data>>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    while let Some(msg) = rx.try_next().await? {
        match msg {
            Message::Text(msg) => match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
                Packet::Close => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] closing session", socket.id);
                    engine.close_session(socket.id, DisconnectReason::TransportClose);
                    break;
                }
                Packet::Pong | Packet::Ping => {
                    // PATCH: a permit already stored means the client is already known to be alive.
                    socket.heartbeat.notify_one();
                    Ok::<(), Error>(())
                }
                Packet::Message(msg) => {
                    engine.handler.on_message(msg, socket.clone());
                    Ok(())
                }
                p => return Err(Error::BadPacket(p)),
            },
            Message::Binary(mut data) => {
                if socket.protocol == ProtocolVersion::V3 && !data.is_empty() {
                    // The first byte is the message type, which we don't need.
                    data = data.split_off(1);
                }
                engine.handler.on_binary(data, socket.clone());
                Ok(())
            }
            Message::Close(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("websocket closed, closing session");
                engine.close_session(socket.id, DisconnectReason::TransportClose);
                break;
            }
            _ => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "unexpected ws message");
                Ok(())
            }
        }?
    }
    Ok(())
}

/// Forwards all packets waiting to be sent to the websocket
///
/// The websocket stream is flushed only when the internal channel is drained.
/// PATCH: the sink lives in the socket's [`crate::socket::Direct`], shared with emitters.
async fn forward_to_socket<H: EngineIoHandler>(
    socket: Arc<Socket<H::Data>>,
    tx: crate::socket::WsSink,
) {
    // A polling request that was in progress during the upgrade may still hold the lock.
    let lock = socket.internal_rx.lock();
    let Some(_internal_rx) = lock
        .with_cancellation_token(&socket.cancellation_token)
        .await
    else {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "session closed before starting the ws writer");
        return;
    };

    socket.direct.lock().unwrap().sink = Some(tx);
    let cancelled = socket.cancellation_token.cancelled();
    tokio::pin!(cancelled);

    // Forward buffered packets until the channel is closed or the session is cancelled.
    loop {
        tokio::select! {
            biased;
            _ = std::future::poll_fn(|cx| drive(&socket, cx)) => break,
            _ = &mut cancelled => break,
            packets = socket.volatile.next() => {
                let mut st = socket.direct.lock().unwrap();
                for item in packets {
                    if let Some(m) = to_message(socket.protocol, item) {
                        st.pending.push_back(m);
                    }
                }
            },
        }
    }

    #[cfg(feature = "tracing")]
    tracing::trace!(sid = %socket.id, "ws closing flush");

    std::future::poll_fn(|cx| {
        use std::task::Poll;
        let mut guard = socket.direct.lock().unwrap();
        let st = &mut *guard;
        let Some(sink) = st.sink.as_mut() else {
            return Poll::Ready(());
        };
        while !st.pending.is_empty() {
            match sink.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let m = st.pending.pop_front().unwrap();
                    sink.as_mut().start_send(m).ok();
                }
                Poll::Ready(Err(_)) => st.pending.clear(),
                Poll::Pending => return Poll::Pending,
            }
        }
        match sink.as_mut().poll_flush(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(_) => {}
        }
        match sink.as_mut().poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => {
                st.sink = None;
                Poll::Ready(())
            }
        }
    })
    .await;
}

/// The WebSocket message of a packet; none for `Noop`, which a polling upgrade may leave
/// behind and the direct write uses to wake the writer.
fn to_message(protocol: ProtocolVersion, item: Packet) -> Option<Message> {
    match item {
        Packet::Binary(bin) | Packet::BinaryV3(bin) => {
            if protocol == ProtocolVersion::V3 {
                let mut buff = Vec::with_capacity(bin.len() + 1);
                buff.push(0x04);
                buff.extend(bin);
                Some(Message::Binary(buff.into()))
            } else {
                Some(Message::Binary(bin))
            }
        }
        Packet::Noop => None,
        _ => {
            let packet: String = item.try_into().unwrap();
            Some(Message::Text(packet.into()))
        }
    }
}

/// Takes what is queued for the socket and writes it; ready only when the channel closes.
/// PATCH: runs under the direct-write lock, so an emitter writing directly sees the queue
/// as it is (see [`crate::socket::Direct`]).
fn drive<D: Default + Send + Sync + 'static>(
    socket: &Socket<D>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<()> {
    use std::task::Poll;
    let mut guard = socket.direct.lock().unwrap();
    let st = &mut *guard;
    if st.sink.is_none() {
        return Poll::Ready(());
    }
    // What was taken is written and flushed before more is taken, so a socket that does not
    // read leaves packets in the channel, which fills and tells emitters (as before the patch).
    if feed(socket, st, cx).is_pending() {
        return Poll::Pending;
    }
    let mut closed = false;
    loop {
        loop {
            match socket.queue.poll_recv(cx) {
                Poll::Ready(Some(packets)) => {
                    for item in *packets {
                        st.closing |= matches!(item, Packet::Close);
                        if let Some(m) = to_message(socket.protocol, item) {
                            st.pending.push_back(m);
                        }
                    }
                }
                Poll::Ready(None) => {
                    closed = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if st.pending.is_empty() {
            break;
        }
        if feed(socket, st, cx).is_pending() {
            return Poll::Pending;
        }
    }
    if closed { Poll::Ready(()) } else { Poll::Pending }
}

/// Hands the pending messages to the sink and flushes it; ready when all are flushed.
fn feed<D: Default + Send + Sync + 'static>(
    socket: &Socket<D>,
    st: &mut crate::socket::Direct,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<()> {
    use std::task::Poll;
    let _ = socket;
    let Some(sink) = st.sink.as_mut() else {
        return Poll::Ready(());
    };
    while !st.pending.is_empty() {
        match sink.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let m = st.pending.pop_front().unwrap();
                if let Err(_e) = sink.as_mut().start_send(m) {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                }
                st.dirty = true;
            }
            Poll::Ready(Err(_e)) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("[sid={}] error sending packet: {}", socket.id, _e);
                st.pending.clear();
            }
            Poll::Pending => return Poll::Pending,
        }
    }
    // PATCH: what was taken from the channel is handed on; an idle socket keeps no room for
    // it (a catch-up's 128 messages held ~5 KB per socket for its life, the room for the
    // first few 0.2 KB). One allocation per batch is what it costs.
    if st.pending.capacity() > 0 {
        st.pending = std::collections::VecDeque::new();
    }
    if st.dirty {
        // PATCH: the socket is busy for a while (see `BUSY_WITHIN`): its next emits queue.
        st.last_write = Some(std::time::Instant::now());
        match sink.as_mut().poll_flush(cx) {
            Poll::Ready(_) => st.dirty = false,
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(())
}
/// Send a Engine.IO [`OpenPacket`] to initiate a websocket connection
async fn init_handshake<S>(
    sid: Sid,
    ws: &mut WebSocketStream<S>,
    config: &EngineIoConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let packet = Packet::Open(make_open_packet(TransportType::Websocket, sid, config));
    let packet: String = packet.into();
    ws.send(Message::Text(packet.into())).await?;
    Ok(())
}

/// Upgrade a session from a polling request to a websocket request.
///
/// Before upgrading the session the server should send a NOOP packet to any pending polling request.
///
/// ## Handshake :
/// ```text
/// CLIENT                                                 SERVER
///│                                                      │
///│   GET /engine.io/?EIO=4&transport=websocket&sid=...  │
///│ ───────────────────────────────────────────────────► │
///│  ◄─────────────────────────────────────────────────┘ │
///│            HTTP 101 (WebSocket handshake)            │
///│                                                      │
///│            -----  WebSocket frames -----             │
///│  ─────────────────────────────────────────────────►  │
///│                         2probe                       │ (ping packet)
///│  ◄─────────────────────────────────────────────────  │
///│                         3probe                       │ (pong packet)
///│  ─────────────────────────────────────────────────►  │
///│                         5                            │ (upgrade packet)
///│                                                      │
///│            -----  WebSocket frames -----             │
/// ```
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", skip(socket, ws))
)]
async fn upgrade_handshake<H: EngineIoHandler, S>(
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tracing")]
    tracing::debug!("starting websocket connection upgrade");

    // The socket is upgrading, from now on all polling
    // request will return a `Packet::Noop`
    socket.start_upgrade();

    // We send a last Noop request to close a potential waiting polling request.
    // PATCH: the socket's queue has no waiting send (see `crate::queue`); a full queue has
    // packets for that request already, which end it as the Noop would.
    match socket.queue.try_send(Box::new(smallvec![Packet::Noop])) {
        Ok(()) | Err(TrySendError::Full(_)) => {}
        Err(TrySendError::Closed(_)) => return Err(Error::Upgrade),
    }

    // wait for any current polling connection to finish by waiting for the socket to be unlocked
    // All other polling connection will be immediately closed with a NOOP packet.
    let _lock = socket.internal_rx.lock().await;

    // Fetch the next packet from the ws stream, it should be a PingUpgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        _ => Err(Error::Upgrade)?,
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::PingUpgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("received first ping upgrade");
            // Respond with a PongUpgrade packet
            ws.send(Message::Text(String::from(Packet::PongUpgrade).into()))
                .await?;
        }
        p => Err(Error::BadPacket(p))?,
    };

    // Fetch the next packet from the ws stream, it should be an Upgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        Some(Ok(Message::Close(_))) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws stream closed before upgrade");
            Err(Error::Upgrade)?
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!("unexpected ws message before upgrade");
            Err(Error::Upgrade)?
        }
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::Upgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgraded successfully")
        }
        p => Err(Error::BadPacket(p))?,
    };

    socket.upgrade_to_websocket();
    Ok(())
}

fn ws_bytes_to_str(bytes: tungstenite::Utf8Bytes) -> Str {
    // SAFETY: the bytes are guaranteed to be valid UTF-8 by the tungstenite parser
    unsafe { Str::from_bytes_unchecked(bytes.into()) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use http::Request;
    use tokio::io::DuplexStream;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    /// PATCH (Pulse): the head a session keeps leaves out the handshake's key only.
    #[test]
    fn the_kept_head_leaves_out_the_websocket_key() {
        let req = Request::builder()
            .header("x-forwarded-for", "10.0.0.1")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("x-forwarded-for", "10.0.0.2")
            .body(())
            .unwrap();
        let kept = without_ws_key(req.into_parts().0).headers;
        assert!(!kept.contains_key("sec-websocket-key"));
        let forwarded: Vec<_> = kept.get_all("x-forwarded-for").iter().collect();
        assert_eq!(forwarded, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(kept.len(), 2);

        let only_key = Request::builder()
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        let kept = without_ws_key(only_key.into_parts().0).headers;
        assert!(kept.is_empty());
        assert_eq!(kept.capacity(), 0, "no header map allocated");
    }

    #[derive(Debug)]
    struct StubHandler;
    impl EngineIoHandler for StubHandler {
        type Data = ();
        fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
        fn on_disconnect(&self, _: Arc<Socket<()>>, _: DisconnectReason) {}
        fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
        fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
    }

    fn socket() -> Arc<Socket<()>> {
        Arc::new(Socket::new(
            ProtocolVersion::V4,
            TransportType::Websocket,
            &EngineIoConfig::default(),
            Request::<()>::default().into_parts().0,
            Box::new(|_, _| ()),
            false,
        ))
    }

    async fn ws_pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(1024);
        (
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
        )
    }

    /// A polling request can still hold the lock at the end of an upgrade.
    #[tokio::test]
    async fn writer_waits_for_the_lock_of_a_polling_request() {
        let socket = socket();
        let (server, mut client) = ws_pair().await;
        let (tx, _rx) = server.split();

        let polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(forward_to_socket::<StubHandler>(socket.clone(), Box::pin(tx)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "the writer should wait for the lock");

        drop(polling);
        socket.emit(Str::from("hello")).unwrap();
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the writer should send the packet")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("4hello"));
    }

    #[tokio::test]
    async fn writer_waiting_for_the_lock_stops_with_the_session() {
        let socket = socket();
        let (server, _client) = ws_pair().await;
        let (tx, _rx) = server.split();

        let _polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(forward_to_socket::<StubHandler>(socket.clone(), Box::pin(tx)));
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.cancellation_token.cancel();
        tokio::time::timeout(TIMEOUT, writer)
            .await
            .expect("the writer should stop")
            .unwrap();
    }
}
