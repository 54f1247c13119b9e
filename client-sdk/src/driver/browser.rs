//! This module deals with the browser runtime: the page's `WebSocket`, `setTimeout` through
//! gloo-timers, and tasks on the page's event loop.
//!
//! The driver loop is not an ordinary task: a WebSocket message polls it in the message's
//! own event handler ([`DriverTask`]), so a received event reaches the application's handler
//! in the same turn of the page's event loop, not in a microtask queued after it.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::{Input, Runtime, Socket, TransportEvent};
use crate::client::Shared;
use crate::codec::Frame;
use crate::transport::IoId;

pub(crate) struct Browser {
    /// The task running the loop this runtime serves; set right after it is made.
    task: Rc<OnceCell<Weak<DriverTask>>>,
    /// Asked whether a handed-over socket's CONNECT is the machine's own.
    #[cfg(feature = "handover")]
    shared: Arc<Shared>,
}

pub(crate) struct BrowserSocket {
    ws: Option<WebSocket>,
    // Kept alive as long as the socket may call them.
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Socket for BrowserSocket {
    fn send(&mut self, frame: Frame) {
        let Some(ws) = &self.ws else { return };
        // A send on a closing socket fails; the close event that follows reports it.
        let _ = match frame {
            Frame::Text(t) => ws.send_with_str(&t),
            Frame::Binary(b) => ws.send_with_u8_array(&b),
        };
    }

    fn close(&mut self) {
        if let Some(ws) = self.ws.take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onerror(None);
            let _ = ws.close();
        }
        // The loop may close a socket from within one of its handlers (it is polled there):
        // a closure must outlive its own call, so they are dropped in a later microtask.
        let handlers = std::mem::take(&mut self._handlers);
        if !handlers.is_empty() {
            spawn_task(async move { drop(handlers) });
        }
    }
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.close();
    }
}

impl Browser {
    /// Reports what `ws` does through `report` from now on.
    fn listen(
        &self,
        ws: WebSocket,
        report: &(impl Fn(TransportEvent) + Clone + 'static),
    ) -> BrowserSocket {
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let report = report.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| report(TransportEvent::Open))
        };
        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                // A WebSocket's `message` handler gets a MessageEvent, nothing else: not
                // checked, which would cost an `instanceof` per frame.
                let data = e.unchecked_into::<MessageEvent>().data();
                if let Some(text) = data.as_string() {
                    report(TransportEvent::Frame(Frame::Text(text)));
                } else if let Ok(buf) = data.dyn_into::<js_sys::ArrayBuffer>() {
                    report(TransportEvent::Frame(Frame::Binary(
                        js_sys::Uint8Array::new(&buf).to_vec(),
                    )));
                }
            })
        };
        let on_close = {
            let report = report.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let why = match e.dyn_into::<CloseEvent>() {
                    Ok(c) if !c.reason().is_empty() => {
                        format!("closed ({}): {}", c.code(), c.reason())
                    }
                    Ok(c) => format!("closed ({})", c.code()),
                    Err(_) => "closed".to_owned(),
                };
                report(TransportEvent::Closed(why));
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // An error is always followed by a close event, which carries the code.
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        BrowserSocket { ws: Some(ws), _handlers: vec![on_open, on_message, on_close] }
    }

    /// The socket [`hand_over`] left, if it is open on `url` and the machine takes up its
    /// CONNECT; then also the frames it received so far. The caller replaces the page's
    /// handlers ([`Browser::listen`]) in the same turn, so none is missed or seen twice. A
    /// socket not taken is closed.
    #[cfg(feature = "handover")]
    fn take_handed_over(&self, url: &str) -> Option<(WebSocket, js_sys::Array)> {
        let handover = HANDED_OVER.with(|h| h.borrow_mut().take())?;
        let ws = handover.ws();
        let taken = ws.url() == url
            && ws.ready_state() == WebSocket::OPEN
            && self.shared.conn().adopt(&handover.join());
        if !taken {
            let _ = ws.close();
            return None;
        }
        Some((ws, handover.frames()))
    }
}

#[cfg(feature = "handover")]
thread_local! {
    static HANDED_OVER: RefCell<Option<Handover>> = const { RefCell::new(None) };
}

#[cfg(feature = "handover")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `{ ws, join, frames }`: see [`hand_over`].
    pub type Handover;
    #[wasm_bindgen(method, getter)]
    fn ws(this: &Handover) -> WebSocket;
    #[wasm_bindgen(method, getter)]
    fn join(this: &Handover) -> String;
    #[wasm_bindgen(method, getter)]
    fn frames(this: &Handover) -> js_sys::Array;
}

/// Leaves a WebSocket that the page opened and joined itself, before its app's wasm arrived
/// (the dashboard's boot.js shows live figures meanwhile), to the next client that opens a
/// WebSocket on the same URL; a later call replaces it. `handover` is `{ ws, join, frames }`:
/// the open socket, the CONNECT frame the page sent on it (`40…`), and an array of the text
/// frames it received from the Engine.IO handshake on, pings it answered left out, which the
/// page keeps appending to until the client replaces its handlers. The client takes the
/// socket only if it would have sent that same CONNECT (namespace, credentials, position,
/// topics): then it goes live without a handshake of its own, and what the page's socket
/// received meanwhile reaches it as if it had been listening. Otherwise it closes the page's
/// socket and opens its own, as without this call.
#[cfg(feature = "handover")]
pub fn hand_over(handover: Handover) {
    HANDED_OVER.with(|h| *h.borrow_mut() = Some(handover));
}

impl Runtime for Browser {
    type Socket = BrowserSocket;
    type Sleep = TimeoutFuture;

    fn open(&self, url: &str, id: IoId, tx: UnboundedSender<Input>) -> BrowserSocket {
        let task = self.task.clone();
        let report = move |event| {
            let send = || {
                let _ = tx.unbounded_send(Input::Socket { id, event });
            };
            match task.get().and_then(Weak::upgrade) {
                Some(task) => task.poll_after(send),
                None => send(),
            }
        };
        #[cfg(feature = "handover")]
        if let Some((ws, frames)) = self.take_handed_over(url) {
            let socket = self.listen(ws, &report);
            // What the page's socket received before its handlers were replaced, then what
            // comes next, in order: the handshake first, as from a socket opening now. In a
            // microtask, as a new socket's would come later: the application that is making
            // the client subscribes to its events before they are dispatched.
            spawn_task(async move {
                report(TransportEvent::Open);
                for frame in frames.iter() {
                    if let Some(text) = frame.as_string() {
                        report(TransportEvent::Frame(Frame::Text(text)));
                    }
                }
            });
            return socket;
        }
        match WebSocket::new(url) {
            Ok(ws) => self.listen(ws, &report),
            Err(e) => {
                report(TransportEvent::Closed(format!("cannot open WebSocket: {e:?}")));
                BrowserSocket { ws: None, _handlers: Vec::new() }
            }
        }
    }

    fn sleep(&self, d: Duration) -> TimeoutFuture {
        sleep(d)
    }
}

pub(crate) fn spawn(shared: Arc<Shared>, rx: UnboundedReceiver<Input>, tx: UnboundedSender<Input>) {
    let slot = Rc::new(OnceCell::new());
    let rt = Browser {
        task: slot.clone(),
        #[cfg(feature = "handover")]
        shared: shared.clone(),
    };
    let task = DriverTask::new(Box::pin(super::run(rt, shared, rx, tx)));
    let _ = slot.set(Rc::downgrade(&task));
    task.poll();
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(f: &js_sys::Function);
}

/// The driver loop as a task that can be polled on the spot: by a wake-up (in a microtask,
/// as any task) or by the WebSocket handler that just gave it a frame.
struct DriverTask {
    future: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>,
    /// A microtask that polls the task is queued.
    queued: Cell<bool>,
    /// Woken while it was being polled: poll again before returning.
    again: Cell<bool>,
    /// What the microtask calls; made once.
    run: OnceCell<Closure<dyn FnMut()>>,
}

impl DriverTask {
    fn new(future: Pin<Box<dyn Future<Output = ()>>>) -> Rc<DriverTask> {
        let task = Rc::new(DriverTask {
            future: RefCell::new(Some(future)),
            queued: Cell::new(false),
            again: Cell::new(false),
            run: OnceCell::new(),
        });
        let weak = Rc::downgrade(&task);
        let run = Closure::<dyn FnMut()>::new(move || {
            if let Some(t) = weak.upgrade() {
                t.queued.set(false);
                t.poll();
            }
        });
        let _ = task.run.set(run);
        task
    }

    /// Runs `send`, which gives the loop an input, then polls the loop in this turn: what
    /// the input causes (an event's handlers) happens before the caller returns. The wake-up
    /// the send causes queues no microtask, since the poll follows at once.
    fn poll_after(self: &Rc<Self>, send: impl FnOnce()) {
        let queued = self.queued.replace(true);
        send();
        self.queued.set(queued);
        self.poll();
    }

    /// Polls the loop until it waits for something; from within a poll (an application
    /// handler the loop called), only notes that another poll is due.
    fn poll(self: &Rc<Self>) {
        let Ok(mut slot) = self.future.try_borrow_mut() else {
            self.again.set(true);
            return;
        };
        let waker = self.waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            self.again.set(false);
            let Some(future) = slot.as_mut() else { return };
            if future.as_mut().poll(&mut cx).is_ready() {
                // Dropped outside the borrow: its destructors may wake this task.
                let done = slot.take();
                drop(slot);
                drop(done);
                return;
            }
            if !self.again.get() {
                return;
            }
        }
    }

    fn wake(self: &Rc<Self>) {
        if self.future.try_borrow_mut().is_err() {
            self.again.set(true);
        } else if !self.queued.replace(true) {
            if let Some(run) = self.run.get() {
                queue_microtask(run.as_ref().unchecked_ref());
            }
        }
    }

    fn waker(self: &Rc<Self>) -> Waker {
        // SAFETY: the data pointer is an `Rc<DriverTask>` whose count the vtable keeps; the
        // browser runs wasm on one thread (no atomics), so the waker never crosses one.
        unsafe { Waker::from_raw(raw_waker(Rc::into_raw(self.clone()))) }
    }
}

impl Drop for DriverTask {
    fn drop(&mut self) {
        // The last reference may go at the end of `run`'s own call (the loop ended in it): a
        // closure must outlive its call, so it is dropped in a later microtask.
        if let Some(run) = self.run.take() {
            spawn_task(async move { drop(run) });
        }
    }
}

fn raw_waker(task: *const DriverTask) -> RawWaker {
    RawWaker::new(task.cast(), &VTABLE)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |p| {
        // SAFETY (all four): `p` came from `Rc::into_raw` in `DriverTask::waker`.
        unsafe { Rc::increment_strong_count(p.cast::<DriverTask>()) };
        raw_waker(p.cast())
    },
    |p| unsafe { Rc::from_raw(p.cast::<DriverTask>()) }.wake(),
    |p| {
        let task = std::mem::ManuallyDrop::new(unsafe { Rc::from_raw(p.cast::<DriverTask>()) });
        task.wake();
    },
    |p| drop(unsafe { Rc::from_raw(p.cast::<DriverTask>()) }),
);

pub(crate) fn spawn_task(fut: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(fut);
}

pub(crate) fn seed() -> u64 {
    (js_sys::Math::random() * (1u64 << 53) as f64) as u64
}

pub(crate) fn sleep(d: Duration) -> TimeoutFuture {
    // setTimeout takes an i32 of milliseconds.
    TimeoutFuture::new(d.as_millis().min(i32::MAX as u128) as u32)
}
