//! This module deals with one HTTP exchange with the Pulse REST API, the same way in the
//! browser (gloo-net over the page's `fetch`) and natively (reqwest). The SDK's fallback
//! polling uses it, and so does any app that calls the REST API beside its client (the
//! dashboard does), so the bundle carries one HTTP client.

use pulse_protocol::{ErrorCode, WireError};

use crate::Error;

/// What the server answered: any status, with its body as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as text (JSON from the Pulse API).
    pub body: String,
}

impl Answer {
    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The server's `{ code, message }`, when the body is one.
    pub fn wire_error(&self) -> Option<WireError> {
        // Read through `Value`, as the SDK reads all JSON: a derived decoder per type would
        // each add code (and serde's error texts) to the browser bundle.
        let v = crate::codec::parse_json(&self.body).ok()?;
        let code = v.get("code")?.as_str()?;
        let message = v.get("message")?.as_str()?;
        Some(WireError::new(code.parse().unwrap_or(ErrorCode::Other), message))
    }
}

/// Sends one request and reads the whole answer: `method` (`"GET"`, `"POST"`, …) to `url`
/// (relative URLs resolve against the page), asking for JSON, with `token` as a bearer token
/// and `json` as a JSON body when given.
///
/// Every status is an [`Answer`]; `Err` is always [`Error::Transport`]: the request got no
/// answer (network down, refused by CORS, unreadable body). Dropping the future before it
/// finishes aborts the request: in the browser through an `AbortSignal`, natively by closing
/// the connection.
pub async fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    json: Option<String>,
) -> Result<Answer, Error> {
    let body = json.map(|j| (j, JSON));
    let request = Request { method, url, token, accept: JSON, body, credentials: false };
    platform::send(&platform::Agent::new()?, request).await.map_err(Error::Transport)
}

const JSON: &str = "application/json";
/// Engine.IO's long-polling bodies.
const TEXT: &str = "text/plain;charset=UTF-8";

/// One request, whichever platform sends it.
struct Request<'a> {
    method: &'a str,
    url: &'a str,
    token: Option<&'a str>,
    accept: &'static str,
    /// The body and its content type.
    body: Option<(String, &'static str)>,
    /// In the browser, send and keep cookies on a request to another origin too. Natively the
    /// poller's cookie jar always applies (no origins there).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    credentials: bool,
}

/// Sends the Engine.IO long-polling requests of one client: natively over one connection
/// pool (a long-poll and a POST each reuse a kept-alive connection instead of a new TCP and
/// TLS handshake) with the cookies the server or its load balancer set (HAProxy's sticky
/// cookie keeps every request of a session on the node that holds it); in the browser
/// through `fetch`, which does both itself.
#[derive(Clone)]
pub(crate) struct Poller {
    agent: std::sync::Arc<platform::Agent>,
    /// [`crate::Config::with_credentials`].
    credentials: bool,
}

impl Poller {
    pub(crate) fn new(credentials: bool) -> Result<Poller, Error> {
        Ok(Poller { agent: std::sync::Arc::new(platform::Agent::new()?), credentials })
    }

    /// `GET url`, or `POST url` with `body`: the status and the body as text.
    pub(crate) async fn send(
        &self,
        url: &str,
        body: Option<String>,
    ) -> Result<(u16, String), String> {
        let method = if body.is_some() { "POST" } else { "GET" };
        let body = body.map(|b| (b, TEXT));
        let credentials = self.credentials;
        let request = Request { method, url, token: None, accept: "*/*", body, credentials };
        let answer = platform::send(&self.agent, request).await?;
        Ok((answer.status, answer.body))
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use gloo_net::http::Request;
    use wasm_bindgen::JsValue;
    use web_sys::AbortController;

    use super::Answer;

    /// Aborts the request unless disarmed: a dropped future must not leave its fetch running
    /// (a cancelled poll would otherwise still hold a connection until the server answers).
    struct AbortOnDrop(Option<AbortController>);

    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(c) = self.0.take() {
                c.abort();
            }
        }
    }

    /// The request is built with web-sys and sent by gloo-net. gloo-net's `RequestBuilder`
    /// would re-parse the URL to merge query parameters and go through http's `Method`
    /// (1.3 KB of gzipped wasm this needs none of), and its `header` throws where `fetch`
    /// refuses a value (a token with a line break) instead of failing.
    /// The page's `fetch` keeps connections and cookies itself.
    pub(super) struct Agent;

    impl Agent {
        pub(super) fn new() -> Result<Agent, crate::Error> {
            Ok(Agent)
        }
    }

    pub(super) async fn send(_: &Agent, r: super::Request<'_>) -> Result<Answer, String> {
        let js = |e: JsValue| format!("{e:?}");
        let init = web_sys::RequestInit::new();
        init.set_method(r.method);
        let headers = web_sys::Headers::new().map_err(js)?;
        headers.set("Accept", r.accept).map_err(js)?;
        if let Some(t) = r.token {
            headers.set("Authorization", &format!("Bearer {t}")).map_err(js)?;
        }
        if let Some((body, kind)) = r.body {
            headers.set("Content-Type", kind).map_err(js)?;
            init.set_body(&JsValue::from_str(&body));
        }
        init.set_headers(&headers);
        if r.credentials {
            init.set_credentials(web_sys::RequestCredentials::Include);
        }
        let controller = AbortController::new().map_err(js)?;
        init.set_signal(Some(&controller.signal()));
        let request = web_sys::Request::new_with_str_and_init(r.url, &init).map_err(js)?;
        let mut guard = AbortOnDrop(Some(controller));
        let response = Request::from(request).send().await.map_err(failed)?;
        let body = response.text().await.map_err(failed)?;
        guard.0 = None;
        Ok(Answer { status: response.status(), body })
    }

    /// What went wrong, in the browser's words. Not `gloo_net::Error`'s Display: where another
    /// crate turns on gloo-net's `json` feature (Leptos does, in the dashboard), that would bring
    /// serde_json's error texts into the bundle for a variant a fetch never returns.
    fn failed(e: gloo_net::Error) -> String {
        match e {
            gloo_net::Error::JsError(e) => e.to_string(),
            gloo_net::Error::GlooError(why) => why,
            #[allow(unreachable_patterns)] // `SerdeError`, with gloo-net's `json` feature
            _ => "the request failed".to_owned(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use std::sync::Mutex;

    use super::Answer;

    /// An error with its causes: reqwest's own text names only the URL, not why (e.g. the
    /// certificate was not trusted).
    fn causes(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// A connection pool and the cookies its answers set, as `name=value` pairs.
    pub(super) struct Agent {
        client: reqwest::Client,
        cookies: Mutex<Vec<(String, String)>>,
    }

    impl Agent {
        pub(super) fn new() -> Result<Agent, crate::Error> {
            // https:// through rustls with the roots of `tls`, as the socket.
            let client = reqwest::Client::builder()
                .use_preconfigured_tls((*crate::tls::client_config()).clone())
                .build()
                .map_err(|e| crate::Error::Transport(causes(&e)))?;
            Ok(Agent { client, cookies: Mutex::default() })
        }

        fn cookie_header(&self) -> Option<String> {
            let jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
            let pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (!pairs.is_empty()).then(|| pairs.join("; "))
        }

        /// Keeps each `Set-Cookie`'s name and value (attributes such as the path do not
        /// matter for requests to one endpoint).
        fn keep_cookies(&self, headers: &reqwest::header::HeaderMap) {
            let mut jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
            for value in headers.get_all(reqwest::header::SET_COOKIE) {
                let Ok(value) = value.to_str() else { continue };
                let pair = value.split(';').next().unwrap_or_default();
                let Some((name, v)) = pair.split_once('=') else { continue };
                let name = name.trim().to_owned();
                jar.retain(|(k, _)| *k != name);
                jar.push((name, v.trim().to_owned()));
            }
        }
    }

    pub(super) async fn send(agent: &Agent, r: super::Request<'_>) -> Result<Answer, String> {
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = agent.client.request(method, r.url).header(reqwest::header::ACCEPT, r.accept);
        if let Some(t) = r.token {
            req = req.bearer_auth(t);
        }
        if let Some(cookies) = agent.cookie_header() {
            req = req.header(reqwest::header::COOKIE, cookies);
        }
        if let Some((body, kind)) = r.body {
            req = req.header(reqwest::header::CONTENT_TYPE, kind).body(body);
        }
        let res = req.send().await.map_err(|e| causes(&e))?;
        agent.keep_cookies(res.headers());
        let status = res.status().as_u16();
        let body = res.text().await.map_err(|e| e.to_string())?;
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_error_reads_the_error_shape_as_serde_does() {
        for body in [
            r#"{"code":"NOT_FOUND","message":"no such delivery"}"#,
            r#"{"code":"SOMETHING_NEW","message":"m","extra":1}"#,
            r#"{"code":"NOT_FOUND"}"#,
            r#"{"message":"m"}"#,
            r#"{"code":7,"message":"m"}"#,
            r#"{"code":"NOT_FOUND","message":null}"#,
            r#""NOT_FOUND: m""#,
            "<html>bad gateway</html>",
            "",
        ] {
            let answer = Answer { status: 404, body: body.into() };
            assert_eq!(answer.wire_error(), serde_json::from_str::<WireError>(body).ok(), "{body}");
        }
    }
}
