//! [`ApalisError`]: what can go wrong setting up the apalis backend.

/// An error of the apalis backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApalisError {
    /// The Redis URL could not be parsed.
    #[error("invalid Redis URL `{url}` for the apalis queue: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        #[source]
        source: redis::RedisError,
    },
    /// Redis could not be reached.
    #[error("cannot connect to the apalis queue's Redis at `{url}`: {source}; is redis-server running there?")]
    Connect {
        /// The URL (without its password).
        url: String,
        /// The connection error.
        #[source]
        source: redis::RedisError,
    },
    /// The options cannot work.
    #[error("invalid apalis backend options: {0}")]
    Options(String),
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, ApalisError>;
