//! PATCH (Pulse, see vendor/README.md): a WebSocket connection's write buffer that gives its
//! memory back once written.
//!
//! tungstenite gathers frames in a `Vec` of its own and keeps it, at the largest size it ever
//! reached, for the life of the connection: a socket that once took a burst (a catch-up of a
//! few hundred events after a restart) held about 64 KB for the rest of its life, idle or not.
//! tungstenite is now told to hand every frame on at once (`write_buffer_size(0)`), and this
//! wrapper gathers them instead, so a flush is still one system call, then frees what it held.
//!
//! A buffer of at most [`SPARE_MAX`] goes back to its thread instead of being freed, and the
//! next write on that thread (in a fan-out, to the next socket) takes it: a frame written
//! directly costs a copy, not an allocation, and no connection keeps a buffer while idle.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before a write goes to the socket without waiting for a flush
/// (tungstenite's own default for its buffer).
const GATHER_LIMIT: usize = 128 * 1024;

/// The largest buffer a thread keeps for its next write: a batch of a busy socket's frames
/// (100 sockets taking 3,000 frames a second each: about 10 KB a flush) is gathered without
/// growing a new buffer each time; a larger one is freed. At most this per thread.
const SPARE_MAX: usize = 64 * 1024;

std::thread_local! {
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Frees this thread's spare buffer (tests that count the heap).
#[cfg(feature = "__test_harness")]
pub fn free_spare() {
    SPARE.with(|s| drop(s.take()));
}

/// An `AsyncWrite` that gathers writes until a flush and frees them once written.
pub struct WriteBuffer<S> {
    inner: S,
    buf: Vec<u8>,
    /// How much of `buf` the socket has taken.
    written: usize,
}

impl<S> WriteBuffer<S> {
    /// Wraps a connection's stream.
    pub fn new(inner: S) -> Self {
        Self { inner, buf: Vec::new(), written: 0 }
    }

    /// Bytes of memory the buffer holds.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<S: AsyncWrite + Unpin> WriteBuffer<S> {
    /// Writes what was gathered; once all of it is written, frees it.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        // Not kept: an idle connection holds no buffer.
        let mut buf = std::mem::take(&mut self.buf);
        self.written = 0;
        if buf.capacity() <= SPARE_MAX {
            buf.clear();
            SPARE.with(|s| s.set(buf));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteBuffer<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.len() - this.written >= GATHER_LIMIT {
            ready!(this.poll_write_out(cx))?;
        }
        if this.buf.capacity() == 0 {
            this.buf = SPARE.with(|s| s.take());
        }
        this.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteBuffer<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes gather until a flush, arrive in order, and leave nothing held once written.
    #[tokio::test]
    async fn gathers_until_flushed_then_frees() {
        let (conn, mut peer) = tokio::io::duplex(1 << 20);
        let mut w = WriteBuffer::new(conn);
        let mut sent = Vec::new();
        for i in 0..300u32 {
            let frame = format!("frame {i} {}", "x".repeat(300));
            w.write_all(frame.as_bytes()).await.unwrap();
            sent.extend_from_slice(frame.as_bytes());
        }
        assert!(w.capacity() >= sent.len(), "gathered until the flush");
        w.flush().await.unwrap();
        assert_eq!(w.capacity(), 0, "freed once written");
        let mut got = vec![0; sent.len()];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, sent);
    }

    /// A socket that does not read makes writes wait past the limit instead of growing.
    #[tokio::test]
    async fn a_socket_that_does_not_read_holds_writes_back() {
        let (conn, mut peer) = tokio::io::duplex(1024);
        let mut w = WriteBuffer::new(conn);
        let frame = vec![7u8; 4096];
        let mut taken = 0;
        let waker = futures_util::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        while let Poll::Ready(Ok(n)) = Pin::new(&mut w).poll_write(&mut cx, &frame) {
            taken += n;
            assert!(taken <= GATHER_LIMIT, "{taken} B taken");
        }
        assert_eq!(taken, GATHER_LIMIT);
        // Once the peer reads, everything taken arrives and the buffer is freed.
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            peer.read_to_end(&mut all).await.unwrap();
            all.len()
        });
        w.shutdown().await.unwrap();
        drop(w);
        assert_eq!(reader.await.unwrap(), taken);
    }
}
