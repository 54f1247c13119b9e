//! This module deals with the HTTP side of fallback polling: the event feed after a `seq`, and
//! the current stats, through [`super::http`] (gloo-net in the browser rather than reqwest,
//! whose wasm build drags in `url` and IDNA tables, about 100 KB gzip).

use pulse_protocol::events::{Stats, Topics};
use pulse_protocol::rest::{EventsPage, LoggedEvent};
use pulse_protocol::{Envelope, ErrorCode, WireError};
use serde_json::Value;

use super::http::Answer;
use crate::connection::Polled;

/// Entries fetched per poll; the machine asks again at once while more remain.
const PAGE: u32 = 500;

pub(crate) async fn fetch(
    base: &str,
    token: Option<&str>,
    since: Option<u64>,
    epoch: Option<&str>,
    topics: Option<Topics>,
) -> Result<Polled, String> {
    let get = |url: String| async move {
        super::http::send("GET", &url, token, None).await.map_err(|e| e.to_string())
    };
    let events = match since {
        Some(since) => Some(get(events_url(base, since, epoch, topics)).await),
        None => None,
    };
    read(events, get(stats_url(base)).await)
}

/// The event feed after `since` (of log `epoch`, for `topics`), a page of it.
pub(crate) fn events_url(
    base: &str,
    since: u64,
    epoch: Option<&str>,
    topics: Option<Topics>,
) -> String {
    let mut url = format!("{base}/api/events?since={since}&limit={PAGE}");
    if let Some(e) = epoch {
        url.push_str("&epoch=");
        url.push_str(e);
    }
    if let Some(t) = topics {
        url.push_str("&topics=");
        for (i, t) in t.iter().enumerate() {
            if i > 0 {
                url.push(',');
            }
            url.push_str(t.as_str());
        }
    }
    url
}

/// The current stats.
pub(crate) fn stats_url(base: &str) -> String {
    format!("{base}/api/stats")
}

/// A poll's outcome from its answers (`Err`: the request got none): the feed's, when it was
/// asked, and the stats'. Shared by the Rust driver and the JS package, whose requests are
/// JavaScript's.
pub(crate) fn read(
    events: Option<Result<Answer, String>>,
    stats: Result<Answer, String>,
) -> Result<Polled, String> {
    let mut resync = None;
    // Refused credentials: the machine renews them, as when the socket is refused.
    let refused = |e: WireError| Ok(Polled { unauthorized: Some(e), ..Polled::default() });
    let events = match events {
        Some(answer) => match json(answer).and_then(|v| events_page(v).map_err(Fail::Other)) {
            Ok(page) => Some(page),
            // Another log, or a position ahead of it: the server says how to go on.
            Err(Fail::Refused(e)) if e.code == ErrorCode::ResyncRequired => {
                resync = Some(e);
                None
            }
            Err(Fail::Refused(e)) if e.code.is_auth() => return refused(e),
            Err(e) => return Err(format!("GET /api/events: {e}")),
        },
        None => None,
    };
    let stats = match json(stats).and_then(|v| stats_envelope(v).map_err(Fail::Other)) {
        Ok(stats) => stats,
        Err(Fail::Refused(e)) if e.code.is_auth() => return refused(e),
        Err(e) => return Err(format!("GET /api/stats: {e}")),
    };
    Ok(Polled { events, stats: Some(stats), resync, unauthorized: None })
}

/// Why a request failed.
enum Fail {
    /// The server answered with its error shape.
    Refused(WireError),
    /// Anything else: network, status without a body, unreadable body.
    Other(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Refused(e) => e.fmt(f),
            Fail::Other(s) => f.write_str(s),
        }
    }
}

/// A JSON resource's answer as its `Value`, or why not.
fn json(answer: Result<Answer, String>) -> Result<Value, Fail> {
    let answer = answer.map_err(Fail::Other)?;
    if !answer.is_success() {
        // The server's `{ code, message }` when it sent one; a bare 401 (e.g. from a proxy)
        // is a refusal of the credentials all the same.
        return Err(match answer.wire_error() {
            Some(e) => Fail::Refused(e),
            None if answer.status == 401 => {
                Fail::Refused(WireError::new(ErrorCode::Unauthorized, "HTTP 401"))
            }
            None => Fail::Other(format!("HTTP {}", answer.status)),
        });
    }
    crate::codec::parse_json(&answer.body).map_err(|e| Fail::Other(e.to_string()))
}

// The bodies are read from `Value` by hand, not with their serde derives: one JSON decoder
// (into `Value`) serves the whole SDK, where a derived one per type would add its code and
// serde's error texts (which format floats) to the browser bundle. The struct literals make
// a new field a compile error here.

/// `v[k]` read by `get`, or which field is missing or of the wrong type.
fn field<'a, T>(
    v: &'a Value,
    k: &str,
    get: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<T, String> {
    v.get(k).and_then(get).ok_or_else(|| format!("missing or invalid field `{k}`"))
}

fn events_page(mut v: Value) -> Result<EventsPage, String> {
    let head = field(&v, "head", Value::as_u64)?;
    let epoch = match v.get("epoch") {
        None => String::new(),
        Some(_) => field(&v, "epoch", Value::as_str)?.to_owned(),
    };
    let Some(Value::Array(entries)) = v.get_mut("events").map(Value::take) else {
        return Err("missing or invalid field `events`".into());
    };
    // A loop, not `collect::<Result<..>>`, whose adapter would be code of its own.
    let mut events = Vec::with_capacity(entries.len());
    for mut e in entries {
        let data = e.get_mut("data").map(Value::take);
        events.push(LoggedEvent {
            seq: field(&e, "seq", Value::as_u64)?,
            ts: field(&e, "ts", Value::as_i64)?,
            event: field(&e, "event", Value::as_str)?.to_owned(),
            data: data.ok_or("missing or invalid field `data`")?,
        });
    }
    Ok(EventsPage { events, head, epoch })
}

fn stats_envelope(v: Value) -> Result<Envelope<Stats>, String> {
    let s = field(&v, "data", Some)?;
    let count =
        |k| field(s, k, Value::as_u64).and_then(|n| u32::try_from(n).map_err(|e| e.to_string()));
    let data = Stats {
        today_liters: field(s, "today_liters", Value::as_f64)?,
        today_sales: field(s, "today_sales", Value::as_f64)?,
        today_collection: field(s, "today_collection", Value::as_f64)?,
        outstanding: field(s, "outstanding", Value::as_f64)?,
        active_customers: count("active_customers")?,
        deliveries_today: count("deliveries_today")?,
    };
    Ok(Envelope {
        seq: field(&v, "seq", Value::as_u64)?,
        ts: field(&v, "ts", Value::as_i64)?,
        data,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The hand-written readers accept and refuse what the serde derives do.
    #[test]
    fn bodies_read_as_their_serde_derives_read_them() {
        let entry = json!({ "seq": 8, "ts": 1_700_000_000_000i64, "event": "payment:added", "data": { "x": 1.5 } });
        let pages = [
            json!({ "events": [entry, entry], "head": 9, "epoch": "e1" }),
            json!({ "events": [], "head": 0 }),
            json!({ "events": [{ "seq": 8, "ts": 1, "event": "a", "data": null }], "head": 8 }),
            json!({ "events": [{ "seq": 8, "ts": 1, "event": "a" }], "head": 8 }),
            json!({ "events": [{ "seq": -1, "ts": 1, "event": "a", "data": 1 }], "head": 8 }),
            json!({ "events": [{ "seq": 8, "ts": 1.5, "event": "a", "data": 1 }], "head": 8 }),
            json!({ "events": [{ "seq": 8, "ts": 1, "event": 7, "data": 1 }], "head": 8 }),
            json!({ "events": {}, "head": 8 }),
            json!({ "head": 8 }),
            json!({ "events": [], "head": "8" }),
            json!({ "events": [], "head": 8, "epoch": 3 }),
            json!([]),
        ];
        for v in pages {
            let serde = serde_json::from_value::<EventsPage>(v.clone()).ok();
            assert_eq!(events_page(v.clone()).ok(), serde, "{v}");
        }
        let stats = json!({ "today_liters": 12.5, "today_sales": 3, "today_collection": 0,
            "outstanding": -4.25, "active_customers": 2, "deliveries_today": 4_000_000_000u64 });
        let mut bodies = vec![json!({ "seq": 3, "ts": 5, "data": stats })];
        for (k, bad) in [
            ("active_customers", json!(-1)),
            ("deliveries_today", json!(4_294_967_296u64)),
            ("deliveries_today", json!(1.0)),
            ("today_sales", json!("3")),
            ("outstanding", Value::Null),
        ] {
            let mut s = stats.clone();
            s[k] = bad;
            bodies.push(json!({ "seq": 3, "ts": 5, "data": s }));
        }
        let mut missing = stats.clone();
        missing.as_object_mut().unwrap().remove("today_liters");
        bodies.push(json!({ "seq": 3, "ts": 5, "data": missing }));
        bodies.push(json!({ "seq": 3, "data": stats }));
        bodies.push(json!({ "seq": 3, "ts": 5 }));
        for v in bodies {
            let serde = serde_json::from_value::<Envelope<Stats>>(v.clone()).ok();
            assert_eq!(stats_envelope(v.clone()).ok(), serde, "{v}");
        }
    }
}
