//! This module deals with the HTTP side of fallback polling: the event feed after a `seq`, and
//! the current stats. Natively through reqwest; in the browser through the page's own
//! `fetch`, which costs no bundle size (reqwest's wasm build drags in `url` and IDNA tables,
//! about 100 KB gzip).

use pulse_protocol::events::Stats;
use pulse_protocol::rest::EventsPage;
use pulse_protocol::Envelope;
use serde::de::DeserializeOwned;

use crate::connection::Polled;

/// Entries fetched per poll; the machine asks again at once while more remain.
const PAGE: u32 = 500;

pub(crate) async fn fetch(
    base: &str,
    token: Option<&str>,
    since: Option<u64>,
) -> Result<Polled, String> {
    let events = match since {
        Some(since) => Some(
            get_json::<EventsPage>(&format!("{base}/api/events?since={since}&limit={PAGE}"), token)
                .await
                .map_err(|e| format!("GET /api/events: {e}"))?,
        ),
        None => None,
    };
    let stats = get_json::<Envelope<Stats>>(&format!("{base}/api/stats"), token)
        .await
        .map_err(|e| format!("GET /api/stats: {e}"))?;
    Ok(Polled { events, stats: Some(stats) })
}

#[cfg(not(target_arch = "wasm32"))]
async fn get_json<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, String> {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let res = res.error_for_status().map_err(|e| e.to_string())?;
    res.json::<T>().await.map_err(|e| e.to_string())
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `fetch`, in a window or a worker alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> js_sys::Promise;
}

#[cfg(target_arch = "wasm32")]
async fn get_json<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let fail = |e: wasm_bindgen::JsValue| format!("{e:?}");
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
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(fail)?).await.map_err(fail)?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
