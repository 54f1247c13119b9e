//! This module deals with the floor: what fan-out costs on this machine with nothing but TCP.
//!
//! The floor server (`pulse-bench floor-server`) writes each tick's frame to every socket,
//! one plain write per socket (ticks due together go in one write), from one task per core
//! that each own a share of the sockets:
//! no HTTP upgrade, no WebSocket, Engine.IO or Socket.IO framing, no JSON, no per-socket task
//! or queue. The generator reads fixed-size
//! frames through a 4 KiB buffer on one tokio task per connection. Same ramp, schedule, payload size and figures as
//! the Socket.IO targets, so its latency is what loopback TCP and the tokio runtime alone
//! cost for N sockets on these shared cores: no Socket.IO server can go below it here.
//!
//! Wire: every connection starts with one line. `sub` makes it a subscriber;
//! `go <rate> <size> <seconds>` broadcasts on an absolute schedule and answers
//! `emitted <n>` when done. A frame is `sent_at_us` (u64 LE), `n` (u64 LE), then `size`
//! bytes of padding.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::load::{now_us, Shared};

/// Bytes before the padding: `sent_at_us` and `n`.
const HEAD: usize = 16;
/// Longest broadcast the server accepts, so a typo cannot tie it up for hours.
const MAX_SECONDS: f64 = 600.0;

/// Serves on `127.0.0.1:port` until killed; prints `ready <port>` once listening.
pub async fn serve(port: u16) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    // The same backlog as pulse-server: a ramp of 100 at a time never overflows it.
    let listener = socket.listen(4096)?;
    println!("ready {port}");
    let subscribers: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(handle(stream, subscribers.clone()));
    }
}

async fn handle(stream: TcpStream, subscribers: Arc<Mutex<Vec<TcpStream>>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["sub"] => subscribers.lock().await.push(reader.into_inner()),
        ["go", rate, size, seconds] => {
            let (Ok(rate), Ok(size), Ok(seconds)) =
                (rate.parse::<f64>(), size.parse::<usize>(), seconds.parse::<f64>())
            else {
                return;
            };
            if !(rate > 0.0 && (0.0..=MAX_SECONDS).contains(&seconds) && size <= 1 << 20) {
                return;
            }
            // Holding the lock for the whole broadcast: nobody subscribes during a run.
            let mut subs = subscribers.lock().await;
            let (emitted, back) = broadcast(std::mem::take(&mut *subs), rate, size, seconds).await;
            *subs = back;
            let mut stream = reader.into_inner();
            let _ = stream.write_all(format!("emitted {emitted}\n").as_bytes()).await;
        }
        _ => {}
    }
}

/// Broadcasts to `subs` split into one share per core, each share written by its own task
/// on the same absolute schedule; gives the sockets back.
async fn broadcast(
    subs: Vec<TcpStream>,
    rate: f64,
    size: usize,
    seconds: f64,
) -> (u64, Vec<TcpStream>) {
    let ticks = (rate * seconds).round() as u64;
    let start = Instant::now();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_share = subs.len().div_ceil(cores).max(1);
    let mut subs = subs.into_iter();
    let mut writers = Vec::new();
    loop {
        let share: Vec<TcpStream> = subs.by_ref().take(per_share).collect();
        if share.is_empty() {
            break;
        }
        writers.push(tokio::spawn(write_share(share, start, ticks, rate, size)));
    }
    let mut back = Vec::new();
    for w in writers {
        back.extend(w.await.unwrap_or_default());
    }
    (ticks, back)
}

async fn write_share(
    mut share: Vec<TcpStream>,
    start: Instant,
    ticks: u64,
    rate: f64,
    size: usize,
) -> Vec<TcpStream> {
    let frame_len = HEAD + size;
    let mut frames = Vec::new();
    let due = |n: u64| start + Duration::from_secs_f64(n as f64 / rate);
    let mut n = 0;
    while n < ticks {
        tokio::time::sleep_until(due(n)).await;
        // Every tick already due goes out now, as in pulse-server's broadcaster (timers have
        // millisecond resolution: 3,000 ticks a second must not become 1,000), in one write
        // per socket.
        let now = Instant::now();
        frames.clear();
        while n < ticks && due(n) <= now {
            let at = frames.len();
            frames.resize(at + frame_len, 0);
            frames[at..at + 8].copy_from_slice(&now_us().to_le_bytes());
            frames[at + 8..at + HEAD].copy_from_slice(&n.to_le_bytes());
            n += 1;
        }
        for s in share.iter_mut() {
            // The kernel's send buffer takes small frames at once; this awaits only if a
            // reader fell that far behind, which then shows in the latency.
            let _ = s.write_all(&frames).await;
        }
    }
    share
}

/// Opens a subscriber to `addr` whose reader records every frame's latency in `shared`
/// (shard `index`); the task ends when the server closes the connection.
pub(crate) async fn subscribe(
    addr: &str,
    size: usize,
    shared: Arc<Shared>,
    index: usize,
) -> std::io::Result<JoinHandle<()>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(b"sub\n").await?;
    Ok(tokio::spawn(async move {
        // Buffered like the SDK's WebSocket reads: frames that arrived together cost one read.
        let mut stream = tokio::io::BufReader::with_capacity(4096, stream);
        let mut frame = vec![0u8; HEAD + size];
        while stream.read_exact(&mut frame).await.is_ok() {
            let sent = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes"));
            let n = u64::from_le_bytes(frame[8..HEAD].try_into().expect("8 bytes"));
            shared.record(index, sent, Some(n));
        }
    }))
}

/// Asks the server at `addr` to broadcast; returns how many frames each subscriber was sent.
pub(crate) async fn go(addr: &str, rate: f64, size: usize, seconds: f64) -> Result<u64, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("floor: {e}"))?;
    stream
        .write_all(format!("go {rate} {size} {seconds}\n").as_bytes())
        .await
        .map_err(|e| format!("floor: {e}"))?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).await.map_err(|e| format!("floor: {e}"))?;
    answer
        .strip_prefix("emitted ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("floor: answered {answer:?}"))
}
