//! This module deals with the request head a Socket.IO connection keeps for its whole life.
//!
//! hyper parses a request's URI and header values as slices of the connection's read buffer
//! (about 16 KiB) instead of copying them, and axum's router clones the URI into the
//! extensions (`OriginalUri`). engineioxide and socketioxide keep the request head of every
//! socket (`Parts`) until it disconnects, and one retained slice keeps the whole buffer
//! alive: measured with heaptrack, 16 KiB of the ~33 KiB each idle connection cost.
//! [`own_head`] copies the few hundred bytes that matter into fresh allocations before the
//! Socket.IO layer sees the request, so the buffer is freed once the WebSocket upgrade is
//! done. It leaves out the headers nothing behind it reads ([`NOT_KEPT`]): a browser's
//! handshake carries about 0.5 KB of them, and each socket keeps two copies of its head.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};

/// The Socket.IO endpoint's path prefix (socketioxide's default `req_path`).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// Headers of a Socket.IO request that nothing after [`own_head`] reads: not engineioxide or
/// socketioxide, not the origin check (`Origin`, `Host`), not the connection limits
/// (`X-Forwarded-For`), not authentication (the CONNECT payload's token). Compression and
/// CORS run before it and saw them all. The balancer's cookie is the balancer's.
const NOT_KEPT: &[&str] = &[
    "user-agent",
    "accept",
    "accept-language",
    "accept-encoding",
    "cache-control",
    "pragma",
    "cookie",
    "referer",
    "dnt",
    "priority",
    "sec-websocket-extensions",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
];

/// Replaces a Socket.IO request's URI and header values with copies that own their bytes,
/// without the headers in [`NOT_KEPT`]; every other request passes unchanged.
pub(crate) fn own_head(mut req: Request<Body>) -> Request<Body> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
    let shared = std::mem::take(req.headers_mut());
    let kept = |name: &HeaderName| !NOT_KEPT.contains(&name.as_str());
    let mut owned = HeaderMap::with_capacity(shared.keys().filter(|n| kept(n)).count());
    for (name, value) in shared.iter().filter(|(n, _)| kept(n)) {
        // `from_bytes` copies; it cannot fail on bytes that already were a valid value.
        if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            owned.append(name.clone(), copy);
        }
    }
    *req.headers_mut() = owned;
    *req.uri_mut() = owned_uri(req.uri());
    // axum's router keeps a clone of the URI in the extensions, which sockets keep too.
    if let Some(original) = req.extensions_mut().get_mut::<OriginalUri>() {
        original.0 = owned_uri(&original.0);
    }
    req
}

fn owned_uri(uri: &Uri) -> Uri {
    // Parsing from a `&str` copies into a new buffer; what parsed once parses again.
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use axum::http::header::{AUTHORIZATION, HOST};

    use super::*;

    /// A request whose URI and header values are slices of one shared buffer, as hyper makes.
    fn shared_request(path: &str) -> (Request<Body>, Bytes) {
        let buf = Bytes::from(format!("{path}|localhost|Bearer x").into_bytes());
        let p = path.len();
        let uri = Uri::from_maybe_shared(buf.slice(..p)).expect("uri");
        let host = HeaderValue::from_maybe_shared(buf.slice(p + 1..p + 10)).expect("host");
        let mut auth = HeaderValue::from_maybe_shared(buf.slice(p + 11..)).expect("auth");
        auth.set_sensitive(true);
        let req = Request::builder()
            .uri(uri.clone())
            .extension(OriginalUri(uri))
            .header(HOST, host)
            .header(AUTHORIZATION, auth)
            .body(Body::empty())
            .expect("request");
        (req, buf)
    }

    fn points_into(buf: &Bytes, bytes: &[u8]) -> bool {
        buf.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn socket_io_requests_stop_sharing_the_read_buffer_and_keep_their_meaning() {
        let (req, buf) = shared_request("/socket.io/?EIO=4&transport=websocket");
        assert!(points_into(&buf, req.headers()[HOST].as_bytes()), "the fixture shares");
        let req = own_head(req);
        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(req.headers()[HOST], "localhost");
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer x");
        assert!(req.headers()[AUTHORIZATION].is_sensitive());
        for value in req.headers().values() {
            assert!(!points_into(&buf, value.as_bytes()));
        }
        let original = &req.extensions().get::<OriginalUri>().expect("kept").0;
        assert_eq!(original, req.uri());
        for uri in [req.uri(), original] {
            assert!(!points_into(&buf, uri.query().expect("query").as_bytes()));
        }
    }

    /// Chromium's WebSocket handshake, as a dashboard tab sends it.
    const CHROMIUM: &[(&str, &str)] = &[
        ("host", "pulse.example:3000"),
        ("connection", "Upgrade"),
        ("pragma", "no-cache"),
        ("cache-control", "no-cache"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
        ("upgrade", "websocket"),
        ("origin", "https://pulse.example:3000"),
        ("sec-websocket-version", "13"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("accept-language", "en-GB,en-US;q=0.9,en;q=0.8"),
        ("cookie", "PULSE_NODE=node-2"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
        ("x-forwarded-for", "203.0.113.7"),
    ];

    fn head_bytes(headers: &HeaderMap) -> usize {
        headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum()
    }

    #[test]
    fn a_socket_keeps_only_the_headers_something_reads() {
        let mut req = Request::builder().uri("/socket.io/?EIO=4&transport=websocket");
        for (name, value) in CHROMIUM {
            req = req.header(*name, *value);
        }
        let req = req.body(Body::empty()).expect("request");
        let before = head_bytes(req.headers());
        let req = own_head(req);
        let names: Vec<&str> = req.headers().keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "host",
                "connection",
                "upgrade",
                "origin",
                "sec-websocket-version",
                "sec-websocket-key",
                "x-forwarded-for"
            ]
        );
        // Bytes of names and values per copy of the head: 491 → 177.
        assert_eq!((before, head_bytes(req.headers())), (491, 177));
    }

    #[test]
    fn other_requests_are_left_alone() {
        let (req, buf) = shared_request("/api/stats");
        let req = own_head(req);
        assert!(points_into(&buf, req.headers()[HOST].as_bytes()));
    }
}
