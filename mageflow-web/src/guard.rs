//! Who may do what: loopback host names on a loopback binding, the token and read-only mode for lifecycle
//! actions, same-origin requests only for actions, and the headers that keep the page from being framed.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The host of a `Host` header value (`name[:port]`, `[v6]:port`), lowercased.
fn host_name(value: &str) -> String {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        value.rsplit_once(':').map_or(value, |(host, _port)| host)
    };
    host.to_ascii_lowercase()
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// On a loopback binding, refuses requests addressed to any other name: a web page whose name resolves to
/// 127.0.0.1 (DNS rebinding) must not read or steer flows.
pub(crate) async fn loopback_hosts(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if state.loopback {
        let host = request.headers().get(header::HOST).and_then(|value| value.to_str().ok()).map(host_name);
        let allowed = match (&host, request.uri().host()) {
            (Some(host), _) => is_loopback_name(host),
            (None, Some(uri_host)) => is_loopback_name(&host_name(uri_host)),
            (None, None) => false,
        };
        if !allowed {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this web view listens on a loopback address and answers only requests for localhost or \
                     127.0.0.1, not for `{}`; to reach it from elsewhere, bind another address with a token",
                    host.unwrap_or_default()
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Headers on every answer: no framing (the lifecycle buttons must not be clickjacked), no sniffing, no referrer,
/// and a content security policy that admits only the view's own script and style.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Compares in time independent of where the texts differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Whether a lifecycle action may run: not read-only, the token when one is set, and not from another origin.
pub(crate) fn authorize_action(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.read_only {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this web view is read-only: lifecycle actions (suspend, interrupt, resume, cancel) are turned off",
        ));
    }
    if let Some(expected) = &state.token {
        let given = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        match given.and_then(|value| value.strip_prefix("Bearer ")) {
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "this action needs the web view's token: send it as `Authorization: Bearer <token>`",
                ));
            }
            Some(token) if !same_secret(token.trim().as_bytes(), expected.as_bytes()) => {
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the token is wrong: use the web view's token"));
            }
            Some(_) => {}
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_scheme, rest)| rest).trim_end_matches('/');
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("a lifecycle action from another origin (`{origin}`) is refused: use the web view's own page"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("127.0.0.1:8642"), "127.0.0.1");
        assert_eq!(host_name("LocalHost:80"), "localhost");
        assert_eq!(host_name("[::1]:8642"), "::1");
        assert_eq!(host_name("example.com"), "example.com");
        assert!(is_loopback_name("localhost"));
        assert!(is_loopback_name("127.0.0.2"));
        assert!(is_loopback_name("::1"));
        assert!(!is_loopback_name("evil.example"));
        assert!(!is_loopback_name("10.0.0.1"));
    }

    #[test]
    fn secrets() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
    }
}
