//! This module deals with the request head a Socket.IO connection keeps for its whole life.
//!
//! hyper parses a request's URI and header values as slices of the connection's read buffer
//! (about 16 KiB) instead of copying them, and axum's router clones the URI into the
//! extensions (`OriginalUri`). engineioxide keeps the request head of every socket (`Parts`,
//! which socketioxide lends out) until it disconnects, and one retained slice keeps the whole
//! buffer alive: measured with heaptrack, 16 KiB of the ~33 KiB each idle connection cost.
//! [`own_head`] copies the few bytes something still reads into fresh allocations before the
//! Socket.IO layer sees the request, so the buffer is freed once the WebSocket upgrade is
//! done, and leaves out everything else: a kept header costs a connection about 100 B for
//! its entry and its copy, and axum's route parameters in the extensions 280 B.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Request, Uri};

/// The Socket.IO endpoint's path prefix (socketioxide's default `req_path`).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// The headers of a Socket.IO request that something after [`own_head`] reads: engineioxide
/// (the WebSocket handshake's key, which it leaves out of the head a session keeps once
/// answered, vendor/README.md change 11; a polling POST's content type) and the connection
/// limits (`X-Forwarded-For`, with the peer's address, at CONNECT). The origin check, CORS
/// and compression run before it; authentication reads the CONNECT payload's token.
const KEPT: &[&str] = &["sec-websocket-key", "content-type", "x-forwarded-for"];

/// Replaces a Socket.IO request's URI and kept header values ([`KEPT`]) with copies that own
/// their bytes, and its extensions with the two something reads (the peer's address;
/// hyper's upgrade handle, which the WebSocket handshake takes); every other request passes
/// unchanged.
pub(crate) fn own_head(mut req: Request<Body>) -> Request<Body> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
    let shared = std::mem::take(req.headers_mut());
    let mut owned =
        HeaderMap::with_capacity(KEPT.iter().filter(|n| shared.contains_key(**n)).count());
    for &name in KEPT {
        for value in shared.get_all(name) {
            // `from_bytes` copies; it cannot fail on bytes that already were a valid value.
            if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
                copy.set_sensitive(value.is_sensitive());
                owned.append(HeaderName::from_static(name), copy);
            }
        }
    }
    *req.headers_mut() = owned;
    *req.uri_mut() = owned_uri(req.uri());
    let mut all = std::mem::take(req.extensions_mut());
    let kept = req.extensions_mut();
    keep::<ConnectInfo<SocketAddr>>(&mut all, kept);
    keep::<hyper::upgrade::OnUpgrade>(&mut all, kept);
    req
}

fn keep<T: Clone + Send + Sync + 'static>(from: &mut Extensions, to: &mut Extensions) {
    if let Some(value) = from.remove::<T>() {
        to.insert(value);
    }
}

fn owned_uri(uri: &Uri) -> Uri {
    // Parsing from a `&str` copies into a new buffer; what parsed once parses again.
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use axum::extract::OriginalUri;
    use axum::http::header::{HOST, SEC_WEBSOCKET_KEY};

    use super::*;

    /// A request whose URI and header values are slices of one shared buffer, as hyper makes,
    /// with the extensions axum's router and server add.
    fn shared_request(path: &str) -> (Request<Body>, Bytes) {
        let buf = Bytes::from(format!("{path}|localhost|dGhlIHNhbXBsZSBub25jZQ==").into_bytes());
        let p = path.len();
        let uri = Uri::from_maybe_shared(buf.slice(..p)).expect("uri");
        let host = HeaderValue::from_maybe_shared(buf.slice(p + 1..p + 10)).expect("host");
        let key = HeaderValue::from_maybe_shared(buf.slice(p + 11..)).expect("key");
        let req = Request::builder()
            .uri(uri.clone())
            .extension(OriginalUri(uri))
            .extension(ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 50_000))))
            .header(HOST, host)
            .header(SEC_WEBSOCKET_KEY, key)
            .body(Body::empty())
            .expect("request");
        (req, buf)
    }

    fn points_into(buf: &Bytes, bytes: &[u8]) -> bool {
        buf.as_ptr_range().contains(&bytes.as_ptr())
    }

    #[test]
    fn socket_io_requests_stop_sharing_the_read_buffer_and_keep_what_is_read() {
        let (req, buf) = shared_request("/socket.io/?EIO=4&transport=websocket");
        assert!(points_into(&buf, req.headers()[HOST].as_bytes()), "the fixture shares");
        let req = own_head(req);
        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert!(!points_into(&buf, req.uri().query().expect("query").as_bytes()));
        assert_eq!(req.headers()[SEC_WEBSOCKET_KEY], "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(!points_into(&buf, req.headers()[SEC_WEBSOCKET_KEY].as_bytes()));
        assert_eq!(req.headers().len(), 1, "the origin check ran before: no Host kept");
        // The connection limits read the peer's address; the router's copy of the URI goes.
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().expect("kept").0;
        assert_eq!(peer, SocketAddr::from(([203, 0, 113, 7], 50_000)));
        assert!(req.extensions().get::<OriginalUri>().is_none());
        assert_eq!(req.extensions().len(), 1);
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
        assert_eq!(names, ["sec-websocket-key", "x-forwarded-for"]);
        // Bytes of names and values in the kept head: 491 → 67.
        assert_eq!((before, head_bytes(req.headers())), (491, 67));
    }

    #[test]
    fn other_requests_are_left_alone() {
        let (req, buf) = shared_request("/api/stats");
        let req = own_head(req);
        assert!(points_into(&buf, req.headers()[HOST].as_bytes()));
    }
}
