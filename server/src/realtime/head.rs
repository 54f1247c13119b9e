//! This module deals with the request head a Socket.IO connection keeps for its whole life.
//!
//! hyper parses a request's URI and header values as slices of the connection's read buffer
//! (about 16 KiB) instead of copying them, and axum's router clones the URI into the
//! extensions (`OriginalUri`). engineioxide and socketioxide keep the request head of every
//! socket (`Parts`) until it disconnects, and one retained slice keeps the whole buffer
//! alive: measured with heaptrack, 16 KiB of the ~33 KiB each idle connection cost.
//! [`own_head`] copies the few hundred bytes that matter into fresh allocations before the
//! Socket.IO layer sees the request, so the buffer is freed once the WebSocket upgrade is
//! done.

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};

/// The Socket.IO endpoint's path prefix (socketioxide's default `req_path`).
const SOCKET_IO_PATH: &str = "/socket.io/";

/// Replaces a Socket.IO request's URI and header values with copies that own their bytes;
/// every other request passes unchanged.
pub(crate) fn own_head(mut req: Request<Body>) -> Request<Body> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
    let shared = std::mem::take(req.headers_mut());
    let mut owned = HeaderMap::with_capacity(shared.len());
    for (name, value) in &shared {
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

    #[test]
    fn other_requests_are_left_alone() {
        let (req, buf) = shared_request("/api/stats");
        let req = own_head(req);
        assert!(points_into(&buf, req.headers()[HOST].as_bytes()));
    }
}
