//! This module deals with the application's handle on a running connection: emitting,
//! awaiting acks and subscribing to events. The [`Connection`] machine sits behind a mutex
//! shared with the driver task, so `emit` answers at once (queued, sent or refused) while the
//! driver does the IO.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use pulse_protocol::events::ConnectAuth;
use pulse_protocol::FromValue;
use serde_json::Value;

use pulse_protocol::events::{Subscribed, Topic, Topics};

use crate::config::Config;
use crate::connection::{
    AckId, AckReply, Connection, Event, Message, NeedAuth, Renewal, Status, IDEMPOTENCY_KEY,
};
use crate::driver::{self, Input};
use crate::error::Error;
use crate::outbox::{self, Outbox, StoredAction};
use crate::time::Instant;
use crate::transport::Transport;

/// `Send + Sync` on native targets, nothing in the browser, where handlers may hold JS values
/// and everything runs on one thread.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSend for T {}
/// `Send + Sync` on native targets, nothing in the browser, where handlers may hold JS values
/// and everything runs on one thread.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

trait MessageHandler: Fn(&Message) + MaybeSend {}
impl<F: Fn(&Message) + MaybeSend> MessageHandler for F {}
trait EventHandler: Fn(&Event) + MaybeSend {}
impl<F: Fn(&Event) + MaybeSend> EventHandler for F {}

/// What [`Credentials::renew`] returns: a `Send` future natively, any future in the browser.
#[cfg(not(target_arch = "wasm32"))]
pub type AuthFuture = Pin<Box<dyn Future<Output = Renewal> + Send>>;
/// What [`Credentials::renew`] returns: a `Send` future natively, any future in the browser.
#[cfg(target_arch = "wasm32")]
pub type AuthFuture = Pin<Box<dyn Future<Output = Renewal>>>;

/// Where a [`Client`] gets its CONNECT credentials. A closure returning
/// `Option<ConnectAuth>` is one: it is asked before every attempt, and again when the server
/// refuses.
pub trait Credentials: MaybeSend + 'static {
    /// The credentials for the next connection attempt or fallback poll; asked right before
    /// each, so a session refreshed ahead of expiry is used from the next attempt on.
    fn current(&self) -> Option<ConnectAuth>;

    /// The server refused `need.refused` or ended its session for `need.reason`: new
    /// credentials (e.g. after refreshing the session), [`Renewal::Refused`] if the session
    /// is over (its refresh was refused), or [`Renewal::Unavailable`] if the refresh failed
    /// for a passing reason (network error, 5xx, timeout), and the connection asks again
    /// after a backoff. The connection tries new credentials once if their token differs from
    /// the refused one, and stops otherwise; what this returns is what `current` should give
    /// from then on. By default `current()`, which suits applications that refresh ahead of
    /// expiry.
    fn renew(&self, need: &NeedAuth) -> AuthFuture {
        let _ = need;
        Box::pin(std::future::ready(self.current().into()))
    }
}

impl<F: Fn() -> Option<ConnectAuth> + MaybeSend + 'static> Credentials for F {
    fn current(&self) -> Option<ConnectAuth> {
        self()
    }
}

/// Handlers with the subscription id that removes them. Shared, and copied when a
/// subscription changes: dispatch takes the list with one reference count, not a new Vec
/// per event.
type Registered<H> = Arc<Vec<(u64, Arc<H>)>>;

#[derive(Default)]
struct Listeners {
    next: u64,
    // A handful of names, compared byte-wise: cheaper per event than hashing the name, and
    // less code than a map.
    by_event: Vec<(String, Registered<dyn MessageHandler>)>,
    any: Registered<dyn EventHandler>,
}

/// Where an ack's answer (or why there is none) goes.
type AckWaiter = oneshot::Sender<Result<AckReply, Error>>;

/// State shared by the handles and the driver task.
pub(crate) struct Shared {
    conn: Mutex<Connection>,
    listeners: Mutex<Listeners>,
    /// Who awaits each ack. A Vec: a handful of entries, and a HashMap would add the only
    /// hashing code to the browser packages.
    waiters: Mutex<Vec<(AckId, AckWaiter)>>,
    auth: Mutex<Option<Arc<dyn Credentials>>>,
    /// Where actions wait for their answer, once the application attached one.
    outbox: Mutex<Option<Arc<dyn Outbox>>>,
    /// The outbox key of each action waiting for its answer. A Vec: a handful of entries,
    /// and another HashMap type would add its code to the browser packages.
    outbox_keys: Mutex<Vec<(AckId, String)>>,
    /// What the driver's transport machine carries the session on, after its last round.
    transport: Mutex<Option<Transport>>,
    wake: mpsc::UnboundedSender<Input>,
}

/// Takes the entry for `key` out of a small list of (key, item) pairs, in no kept order.
pub(crate) fn take_entry<K: PartialEq, T>(list: &mut Vec<(K, T)>, key: &K) -> Option<T> {
    let at = list.iter().position(|(k, _)| k == key)?;
    Some(list.swap_remove(at).1)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking listener must not wedge the connection for everyone else.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Records what carries the session; whether that changed.
    pub(crate) fn set_transport(&self, t: Option<Transport>) -> bool {
        std::mem::replace(&mut *lock(&self.transport), t) != t
    }

    /// Asks the application for its current credentials, right before a (re)connection or a
    /// poll.
    pub(crate) fn refresh_auth(&self) {
        let provider = lock(&self.auth).clone();
        if let Some(p) = provider {
            let auth = p.current();
            self.conn().set_auth(auth);
        }
    }

    /// Asks the application for new credentials after an auth refusal (`Io::NeedAuth`).
    pub(crate) fn renew(&self, need: &NeedAuth) -> AuthFuture {
        let provider = lock(&self.auth).clone();
        match provider {
            Some(p) => p.renew(need),
            None => Box::pin(std::future::ready(Renewal::Refused)),
        }
    }

    /// Hands events to acks waiters and listeners. Called by the driver without any lock
    /// held, so a listener may subscribe, emit or unsubscribe.
    pub(crate) fn dispatch(&self, event: Event) {
        if let Event::Ack { id, result } = event {
            let key = take_entry(&mut lock(&self.outbox_keys), &id);
            // Answered, refused or timed out: the application was told. Closed (a disconnect,
            // or the client dropped) leaves the action stored for the next client.
            if let (Some(key), false) = (key, matches!(result, Err(Error::Closed))) {
                if let Some(o) = lock(&self.outbox).clone() {
                    o.remove(&key);
                }
            }
            if let Some(tx) = take_entry(&mut lock(&self.waiters), &id) {
                let _ = tx.send(result);
            }
            return;
        }
        let (named, any) = {
            let l = lock(&self.listeners);
            let named = match &event {
                Event::Message(m) => {
                    l.by_event.iter().find(|(e, _)| *e == m.event).map(|(_, h)| h.clone())
                }
                _ => None,
            };
            (named, l.any.clone())
        };
        if let (Event::Message(m), Some(named)) = (&event, named) {
            for (_, h) in named.iter() {
                h(m);
            }
        }
        for (_, h) in any.iter() {
            h(&event);
        }
    }

    fn kick(&self) {
        let _ = self.wake.unbounded_send(Input::Kick);
    }
}

/// Stops the driver when the last [`Client`] clone is dropped.
struct Lifetime {
    wake: mpsc::UnboundedSender<Input>,
}

impl Drop for Lifetime {
    fn drop(&mut self) {
        let _ = self.wake.unbounded_send(Input::Shutdown);
    }
}

/// A running connection. Cheap to clone; the connection closes when the last clone drops.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    _lifetime: Arc<Lifetime>,
}

impl Client {
    /// Starts connecting in the background with the platform's driver (tokio natively, the
    /// browser's event loop on wasm32). Natively this needs a running tokio runtime.
    pub fn connect(config: Config) -> Client {
        Self::start(config, None)
    }

    /// Like [`Client::connect`], with the application's [`Credentials`] (e.g. a closure
    /// returning `Some(ConnectAuth::with_token(…))`): asked before every connection attempt,
    /// so refreshed tokens are used, and again when the server refuses them or ends the
    /// session at their expiry, so the connection resumes with new ones.
    pub fn connect_with_auth(config: Config, auth: impl Credentials) -> Client {
        Self::start(config, Some(Arc::new(auth)))
    }

    fn start(config: Config, auth: Option<Arc<dyn Credentials>>) -> Client {
        let (tx, rx) = mpsc::unbounded();
        let mut conn = Connection::new(config, driver::seed());
        conn.connect(driver::now());
        // Natively `Shared` is Send + Sync; in the browser it holds JS-bound handlers, but
        // everything runs on one thread there, and one code path beats an Rc/Arc split.
        #[allow(clippy::arc_with_non_send_sync)]
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            listeners: Mutex::default(),
            waiters: Mutex::default(),
            auth: Mutex::new(auth),
            outbox: Mutex::default(),
            outbox_keys: Mutex::default(),
            transport: Mutex::default(),
            wake: tx.clone(),
        });
        driver::spawn(shared.clone(), rx, tx.clone());
        Client { shared, _lifetime: Arc::new(Lifetime { wake: tx }) }
    }

    /// The connection status now.
    pub fn status(&self) -> Status {
        self.shared.conn().status()
    }

    /// The transport carrying (or opening) the session now: a WebSocket, or long-polling
    /// where no WebSocket could be opened or before an upgrade; `None` while none is.
    pub fn transport(&self) -> Option<Transport> {
        *lock(&self.shared.transport)
    }

    /// Calls `handler` for every server event named `event`, until the returned guard drops.
    pub fn on(
        &self,
        event: &str,
        handler: impl Fn(&Message) + MaybeSend + 'static,
    ) -> Subscription {
        let mut l = lock(&self.shared.listeners);
        l.next += 1;
        let id = l.next;
        let at = match l.by_event.iter().position(|(e, _)| e == event) {
            Some(at) => at,
            None => {
                l.by_event.push((event.to_owned(), Registered::default()));
                l.by_event.len() - 1
            }
        };
        Arc::make_mut(&mut l.by_event[at].1).push((id, Arc::new(handler)));
        Subscription { id, shared: Arc::downgrade(&self.shared) }
    }

    /// Calls `handler` for every [`Event`]: server events, status changes, RTT samples.
    pub fn on_any(&self, handler: impl Fn(&Event) + MaybeSend + 'static) -> Subscription {
        let mut l = lock(&self.shared.listeners);
        l.next += 1;
        let id = l.next;
        Arc::make_mut(&mut l.any).push((id, Arc::new(handler)));
        Subscription { id, shared: Arc::downgrade(&self.shared) }
    }

    /// Calls `handler` with the decoded payload of every `E` event (e.g.
    /// `client.on_event::<PaymentAdded>(|env| …)`). Payloads that do not decode as `E::Data`
    /// are skipped.
    pub fn on_event<E: pulse_protocol::events::ServerEvent>(
        &self,
        handler: impl Fn(E::Data) + MaybeSend + 'static,
    ) -> Subscription {
        self.on(E::NAME, move |m| {
            if let Some(data) = m.args.first().and_then(|a| E::Data::from_value(&a.value())) {
                handler(data);
            }
        })
    }

    /// Tells the client it already holds state up to log entry `seq` (e.g. loaded over
    /// REST), so replays and polls start after it.
    pub fn set_last_seq(&self, seq: u64) {
        self.shared.conn().set_last_seq(seq);
    }

    /// The last event-log `seq` applied.
    pub fn last_seq(&self) -> Option<u64> {
        self.shared.conn().last_seq()
    }

    /// The epoch of the log `last_seq` belongs to, once the server said it. Store both to
    /// resume in a later process or page with [`Client::restore_position`].
    pub fn epoch(&self) -> Option<String> {
        self.shared.conn().epoch().map(str::to_owned)
    }

    /// Takes up a position saved earlier (`seq` of the log `epoch`): the connection resumes
    /// after it, missing nothing in between; if the log is another one by now, the server
    /// answers `RESYNC_REQUIRED` and the application reloads its state.
    pub fn restore_position(&self, seq: u64, epoch: Option<&str>) {
        self.shared.conn().restore_position(seq, epoch);
    }

    /// Sends an event; while offline it is queued and sent on reconnection.
    pub fn emit(&self, event: &str, args: Vec<Value>) -> Result<(), Error> {
        let r = self.shared.conn().emit(driver::now(), event, args);
        self.shared.kick();
        r
    }

    /// Sends an event and waits for the server's answer, at most `timeout` (default:
    /// `Config::ack_timeout`).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<AckReply, Error>> + 'static {
        self.emit_binary_with_ack(event, args, Vec::new(), timeout)
    }

    /// Sends an event with binary attachments (referenced from `args` by
    /// [`placeholder`](crate::codec::sio::placeholder)).
    pub fn emit_binary(
        &self,
        event: &str,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        let r = self.shared.conn().emit_binary(driver::now(), event, args, attachments);
        self.shared.kick();
        r
    }

    /// [`Client::emit_with_ack`] with binary attachments.
    pub fn emit_binary_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        attachments: Vec<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<AckReply, Error>> + 'static {
        let (tx, rx) = oneshot::channel();
        let started = {
            let mut conn = self.shared.conn();
            conn.emit_with_ack(driver::now(), event, args, attachments, timeout)
                // Registered under the connection lock, so the answer cannot overtake it.
                .map(|id| lock(&self.shared.waiters).push((id, tx)))
        };
        self.shared.kick();
        async move {
            started?;
            rx.await.unwrap_or(Err(Error::Closed))
        }
    }

    /// Sends an action that survives the page or the process: `payload` (a JSON object) gets
    /// an idempotency key and is stored, with `meta`, in the attached [`Outbox`] before it
    /// leaves; it stays there until the server answers (or `timeout` passes: the application
    /// was told). If the tab closes first, [`Client::attach_outbox`] sends it again from the
    /// next page, and the server applies it once. Without an outbox it is
    /// [`Client::emit_with_ack`] with a key.
    pub fn emit_action(
        &self,
        event: &str,
        payload: Value,
        meta: Value,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<AckReply, Error>> + 'static {
        let (tx, rx) = oneshot::channel();
        let started = self.start_action(event, payload, meta, None, timeout, tx);
        self.shared.kick();
        async move {
            started?;
            rx.await.unwrap_or(Err(Error::Closed))
        }
    }

    fn start_action(
        &self,
        event: &str,
        payload: Value,
        meta: Value,
        restored_at: Option<u64>,
        timeout: Option<Duration>,
        tx: oneshot::Sender<Result<AckReply, Error>>,
    ) -> Result<(), Error> {
        let Value::Object(mut fields) = payload else {
            return Err(Error::Storage("an action's payload must be a JSON object".into()));
        };
        let mut conn = self.shared.conn();
        let key = match fields.get(IDEMPOTENCY_KEY).and_then(Value::as_str) {
            Some(k) => k.to_owned(),
            None => conn.new_idempotency_key(),
        };
        fields.insert(IDEMPOTENCY_KEY.into(), key.clone().into());
        let payload = Value::Object(fields);
        let store = lock(&self.shared.outbox).clone();
        if let Some(o) = &store {
            let action = StoredAction {
                key: key.clone(),
                event: event.to_owned(),
                payload: payload.clone(),
                meta,
                at_ms: restored_at.unwrap_or_else(wall_ms),
            };
            o.put(&action).map_err(Error::Storage)?;
        }
        match conn.emit_with_ack(driver::now(), event, vec![payload], Vec::new(), timeout) {
            Ok(id) => {
                // Registered under the connection lock, so the answer cannot overtake them.
                lock(&self.shared.waiters).push((id, tx));
                lock(&self.shared.outbox_keys).push((id, key));
                Ok(())
            }
            Err(e) => {
                // Refused before it left (e.g. the offline buffer is full): a new action is
                // not kept, the caller was told; a restored one stays for the next client.
                if let (Some(o), true) = (store, restored_at.is_none()) {
                    o.remove(&key);
                }
                Err(e)
            }
        }
    }

    /// Keeps this client's actions ([`Client::emit_action`]) in `outbox` from now on, and
    /// sends again every action an earlier client left there unanswered (a reloaded tab, a
    /// restarted process), under its own key, waiting at most `timeout` for each answer
    /// (default: `Config::ack_timeout`). Returns those actions, each with its answer to
    /// come, so the application can show them as pending and settle them.
    pub fn attach_outbox(
        &self,
        outbox: impl Outbox,
        timeout: Option<Duration>,
    ) -> Vec<RestoredAction> {
        let outbox: Arc<dyn Outbox> = Arc::new(outbox);
        *lock(&self.shared.outbox) = Some(outbox.clone());
        let restored = outbox::in_order(outbox.load())
            .into_iter()
            .map(|action| {
                let StoredAction { event, payload, meta, at_ms, .. } = action.clone();
                let (tx, rx) = oneshot::channel();
                let started = self.start_action(&event, payload, meta, Some(at_ms), timeout, tx);
                let reply: ReplyFuture = Box::pin(async move {
                    started?;
                    rx.await.unwrap_or(Err(Error::Closed))
                });
                RestoredAction { action, reply }
            })
            .collect();
        self.shared.kick();
        restored
    }

    /// Receives `topic`'s events from now on (and on every reconnection). Resolves with the
    /// server's answer: the log head from which the subscription holds. Load the topic's
    /// state over REST after it resolves, and nothing is missed in between; while offline it
    /// resolves once connected again.
    pub fn subscribe(
        &self,
        topic: Topic,
    ) -> impl Future<Output = Result<Subscribed, Error>> + 'static {
        self.change_topic(topic, true)
    }

    /// Stops receiving `topic`'s events.
    pub fn unsubscribe(
        &self,
        topic: Topic,
    ) -> impl Future<Output = Result<Subscribed, Error>> + 'static {
        self.change_topic(topic, false)
    }

    /// The topics subscribed to; `None`: every topic (the client never restricted them).
    pub fn topics(&self) -> Option<Topics> {
        self.shared.conn().topics()
    }

    fn change_topic(
        &self,
        topic: Topic,
        on: bool,
    ) -> impl Future<Output = Result<Subscribed, Error>> + 'static {
        let reply = self.change_topic_raw(topic, on);
        async move { reply.await?.into_result() }
    }

    /// [`Client::subscribe`] / [`Client::unsubscribe`] with the server's answer as it came
    /// (the JS API hands it to JavaScript without decoding it in wasm).
    pub(crate) fn change_topic_raw(
        &self,
        topic: Topic,
        on: bool,
    ) -> impl Future<Output = Result<AckReply, Error>> + 'static {
        let (tx, rx) = oneshot::channel();
        let started = {
            let mut conn = self.shared.conn();
            conn.subscribe(driver::now(), topic, on)
                .map(|id| lock(&self.shared.waiters).push((id, tx)))
        };
        self.shared.kick();
        async move {
            started?;
            rx.await.unwrap_or(Err(Error::Closed))
        }
    }

    /// Answers a server event that asked for an acknowledgement.
    pub fn ack(&self, ack_id: u64, args: Vec<Value>) {
        self.shared.conn().ack(ack_id, args);
        self.shared.kick();
    }

    /// Connects again after [`Client::disconnect`] or a refusal. No-op while connected.
    pub fn reconnect(&self) {
        self.shared.conn().connect(driver::now());
        self.shared.kick();
    }

    /// Leaves the server; no automatic reconnection follows.
    pub fn disconnect(&self) {
        self.shared.conn().disconnect(driver::now());
        self.shared.kick();
    }

    /// Waits until the status satisfies `pred`, or `timeout` passes. Useful in tests and
    /// scripts; apps should subscribe with [`Client::on_any`] instead.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&Status) -> bool,
        timeout: Duration,
    ) -> Result<Status, Error> {
        let deadline = driver::now() + timeout;
        loop {
            let s = self.status();
            if pred(&s) {
                return Ok(s);
            }
            if driver::now() >= deadline {
                return Err(Error::Transport(format!("status is still {s:?}")));
            }
            driver::sleep(Duration::from_millis(10)).await;
        }
    }

    /// For drivers' tests: the instant the SDK considers now.
    #[doc(hidden)]
    pub fn now() -> Instant {
        driver::now()
    }
}

/// What [`RestoredAction::reply`] resolves to, boxed: `Send` natively.
#[cfg(not(target_arch = "wasm32"))]
pub type ReplyFuture = Pin<Box<dyn Future<Output = Result<AckReply, Error>> + Send>>;
/// What [`RestoredAction::reply`] resolves to, boxed.
#[cfg(target_arch = "wasm32")]
pub type ReplyFuture = Pin<Box<dyn Future<Output = Result<AckReply, Error>>>>;

/// An action an earlier client left unanswered, sent again by [`Client::attach_outbox`].
pub struct RestoredAction {
    /// The action as stored (its payload carries its original idempotency key).
    pub action: StoredAction,
    /// The server's answer to come.
    pub reply: ReplyFuture,
}

/// Wall-clock ms now, for ordering stored actions.
fn wall_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() * 1000 + u64::from(d.subsec_millis()))
}

/// Unsubscribes its handler when dropped.
#[must_use = "the handler is removed when the subscription is dropped"]
pub struct Subscription {
    id: u64,
    shared: Weak<Shared>,
}

/// Takes subscription `id`'s handler out of `list`, copying the list only if it is there.
fn unregister<H: ?Sized>(list: &mut Registered<H>, id: u64) {
    if list.iter().any(|(i, _)| *i == id) {
        Arc::make_mut(list).retain(|(i, _)| *i != id);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut l = lock(&shared.listeners);
        unregister(&mut l.any, self.id);
        l.by_event.retain_mut(|(_, v)| {
            unregister(v, self.id);
            !v.is_empty()
        });
    }
}
