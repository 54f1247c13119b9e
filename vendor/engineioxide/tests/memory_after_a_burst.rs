//! PATCH (Pulse, see vendor/README.md): what a WebSocket connection keeps once a burst is
//! written. Its own test binary: the heap is counted for the whole process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use engineioxide::{
    ProtocolVersion, Str,
    handler::EngineIoHandler,
    socket::{DisconnectReason, Socket},
};
use futures_util::StreamExt;
use http::Request;
use tokio::sync::mpsc;
use tokio_tungstenite::{WebSocketStream, tungstenite::Message, tungstenite::protocol::Role};

mod fixture;
use fixture::create_server;

/// Counts the bytes live on the heap.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The heap is counted for the whole process: one test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone)]
struct Handler {
    socket_tx: mpsc::Sender<Arc<Socket<()>>>,
}
impl EngineIoHandler for Handler {
    type Data = ();
    fn on_connect(self: Arc<Self>, socket: Arc<Socket<()>>) {
        self.socket_tx.try_send(socket).ok();
    }
    fn on_disconnect(&self, _socket: Arc<Socket<()>>, _reason: DisconnectReason) {}
    fn on_message(self: &Arc<Self>, _msg: Str, _socket: Arc<Socket<()>>) {}
    fn on_binary(self: &Arc<Self>, _data: Bytes, _socket: Arc<Socket<()>>) {}
}

/// A WebSocket session served over a real TCP connection: the server's socket and the
/// client's end of the connection (the open packet not read yet).
async fn serve_one() -> (Arc<Socket<()>>, tokio::net::TcpStream) {
    Server::new().await.serve().await
}

/// An Engine.IO service and a listener, serving WebSocket sessions one by one.
struct Server {
    svc: engineioxide::service::EngineIoService<Handler>,
    sockets: mpsc::Receiver<Arc<Socket<()>>>,
    listener: tokio::net::TcpListener,
}

impl Server {
    async fn new() -> Self {
        let (socket_tx, sockets) = mpsc::channel(1);
        let svc = create_server(Handler { socket_tx }).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Server { svc, sockets, listener }
    }

    async fn serve(&mut self) -> (Arc<Socket<()>>, tokio::net::TcpStream) {
        let addr = self.listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = self.listener.accept().await.unwrap();
        let parts = Request::builder()
            .uri("ws://127.0.0.1/engine.io/?EIO=4&transport=websocket")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        tokio::spawn(self.svc.clone().ws_init(server, ProtocolVersion::V4, None, parts));
        (self.sockets.recv().await.unwrap(), client)
    }
}

/// Bytes live on the heap, without the thread's spare write buffer (shared by every
/// connection the thread writes to; the tests run on one thread).
fn heap() -> isize {
    engineioxide::free_spare();
    LIVE.load(Ordering::Relaxed)
}

/// A burst as a catch-up sends it (120 queued messages of 300 B, nearly a full queue):
/// once the client has read it, the server's heap is back within 1 KB of where it was
/// (781 B when the budget was set). Before the patch it kept 62 KB: tungstenite's write
/// buffer at its largest (the whole burst), the writer's list of taken messages, and the
/// channel's blocks of 32 slots of 40 B each, all for the life of the connection; then
/// 1,453 B with the channel's blocks of pointers, which tokio keeps once a full channel
/// needed them (the queue in src/queue.rs gives its slots back).
#[tokio::test]
async fn an_idle_connection_keeps_nothing_of_a_burst() {
    const BUDGET: isize = 1_024;
    const BURST: usize = 120;
    let _one = ONE_AT_A_TIME.lock().await;
    let (socket, client) = serve_one().await;
    let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
    let mut next_text = async || loop {
        match client.next().await.unwrap().unwrap() {
            Message::Text(t) if t.as_str() != "2" => return t,
            _ => {}
        }
    };
    assert!(next_text().await.starts_with('0'), "the open packet");

    // One message first, so what any first write allocates is in the baseline.
    socket.emit("warm").unwrap();
    assert_eq!(next_text().await.as_str(), "4warm");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = heap();

    let pad = "x".repeat(300);
    for i in 0..BURST {
        socket.emit(format!("{i} {pad}")).unwrap();
    }
    for i in 0..BURST {
        assert_eq!(next_text().await.as_str(), format!("4{i} {pad}"));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let kept = heap() - before;
    assert!(kept <= BUDGET, "the connection kept {kept} B of the burst, over {BUDGET} B");
}

/// A large message from the client (100 KB, the read buffer's usual size being 4 KiB here):
/// once handled, the server's heap is back within 2 KB of where it was. Before the patch
/// to tungstenite (vendor/tungstenite) its read buffer kept the frame's size, 100 KB, for
/// the life of the connection; now it holds none once what it read is handed out (0 B
/// kept when the budget was last checked). The client writes its frames by hand: a tungstenite client
/// would keep its own copy of the message in this process' heap.
#[tokio::test]
async fn an_idle_connection_keeps_nothing_of_a_large_message() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BUDGET: isize = 2_048;
    let _one = ONE_AT_A_TIME.lock().await;
    let (_socket, client) = serve_one().await;
    let (mut read, mut write) = client.into_split();
    tokio::spawn(async move {
        let mut sink = [0u8; 1024];
        while read.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    // A client's text frame: masked, as RFC 6455 asks of clients.
    let frame = |text: &str| {
        let (payload, key) = (text.as_bytes(), [1u8, 2, 3, 4]);
        let mut f = vec![0x81, 0x80 | 127];
        f.extend((payload.len() as u64).to_be_bytes());
        f.extend(key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    };

    write.write_all(&frame("4warm")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = heap();

    let large = frame(&format!("4{}", "x".repeat(100_000)));
    write.write_all(&large).await.unwrap();
    drop(large);
    write.write_all(&frame("4after")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kept = heap() - before;
    assert!(kept <= BUDGET, "the connection kept {kept} B of the message, over {BUDGET} B");
}

/// What a fresh, idle WebSocket session holds on the heap, averaged over 16 sessions after
/// one to warm up: the server's side, and the client's end's registration with the runtime (a
/// bare TCP stream). 3,278 B in this test's build (debug, `tracing`) when the budget was set;
/// 3,379 B with tungstenite's write buffer kept at the size of the largest frame written (the
/// open packet's); 7,483 B with tungstenite's read buffer (4 KiB here) allocated when the connection opened
/// and kept while it was idle (vendor/tungstenite); 7,739 B with the request head's boxes kept until the connection ended, two timers in the
/// heartbeat, and room for the sink half and the reader's result in the connection's task
/// (src/transport/ws.rs); 8,075 B with the peeked and the volatile packets inline in the socket (88 B each), 8,747 B
/// with the packets in a tokio channel (800 B allocated when created; see
/// src/queue.rs), 9,195 B with the volatile packets in a `watch` channel too (see `Volatile`
/// in src/socket.rs).
/// Bytes, not time: the same for every run of a build.
#[tokio::test]
async fn a_fresh_connection_holds_little() {
    use tokio::io::AsyncReadExt;
    const BUDGET: isize = 3_350;
    const SESSIONS: isize = 16;
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::new().await;
    // The open packet read, so each session's opening is over.
    let opened = async |mut client: tokio::net::TcpStream| {
        let mut open = [0u8; 64];
        assert!(client.read(&mut open).await.unwrap() > 0, "the open packet");
        client
    };
    let warm = server.serve().await;
    let warm = (warm.0, opened(warm.1).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = heap();
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let (socket, client) = server.serve().await;
        sessions.push((socket, opened(client).await));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let each = (heap() - before) / SESSIONS;
    drop((warm, sessions));
    assert!(each <= BUDGET, "a fresh session holds {each} B, over {BUDGET} B");
}
