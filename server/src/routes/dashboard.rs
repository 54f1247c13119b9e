//! This module deals with the built dashboard: files from `dist` with SPA fallback (any
//! unknown path gets `index.html`, so client-side routes survive a reload), precompressed
//! variants, cache headers, and the dashboard's Content-Security-Policy (read from the
//! `index.html` present at start: rebuild the dashboard, then restart the server).

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::security::dashboard_csp;

use crate::state::AppState;

/// The dashboard's files.
pub(crate) fn dashboard(dist: &Path) -> Router<AppState> {
    // Brotli only, as scripts/precompress.mjs writes: given a `.gz` too, ServeDir served it
    // to Chromium, which lists gzip first ("gzip, deflate, br, zstd"), though it takes br.
    let files =
        ServeDir::new(dist).precompressed_br().fallback(ServeFile::new(dist.join("index.html")));
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
    use super::is_hashed_asset;

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
