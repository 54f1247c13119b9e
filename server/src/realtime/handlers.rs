//! This module deals with one handler per client event, each a thin adapter over
//! [`crate::actions`]: admit (rate limit), check size, decode, run the action, ack with
//! `{ ok, data | error }`. Unknown events get an `error` event with UNKNOWN_EVENT.

use std::future::Future;
use std::time::Instant;

use pulse_protocol::events::{
    ModuleKey, Topic, ACTIVITY_REQUEST, CUSTOMER_ADD, CUSTOMER_UPDATE, DASHBOARD_SUBSCRIBE,
    DELIVERY_UPDATE, ERROR, MODULE_SUBSCRIBE, MODULE_UNSUBSCRIBE, NOTIFICATION_MARK_READ,
    NOTIFICATION_SUBSCRIBE, PAYMENT_ADD, PING, PONG, STATS_REQUEST,
};
use pulse_protocol::{Ack, ErrorCode, WireError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};

use super::{limits, subscriptions};
use crate::actions;
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;

/// Registers every handler of the catalogue, and the fallback for the rest.
pub(super) fn install(socket: &SocketRef, state: &AppState) {
    on(socket, state, DELIVERY_UPDATE, |s, c, v, _| async move {
        actions::delivery::update(&s, &c, decode(v)?).await
    });
    on(socket, state, PAYMENT_ADD, |s, c, v, _| async move {
        actions::payment::add(&s, &c, decode(v)?).await
    });
    on(socket, state, CUSTOMER_UPDATE, |s, c, v, _| async move {
        actions::customer::update(&s, &c, decode(v)?).await
    });
    on(socket, state, CUSTOMER_ADD, |s, c, v, _| async move {
        actions::customer::add(&s, &c, decode(v)?).await
    });
    on(socket, state, NOTIFICATION_MARK_READ, |s, c, v, _| async move {
        // `{}` and no payload both mean "all".
        let v = if v.is_null() { serde_json::json!({}) } else { v };
        actions::notification::mark_read(&s, &c, decode(v)?).await
    });
    on(
        socket,
        state,
        STATS_REQUEST,
        |s, c, _, _| async move { actions::stats::request(&s, &c).await },
    );
    on(socket, state, ACTIVITY_REQUEST, |s, c, v, _| async move {
        actions::activity::request(&s, &c, v).await
    });
    on(socket, state, PING, |s, _, _, _| async move { Ok(actions::ping::ping(&s)) });
    on(socket, state, MODULE_SUBSCRIBE, |s, c, v, socket| async move {
        let k: ModuleKey = decode(v)?;
        subscriptions::change(&s, &socket, &c, k.module_key, true).await
    });
    on(socket, state, MODULE_UNSUBSCRIBE, |s, c, v, socket| async move {
        let k: ModuleKey = decode(v)?;
        subscriptions::change(&s, &socket, &c, k.module_key, false).await
    });
    on(socket, state, DASHBOARD_SUBSCRIBE, |s, c, _, socket| async move {
        subscriptions::change(&s, &socket, &c, Topic::Dashboard, true).await
    });
    on(socket, state, NOTIFICATION_SUBSCRIBE, |s, c, _, socket| async move {
        subscriptions::change(&s, &socket, &c, Topic::Notifications, true).await
    });
    socket.on_fallback(unknown);
}

/// Decodes an action's payload, with serde's message on failure.
fn decode<T: DeserializeOwned>(v: Value) -> Result<T, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::invalid(format!("wrong payload shape: {e}")))
}

/// Registers `event` → `action`, with limits, decoding, the ack and metrics around it.
fn on<R, F, Fut>(socket: &SocketRef, state: &AppState, event: &'static str, action: F)
where
    R: Serialize + Clone + Send + 'static,
    F: Fn(AppState, Caller, Value, SocketRef) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, AppError>> + Send + 'static,
{
    let state = state.clone();
    socket.on(event, move |socket: SocketRef, data: TryData<Value>, ack: AckSender| {
        let state = state.clone();
        let action = action.clone();
        async move {
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
            let result =
                match (limits::check_size(&state, &payload), socket.extensions.get::<Caller>()) {
                    (Err(e), _) => Err(AppError::Refused(e)),
                    (Ok(()), None) => Err(AppError::unauthorized("not signed in")),
                    // The socket outlives its token; actions need a current one.
                    (Ok(()), Some(caller))
                        if caller.expires_at.is_some_and(|e| e <= state.clock.now_ms()) =>
                    {
                        Err(AppError::new(
                            ErrorCode::TokenExpired,
                            "token expired; refresh and reconnect",
                        ))
                    }
                    (Ok(()), Some(caller)) => {
                        action(state.clone(), caller, payload, socket.clone()).await
                    }
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
    });
}

/// Events outside the catalogue: an `error` event, and an error ack if one was asked for.
async fn unknown(socket: SocketRef, Event(name): Event, ack: AckSender) {
    if limits::admit(&socket).is_err() {
        return;
    }
    let e = WireError::new(ErrorCode::UnknownEvent, format!("unknown event `{name}`"));
    metrics::counter!("pulse_errors_total", "code" => "UNKNOWN_EVENT").increment(1);
    let _ = socket.emit(ERROR, &e);
    let _ = ack.send(&Ack::<()>::Err(e));
}
