//! A small TCP fault proxy for the network-fault tests (`faults.rs`): it sits between a
//! client and a server on this machine and, per connection and per direction, adds latency,
//! limits the rate, stalls (holds bytes: a partition that heals, what was sent arrives after),
//! blackholes (reads and discards bytes, never closes: a half-open link where packets vanish)
//! or cuts (closes both sides with a reset).
//!
//! Each accepted connection is classified by its first bytes: an HTTP request for
//! `/socket.io/` is [`Class::Socket`], anything else [`Class::Rest`], so a test can partition
//! the SDK's WebSocket while its REST fallback (`GET /api/events`, same host and port) still
//! goes through. Shapes are set per class for new connections and/or for the connections open
//! now; the proxy counts connections and `GET /api/events` requests.
//!
//! What it is not: a packet-level emulator. Bytes a blackhole discards were already
//! acknowledged to their sender by the proxy's kernel, so the sender's TCP never retransmits
//! them; for real packet loss the tests use iptables in a network namespace.

#![allow(dead_code)] // Each scenario uses a different part.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// What a connection carries, from its first request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `GET /socket.io/…`: the Engine.IO WebSocket.
    Socket,
    /// Anything else: REST requests, or a non-HTTP protocol.
    Rest,
}

/// Which connections an operation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    Only(Class),
}

impl Which {
    fn matches(self, class: Class) -> bool {
        match self {
            Which::All => true,
            Which::Only(c) => c == class,
        }
    }
}

/// What happens to the bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwarded (after the delay, within the rate).
    Pass,
    /// Held: not read any further and not delivered until the mode changes (backpressure on
    /// the sender). A new connection is accepted but not connected upstream meanwhile.
    Stall,
    /// Read and discarded; the connection stays open and nobody is told.
    Blackhole,
}

/// A connection's faults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub mode: Mode,
    /// Added to every chunk from client to server.
    pub delay_up: Duration,
    /// Added to every chunk from server to client.
    pub delay_down: Duration,
    /// Bytes per second from server to client; `None`: as fast as they come.
    pub rate_down: Option<u64>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            mode: Mode::Pass,
            delay_up: Duration::ZERO,
            delay_down: Duration::ZERO,
            rate_down: None,
        }
    }
}

/// How the proxy listens and connects.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen (port 0: any free one).
    pub listen: SocketAddr,
    /// The server.
    pub upstream: SocketAddr,
    /// Source address of upstream connections (e.g. the faulty side of a veth pair).
    pub source: Option<IpAddr>,
    /// Tiny receive buffer and MSS on upstream connections, so a rate-limited reader pushes
    /// back on the server within a few KB instead of megabytes of kernel buffers.
    pub small_upstream_buffers: bool,
}

impl Options {
    pub fn new(upstream: SocketAddr) -> Options {
        Options {
            listen: ([127, 0, 0, 1], 0).into(),
            upstream,
            source: None,
            small_upstream_buffers: false,
        }
    }
}

struct Conn {
    class: Class,
    shape: watch::Sender<Shape>,
    cut: Arc<Notify>,
    task: AbortHandle,
}

#[derive(Default)]
struct Counters {
    socket_accepted: AtomicU64,
    rest_accepted: AtomicU64,
    polls: AtomicU64,
    bytes_down: AtomicU64,
    bytes_up: AtomicU64,
}

struct Shared {
    options: Options,
    defaults: Mutex<HashMap<Class, Shape>>,
    conns: Mutex<HashMap<u64, Conn>>,
    next: AtomicU64,
    counters: Counters,
}

/// A running proxy; stops (aborting every connection) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`. Needs a tokio runtime.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        Self::start_with(Options::new(upstream))
    }

    pub fn start_with(options: Options) -> FaultProxy {
        let std_listener = std::net::TcpListener::bind(options.listen).expect("proxy bind");
        std_listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(std_listener).expect("proxy listener");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            options,
            defaults: Mutex::new(
                [(Class::Socket, Shape::default()), (Class::Rest, Shape::default())].into(),
            ),
            conns: Mutex::default(),
            next: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                accept_one(&s, client);
            }
        })
        .abort_handle();
        FaultProxy { addr, shared, accept }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the shape of new connections of `which` and of those open now.
    pub fn set(&self, which: Which, f: impl Fn(&mut Shape)) {
        self.set_new(which, &f);
        self.set_existing(which, f);
    }

    /// Changes the shape of connections accepted from now on.
    pub fn set_new(&self, which: Which, f: impl Fn(&mut Shape)) {
        let mut d = self.shared.defaults.lock().unwrap();
        for (class, shape) in d.iter_mut() {
            if which.matches(*class) {
                f(shape);
            }
        }
    }

    /// Changes the shape of the connections open now; returns how many.
    pub fn set_existing(&self, which: Which, f: impl Fn(&mut Shape)) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        let mut n = 0;
        for c in conns.values().filter(|c| which.matches(c.class)) {
            c.shape.send_modify(&f);
            n += 1;
        }
        n
    }

    /// Resets both sides of every open connection of `which`; returns how many.
    pub fn cut(&self, which: Which) -> usize {
        self.cut_if(which, |_| true)
    }

    /// Resets open connections of `which` for which `pick(index)` holds; returns how many.
    pub fn cut_if(&self, which: Which, mut pick: impl FnMut(usize) -> bool) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        let mut n = 0;
        for (i, c) in conns.values().filter(|c| which.matches(c.class)).enumerate() {
            if pick(i) {
                c.cut.notify_one();
                n += 1;
            }
        }
        n
    }

    /// Connections of `class` open now.
    pub fn open(&self, class: Class) -> usize {
        self.shared.conns.lock().unwrap().values().filter(|c| c.class == class).count()
    }

    /// Connections of `class` accepted so far.
    pub fn accepted(&self, class: Class) -> u64 {
        match class {
            Class::Socket => self.shared.counters.socket_accepted.load(Ordering::SeqCst),
            Class::Rest => self.shared.counters.rest_accepted.load(Ordering::SeqCst),
        }
    }

    /// `GET /api/events` requests seen from clients so far (whatever happened to them).
    pub fn polls(&self) -> u64 {
        self.shared.counters.polls.load(Ordering::SeqCst)
    }

    /// Bytes delivered to clients so far.
    pub fn bytes_down(&self) -> u64 {
        self.shared.counters.bytes_down.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, c) in self.shared.conns.lock().unwrap().drain() {
            c.task.abort();
        }
    }
}

fn accept_one(shared: &Arc<Shared>, client: TcpStream) {
    let id = shared.next.fetch_add(1, Ordering::SeqCst);
    let s = shared.clone();
    // Registered by the task itself once the class is known; the handle lets Drop abort it.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<AbortHandle>();
    let task = tokio::spawn(async move {
        let Ok(me) = ready_rx.await else { return };
        serve(&s, id, client, me).await;
        s.conns.lock().unwrap().remove(&id);
    });
    let _ = ready_tx.send(task.abort_handle());
}

/// The first request line names the class.
fn classify(first: &[u8]) -> Class {
    let line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    if line.contains(" /socket.io/") || line.contains(" /socket.io?") {
        Class::Socket
    } else {
        Class::Rest
    }
}

fn count_polls(counters: &Counters, bytes: &[u8]) {
    const NEEDLE: &[u8] = b"GET /api/events";
    let n = bytes.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
    counters.polls.fetch_add(n as u64, Ordering::SeqCst);
}

async fn serve(shared: &Arc<Shared>, id: u64, mut client: TcpStream, me: AbortHandle) {
    let _ = client.set_nodelay(true);
    let mut first = vec![0u8; 16 * 1024];
    let n = match client.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    first.truncate(n);
    let class = classify(&first);
    match class {
        Class::Socket => shared.counters.socket_accepted.fetch_add(1, Ordering::SeqCst),
        Class::Rest => shared.counters.rest_accepted.fetch_add(1, Ordering::SeqCst),
    };
    if class == Class::Rest {
        count_polls(&shared.counters, &first);
    }
    let shape = shared.defaults.lock().unwrap()[&class];
    let (shape_tx, mut shape_rx) = watch::channel(shape);
    let cut = Arc::new(Notify::new());
    shared
        .conns
        .lock()
        .unwrap()
        .insert(id, Conn { class, shape: shape_tx, cut: cut.clone(), task: me });

    // The request's own fate, before there is an upstream connection.
    let connect = async {
        loop {
            let mode = shape_rx.borrow_and_update().mode;
            match mode {
                Mode::Stall => {
                    if shape_rx.changed().await.is_err() {
                        return None;
                    }
                }
                Mode::Blackhole => {
                    first.clear(); // vanished
                    break;
                }
                Mode::Pass => break,
            }
        }
        let up = tokio::time::timeout(Duration::from_secs(30), connect_upstream(&shared.options));
        up.await.ok().and_then(Result::ok)
    };
    let upstream = tokio::select! {
        up = connect => up,
        _ = cut.notified() => None,
    };
    let Some(mut upstream) = upstream else {
        reset(&client);
        return;
    };
    let _ = upstream.set_nodelay(true);

    let cut_now = {
        let (cr, cw) = client.split();
        let (ur, uw) = upstream.split();
        let counters = &shared.counters;
        let up = pump(cr, uw, shape_rx.clone(), Dir::Up, first, class, counters);
        let down = pump(ur, cw, shape_rx, Dir::Down, Vec::new(), class, counters);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                r = &mut up, if !up_done => match r {
                    Ok(()) => up_done = true,
                    Err(()) => break true,
                },
                r = &mut down, if !down_done => match r {
                    Ok(()) => down_done = true,
                    Err(()) => break true,
                },
                _ = cut.notified() => break true,
            }
            if up_done && down_done {
                break false;
            }
        }
    };
    if cut_now {
        reset(&client);
        reset(&upstream);
    }
}

/// Closes with a reset (RST) instead of a FIN when the stream is dropped.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

async fn connect_upstream(o: &Options) -> std::io::Result<TcpStream> {
    let socket = match o.upstream {
        SocketAddr::V4(_) => {
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?
        }
        SocketAddr::V6(_) => {
            socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?
        }
    };
    if o.small_upstream_buffers {
        socket.set_recv_buffer_size(4096)?;
        socket.set_tcp_mss(536)?;
    }
    if let Some(ip) = o.source {
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    socket.set_nonblocking(true)?;
    let socket = TcpSocket::from_std_stream(socket.into());
    socket.connect(o.upstream).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

/// Copies `src` to `dst` under the connection's shape. `Ok` at a clean end of stream (the
/// write side is shut down), `Err` when either side failed.
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut src: R,
    mut dst: W,
    shape: watch::Receiver<Shape>,
    dir: Dir,
    first: Vec<u8>,
    class: Class,
    counters: &Counters,
) -> Result<(), ()> {
    // Chunks in flight (delayed or waiting for the rate); small, so backpressure holds.
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(64);
    let delay = |s: &Shape| if dir == Dir::Up { s.delay_up } else { s.delay_down };
    let rate = |s: &Shape| if dir == Dir::Down { s.rate_down } else { None };

    let swallowed = &std::sync::atomic::AtomicBool::new(false);
    let mut read_shape = shape.clone();
    let reader = async move {
        if !first.is_empty() {
            let at = Instant::now() + delay(&read_shape.borrow());
            if tx.send((at, first)).await.is_err() {
                return Err(());
            }
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            // A stalled direction is not read: the sender's window fills.
            while read_shape.borrow_and_update().mode == Mode::Stall {
                if read_shape.changed().await.is_err() {
                    return Err(());
                }
            }
            let s = *read_shape.borrow();
            // Rate-limited: read at most 1/20 s worth at a time.
            let chunk = rate(&s).map_or(buf.len(), |r| ((r / 20) as usize).clamp(64, buf.len()));
            let n = match src.read(&mut buf[..chunk]).await {
                Ok(n) => n,
                Err(_) => return Err(()),
            };
            if n == 0 {
                // End of stream: the writer drains what is queued, then shuts down, unless
                // the FIN vanished in a blackhole. (The connection ends once both sides have
                // ended theirs.)
                if read_shape.borrow().mode == Mode::Blackhole {
                    swallowed.store(true, Ordering::SeqCst);
                }
                drop(tx);
                return Ok(());
            }
            if dir == Dir::Up && class == Class::Rest {
                count_polls(counters, &buf[..n]);
            }
            let s = *read_shape.borrow();
            if s.mode == Mode::Blackhole {
                continue;
            }
            if tx.send((Instant::now() + delay(&s), buf[..n].to_vec())).await.is_err() {
                return Err(());
            }
        }
    };
    let mut write_shape = shape;
    let writer = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            while write_shape.borrow_and_update().mode == Mode::Stall {
                if write_shape.changed().await.is_err() {
                    return Err(());
                }
            }
            let s = *write_shape.borrow();
            if s.mode == Mode::Blackhole {
                continue; // in flight when the hole opened
            }
            let started = Instant::now();
            if dst.write_all(&bytes).await.is_err() {
                return Err(());
            }
            let c = if dir == Dir::Up { &counters.bytes_up } else { &counters.bytes_down };
            c.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            if let Some(r) = rate(&s) {
                let spend = Duration::from_secs_f64(bytes.len() as f64 / r.max(1) as f64);
                tokio::time::sleep_until(started + spend).await;
            }
        }
        if !swallowed.load(Ordering::SeqCst) {
            let _ = dst.shutdown().await;
        }
        Ok(())
    };
    tokio::pin!(reader, writer);
    let mut reader_done = false;
    loop {
        tokio::select! {
            r = &mut reader, if !reader_done => match r {
                Ok(()) => reader_done = true,
                Err(()) => return Err(()),
            },
            w = &mut writer => return w,
        }
    }
}
