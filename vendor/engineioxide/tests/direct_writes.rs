//! PATCH (Pulse, see vendor/README.md): writes in the emitter's turn, allowed by the emitter.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use engineioxide::{
    DirectWrites, Str,
    handler::EngineIoHandler,
    socket::{DisconnectReason, Socket},
};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

mod fixture;
use fixture::{create_server, create_ws_connection};

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

type Stream = tokio_tungstenite::WebSocketStream<fixture::StreamImpl>;

/// A connected socket with the open packet and the first ping read, and the writer idle.
async fn connect() -> (Arc<Socket<()>>, Stream) {
    let (socket_tx, mut socket_rx) = mpsc::channel(1);
    let mut svc = create_server(Handler { socket_tx }).await;
    let mut stream = create_ws_connection(&mut svc).await;
    let socket = socket_rx.recv().await.unwrap();
    let _open = stream.next().await.unwrap().unwrap();
    // The first ping goes out at once; the next after the ping interval (300 ms), longer
    // than a test here.
    let ping = stream.next().await.unwrap().unwrap();
    assert_eq!(ping, Message::Text("2".into()));
    (socket, stream)
}

/// Emits as socketioxide does, through a permit (the path with direct writes).
fn emit(socket: &Socket<()>, msg: impl Into<Str>) {
    socket.reserve().expect("channel full").emit(msg.into());
}

/// The next message that is not a ping, waiting for it.
async fn next_message(stream: &mut Stream) -> Message {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("no message within 2 s")
            .unwrap()
            .unwrap();
        if msg != Message::Text("2".into()) {
            return msg;
        }
    }
}

/// The frame is on the wire before the emitter yields (the test's runtime has one thread, so
/// the connection's task, which runs the writer, cannot have run), only where the emitter allowed it.
#[tokio::test]
async fn an_allowed_emit_is_written_in_the_emitters_turn() {
    let (socket, mut stream) = connect().await;
    // Past the 10 ms in which a socket written to is busy.
    tokio::time::sleep(Duration::from_millis(20)).await;

    emit(&socket, "queued");
    assert!(stream.next().now_or_never().is_none(), "written without the emitter's leave");
    assert_eq!(next_message(&mut stream).await, Message::Text("4queued".into()));

    tokio::time::sleep(Duration::from_millis(20)).await;
    {
        let writes = DirectWrites::enter();
        writes.allow(false);
        emit(&socket, "refused");
    }
    assert!(stream.next().now_or_never().is_none(), "written though the emitter said no");
    assert_eq!(next_message(&mut stream).await, Message::Text("4refused".into()));

    tokio::time::sleep(Duration::from_millis(20)).await;
    {
        let _writes = DirectWrites::enter();
        emit(&socket, "direct");
    }
    let now = stream.next().now_or_never().expect("not written in the emitter's turn");
    assert_eq!(now.unwrap().unwrap(), Message::Text("4direct".into()));

    // The guard's end ends it: this emit queues again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    emit(&socket, "after");
    assert!(stream.next().now_or_never().is_none());
    assert_eq!(next_message(&mut stream).await, Message::Text("4after".into()));
}

/// Direct and queued writes mixed, the emitter changing its mind between emits and sleeping
/// past the busy time now and then: every message arrives once, in order.
#[tokio::test]
async fn mixed_direct_and_queued_writes_keep_order() {
    let (socket, mut stream) = connect().await;
    let mut sent = 0;
    for round in 0..20 {
        {
            let writes = DirectWrites::enter();
            for i in 0..25 {
                writes.allow((round + i) % 3 != 0);
                emit(&socket, format!("m{sent}"));
                sent += 1;
            }
        }
        if round % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(15)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    for n in 0..sent {
        assert_eq!(next_message(&mut stream).await, Message::Text(format!("4m{n}").into()));
    }
}
