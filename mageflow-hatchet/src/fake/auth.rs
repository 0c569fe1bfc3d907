//! Bearer-token check applied to every fake service.

use tonic::{Request, Status};

use crate::config::decode_token_claims;

/// Accepts a request only with `authorization: Bearer <well-formed Hatchet token>` (scheme case-insensitive).
pub fn check_auth(request: Request<()>) -> Result<Request<()>, Status> {
    let header = request
        .metadata()
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing authorization header; send `authorization: Bearer <token>`"))?;
    let value = header.to_str().map_err(|_| Status::unauthenticated("authorization header is not ASCII"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| Status::unauthenticated("authorization header must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Status::unauthenticated(format!("authorization scheme {scheme:?} is not supported; use Bearer")));
    }
    decode_token_claims(token.trim()).map_err(|e| Status::unauthenticated(e.to_string()))?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> Request<()> {
        let mut request = Request::new(());
        request.metadata_mut().insert("authorization", value.parse().unwrap());
        request
    }

    #[test]
    fn accepts_both_scheme_spellings() {
        let token = crate::config::unsigned_token("t", "http://x", "h:1");
        assert!(check_auth(with_header(&format!("Bearer {token}"))).is_ok());
        assert!(check_auth(with_header(&format!("bearer {token}"))).is_ok());
    }

    #[test]
    fn rejects_missing_or_malformed_credentials() {
        for request in
            [Request::new(()), with_header("Bearer"), with_header("Basic abc"), with_header("Bearer not-a-jwt")]
        {
            let status = check_auth(request).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }
}
