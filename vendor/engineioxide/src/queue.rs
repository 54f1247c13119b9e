//! PATCH (Pulse, see vendor/README.md): the socket's bounded queue of packets for its
//! transport, in place of a tokio `mpsc` channel.
//!
//! A tokio channel allocates its shared state and a first block of 32 slots when it is
//! created (800 B for the socket's, idle or not) and keeps every block a full channel needed,
//! plus spares, until it is dropped. This queue lives inside the socket: nothing is allocated
//! until a packet is queued, and the slots a burst needed are freed once it is written.
//!
//! One consumer at a time: the transport holding the socket's `internal_rx` lock.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::mpsc::error::TrySendError;

/// Slots a queue keeps when it empties; above this it gives them back.
const KEPT_SLOTS: usize = 8;

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Woken when the queue is closed (see [`Queue::closed`]).
    closed_notify: tokio::sync::Notify,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// Slots promised to permits that have not sent yet.
    reserved: usize,
    closed: bool,
    /// The consumer, waiting for an item.
    rx_waker: Option<Waker>,
}

/// A slot reserved in a [`Queue`]: [`QueuePermit::send`] fills it; dropped unused, it is free
/// again.
pub(crate) struct QueuePermit<'a, T> {
    queue: &'a Queue<T>,
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a queue holds at least one packet");
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                reserved: 0,
                closed: false,
                rx_waker: None,
            }),
            closed_notify: tokio::sync::Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the queue's state whole (every change is one
        // push, pop or count): go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether one more item may come in, and if not, why.
    fn room(&self, st: &State<T>) -> Result<(), TrySendError<()>> {
        if st.closed {
            Err(TrySendError::Closed(()))
        } else if st.items.len() + st.reserved >= self.capacity {
            Err(TrySendError::Full(()))
        } else {
            Ok(())
        }
    }

    /// Queues `item`, or gives it back when the queue is full or closed.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let st = self.lock();
        match self.room(&st) {
            Ok(()) => {
                push(st, item);
                Ok(())
            }
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(item)),
            Err(TrySendError::Full(())) => Err(TrySendError::Full(item)),
        }
    }

    /// Reserves a slot, so that a later send cannot fail.
    pub(crate) fn try_reserve(&self) -> Result<QueuePermit<'_, T>, TrySendError<()>> {
        let mut st = self.lock();
        self.room(&st)?;
        st.reserved += 1;
        Ok(QueuePermit { queue: self })
    }

    /// Free slots: neither holding an item nor reserved.
    pub(crate) fn capacity(&self) -> usize {
        let st = self.lock();
        self.capacity - st.items.len() - st.reserved
    }

    pub(crate) fn max_capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Resolves once the queue is closed.
    pub(crate) async fn closed(&self) {
        let notified = self.closed_notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a close between the two is not missed.
        notified.as_mut().enable();
        if self.is_closed() {
            return;
        }
        notified.await;
    }

    /// Refuses further items; the consumer still gets those queued, then `None`.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        wake(st);
        self.closed_notify.notify_waiters();
    }

    /// The next item; `None` once the queue is closed and empty. Only the transport holding
    /// the socket's `internal_rx` lock consumes.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = self.lock();
        if let Some(item) = st.items.pop_front() {
            if st.items.is_empty() && st.items.capacity() > KEPT_SLOTS {
                st.items = VecDeque::new();
            }
            return Poll::Ready(Some(item));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        if !st.rx_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            st.rx_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) async fn recv(&self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T> QueuePermit<'_, T> {
    /// Fills the reserved slot (even if the queue was closed since, as a tokio permit does).
    pub(crate) fn send(self, item: T) {
        let mut st = self.queue.lock();
        st.reserved -= 1;
        std::mem::forget(self);
        push(st, item);
    }
}

/// Adds `item` and wakes the consumer, after letting go of the lock.
fn push<T>(mut st: MutexGuard<'_, State<T>>, item: T) {
    st.items.push_back(item);
    wake(st);
}

/// Wakes the consumer if it waits, after letting go of the lock.
fn wake<T>(mut st: MutexGuard<'_, State<T>>) {
    let waker = st.rx_waker.take();
    drop(st);
    if let Some(w) = waker {
        w.wake();
    }
}

impl<T> Drop for QueuePermit<'_, T> {
    fn drop(&mut self) {
        self.queue.lock().reserved -= 1;
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Queue")
            .field("len", &st.items.len())
            .field("reserved", &st.reserved)
            .field("capacity", &self.capacity)
            .field("closed", &st.closed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;

    fn poll<T>(q: &Queue<T>) -> Poll<Option<T>> {
        q.poll_recv(&mut Context::from_waker(noop_waker_ref()))
    }

    #[test]
    fn items_come_out_in_order_up_to_the_capacity() {
        let q = Queue::new(3);
        for i in 0..3 {
            q.try_send(i).unwrap();
        }
        assert!(matches!(q.try_send(9), Err(TrySendError::Full(9))));
        assert_eq!(q.capacity(), 0);
        for i in 0..3 {
            assert_eq!(poll(&q), Poll::Ready(Some(i)));
        }
        assert_eq!(poll(&q), Poll::Pending);
        assert_eq!(q.capacity(), 3);
    }

    #[test]
    fn a_permit_holds_its_slot_until_it_sends_or_drops() {
        let q = Queue::new(2);
        let p = q.try_reserve().unwrap();
        q.try_send(1).unwrap();
        assert!(matches!(q.try_reserve(), Err(TrySendError::Full(()))));
        assert_eq!(q.capacity(), 0);
        p.send(2);
        assert_eq!(poll(&q), Poll::Ready(Some(1)));
        assert_eq!(poll(&q), Poll::Ready(Some(2)));
        drop(q.try_reserve().unwrap());
        assert_eq!(q.capacity(), 2);
    }

    #[test]
    fn a_closed_queue_refuses_items_and_ends_after_the_queued_ones() {
        let q = Queue::new(4);
        q.try_send(1).unwrap();
        q.close();
        assert!(q.is_closed());
        assert!(matches!(q.try_send(2), Err(TrySendError::Closed(2))));
        assert!(matches!(q.try_reserve(), Err(TrySendError::Closed(()))));
        assert_eq!(poll(&q), Poll::Ready(Some(1)));
        assert_eq!(poll(&q), Poll::Ready(None));
    }

    #[test]
    fn the_slots_of_a_burst_are_given_back_once_it_is_taken() {
        let q = Queue::new(128);
        for i in 0..100 {
            q.try_send(i).unwrap();
        }
        while let Poll::Ready(Some(_)) = poll(&q) {}
        assert_eq!(q.lock().items.capacity(), 0);
        // A few at a time keep their few slots.
        q.try_send(1).unwrap();
        assert_eq!(poll(&q), Poll::Ready(Some(1)));
        assert!(q.lock().items.capacity() <= KEPT_SLOTS);
    }

    /// Producers on other threads, the consumer waiting whenever the queue is empty: every
    /// item arrives, each producer's in order (a lost wake-up would hang the consumer).
    #[tokio::test]
    async fn no_item_is_lost_between_threads() {
        const EACH: u64 = 20_000;
        let q = std::sync::Arc::new(Queue::new(16));
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let item = (p, i);
                        // Through a permit or directly, in turns; a full queue is retried.
                        loop {
                            let sent = if i % 2 == 0 {
                                q.try_reserve().map(|permit| permit.send(item)).is_ok()
                            } else {
                                q.try_send(item).is_ok()
                            };
                            if sent {
                                break;
                            }
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; 2];
        let received = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while next.iter().sum::<u64>() < 2 * EACH {
                let (p, i) = q.recv().await.unwrap();
                assert_eq!(i, next[p as usize], "producer {p}'s items in order");
                next[p as usize] += 1;
            }
        })
        .await;
        assert!(received.is_ok(), "the consumer was left waiting at {next:?}");
        for p in producers {
            p.join().unwrap();
        }
    }

    #[tokio::test]
    async fn the_consumer_and_closed_are_woken() {
        let q = std::sync::Arc::new(Queue::new(4));
        let rx = tokio::spawn({
            let q = q.clone();
            async move { (q.recv().await, q.recv().await) }
        });
        let closed = tokio::spawn({
            let q = q.clone();
            async move { q.closed().await }
        });
        tokio::task::yield_now().await;
        q.try_send(7).unwrap();
        q.close();
        assert_eq!(rx.await.unwrap(), (Some(7), None));
        closed.await.unwrap();
    }
}
