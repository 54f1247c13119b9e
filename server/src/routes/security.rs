//! This module deals with what the server tells browsers to protect the dashboard and the API:
//! security headers on every response, the dashboard's Content-Security-Policy (with hashes
//! of the inline scripts trunk writes into `index.html`), CORS for the origins listed in
//! `PULSE_CORS_ORIGINS` (none by default: same origin only), and the same list applied to
//! browsers opening the Socket.IO endpoint, where CORS does not reach (WebSocket upgrades and
//! the polling transport's plain-text POSTs are not preflighted).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::AppError;

/// What API answers may do in a browser: nothing (they are JSON, never documents).
pub(crate) const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers every response gets unless a route set its own: no MIME sniffing, no
/// referrer, no framing, and [`API_CSP`].
pub(crate) fn default_headers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, API_CSP),
    ]
    .map(|(name, value)| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    })
}

/// The dashboard's policy: its own scripts, styles and images, WebAssembly compilation
/// (`'wasm-unsafe-eval'`), fetch and WebSocket to its own origin, and the inline scripts of
/// `dist/index.html` by hash (trunk writes its loader inline); never framed.
pub(crate) fn dashboard_csp(dist: &Path) -> HeaderValue {
    let html = std::fs::read_to_string(dist.join("index.html")).unwrap_or_default();
    let hashes: String = inline_scripts(&html)
        .map(|s| {
            let digest = Sha256::digest(s.as_bytes());
            format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
        })
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static(API_CSP))
}

/// The text of each `<script>` element without a `src`, exactly as written (what a CSP hash
/// covers).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attrs, rest) = rest.split_once('>')?;
        let (body, _) = rest.split_once("</script>")?;
        (!attrs.contains("src=")).then_some(body)
    })
}

/// The origins of `PULSE_CORS_ORIGINS`, checked and normalised (no trailing slash).
#[derive(Debug, Clone, Default)]
pub(crate) struct Origins(Vec<HeaderValue>);

impl Origins {
    /// Parses the configured list; empty entries are ignored.
    pub(crate) fn parse(list: &[String]) -> Result<Origins, String> {
        let mut origins = Vec::new();
        for o in list.iter().map(|o| o.trim().trim_end_matches('/')).filter(|o| !o.is_empty()) {
            let well_formed = o.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            });
            if !well_formed {
                return Err(format!("`{o}` is not an origin like https://admin.example:8443"));
            }
            origins.push(HeaderValue::from_str(o).map_err(|e| format!("`{o}`: {e}"))?);
        }
        Ok(Origins(origins))
    }

    /// CORS for the listed origins; `None` when there are none (then no CORS headers at all:
    /// browsers allow same-origin calls only).
    pub(crate) fn cors(&self) -> Option<CorsLayer> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.0.clone()))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("idempotency-key"),
                ])
                // A page of a listed origin may send the cookies of this server's origin: the
                // SDK's long-polling does (`withCredentials`), so that a sticky load balancer's
                // cookie keeps its session on one node. Authentication stays in the bearer
                // token; no cookie of Pulse's carries authority.
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        )
    }

    /// Whether a browser page at `origin` may open the socket of a server reached as `host`.
    fn may_open_socket(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        let same_origin = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .zip(host.and_then(|h| h.to_str().ok()))
            .is_some_and(|((_, o), h)| o.eq_ignore_ascii_case(h));
        same_origin || self.0.contains(origin)
    }
}

/// Refuses Socket.IO requests from browser pages of other origins than the server's own and
/// the listed ones (FORBIDDEN). Requests without `Origin` (native clients, Node) pass.
pub(crate) async fn socket_origin(
    State(origins): State<Arc<Origins>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/socket.io/") && !origin_allowed(&origins, req.headers()) {
        return AppError::forbidden(
            "this origin may not open the socket; the server lists allowed ones in PULSE_CORS_ORIGINS",
        )
        .into_response();
    }
    next.run(req).await
}

fn origin_allowed(origins: &Origins, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .is_none_or(|o| origins.may_open_socket(o, headers.get(header::HOST)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = "<script type=\"module\">\nimport x;\n</script><script src=\"/a.js\"></script>";
        assert_eq!(inline_scripts(html).collect::<Vec<_>>(), ["\nimport x;\n"]);
    }

    #[test]
    fn origins_are_checked_and_same_origin_sockets_always_pass() {
        assert!(Origins::parse(&["ftp://x".into()]).is_err());
        assert!(Origins::parse(&["https://a.example/path".into()]).is_err());
        let o = Origins::parse(&["https://admin.example/".into(), String::new()]).unwrap();
        assert_eq!(o.0, ["https://admin.example"]);
        let host = HeaderValue::from_static("127.0.0.1:3000");
        let ok = |origin: &'static str| {
            o.may_open_socket(&HeaderValue::from_static(origin), Some(&host))
        };
        assert!(ok("http://127.0.0.1:3000"));
        assert!(ok("https://admin.example"));
        assert!(!ok("https://evil.example"));
        assert!(!ok("null"));
        assert!(Origins::default().cors().is_none());
    }
}
