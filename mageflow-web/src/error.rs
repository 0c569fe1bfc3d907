//! [`WebError`]: why the web view could not start or stopped; [`ApiError`]: the JSON error answer of the API.

use std::net::SocketAddr;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mageflow_runtime::Error;
use mageflow_runtime::store::StoreError;

/// Why the web view could not start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// It was to bind a non-loopback address with lifecycle actions and no token.
    #[error(
        "the web view would listen on {bind}, which other machines can reach, and anyone there could suspend or \
         cancel flows: give it a token (`WebOptions::token`, `--token` on the command line), or serve it read-only \
         (`--read-only`), or bind 127.0.0.1"
    )]
    TokenRequired {
        /// The address asked for.
        bind: SocketAddr,
    },
    /// The token is empty.
    #[error("the web view's token is empty: give a token of at least one character, or none on 127.0.0.1")]
    EmptyToken,
    /// The address could not be bound.
    #[error("the web view cannot listen on {bind}: {source} (is another program using the port? choose another)")]
    Bind {
        /// The address asked for.
        bind: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("the web view stopped: {0}")]
    Serve(std::io::Error),
}

/// An error answer of the API: a status code and `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::NotFound(_) | Error::InvalidId(_) => StatusCode::NOT_FOUND,
            Error::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::InvalidFlow(_) | Error::WrongKind { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "web view request failed");
        }
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}
