//! This module deals with the HTTP side of fallback polling: the event feed after a `seq`, and
//! the current stats. Natively through reqwest; in the browser through the page's own
//! `fetch`, which costs no bundle size (reqwest's wasm build drags in `url` and IDNA tables,
//! about 100 KB gzip).

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

/// Reads an error response: the server's `{ code, message }` when it sent one; a bare 401
/// (e.g. from a proxy) is a refusal of the credentials all the same.
fn refusal(status: u16, body: &str) -> Fail {
    match serde_json::from_str::<WireError>(body) {
        Ok(e) => Fail::Refused(e),
        Err(_) if status == 401 => {
            Fail::Refused(WireError::new(ErrorCode::Unauthorized, "HTTP 401"))
        }
        Err(_) => Fail::Other(format!("HTTP {status}")),
    }
}

#[cfg(not(target_arch = "wasm32"))]
async fn get_json<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, Fail> {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.map_err(|e| Fail::Other(e.to_string()))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| Fail::Other(e.to_string()))?;
    if !status.is_success() {
        return Err(refusal(status.as_u16(), &text));
    }
    serde_json::from_str(&text).map_err(|e| Fail::Other(e.to_string()))
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `fetch`, in a window or a worker alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> js_sys::Promise;
}

#[cfg(target_arch = "wasm32")]
async fn get_json<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, Fail> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let fail = |e: wasm_bindgen::JsValue| Fail::Other(format!("{e:?}"));
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    let headers = web_sys::Headers::new().map_err(fail)?;
    headers.set("Accept", "application/json").map_err(fail)?;
    if let Some(t) = token {
        headers.set("Authorization", &format!("Bearer {t}")).map_err(fail)?;
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(fail)?;
    let response: web_sys::Response =
        JsFuture::from(global_fetch(&request)).await.map_err(fail)?.unchecked_into();
    let text = JsFuture::from(response.text().map_err(fail)?).await.map_err(fail)?;
    let text = text.as_string().unwrap_or_default();
    if !response.ok() {
        return Err(refusal(response.status(), &text));
    }
    serde_json::from_str(&text).map_err(|e| Fail::Other(e.to_string()))
}
