//! This module deals with the browser runtime: the page's `WebSocket`, `setTimeout` through
//! gloo-timers, and tasks on the page's event loop.

use std::future::Future;
use std::sync::Arc;
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

pub(crate) struct Browser;

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
    }
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.close();
    }
}

impl Runtime for Browser {
    type Socket = BrowserSocket;
    type Sleep = TimeoutFuture;

    fn open(&self, url: &str, id: IoId, tx: UnboundedSender<Input>) -> BrowserSocket {
        let report = move |event| {
            let _ = tx.unbounded_send(Input::Socket { id, event });
        };
        let ws = match WebSocket::new(url) {
            Ok(ws) => ws,
            Err(e) => {
                report(TransportEvent::Closed(format!("cannot open WebSocket: {e:?}")));
                return BrowserSocket { ws: None, _handlers: Vec::new() };
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let report = report.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| report(TransportEvent::Open))
        };
        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let Ok(e) = e.dyn_into::<MessageEvent>() else {
                    return;
                };
                let data = e.data();
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

    fn sleep(&self, d: Duration) -> TimeoutFuture {
        sleep(d)
    }
}

pub(crate) fn spawn(shared: Arc<Shared>, rx: UnboundedReceiver<Input>, tx: UnboundedSender<Input>) {
    wasm_bindgen_futures::spawn_local(super::run(Browser, shared, rx, tx));
}

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
