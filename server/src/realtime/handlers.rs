//! This module deals with one action per client event, each a thin adapter over
//! [`crate::actions`]: admit (rate limit), check size, decode, run the action, ack with
//! `{ ok, data | error }`. Unknown events get an `error` event with UNKNOWN_EVENT.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use pulse_protocol::events::{
    ModuleKey, Topic, ACTIVITY_REQUEST, CUSTOMER_ADD, CUSTOMER_UPDATE, DASHBOARD_SUBSCRIBE,
    DELIVERY_UPDATE, ERROR, MODULE_SUBSCRIBE, MODULE_UNSUBSCRIBE, NOTIFICATION_MARK_READ,
    NOTIFICATION_SUBSCRIBE, PAYMENT_ADD, PING, PONG, STATS_REQUEST,
};
use pulse_protocol::{Ack, ErrorCode, WireError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};

use super::admitted::Admitted;
use super::{limits, subscriptions};
use crate::actions;
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// What a client event runs once admitted, within the size limit and signed in: its answer,
/// as the JSON text the ack carries.
type Action = fn(AppState, Caller, Value, SocketRef) -> BoxFuture<'static, Answer>;
type Answer = Result<Box<RawValue>, AppError>;

/// Every client event and its action. One table for every socket, read by each socket's one
/// handler: socketioxide keeps a boxed handler per event in a map per socket, which cost
/// every idle connection about 3.7 KB with one handler per event (19.0 → 15.3 KB per idle
/// connection, bench/experiments/memory/).
const ACTIONS: &[(&str, Action)] = &[
    (DELIVERY_UPDATE, |s, c, v, _| {
        answer(async move { actions::delivery::update(&s, &c, decode(v)?).await })
    }),
    (PAYMENT_ADD, |s, c, v, _| {
        answer(async move { actions::payment::add(&s, &c, decode(v)?).await })
    }),
    (CUSTOMER_UPDATE, |s, c, v, _| {
        answer(async move { actions::customer::update(&s, &c, decode(v)?).await })
    }),
    (CUSTOMER_ADD, |s, c, v, _| {
        answer(async move { actions::customer::add(&s, &c, decode(v)?).await })
    }),
    (NOTIFICATION_MARK_READ, |s, c, v, _| {
        answer(async move {
            // `{}` and no payload both mean "all".
            let v = if v.is_null() { serde_json::json!({}) } else { v };
            actions::notification::mark_read(&s, &c, decode(v)?).await
        })
    }),
    (STATS_REQUEST, |s, c, _, _| answer(async move { actions::stats::request(&s, &c).await })),
    (ACTIVITY_REQUEST, |s, c, v, _| {
        answer(async move { actions::activity::request(&s, &c, v).await })
    }),
    (PING, |s, _, _, _| answer(async move { Ok(actions::ping::ping(&s)) })),
    (MODULE_SUBSCRIBE, |s, c, v, socket| {
        answer(async move {
            let k: ModuleKey = decode(v)?;
            subscriptions::change(&s, &socket, &c, k.module_key, true).await
        })
    }),
    (MODULE_UNSUBSCRIBE, |s, c, v, socket| {
        answer(async move {
            let k: ModuleKey = decode(v)?;
            subscriptions::change(&s, &socket, &c, k.module_key, false).await
        })
    }),
    (DASHBOARD_SUBSCRIBE, |s, c, _, socket| {
        answer(async move { subscriptions::change(&s, &socket, &c, Topic::Dashboard, true).await })
    }),
    (NOTIFICATION_SUBSCRIBE, |s, c, _, socket| {
        answer(
            async move { subscriptions::change(&s, &socket, &c, Topic::Notifications, true).await },
        )
    }),
];

/// Gives a socket its one handler: every event goes through [`ACTIONS`], and what is not
/// there to [`unknown`]. The handler lives as long as the socket and holds `state` shared: a
/// copy of the state in each was 184 B per connection.
pub(super) fn install(socket: &SocketRef, state: Arc<AppState>) {
    socket.on_fallback(
        move |socket: SocketRef, Event(name): Event, data: TryData<Value>, ack: AckSender| {
            let state = AppState::clone(&state);
            async move {
                match ACTIONS.iter().find(|(event, _)| *event == name) {
                    Some(&(event, action)) => run(state, socket, event, action, data, ack).await,
                    None => unknown(socket, name, ack),
                }
            }
        },
    );
}

/// Decodes an action's payload, with serde's message on failure.
fn decode<T: DeserializeOwned>(v: Value) -> Result<T, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::invalid(format!("wrong payload shape: {e}")))
}

/// An action's future, its result written as JSON once, in its fields' order.
fn answer<R: Serialize>(
    f: impl Future<Output = Result<R, AppError>> + Send + 'static,
) -> BoxFuture<'static, Answer> {
    Box::pin(async move {
        let r = f.await?;
        serde_json::value::to_raw_value(&r)
            .map_err(|e| AppError::Internal(format!("answer not serialisable: {e}")))
    })
}

/// Runs `event`'s action with limits, the ack and metrics around it.
async fn run(
    state: AppState,
    socket: SocketRef,
    event: &'static str,
    action: Action,
    data: TryData<Value>,
    ack: AckSender,
) {
    let started = Instant::now();
    if let Err(e) = limits::admit(&socket) {
        // Past the DISCONNECT the client reads nothing more from this socket.
        if socket.connected() {
            let _ = ack.send(&Ack::<()>::Err(e));
        }
        return;
    }
    // No argument at all reads as null (e.g. `ping`, `stats:request`).
    let payload = data.0.unwrap_or(Value::Null);
    let result = match (limits::check_size(&state, &payload), Admitted::of(&socket)) {
        (Err(e), _) => Err(AppError::Refused(e)),
        (Ok(()), None) => Err(AppError::unauthorized("not signed in")),
        // The socket outlives its token; actions need a current one.
        (Ok(()), Some(a)) if a.caller.expires_at.is_some_and(|e| e <= state.clock.now_ms()) => {
            Err(AppError::new(ErrorCode::TokenExpired, "token expired; refresh and reconnect"))
        }
        (Ok(()), Some(a)) => action(state.clone(), a.caller.clone(), payload, socket.clone()).await,
    };
    let reply = match result {
        Ok(r) => Ack::Ok(r),
        Err(e) => e.into_ack(),
    };
    if event == PING {
        if let Ack::Ok(pong) = &reply {
            let _ = socket.emit(PONG, pong);
        }
    }
    if let Err(e) = ack.send(&reply) {
        tracing::debug!(error = %e, event, "ack not sent");
    }
    metrics::histogram!("pulse_ack_latency_seconds", "event" => event)
        .record(started.elapsed().as_secs_f64());
}

/// Events outside the catalogue: an `error` event, and an error ack if one was asked for.
fn unknown(socket: SocketRef, name: String, ack: AckSender) {
    if limits::admit(&socket).is_err() {
        return;
    }
    let e = WireError::new(ErrorCode::UnknownEvent, format!("unknown event `{name}`"));
    metrics::counter!("pulse_errors_total", "code" => "UNKNOWN_EVENT").increment(1);
    let _ = socket.emit(ERROR, &e);
    let _ = ack.send(&Ack::<()>::Err(e));
}
