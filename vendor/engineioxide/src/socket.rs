//! ## A [`Socket`] represents a client connection to the server
//!
//! It can be used to :
//! * Emit binary or string data
//! * Get a reference to the request made to connect to the socket.io server
//! * Close the connection
//!
//! #### Example :
//! ```rust
//! # use bytes::Bytes;
//! # use engineioxide::service::EngineIoService;
//! # use engineioxide::handler::EngineIoHandler;
//! # use engineioxide::{Socket, DisconnectReason, Str};
//! # use std::sync::{Mutex, Arc};
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! // Global state
//! #[derive(Debug, Default)]
//! struct MyHandler {
//!     user_cnt: AtomicUsize,
//! }
//!
//! // Socket state
//! #[derive(Debug, Default)]
//! struct SocketState {
//!     id: Mutex<String>,
//! }
//!
//! impl EngineIoHandler for MyHandler {
//!     type Data = SocketState;
//!
//!     fn on_connect(self: Arc<Self>, socket: Arc<Socket<SocketState>>) {
//!         // Get the request made to initialize the connection
//!         // and check that the authorization header is correct
//!         let connected = socket.req_parts.headers.get("Authorization")
//!             .map(|a| a == "mysuperpassword!").unwrap_or_default();
//!         // Close the socket if the authentication is invalid
//!         if !connected {
//!             socket.close(DisconnectReason::TransportError);
//!             return;
//!         }
//!
//!         let cnt = self.user_cnt.fetch_add(1, Ordering::Relaxed) + 1;
//!         // Emit string data to the client
//!         socket.emit(cnt.to_string()).ok();
//!     }
//!     fn on_disconnect(&self, socket: Arc<Socket<SocketState>>, reason: DisconnectReason) {
//!         let cnt = self.user_cnt.fetch_sub(1, Ordering::Relaxed) - 1;
//!     }
//!     fn on_message(self: &Arc<Self>, msg: Str, socket: Arc<Socket<SocketState>>) {
//!         *socket.data.id.lock().unwrap() = msg.into(); // bind a provided user id to a socket
//!     }
//!     fn on_binary(self: &Arc<Self>, data: Bytes, socket: Arc<Socket<SocketState>>) { }
//! }
//!
//! let svc = EngineIoService::new(Arc::new(MyHandler::default()));
//! ```
use std::{
    collections::VecDeque,
    fmt::Debug,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    time::Duration,
};

use crate::{config::EngineIoConfig, errors::Error};
use bytes::Bytes;
use engineioxide_core::{Packet, PacketBuf, ProtocolVersion, Str, TransportType};
use futures_util::FutureExt;
use http::request::Parts;
use smallvec::{SmallVec, smallvec};
use tokio::sync::{
    Mutex,
    mpsc::error::TrySendError,
};

pub use engineioxide_core::Sid;
use tokio_util::sync::CancellationToken;

use crate::queue::{Queue, QueuePermit};

/// A [`DisconnectReason`] represents the reason why a [`Socket`] was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client gracefully closed the connection
    TransportClose,
    /// The client sent multiple polling requests at the same time (it is forbidden according to the engine.io protocol)
    MultipleHttpPollingError,
    /// The client sent a bad request / the packet could not be parsed correctly
    PacketParsingError,
    /// An error occured in the transport layer
    /// (e.g. the client closed the connection without sending a close packet)
    TransportError,
    /// The client did not respond to the heartbeat
    HeartbeatTimeout,
    /// The server is being closed
    ClosingServer,
}

/// Convert an [`Error`] to a [`DisconnectReason`] if possible
/// This is used to notify the [`Handler`](crate::handler::EngineIoHandler) of the reason why a [`Socket`] was closed
/// If the error cannot be converted to a [`DisconnectReason`] it means that the error was not fatal and the [`Socket`] can be kept alive
impl From<&Error> for Option<DisconnectReason> {
    fn from(err: &Error) -> Self {
        use Error::*;
        match err {
            WsTransport(_) => Some(DisconnectReason::TransportError),
            BadPacket(_) | PacketParse(_) => Some(DisconnectReason::PacketParsingError),
            HeartbeatTimeout => Some(DisconnectReason::HeartbeatTimeout),
            _ => None,
        }
    }
}

/// What the socket's channel carries: packets to write together, on the heap.
///
/// PATCH (Pulse, see vendor/README.md): boxed so a slot of the channel is one pointer. tokio
/// allocates a channel's slots in blocks of 32, one when the channel is created, and keeps
/// every block it needed at once (plus a few spare) until the channel is dropped: with the
/// packets inline (40 B a slot) an idle socket held 1.3 KB for its first block, and about
/// 11 KB after one burst had filled a channel of 128. A queued packet now costs one small
/// allocation; frames written directly (the common case) go through no channel at all.
pub(crate) type Queued = Box<PacketBuf>;

/// A permit to emit a message to the client.
/// A permit holds a place in the internal channel to send one packet to the client.
pub struct Permit<'a> {
    inner: QueuePermit<'a, Queued>,
    direct: &'a std::sync::Mutex<Direct>,
    tx: &'a Queue<Queued>,
}

/// The WebSocket's sink half, as the writer hands it to [`Direct`] (PATCH).
pub(crate) type WsSink = std::pin::Pin<Box<dyn futures_util::Sink<WsMessage, Error = WsError> + Send>>;

/// The sink of a WebSocket connection, shared by its writer and by emitters.
///
/// PATCH (Pulse, see vendor/README.md): an emit writes its frame to the socket at once, in the
/// emitter's turn, when nothing is queued before it and the socket takes it without blocking,
/// as Node.js' `ws` does. Otherwise it goes through the channel to the writer, as before.
/// The writer takes packets from the channel only while it holds this lock, so "nothing
/// queued" is seen exactly and order is kept.
#[derive(Default)]
pub(crate) struct Direct {
    /// Set by the writer when it starts and taken when it closes the connection.
    pub sink: Option<WsSink>,
    /// Messages the writer took from the channel and has not handed to the sink yet.
    pub pending: std::collections::VecDeque<WsMessage>,
    /// Bytes handed to the sink and not flushed yet: the writer must finish the flush.
    pub dirty: bool,
    /// A close packet was taken from the channel: nothing may be written after it.
    pub closing: bool,
    /// When a frame last went to the sink, directly or by the writer.
    pub last_write: Option<std::time::Instant>,
}

/// A socket written to more recently than this is busy: its next frames go through the
/// writer, which writes what has queued meanwhile in one system call. Writing every
/// frame directly costs a system call each, which at hundreds of frames per second per
/// socket takes more CPU than batching and cannot keep up; an idle socket (a few frames a
/// second, the common case) gets its frame at once.
pub(crate) const BUSY_WITHIN: std::time::Duration = std::time::Duration::from_millis(10);

std::thread_local! {
    /// PATCH: whether emits on this thread may write directly (see [`DirectWrites`]).
    static DIRECT_ALLOWED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// PATCH (Pulse, see vendor/README.md): the emitter's say in direct writes.
///
/// Emits write directly only on a thread inside [`DirectWrites::enter`], and only while the
/// emitter allows it ([`DirectWrites::allow`]): the emitter knows whether more is waiting
/// behind the message it sends (a fan-out that is behind), which no socket can see. A
/// fan-out that is behind must queue, so that each socket's writer writes what gathered
/// in one system call; written directly, every frame is its own system call, made in the
/// emitter's turn, exactly when the server has least time for it. Everywhere else (acks,
/// replies, other emitters) emits queue as upstream does.
#[must_use = "direct writes end when the guard is dropped"]
pub struct DirectWrites {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl DirectWrites {
    /// Lets this thread's emits write directly until the guard is dropped (allowed at first).
    pub fn enter() -> Self {
        DIRECT_ALLOWED.with(|a| a.set(true));
        DirectWrites { _not_send: std::marker::PhantomData }
    }

    /// Whether the next emits may write directly: `false` while the emitter is behind.
    pub fn allow(&self, allowed: bool) {
        DIRECT_ALLOWED.with(|a| a.set(allowed));
    }
}

impl Drop for DirectWrites {
    fn drop(&mut self) {
        DIRECT_ALLOWED.with(|a| a.set(false));
    }
}

type WsMessage = tokio_tungstenite::tungstenite::Message;
type WsError = tokio_tungstenite::tungstenite::Error;

enum DirectOutcome {
    Written,
    /// Written to the sink but the socket would block: the writer must finish the flush.
    NeedsFlush,
    NotDirect,
}

/// Writes `msg` to the WebSocket now if nothing is queued before it.
fn try_direct(direct: &std::sync::Mutex<Direct>, tx: &Queue<Queued>, msg: &Str) -> DirectOutcome {
    use std::future::Future;
    use std::task::{Context, Poll};
    if !DIRECT_ALLOWED.with(|a| a.get()) {
        return DirectOutcome::NotDirect;
    }
    let Ok(mut st) = direct.try_lock() else {
        return DirectOutcome::NotDirect;
    };
    // The permit this emit holds is the only used slot: nothing queued before this message.
    if st.dirty || st.closing || !st.pending.is_empty() || tx.capacity() + 1 != tx.max_capacity() {
        return DirectOutcome::NotDirect;
    }
    let now = std::time::Instant::now();
    if st.last_write.is_some_and(|t| now.duration_since(t) < BUSY_WITHIN) {
        return DirectOutcome::NotDirect;
    }
    let Some(sink) = st.sink.as_mut() else {
        return DirectOutcome::NotDirect;
    };
    // No waker: when the socket would block, the permit wakes the writer instead (see
    // `Permit::emit`), which polls with its own.
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    // One poll, outside tokio's cooperative budget: the emitter may write to thousands of
    // sockets in one turn (as Node.js does), and an exhausted budget would make every
    // write after the 128th look like a full socket.
    let write = tokio::task::unconstrained(std::future::poll_fn(|cx| {
        match sink.as_mut().poll_ready(cx) {
            Poll::Ready(Ok(())) => {}
            _ => return Poll::Ready(DirectOutcome::NotDirect),
        }
        let packet: String = Packet::Message(msg.clone()).try_into().unwrap();
        if sink
            .as_mut()
            .start_send(WsMessage::Text(packet.into()))
            .is_err()
        {
            return Poll::Ready(DirectOutcome::Written);
        }
        Poll::Ready(match sink.as_mut().poll_flush(cx) {
            Poll::Ready(_) => DirectOutcome::Written,
            Poll::Pending => DirectOutcome::NeedsFlush,
        })
    }));
    let outcome = match std::pin::pin!(write).poll(&mut cx) {
        Poll::Ready(o) => o,
        Poll::Pending => DirectOutcome::NotDirect,
    };
    match outcome {
        DirectOutcome::Written => st.last_write = Some(now),
        DirectOutcome::NeedsFlush => {
            st.last_write = Some(now);
            st.dirty = true;
        }
        DirectOutcome::NotDirect => {}
    }
    outcome
}

impl Permit<'_> {
    /// Consume the permit and emit a message to the client.
    #[inline]
    pub fn emit(self, msg: Str) {
        match try_direct(self.direct, self.tx, &msg) {
            DirectOutcome::Written => {}
            // The no-op packet wakes the writer, which finishes the flush.
            DirectOutcome::NeedsFlush => self.inner.send(Box::new(smallvec![Packet::Noop])),
            DirectOutcome::NotDirect => self.inner.send(Box::new(smallvec![Packet::Message(msg)])),
        }
    }
    /// Consume the permit and emit a binary message to the client.
    #[inline]
    pub fn emit_binary(self, data: Bytes) {
        self.inner.send(Box::new(smallvec![Packet::Binary(data)]));
    }

    /// Consume the permit and emit a message with multiple binary data to the client.
    ///
    /// It can be used to ensure atomicity when sending a string packet with adjacent binary packets.
    pub fn emit_many(self, msg: Str, data: VecDeque<Bytes>) {
        let mut packets = SmallVec::with_capacity(data.len() + 1);
        packets.push(Packet::Message(msg));
        for d in data {
            packets.push(Packet::Binary(d));
        }
        self.inner.send(Box::new(packets));
    }

    /// Consume the permit and emit a message with multiple binary data to the client.
    ///
    /// It can be used to ensure atomicity when sending a string packet with adjacent binary packets.
    pub fn emit_many_binary(self, bin: Bytes, data: Vec<Bytes>) {
        let mut packets = SmallVec::with_capacity(data.len() + 1);
        packets.push(Packet::Binary(bin));
        for d in data {
            packets.push(Packet::Binary(d));
        }
        self.inner.send(Box::new(packets));
    }
}

/// What the transport reading the socket's queue holds while it reads (see
/// [`Socket::internal_rx`]).
#[derive(Debug, Default)]
pub(crate) struct InternalRx {
    /// PATCH (Pulse): boxed, so a socket that never polls holds a pointer, not 88 B.
    pub peeked_packet: Option<Box<PacketBuf>>,
}

/// The latest volatile packets, which bypass the socket's channel; a newer send replaces
/// what was not written yet.
///
/// PATCH (Pulse, see vendor/README.md): a slot and a `Notify` inside the socket instead of a
/// `watch` channel, which allocated 384 B per socket for a feature most servers never use.
#[derive(Debug, Default)]
pub(crate) struct Volatile {
    /// Boxed: a socket without volatile packets holds a pointer, not 88 B.
    slot: std::sync::Mutex<Option<Box<PacketBuf>>>,
    sent: tokio::sync::Notify,
}

impl Volatile {
    fn send(&self, packets: PacketBuf) {
        *self.slot.lock().unwrap() = Some(Box::new(packets));
        // Stores a permit when the writer is not waiting, so a send is never missed.
        self.sent.notify_one();
    }

    /// The packets sent since the last take, if any.
    fn take(&self) -> Option<PacketBuf> {
        self.slot.lock().unwrap().take().map(|b| *b)
    }

    /// The next packets sent.
    pub(crate) async fn next(&self) -> PacketBuf {
        let sent = self.notified();
        tokio::pin!(sent);
        std::future::poll_fn(|cx| self.poll_next(sent.as_mut(), cx)).await
    }

    /// The packets sent since the last take, or, while there are none, `Pending` with `sent`
    /// (from [`Volatile::notified`]) armed to wake the caller.
    pub(crate) fn poll_next<'a>(
        &'a self,
        mut sent: std::pin::Pin<&mut tokio::sync::futures::Notified<'a>>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<PacketBuf> {
        use std::future::Future;
        loop {
            if let Some(packets) = self.take() {
                return std::task::Poll::Ready(packets);
            }
            std::task::ready!(sent.as_mut().poll(cx));
            sent.set(self.notified());
        }
    }

    /// What [`Volatile::poll_next`] waits on.
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.sent.notified()
    }
}

/// A [`Socket`] represents a client connection to the server.
/// It is agnostic to the [`TransportType`].
///
/// It handles :
/// * the packet communication between with the `Engine`
///   and the user defined [`Handler`](crate::handler::EngineIoHandler).
/// * the user defined [`Data`](crate::handler::EngineIoHandler::Data) bound to the socket.
/// * the heartbeat job that verify that the connection is still up by sending packets periodically.
pub struct Socket<D>
where
    D: Default + Send + Sync + 'static,
{
    /// The socket id
    pub id: Sid,

    /// The protocol version used by the socket
    pub protocol: ProtocolVersion,

    /// The transport type represented as a bitfield
    /// It is represented as a bitfield to allow the use of an [`AtomicU8`] so it can be shared between threads
    /// without any mutex
    transport: AtomicU8,

    /// Whether the socket is currently upgrading to a new transport.
    upgrading: AtomicBool,

    /// Channel to send [`PacketBuf`] to the connection
    ///
    /// It is used and managed by the [`EngineIo`](crate::engine) struct depending on the transport type
    ///
    /// It is locked if [`EngineIo`](crate::engine) is currently reading from it :
    /// * In case of polling transport it will be locked and released for each request
    /// * In case of websocket transport it will always be locked until the connection is closed
    ///
    /// Closing behavior is driven by the [`Socket::cancellation_token`].
    ///
    /// The channel is made of a [`SmallVec`] of [`Packet`]s so that adjacent packets can be sent atomically.
    pub(crate) internal_rx: Mutex<InternalRx>,

    /// The packets for the connection, in order (PATCH: a queue inside the socket instead of
    /// a tokio channel, see [`Queue`]). Read only by the transport holding `internal_rx`.
    pub(crate) queue: Queue<Queued>,

    /// The WebSocket sink, once the ws writer runs (PATCH, see [`Direct`]).
    pub(crate) direct: std::sync::Mutex<Direct>,

    /// Volatile [PacketBuf]s, which bypass the internal buffer: only the latest is retained;
    /// subsequent volatile sends overwrite the previous one.
    pub(crate) volatile: Volatile,

    /// Tells the heartbeat job that a Pong (v4 protocol) or Ping (v3 protocol) arrived.
    ///
    /// PATCH (Pulse, see vendor/README.md): a `Notify` (it keeps one permit, as the channel of
    /// one it replaces did) instead of a channel, which allocated per socket.
    pub(crate) heartbeat: tokio::sync::Notify,

    /// A cancellation token that will be triggered when the socket is being closed.
    pub(crate) cancellation_token: CancellationToken,

    /// Function to call when the socket is closed
    close_fn: Box<dyn Fn(Sid, DisconnectReason) + Send + Sync>,
    /// User data bound to the socket
    pub data: D,

    /// Http Request data used to create a socket
    pub req_parts: Parts,

    /// If the client supports binary packets (via polling XHR2)
    pub(crate) supports_binary: bool,
}

impl<D> Socket<D>
where
    D: Default + Send + Sync + 'static,
{
    pub(crate) fn new(
        protocol: ProtocolVersion,
        transport: TransportType,
        config: &EngineIoConfig,
        req_parts: Parts,
        close_fn: Box<dyn Fn(Sid, DisconnectReason) + Send + Sync>,
        supports_binary: bool,
    ) -> Self {

        Self {
            id: Sid::new(),
            protocol,
            transport: AtomicU8::new(transport as u8),
            upgrading: AtomicBool::new(false),

            internal_rx: Mutex::new(InternalRx::default()),
            queue: Queue::new(config.max_buffer_size),
            direct: Default::default(),

            volatile: Volatile::default(),

            heartbeat: tokio::sync::Notify::new(),
            cancellation_token: CancellationToken::new(),

            close_fn,

            data: D::default(),
            req_parts,

            supports_binary,
        }
    }

    /// Sends a packet to the connection.
    pub(crate) fn send(&self, packet: Packet) -> Result<(), TrySendError<Packet>> {
        #[cfg(feature = "tracing")]
        tracing::debug!(?packet, "sending packet");

        self.queue
            .try_send(Box::new(smallvec![packet]))
            .map_err(|p| match p {
                TrySendError::Full(mut p) => TrySendError::Full(p.pop().unwrap()),
                TrySendError::Closed(mut p) => TrySendError::Closed(p.pop().unwrap()),
            })?;
        Ok(())
    }
    pub(crate) fn is_upgrading(&self) -> bool {
        self.upgrading.load(Ordering::Relaxed)
    }
    pub(crate) fn start_upgrade(&self) {
        self.upgrading.store(true, Ordering::Relaxed);
    }

    /// Spawn the heartbeat job
    ///
    /// Keep a handle to the job so that it can be aborted when the socket is closed
    pub(crate) fn spawn_heartbeat(self: Arc<Self>, interval: Duration, timeout: Duration) {
        let cancellation_token = self.cancellation_token.clone();

        tokio::spawn(
            cancellation_token
                .run_until_cancelled_owned(async move {
                    if let Err(_e) = self.heartbeat_job(interval, timeout).await {
                        self.close(DisconnectReason::HeartbeatTimeout);
                        #[cfg(feature = "tracing")]
                        tracing::debug!(id = ?self.id, "heartbeat error: {_e}");
                    }
                })
                .inspect(|_v| {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(aborted = _v.is_none(), "heartbeat job completed");
                }),
        );
    }

    /// Heartbeat is sent every `interval` milliseconds by the client and the server `is` expected to respond within `timeout` milliseconds.
    ///
    /// If the client or server does not respond within the timeout, the connection is closed.
    #[cfg(feature = "v3")]
    pub(crate) async fn heartbeat_job(&self, interval: Duration, timeout: Duration) -> Result<(), Error> {
        match self.protocol {
            ProtocolVersion::V3 => self.heartbeat_job_v3(interval, timeout).await,
            ProtocolVersion::V4 => self.heartbeat_job_v4(interval, timeout).await,
        }
    }

    /// Heartbeat is sent every `interval` milliseconds and the client is expected to respond within `timeout` milliseconds.
    ///
    /// If the client does not respond within the timeout, the connection is closed.
    #[cfg(not(feature = "v3"))]
    pub(crate) async fn heartbeat_job(&self, interval: Duration, timeout: Duration) -> Result<(), Error> {
        self.heartbeat_job_v4(interval, timeout).await
    }

    /// Heartbeat is sent every `interval` milliseconds and the client is expected to respond within `timeout` milliseconds.
    ///
    /// If the client does not respond within the timeout, the connection is closed.
    ///
    /// PATCH (Pulse, see vendor/README.md): one timer, on the heap, serves the interval and the
    /// pong's deadline in turn. `tokio::time::interval` and `tokio::time::timeout` each kept
    /// one, and the timeout's inline, in the future of the connection's task for its whole
    /// life. The schedule is `interval`'s: a tick at once, then every `interval` from the
    /// start, a late tick firing at once.
    async fn heartbeat_job_v4(&self, interval: Duration, timeout: Duration) -> Result<(), Error> {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = ?self.id, "heartbeat sender routine started");

        let mut tick = tokio::time::Instant::now();
        let mut timer = Box::pin(tokio::time::sleep_until(tick));
        timer.as_mut().await;
        // Some clients send the pong packet in first. If that happens, we should consume it.
        self.heartbeat.notified().now_or_never();
        loop {
            tick += interval;
            // If we are currently upgrading we should pause the heartbeat process
            if self.is_upgrading() {
                timer.as_mut().reset(tick);
                timer.as_mut().await;
                continue;
            }

            #[cfg(feature = "tracing")]
            tracing::trace!(sid = ?self.id, "emitting ping");

            self.queue
                .try_send(Box::new(smallvec![Packet::Ping]))
                .map_err(|_| Error::HeartbeatTimeout)?;

            #[cfg(feature = "tracing")]
            tracing::trace!(sid = ?self.id, "waiting for pong");

            timer.as_mut().reset(tokio::time::Instant::now() + timeout);
            tokio::select! {
                biased;
                () = self.heartbeat.notified() => {}
                () = timer.as_mut() => return Err(Error::HeartbeatTimeout),
            }

            #[cfg(feature = "tracing")]
            tracing::trace!(sid = ?self.id, "pong received");

            timer.as_mut().reset(tick);
            timer.as_mut().await;
        }
    }

    /// PATCH (Pulse): the deadline's timer on the heap, as in `heartbeat_job_v4`.
    #[cfg(feature = "v3")]
    async fn heartbeat_job_v3(&self, interval: Duration, timeout: Duration) -> Result<(), Error> {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = ?self.id, "heartbeat receiver routine started");

        let mut timer = Box::pin(tokio::time::sleep(interval + timeout));
        loop {
            tokio::select! {
                biased;
                () = self.heartbeat.notified() => {}
                () = timer.as_mut() => return Err(Error::HeartbeatTimeout),
            }

            #[cfg(feature = "tracing")]
            tracing::trace!(sid = ?self.id, "ping received, sending pong");
            self.queue
                .try_send(Box::new(smallvec![Packet::Pong]))
                .map_err(|_| Error::HeartbeatTimeout)?;
            timer.as_mut().reset(tokio::time::Instant::now() + interval + timeout);
        }
    }

    /// Returns true if the [`Socket`] has a websocket [`TransportType`]
    pub(crate) fn is_ws(&self) -> bool {
        self.transport.load(Ordering::Relaxed) == TransportType::Websocket as u8
    }
    /// returns true if the [`Socket`] has an HTTP [`TransportType`]
    pub(crate) fn is_http(&self) -> bool {
        self.transport.load(Ordering::Relaxed) == TransportType::Polling as u8
    }

    /// Sets the [`TransportType`] to WebSocket
    /// Used when the client upgrade the connection from HTTP to WebSocket
    pub(crate) fn upgrade_to_websocket(&self) {
        self.upgrading.store(false, Ordering::Relaxed);
        self.transport
            .store(TransportType::Websocket as u8, Ordering::Relaxed);
    }

    /// Returns the current [`TransportType`] of the [`Socket`]
    pub fn transport_type(&self) -> TransportType {
        TransportType::from(self.transport.load(Ordering::Relaxed))
    }

    /// Reserve `n` permits to emit multiple messages and ensure that there is enough
    /// space in the internal chan.
    ///
    /// If the internal chan is full, the function will return a [`TrySendError::Full`] error.
    /// If the socket is closed, the function will return a [`TrySendError::Closed`] error.
    #[inline]
    pub fn reserve(&self) -> Result<Permit<'_>, TrySendError<()>> {
        let permit = self.queue.try_reserve()?;
        Ok(Permit { inner: permit, direct: &self.direct, tx: &self.queue })
    }

    /// Emits a message to the client.
    ///
    /// If the transport is in websocket mode, the message is directly sent as a text frame.
    ///
    /// If the transport is in polling mode, the message is buffered and sent as a text frame to the next polling request.
    ///
    /// ⚠️ If the buffer is full or the socket is disconnected, an error will be returned with the original data
    pub fn emit(&self, msg: impl Into<Str>) -> Result<(), TrySendError<Str>> {
        self.send(Packet::Message(msg.into())).map_err(|e| match e {
            TrySendError::Full(p) => TrySendError::Full(p.into_message()),
            TrySendError::Closed(p) => TrySendError::Closed(p.into_message()),
        })
    }

    /// Immediately closes the socket and the underlying connection.
    /// The socket will be removed from the `Engine` and the [`Handler`](crate::handler::EngineIoHandler) will be notified.
    #[cfg_attr(feature = "tracing", tracing::instrument(skip(self)))]
    pub fn close(&self, reason: DisconnectReason) {
        // Try to send a close packet is the connection is still operational.
        self.send(Packet::Close).ok();

        (self.close_fn)(self.id, reason);
    }

    /// Returns true if the socket is closed
    /// It means that no more packets can be sent to the client
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Wait for the socket to be fully closed
    pub async fn closed(&self) {
        self.queue.closed().await
    }

    /// Emits a binary message to the client.
    ///
    /// If the transport is in websocket mode, the message is directly sent as a binary frame.
    ///
    /// If the transport is in polling mode, the message is buffered and sent as a text frame **encoded in base64** to the next polling request.
    ///
    /// ⚠️ If the buffer is full or the socket is disconnected, an error will be returned with the original data
    pub fn emit_binary<B: Into<Bytes>>(&self, data: B) -> Result<(), TrySendError<Bytes>> {
        if self.protocol == ProtocolVersion::V3 {
            self.send(Packet::BinaryV3(data.into()))
        } else {
            self.send(Packet::Binary(data.into()))
        }
        .map_err(|e| match e {
            TrySendError::Full(p) => TrySendError::Full(p.into_binary()),
            TrySendError::Closed(p) => TrySendError::Closed(p.into_binary()),
        })
    }

    /// Try to send a volatile message bypassing the internal buffer channel.
    /// Volatile messages may be dropped if the transport is not ready to
    /// receive them.
    ///
    /// Because volatile messages bypass the main mpsc buffer queue, they may
    /// arrive out of order relative to regular messages.
    ///
    /// Returns `true` if the message was queued for sending, `false` if it
    /// was dropped (channel full or transport shutting down).
    #[inline]
    pub fn emit_volatile(&self, msg: impl Into<Str>) -> bool {
        self.send_volatile(smallvec![Packet::Message(msg.into())])
    }

    /// Try to send a volatile binary message bypassing the internal buffer channel.
    /// Volatile messages may be dropped if the transport is not ready to
    /// receive them.
    ///
    /// Returns `true` if the message was queued for sending, `false` if it
    /// was dropped.
    #[inline]
    pub fn emit_binary_volatile<B: Into<Bytes>>(&self, data: B) -> bool {
        if self.protocol == ProtocolVersion::V3 {
            self.send_volatile(smallvec![Packet::BinaryV3(data.into())])
        } else {
            self.send_volatile(smallvec![Packet::Binary(data.into())])
        }
    }

    /// Try to send a volatile message with multiple adjacent binary payloads.
    /// The message and all binary payloads are sent atomically as a single
    /// volatile write.
    ///
    /// Returns `true` if the message was queued for sending, `false` if it
    /// was dropped.
    #[inline]
    pub fn emit_many_volatile(&self, msg: Str, data: VecDeque<Bytes>) -> bool {
        let mut packets = SmallVec::with_capacity(1 + data.len());
        packets.push(Packet::Message(msg));
        for bin in data {
            packets.push(Packet::Binary(bin));
        }
        self.send_volatile(packets)
    }

    pub(crate) fn send_volatile(&self, packets: PacketBuf) -> bool {
        self.volatile.send(packets);
        true
    }
}

impl<D: Default + Send + Sync + 'static> std::fmt::Debug for Socket<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("sid", &self.id)
            .field("protocol", &self.protocol)
            .field("conn", &self.transport)
            .field("internal_rx", &self.internal_rx)
            .field("queue", &self.queue)
            .field("heartbeat", &self.heartbeat)
            .field("cancellation_token", &self.cancellation_token)
            .field("req_data", &self.req_parts)
            .finish()
    }
}

#[doc(hidden)]
#[cfg(feature = "__test_harness")]
impl<D> Drop for Socket<D>
where
    D: Default + Send + Sync + 'static,
{
    fn drop(&mut self) {
        #[cfg(feature = "tracing")]
        tracing::debug!("[sid={}] dropping socket", self.id);
    }
}

#[doc(hidden)]
#[cfg(feature = "__test_harness")]
impl<D> Socket<D>
where
    D: Default + Send + Sync + 'static,
{
    /// Create a dummy socket for testing purpose
    pub fn new_dummy(
        sid: Sid,
        close_fn: Box<dyn Fn(Sid, DisconnectReason) + Send + Sync>,
    ) -> Arc<Socket<D>> {
        let (s, mut rx) = Socket::new_dummy_piped(sid, close_fn, 1024);
        tokio::spawn(async move {
            while let Some(_el) = rx.recv().await {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, ?_el, "emitting eio msg");
            }
        });
        s
    }

    /// Create a dummy socket for testing purpose with a
    /// receiver to get the packets sent to the client
    pub fn new_dummy_piped(
        sid: Sid,
        close_fn: Box<dyn Fn(Sid, DisconnectReason) + Send + Sync>,
        buffer_size: usize,
    ) -> (Arc<Socket<D>>, tokio::sync::mpsc::Receiver<Packet>) {

        let sock = Self {
            id: sid,
            protocol: ProtocolVersion::V4,
            transport: AtomicU8::new(TransportType::Websocket as u8),
            upgrading: AtomicBool::new(false),

            internal_rx: Mutex::new(InternalRx::default()),
            queue: Queue::new(buffer_size),
            direct: Default::default(),

            volatile: Volatile::default(),

            heartbeat: tokio::sync::Notify::new(),
            cancellation_token: CancellationToken::new(),
            close_fn,

            data: D::default(),
            req_parts: http::Request::<()>::default().into_parts().0,

            supports_binary: true,
        };
        let sock = Arc::new(sock);

        let (tx, rx) = tokio::sync::mpsc::channel(buffer_size);
        let sock_clone = sock.clone();
        tokio::spawn(async move {
            let _internal_rx = sock_clone.internal_rx.try_lock().unwrap();
            while let Some(packets) = sock_clone.queue.recv().await {
                for packet in *packets {
                    tx.send(packet).await.unwrap();
                }
            }
        });

        (sock, rx)
    }
}
