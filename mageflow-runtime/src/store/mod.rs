//! Where signatures live.

/// An error of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached.
    #[error("the store is unreachable: {0}")]
    Unavailable(String),
}
