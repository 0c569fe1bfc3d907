//! Where signatures live: the [`Store`] trait, `RedisStore` on a real Redis (feature `redis`) and the embedded
//! `MemoryStore` (feature `memory`); both features are on by default.
//!
//! Every change of a flow's state, and every read of it, is one call of mageflow's transition script
//! ([`Script::engine`]): an `FCALL` (or `EVALSHA`) on Redis, and the same Lua run over an in-process keyspace in the
//! memory store. A store therefore only runs scripts atomically on the keys they declare, lists keys with their TTLs,
//! and tells waiters when a signature finishes; it offers no raw reads or writes.

#[cfg(feature = "memory")]
mod keyspace;
#[cfg(feature = "memory")]
mod lua_host;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod slot;

use std::time::Duration;

use async_trait::async_trait;

use crate::cause::Cause;

#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{Pem, RedisStore, RedisStoreConfig, RedisTls, SentinelAuth, redact_url};
pub(crate) use slot::{SLOTS, slot_of};

/// A Lua script and its SHA-1, as Redis identifies it.
#[derive(Clone, Debug)]
pub struct Script {
    source: &'static str,
    sha1: String,
    // read by the stores (features `redis`, `memory`)
    #[cfg_attr(not(any(feature = "redis", feature = "memory")), allow(dead_code))]
    library: Option<Library>,
}

/// A script that is also a Redis Function library: loaded once per server (`FUNCTION LOAD`), called with `FCALL`,
/// so that the functions and tables it defines are built once instead of on every call.
#[derive(Clone, Debug)]
#[cfg_attr(not(any(feature = "redis", feature = "memory")), allow(dead_code))]
pub(crate) struct Library {
    /// The library's name and its function's: `mageflow_` and the first 16 hex digits of the body's SHA-1, so that
    /// two versions of mageflow on one server each call their own.
    pub name: String,
    /// The `FUNCTION LOAD` form: a shebang naming the library, the body, the registration of the entry point.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub code: &'static str,
    /// The body followed by `return <entry point>`: running it once yields the entry point (the memory store's form).
    #[cfg_attr(not(feature = "memory"), allow(dead_code))]
    pub chunk: &'static str,
}

impl Script {
    /// A script from its source.
    pub fn new(source: &'static str) -> Self {
        Script { source, sha1: sha1_smol::Sha1::from(source).digest().to_string(), library: None }
    }

    /// A script from a library body that defines `entry`, a `local function entry(keys, args)`: run by `EVALSHA` as
    /// the body followed by a call of `entry`, or loaded once as a Function library where the server has them.
    fn library(body: &'static str, entry: &str) -> Self {
        let digest = sha1_smol::Sha1::from(body).digest().to_string();
        let name = format!("mageflow_{}", &digest[..16]);
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        // the EVAL form: KEYS and ARGV are read before the body's own locals of those names hide them; on the
        // body's first line, so that line numbers in errors stay those of the file
        let source = leak(format!(
            "local mageflow_keys, mageflow_argv = KEYS, ARGV {body}\nreturn {entry}(mageflow_keys, mageflow_argv)\n"
        ));
        let code = leak(format!("#!lua name={name}\n{body}\nredis.register_function('{name}', {entry})\n"));
        let chunk = leak(format!("{body}\nreturn {entry}\n"));
        Script {
            source,
            sha1: sha1_smol::Sha1::from(source).digest().to_string(),
            library: Some(Library { name, code, chunk }),
        }
    }

    /// mageflow's transition script: every state change of every flow.
    pub fn engine() -> &'static Script {
        static ENGINE: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
        ENGINE.get_or_init(|| Script::library(include_str!("engine.lua"), "mageflow_main"))
    }

    /// The Lua source, as `EVAL` runs it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The hex SHA-1 of the source, as `EVALSHA` takes it.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// The Function library form, when the script has one.
    #[cfg_attr(not(any(feature = "redis", feature = "memory")), allow(dead_code))]
    pub(crate) fn as_library(&self) -> Option<&Library> {
        self.library.as_ref()
    }
}

/// A script's reply, as Redis converts Lua values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `nil` or `false`.
    Nil,
    /// A number (truncated to an integer).
    Int(i64),
    /// A string or status.
    Text(String),
    /// A table.
    Array(Vec<Reply>),
}

impl Reply {
    /// The text, if this is one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Reply::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// A key of the store and its remaining time to live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The full key.
    pub key: String,
    /// Its TTL; `None` when it never expires.
    pub ttl: Option<Duration>,
}

/// A future that resolves when a signature finishes (or the store's notification channel is lost, after which the
/// waiter should read the state again).
pub type Notified = futures::future::BoxFuture<'static, ()>;

/// Where signatures live. Implemented by `RedisStore` and `MemoryStore`; both pass the same conformance suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs `script` atomically (nothing else changes the store while it runs) with these keys (`KEYS`, which
    /// also route the call on a cluster) and arguments (`ARGV`).
    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError>;

    /// Every key that starts with `prefix`, with its TTL.
    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError>;

    /// Subscribes to `channel` (the transition script publishes `<prefix>:finished:<id>` when a signature
    /// finishes). The subscription is in place when this returns, so a caller subscribes, then reads the state, then
    /// awaits the returned future.
    async fn notified(&self, channel: &str) -> Result<Notified, StoreError>;

    /// How many transition calls on the keys of one shard the engine keeps under way at once; calls made meanwhile
    /// wait and go out together. A server runs one call while the process reads another's reply and makes the next
    /// ones, so two keep both busy (`RedisStore` answers 2); a store that runs scripts in the calling process (the
    /// memory store) overlaps nothing, and one makes the largest batches. The default is 1.
    fn calls_at_once(&self) -> usize {
        1
    }
}

/// An error of the store. Each variant says what went wrong in `detail` (the message already includes the
/// underlying error's text) and keeps that error, when there is one, as its [`source`](std::error::Error::source).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached.
    #[error("the store is unreachable ({detail}); check that Redis is running and REDIS_URL points at it")]
    Unavailable {
        /// What failed.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// A script failed inside the store.
    #[error("a mageflow script failed in the store: {detail}")]
    Script {
        /// The script's error.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// The store answered something mageflow did not expect.
    #[error("unexpected reply from the store: {detail}")]
    Protocol {
        /// What was unexpected.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// The store could not be configured (a bad URL, ...).
    #[error("invalid store configuration: {detail}")]
    Config {
        /// What is wrong with the configuration.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// Redis refused the credentials (a wrong user name or password, or none where one is required).
    #[error("Redis refused the credentials: {detail}")]
    Authentication {
        /// What Redis said, and what to check.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// The Redis user is not allowed a command, key or channel mageflow needs.
    #[error(
        "the Redis user lacks a permission mageflow needs ({detail}); grant it the ACL rule in the README's \"Using \
         Redis\" section"
    )]
    PermissionDenied {
        /// What Redis refused.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// TLS to Redis failed: the server's certificate is not trusted, or the server does not speak TLS.
    #[error("TLS to Redis failed: {detail}")]
    Tls {
        /// Why, and what to do.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] without a cause.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        StoreError::Unavailable { detail: detail.into(), cause: None }
    }

    /// [`StoreError::Script`] without a cause.
    pub fn script(detail: impl Into<String>) -> Self {
        StoreError::Script { detail: detail.into(), cause: None }
    }

    /// [`StoreError::Protocol`] without a cause.
    pub fn protocol(detail: impl Into<String>) -> Self {
        StoreError::Protocol { detail: detail.into(), cause: None }
    }

    /// [`StoreError::Config`] without a cause.
    pub fn config(detail: impl Into<String>) -> Self {
        StoreError::Config { detail: detail.into(), cause: None }
    }

    /// [`StoreError::Authentication`] without a cause.
    pub fn authentication(detail: impl Into<String>) -> Self {
        StoreError::Authentication { detail: detail.into(), cause: None }
    }

    /// [`StoreError::PermissionDenied`] without a cause.
    pub fn permission_denied(detail: impl Into<String>) -> Self {
        StoreError::PermissionDenied { detail: detail.into(), cause: None }
    }

    /// [`StoreError::Tls`] without a cause.
    pub fn tls(detail: impl Into<String>) -> Self {
        StoreError::Tls { detail: detail.into(), cause: None }
    }

    /// The same error, keeping `cause` as its source.
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let slot = match &mut self {
            StoreError::Unavailable { cause, .. }
            | StoreError::Script { cause, .. }
            | StoreError::Protocol { cause, .. }
            | StoreError::Config { cause, .. }
            | StoreError::Authentication { cause, .. }
            | StoreError::PermissionDenied { cause, .. }
            | StoreError::Tls { cause, .. } => cause,
        };
        *slot = Some(Cause::new(cause));
        self
    }

    /// What went wrong, without the advice the message adds.
    pub fn detail(&self) -> &str {
        match self {
            StoreError::Unavailable { detail, .. }
            | StoreError::Script { detail, .. }
            | StoreError::Protocol { detail, .. }
            | StoreError::Config { detail, .. }
            | StoreError::Authentication { detail, .. }
            | StoreError::PermissionDenied { detail, .. }
            | StoreError::Tls { detail, .. } => detail,
        }
    }
}
