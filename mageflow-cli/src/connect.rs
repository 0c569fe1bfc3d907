//! The client the CLI and the MCP server use: Redis, a key prefix, no task handlers, no recovery sweep.

use std::time::Duration;

use mageflow_runtime::Mageflow;
use mageflow_runtime::store::redact_url;

use crate::error::CliError;
use mageflow_runtime::backend::HandOffBackend;

/// Where the flows are: a Redis URL and a key prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `redis://`, `rediss://`, `redis-cluster://` or `redis+sentinel://` (see `RedisStoreConfig::url`).
    pub redis_url: String,
    /// The key prefix the application's clients use (`mageflow` by default).
    pub prefix: String,
}

impl Target {
    /// The URL without its password, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.redis_url)
    }
}

/// Connects: fails with one line when the URL is wrong or Redis does not answer. The client registers no task, so
/// it publishes no definition, and it does not sweep (a sweep would take runs from the workers' outbox).
pub async fn client(target: &Target) -> Result<Mageflow, CliError> {
    Mageflow::builder()
        .redis_url(target.redis_url.clone())
        .key_prefix(target.prefix.clone())
        .backend(HandOffBackend)
        .concurrency(1)
        .recovery(None, Duration::ZERO)
        .build()
        .await
        .map_err(|error| CliError::Connect { url: target.redacted_url(), error })
}
