//! This module deals with the HTTP side of fallback polling: the event feed after a `seq`, and
//! the current stats, through [`super::http`] (gloo-net in the browser rather than reqwest,
//! whose wasm build drags in `url` and IDNA tables, about 100 KB gzip).

use pulse_protocol::events::{Stats, Topics};
use pulse_protocol::rest::EventsPage;
use pulse_protocol::{Envelope, ErrorCode, WireError};
use serde::de::DeserializeOwned;

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
    let mut resync = None;
    // Refused credentials: the machine renews them, as when the socket is refused.
    let refused = |e: WireError| Ok(Polled { unauthorized: Some(e), ..Polled::default() });
    let events = match since {
        Some(since) => {
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
            match get_json::<EventsPage>(&url, token).await {
                Ok(page) => Some(page),
                // Another log, or a position ahead of it: the server says how to go on.
                Err(Fail::Refused(e)) if e.code == ErrorCode::ResyncRequired => {
                    resync = Some(e);
                    None
                }
                Err(Fail::Refused(e)) if e.code.is_auth() => return refused(e),
                Err(e) => return Err(format!("GET /api/events: {e}")),
            }
        }
        None => None,
    };
    let stats = match get_json::<Envelope<Stats>>(&format!("{base}/api/stats"), token).await {
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

/// `GET`s a JSON resource through [`super::http`].
async fn get_json<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, Fail> {
    let answer =
        super::http::send("GET", url, token, None).await.map_err(|e| Fail::Other(e.to_string()))?;
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
    serde_json::from_str(&answer.body).map_err(|e| Fail::Other(e.to_string()))
}
