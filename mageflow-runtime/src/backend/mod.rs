//! What runs tasks.

/// An error of a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend refused or failed to dispatch.
    #[error("dispatch failed: {0}")]
    Dispatch(String),
}
