//! This module deals with who is calling, by address: the peer of the TCP connection, or,
//! behind trusted proxies, the address they name in `X-Forwarded-For`. The per-address
//! limits of sign-in and of sockets both count it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::state::AppState;

/// The client's address, as the per-address limits count it: the peer, or what a trusted
/// proxy says in `X-Forwarded-For` (see [`client_ip`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(request_ip(parts, state)))
    }
}

pub(crate) fn request_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    client_ip(peer, &parts.headers, &state.config.trusted_proxies)
}

/// The address a connection's limits count against: the peer, or, when the peer is one of
/// `trusted` proxies, the nearest address in `X-Forwarded-For` that is not a trusted proxy
/// (addresses further left could be written by the client itself).
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    while let Some(ip) = chain.pop() {
        if !trusted.contains(&ip) {
            return Some(ip);
        }
    }
    Some(peer)
}

#[cfg(test)]
mod client_ip_tests {
    use axum::http::HeaderMap;

    use super::client_ip;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let lb = "10.0.0.1".parse().unwrap();
        let client = "203.0.113.7".parse().unwrap();
        let forged = "198.51.100.1".parse().unwrap();
        let trusted = [lb];
        // Untrusted peer: its own address, whatever it claims.
        assert_eq!(client_ip(Some(client), &headers(&["1.2.3.4"]), &trusted), Some(client));
        // Through the proxy: the address the proxy appended (the last one).
        let h = headers(&["198.51.100.1, 203.0.113.7"]);
        assert_eq!(client_ip(Some(lb), &h, &trusted), Some(client));
        assert_ne!(client_ip(Some(lb), &h, &trusted), Some(forged));
        // Several headers, proxies chained: skip trusted hops from the right.
        let h = headers(&["203.0.113.7", "10.0.0.1"]);
        assert_eq!(client_ip(Some(lb), &h, &trusted), Some(client));
        // No header: the proxy itself.
        assert_eq!(client_ip(Some(lb), &HeaderMap::new(), &trusted), Some(lb));
    }
}
