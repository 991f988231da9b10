//! What every request passes through: the client's address (trusting
//! `X-Forwarded-For` only from listed proxies), a time limit, and the
//! security headers on every answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The client's address as far as this server can trust it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// How requests are guarded.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    /// The longest a request may take, body included.
    pub request_timeout: Duration,
    /// Whether the server speaks TLS (cookies then get `Secure`, HSTS is sent).
    pub tls: bool,
}

/// The address a request comes from: the peer, or, when the peer is a
/// trusted proxy, the last address it appended that is not itself a
/// trusted proxy.
pub fn client_addr(peer: IpAddr, forwarded: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded else {
        return peer;
    };
    // Walk from the right: each hop was appended by the one after it.
    list.split(',')
        .rev()
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// Middleware: resolves the client address, bounds the request's time,
/// adds security headers.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let client = client_addr(peer, forwarded, &guard.trusted_proxies);
        request.extensions_mut().insert(ClientAddr(client));
    }
    let mut response = match tokio::time::timeout(guard.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request took too long\n").into_response(),
    };
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Answers carry personal data or session tokens: never cache them.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if guard.tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy = [ip("10.0.0.1")];
        assert_eq!(
            client_addr(ip("203.0.113.9"), Some("1.2.3.4"), &proxy),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(ip("10.0.0.1"), Some("6.6.6.6, 1.2.3.4"), &proxy),
            ip("1.2.3.4"),
            "only the hop the proxy appended counts, not what the client wrote"
        );
        assert_eq!(client_addr(ip("10.0.0.1"), None, &proxy), ip("10.0.0.1"));
    }
}
