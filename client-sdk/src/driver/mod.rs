//! This module deals with IO: the only place that touches sockets, HTTP, timers, the clock
//! or entropy. One generic loop drives the [`Connection`](crate::Connection) machine and,
//! below it, the [`Transports`] machine (WebSocket or long-polling); a [`Runtime`] per
//! platform opens WebSockets and sleeps (`native` on tokio, `browser` on the browser's
//! WebSocket and timers), and [`http`] makes the requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, AbortHandle, Abortable, Either};
use futures_util::{FutureExt, StreamExt};

use crate::client::{MaybeSend, Shared};
use crate::codec::Frame;
use crate::connection::{Event, Io, Polled, Renewal};
use crate::time::Instant;
use crate::transport::{Action, IoId, Transports};

pub mod http;
pub(crate) mod poll;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod native;

#[cfg(target_arch = "wasm32")]
use browser as platform;
#[cfg(not(target_arch = "wasm32"))]
use native as platform;

/// What wakes the driver loop.
pub(crate) enum Input {
    /// The application's answer to `Io::NeedAuth`.
    Auth(Renewal),
    /// Fallback poll number `gen` finished; results of cancelled polls are dropped.
    Polled { gen: u64, result: Result<Polled, String> },
    /// Something happened on WebSocket `id`.
    Socket { id: IoId, event: TransportEvent },
    /// Long-polling request `id` was answered (status, body) or got no answer.
    Http { id: IoId, result: Result<(u16, String), String> },
    /// The application called the machine; drain its outputs.
    Kick,
    /// The last client handle is gone.
    Shutdown,
}

/// What a socket reports.
pub(crate) enum TransportEvent {
    Open,
    Frame(Frame),
    Closed(String),
}

/// An open (or opening) WebSocket.
pub(crate) trait Socket {
    fn send(&mut self, frame: Frame);
    fn close(&mut self);
}

/// How a platform opens sockets and sleeps.
pub(crate) trait Runtime: 'static {
    type Socket: Socket + MaybeSend;
    type Sleep: Future<Output = ()> + MaybeSend;
    /// Starts opening `url`; reports through `tx` tagged with `id`.
    fn open(&self, url: &str, id: IoId, tx: mpsc::UnboundedSender<Input>) -> Self::Socket;
    fn sleep(&self, d: Duration) -> Self::Sleep;
}

/// Inputs handled in one round before the machine's outputs are drained again, so a flood of
/// frames cannot hold back dispatch.
const MAX_BATCH: usize = 64;

pub(crate) fn now() -> Instant {
    Instant::now()
}

/// The time, read once per round of inputs and then reused: a round is short next to any
/// deadline, and in the browser each read is a call out of wasm.
#[derive(Default)]
struct RoundClock(Option<Instant>);

impl RoundClock {
    fn now(&mut self) -> Instant {
        *self.0.get_or_insert_with(now)
    }
}

#[cfg(all(feature = "handover", target_arch = "wasm32"))]
pub use browser::{hand_over, Handover};
pub(crate) use platform::{seed, sleep, spawn};

/// Runs the machine until shutdown: drain outputs, then wait for an input or the deadline.
pub(crate) async fn run<R: Runtime>(
    rt: R,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Input>,
    tx: mpsc::UnboundedSender<Input>,
) {
    let mut io = Transport {
        machine: Transports::new(shared.conn().config().clone()),
        sockets: Vec::new(),
        requests: Vec::new(),
        poller: None,
    };
    let mut fallback = FallbackPoll::default();
    let mut frames = Vec::new();
    let mut ios = Vec::new();
    let mut events = Vec::new();
    // The pending timer and its deadline. Kept across rounds while the deadline holds (it
    // does between heartbeats): arming a timer per received frame cost a load generator
    // a timer-wheel insert and removal per event.
    let mut timer: Option<(Instant, Pin<Box<R::Sleep>>)> = None;
    loop {
        // Until neither machine has anything more: what the transport reports up can make
        // the connection send (the handshake makes it join the namespace).
        let wake = loop {
            let wake = {
                let mut c = shared.conn();
                frames.extend(std::iter::from_fn(|| c.poll_transmit()));
                ios.extend(std::iter::from_fn(|| c.poll_io()));
                events.extend(std::iter::from_fn(|| c.poll_event()));
                c.poll_timeout()
            };
            for f in frames.drain(..) {
                io.machine.send(f);
            }
            for one in ios.drain(..) {
                carry_out(one, &shared, &tx, &mut io.machine, &mut fallback);
            }
            for e in events.drain(..) {
                shared.dispatch(e);
            }
            io.act(&rt, &tx);
            if !report_up(&mut io.machine, &shared, &mut RoundClock::default()) {
                let current = io.machine.current();
                if shared.set_transport(current) {
                    shared.dispatch(Event::Transport(current));
                }
                break wake;
            }
        };
        let mut input = match wake {
            Some(at) => {
                if timer.as_ref().is_none_or(|(t, _)| *t != at) {
                    let d = at.saturating_duration_since(now());
                    timer = Some((at, Box::pin(rt.sleep(d))));
                }
                let (_, sleep) = timer.as_mut().expect("armed above");
                match select(rx.next(), sleep.as_mut()).await {
                    Either::Left((input, _)) => input,
                    Either::Right(_) => {
                        timer = None;
                        shared.conn().handle_timeout(now());
                        continue;
                    }
                }
            }
            None => {
                timer = None;
                rx.next().await
            }
        };
        // Everything already queued is handled in this round (bounded), in order.
        let mut clock = RoundClock::default();
        for handled in 1.. {
            match input {
                Some(Input::Socket { id, event }) => match event {
                    TransportEvent::Open => io.machine.handle_ws_open(id),
                    TransportEvent::Frame(f) => io.machine.handle_ws_frame(id, f),
                    TransportEvent::Closed(reason) => {
                        io.sockets.retain(|(s, _)| *s != id);
                        io.machine.handle_ws_closed(id, reason);
                    }
                },
                Some(Input::Http { id, result }) => {
                    io.requests.retain(|(r, _)| *r != id);
                    io.machine.handle_http(id, result);
                }
                Some(Input::Auth(auth)) => shared.conn().handle_auth(clock.now(), auth),
                Some(Input::Polled { gen, result }) => {
                    if fallback.answered(gen) {
                        shared.conn().handle_poll_result(clock.now(), result);
                    }
                }
                Some(Input::Kick) => {}
                Some(Input::Shutdown) | None => {
                    io.machine.close();
                    io.act(&rt, &tx);
                    fallback.cancel();
                    return;
                }
            }
            // Frames go up in the order they came, before a later input is handled.
            report_up(&mut io.machine, &shared, &mut clock);
            if handled == MAX_BATCH {
                break; // Not one more: a taken input must be handled.
            }
            input = match rx.try_recv() {
                Ok(next) => Some(next),
                // Every sender is gone: handled as a shutdown above.
                Err(mpsc::TryRecvError::Closed) => None,
                Err(mpsc::TryRecvError::Empty) => break,
            };
        }
        // Deadlines can pass while we wait for input; fire them now rather than next round.
        shared.conn().handle_timeout(clock.now());
    }
}

/// Carries out what the connection asked of the driver.
fn carry_out(
    one: Io,
    shared: &Shared,
    tx: &mpsc::UnboundedSender<Input>,
    machine: &mut Transports,
    fallback: &mut FallbackPoll,
) {
    match one {
        Io::Close => machine.close(),
        Io::Open { .. } => {
            shared.refresh_auth();
            machine.open();
        }
        Io::CancelPoll => fallback.cancel(),
        Io::Poll { since, epoch, topics } => {
            shared.refresh_auth();
            let (base, token) = {
                let c = shared.conn();
                (c.config().http_url(), c.auth().and_then(|a| a.token.clone()))
            };
            let fetch = async move {
                poll::fetch(&base, token.as_deref(), since, epoch.as_deref(), topics).await
            };
            fallback.start(fetch, tx);
        }
        Io::NeedAuth(need) => {
            // The machine decides what to do with the answer; a provider that answers at
            // once (a plain closure) is not spawned.
            let mut renewal = shared.renew(&need);
            match (&mut renewal).now_or_never() {
                Some(auth) => {
                    let _ = tx.unbounded_send(Input::Auth(auth));
                }
                None => {
                    let tx = tx.clone();
                    platform::spawn_task(async move {
                        let _ = tx.unbounded_send(Input::Auth(renewal.await));
                    });
                }
            }
        }
    }
}

/// The REST fallback poll in flight: its number (results of cancelled polls are dropped)
/// and the handle that drops its requests.
#[derive(Default)]
struct FallbackPoll {
    gen: u64,
    inflight: Option<AbortHandle>,
}

impl FallbackPoll {
    fn start(
        &mut self,
        fetch: impl Future<Output = Result<Polled, String>> + MaybeSend + 'static,
        tx: &mpsc::UnboundedSender<Input>,
    ) {
        self.gen += 1;
        let gen = self.gen;
        let tx = tx.clone();
        self.inflight = Some(spawn_abortable(fetch, move |result| {
            let _ = tx.unbounded_send(Input::Polled { gen, result });
        }));
    }

    fn cancel(&mut self) {
        if let Some(p) = self.inflight.take() {
            p.abort();
        }
        self.gen += 1;
    }

    /// Whether poll `gen` is the one in flight (it is no longer).
    fn answered(&mut self, gen: u64) -> bool {
        let current = gen == self.gen;
        if current {
            self.inflight = None;
        }
        current
    }
}

/// Runs `work` as a task and hands its result to `report`, unless the returned handle aborts
/// it first (then nothing is reported).
fn spawn_abortable<T: 'static>(
    work: impl Future<Output = T> + MaybeSend + 'static,
    report: impl FnOnce(T) + MaybeSend + 'static,
) -> AbortHandle {
    let (handle, registration) = AbortHandle::new_pair();
    let work = Abortable::new(work, registration);
    platform::spawn_task(async move {
        if let Ok(result) = work.await {
            report(result);
        }
    });
    handle
}

/// Tells the connection what the transport reports; whether there was anything.
fn report_up(machine: &mut Transports, shared: &Shared, clock: &mut RoundClock) -> bool {
    let mut reported = false;
    while let Some(up) = machine.poll_up() {
        reported = true;
        let now = clock.now();
        shared.conn().handle_up(now, up);
    }
    reported
}

/// The transport machine and what carries out its actions: the WebSockets it opened and
/// the long-polling requests in flight, by id.
struct Transport<S> {
    machine: Transports,
    sockets: Vec<(IoId, S)>,
    requests: Vec<(IoId, AbortHandle)>,
    /// Built at the first long-polling request: most clients never poll, and natively it is
    /// a connection pool (a load generator's thousands of clients would each carry one).
    /// `Err` when it could not be built (reported by each request).
    poller: Option<Result<http::Poller, String>>,
}

impl<S: Socket> Transport<S> {
    fn act<R: Runtime<Socket = S>>(&mut self, rt: &R, tx: &mpsc::UnboundedSender<Input>) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::OpenWebSocket { id, url } => {
                    self.sockets.push((id, rt.open(&url, id, tx.clone())));
                }
                Action::SendWebSocket { id, frame } => {
                    if let Some((_, s)) = self.sockets.iter_mut().find(|(s, _)| *s == id) {
                        s.send(frame);
                    }
                }
                Action::CloseWebSocket { id } => {
                    if let Some(i) = self.sockets.iter().position(|(s, _)| *s == id) {
                        self.sockets.swap_remove(i).1.close();
                    }
                }
                Action::Get { id, url } => self.request(id, url, None, tx),
                Action::Post { id, url, body } => self.request(id, url, Some(body), tx),
                Action::Cancel { id } => {
                    if let Some(i) = self.requests.iter().position(|(r, _)| *r == id) {
                        self.requests.swap_remove(i).1.abort();
                    }
                }
            }
        }
    }

    fn request(
        &mut self,
        id: IoId,
        url: String,
        body: Option<String>,
        tx: &mpsc::UnboundedSender<Input>,
    ) {
        let credentials = self.machine.config().with_credentials;
        let poller = self
            .poller
            .get_or_insert_with(|| http::Poller::new(credentials).map_err(|e| e.to_string()));
        let poller = match poller {
            Ok(p) => p.clone(),
            Err(e) => {
                let _ = tx.unbounded_send(Input::Http { id, result: Err(e.clone()) });
                return;
            }
        };
        let tx = tx.clone();
        let send = async move { poller.send(&url, body).await };
        let handle = spawn_abortable(send, move |result| {
            let _ = tx.unbounded_send(Input::Http { id, result });
        });
        self.requests.push((id, handle));
    }
}
