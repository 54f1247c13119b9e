//! This module deals with the built dashboard: files from `dist` with SPA fallback (an
//! unknown path gets `index.html`, so client-side routes survive a reload; an unknown file,
//! a name with an extension, gets 404), precompressed
//! variants, cache headers, and the dashboard's Content-Security-Policy (read from the
//! `index.html` present at start: rebuild the dashboard, then restart the server).

use std::path::Path;

use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt as _;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::security::dashboard_csp;

use crate::state::AppState;

/// The dashboard's files.
pub(crate) fn dashboard(dist: &Path) -> Router<AppState> {
    // Brotli only, as scripts/precompress.mjs writes: given a `.gz` too, ServeDir served it
    // to Chromium, which lists gzip first ("gzip, deflate, br, zstd"), though it takes br.
    let index = ServeFile::new(dist.join("index.html"));
    let app = move |req: Request| {
        let index = index.clone();
        async move {
            // A file that is not there (a chunk of an earlier build, /favicon.ico) is a 404:
            // index.html under an asset's hashed name would be cached as that asset for a year,
            // and a wasm loader handed HTML fails with a compile error instead of "not found".
            if is_file_name(req.uri().path()) {
                return StatusCode::NOT_FOUND.into_response();
            }
            match index.oneshot(req).await {
                Ok(res) => res.into_response(),
                Err(never) => match never {},
            }
        }
    };
    let files = ServeDir::new(dist).precompressed_br().fallback(app.into_service());
    Router::new().fallback_service(files).layer(middleware::from_fn(cache_control)).layer(
        SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, dashboard_csp(dist)),
    )
}
/// Trunk names assets by content hash, so they may be cached forever; the HTML that points
/// at them must always be revalidated.
async fn cache_control(req: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(req.uri().path());
    let mut res = next.run(req).await;
    let value = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    if res.status().is_success() {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// Whether `path` names a file (its last segment has an extension) rather than a page of the
/// app: the dashboard's routes have none.
fn is_file_name(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|name| name.contains('.'))
}

fn is_hashed_asset(path: &str) -> bool {
    // e.g. /pulse-dashboard-1a2b3c4d5e6f7a8b_bg.wasm. trunk writes its content hash, a u64, in
    // hex without leading zeros: one name in 16 has 15 digits (fewer than 12: 1 in 65,536).
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default().trim_end_matches("_bg");
    let hash = stem.rsplit('-').next().unwrap_or_default();
    name.contains('.')
        && (12..=16).contains(&hash.len())
        && hash.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::{is_file_name, is_hashed_asset};

    #[test]
    fn tells_files_from_the_apps_pages() {
        assert!(is_file_name("/favicon.ico"));
        assert!(is_file_name("/pulse-dashboard-chunk_7-1a2b3c4d5e6f7a8b.wasm"));
        assert!(!is_file_name("/"));
        assert!(!is_file_name("/deliveries"));
        assert!(!is_file_name("/customers/7"));
    }

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed_asset("/pulse-dashboard-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(is_hashed_asset("/main-0123456789abcdef.css"));
        assert!(is_hashed_asset("/pulse-dashboard-3712e48f8766c0b_bg.wasm"), "15 digits");
        assert!(!is_hashed_asset("/pulse-dashboard-deadbeef.js"), "too short for a u64 in hex");
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/deliveries"));
        assert!(!is_hashed_asset("/pulse-dashboard.js"));
    }
}
