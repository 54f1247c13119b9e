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
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
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
    platform::send(method, url, token, json).await.map_err(Error::Transport)
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
    pub(super) async fn send(
        method: &str,
        url: &str,
        token: Option<&str>,
        json: Option<String>,
    ) -> Result<Answer, String> {
        let js = |e: JsValue| format!("{e:?}");
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        let headers = web_sys::Headers::new().map_err(js)?;
        headers.set("Accept", "application/json").map_err(js)?;
        if let Some(t) = token {
            headers.set("Authorization", &format!("Bearer {t}")).map_err(js)?;
        }
        if let Some(body) = json {
            headers.set("Content-Type", "application/json").map_err(js)?;
            init.set_body(&JsValue::from_str(&body));
        }
        init.set_headers(&headers);
        let controller = AbortController::new().map_err(js)?;
        init.set_signal(Some(&controller.signal()));
        let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(js)?;
        let mut guard = AbortOnDrop(Some(controller));
        let response = Request::from(request).send().await.map_err(|e| e.to_string())?;
        let body = response.text().await.map_err(|e| e.to_string())?;
        guard.0 = None;
        Ok(Answer { status: response.status(), body })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
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

    pub(super) async fn send(
        method: &str,
        url: &str,
        token: Option<&str>,
        json: Option<String>,
    ) -> Result<Answer, String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        // https:// through rustls with the roots of `tls`, as the socket.
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*crate::tls::client_config()).clone())
            .build()
            .map_err(|e| e.to_string())?;
        let mut req =
            client.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(body) = json {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let res = req.send().await.map_err(|e| causes(&e))?;
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
