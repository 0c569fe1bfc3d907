//! [`MageflowBuilder`]: configures a client (store, backend, tasks, TTLs, recovery, leases), connects the store,
//! records the task definitions, starts the worker and the recovery sweep.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, LocalBackend, Worker};
use crate::client::Mageflow;
use crate::config::TtlConfig;
use crate::engine::Engine;
use crate::engine::session::Session;
use crate::error::{Error, Result};
use crate::run::definitions;
use crate::run::registry::Registry;
use crate::run::task::Task;
#[cfg(feature = "memory")]
use crate::store::MemoryStore;
use crate::store::Store;
#[cfg(feature = "redis")]
use crate::store::{RedisStore, RedisStoreConfig};

enum StoreChoice {
    FromEnvironment,
    #[cfg(feature = "memory")]
    Memory,
    #[cfg(feature = "redis")]
    RedisUrl(String),
    #[cfg(feature = "redis")]
    Redis(Box<RedisStoreConfig>),
    Given(Arc<dyn Store>),
}

impl Mageflow {
    /// A builder: memory store (or Redis when `REDIS_URL` is set), local backend, no tasks.
    pub fn builder() -> MageflowBuilder {
        MageflowBuilder::new()
    }
}

/// Configures and builds a [`Mageflow`] client.
pub struct MageflowBuilder {
    registry: Registry,
    store: StoreChoice,
    backend: Option<Arc<dyn Backend>>,
    concurrency: usize,
    prefix: String,
    ttl: TtlConfig,
    recovery_interval: Option<Duration>,
    recovery_grace: Duration,
    idempotent_creation: bool,
    lease: Duration,
}

impl MageflowBuilder {
    fn new() -> Self {
        MageflowBuilder {
            registry: Registry::default(),
            store: StoreChoice::FromEnvironment,
            backend: None,
            concurrency: 16,
            prefix: "mageflow".to_owned(),
            ttl: TtlConfig::default(),
            recovery_interval: Some(Duration::from_secs(30)),
            recovery_grace: Duration::from_secs(60),
            idempotent_creation: true,
            lease: crate::engine::DEFAULT_LEASE,
        }
    }

    /// Registers a task: this client can sign it by value or by name, and its worker runs it.
    pub fn task<T: Task>(mut self, task: T) -> Self {
        self.registry.register(task);
        self
    }

    /// Keeps state in Redis at this URL, with the TLS settings of the environment (`MAGEFLOW_REDIS_TLS_CA_FILE`,
    /// `MAGEFLOW_REDIS_TLS_CERT_FILE`, `MAGEFLOW_REDIS_TLS_KEY_FILE`, `MAGEFLOW_REDIS_TLS_SERVER_NAME`). The URL
    /// forms are those of [`RedisStoreConfig::url`]: `redis://host:port/db`, `rediss://` (TLS),
    /// `redis-cluster://host:port,host:port` and `redis+sentinel://host:port/service_name`.
    #[cfg(feature = "redis")]
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.store = StoreChoice::RedisUrl(url.into());
        self
    }

    /// Keeps state in Redis with these settings (URL, timeouts, TLS: a custom CA, a client certificate), ignoring
    /// the environment.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, config: RedisStoreConfig) -> Self {
        self.store = StoreChoice::Redis(Box::new(config));
        self
    }

    /// Keeps state in this process, even when `REDIS_URL` is set.
    #[cfg(feature = "memory")]
    pub fn memory_store(mut self) -> Self {
        self.store = StoreChoice::Memory;
        self
    }

    /// Keeps state in a store built elsewhere.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = StoreChoice::Given(Arc::new(store));
        self
    }

    /// Runs tasks through this backend instead of the in-process [`LocalBackend`].
    pub fn backend(mut self, backend: impl Backend) -> Self {
        self.backend = Some(Arc::new(backend));
        self
    }

    /// How many tasks this client's worker runs at once (16 by default): the size of the default local backend,
    /// and what other backends (such as Hatchet's) use unless configured otherwise.
    pub fn concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = tasks;
        self
    }

    /// The prefix of every key in the store (`mageflow` by default), so that several applications can share one
    /// Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long signatures live in the store.
    pub fn ttl(mut self, ttl: TtlConfig) -> Self {
        self.ttl = ttl;
        self
    }

    /// How often the worker dispatches again the runs that were dispatched more than `grace` ago and never began
    /// (after a crash between a transition and its dispatch), and the runs whose lease expired (see
    /// [`run_lease`](Self::run_lease)). Every 30 s with a 60 s grace by default; `None` turns the sweep off (call
    /// [`Mageflow::recover`] yourself).
    pub fn recovery(mut self, interval: Option<Duration>, grace: Duration) -> Self {
        self.recovery_interval = interval;
        self.recovery_grace = grace;
        self
    }

    /// How long a run that began holds its signature (30 s by default). The worker running it renews the lease
    /// every third of this while the handler runs. While the lease holds, another delivery of the same run is
    /// skipped ([`SkipReason::Busy`](crate::backend::SkipReason::Busy)); once it expired (the worker died or was
    /// cut off), the recovery sweep dispatches the run again and a late report of the lost execution is ignored.
    /// A lost run counts as an attempt; when none is left, the task fails with
    /// [`ErrorKind::Lost`](crate::ErrorKind::Lost). Shorter leases recover lost runs sooner and cost more renewals.
    pub fn run_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Whether a run of a task with retries journals the signatures, chains and swarms its handler creates (through
    /// [`TaskContext::client`](crate::TaskContext::client)), so that a retry making the same calls in the same order
    /// gets the same ones back instead of creating them again. On by default.
    pub fn idempotent_creation(mut self, on: bool) -> Self {
        self.idempotent_creation = on;
        self
    }

    /// Connects the store, records the task definitions in it (also in `<prefix>:tasks`, where
    /// [`Mageflow::task_definitions`] reads them from any process), and starts the worker.
    pub async fn build(self) -> Result<Mageflow> {
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return Err(Error::Config(format!(
                "the key prefix `{}` must be non-empty and without spaces",
                self.prefix
            )));
        }
        self.ttl.validate()?;
        if self.lease < Duration::from_millis(30) {
            return Err(Error::Config(format!(
                "the run lease of {:?} is too short to be renewed in time; give it at least 30 ms (30 s is the default)",
                self.lease
            )));
        }
        let store: Arc<dyn Store> = match self.store {
            StoreChoice::Given(store) => store,
            #[cfg(feature = "memory")]
            StoreChoice::Memory => Arc::new(MemoryStore::new()),
            #[cfg(feature = "redis")]
            StoreChoice::RedisUrl(url) => {
                Arc::new(RedisStore::connect_with(RedisStoreConfig::with_env_settings(url)?).await?)
            }
            #[cfg(feature = "redis")]
            StoreChoice::Redis(config) => Arc::new(RedisStore::connect_with(*config).await?),
            StoreChoice::FromEnvironment => default_store().await?,
        };
        let backend = self.backend.unwrap_or_else(|| Arc::new(LocalBackend::new(self.concurrency)));
        let registry = Arc::new(self.registry);
        let mut engine = Engine::new(store.clone(), self.prefix.clone(), &self.ttl, registry.clone(), backend.clone());
        engine.idempotent_creation = self.idempotent_creation;
        engine.lease = self.lease;
        let engine = Arc::new(engine);
        // for clients that sign tasks they do not run, and for tools that run no handlers (the CLI, the MCP server)
        definitions::publish(store.as_ref(), &self.prefix, registry.registered().map(|r| &*r.definition)).await?;
        backend.start(Worker::new(&engine, self.concurrency)).await?;
        let sweeper = self.recovery_interval.map(|interval| {
            let engine = Arc::downgrade(&engine);
            let grace = self.recovery_grace;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(interval).await;
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    match engine.recover(grace, 1000).await {
                        Ok(0) => {}
                        Ok(count) => {
                            tracing::warn!(count, "dispatched again runs that never began")
                        }
                        Err(error) => tracing::warn!(%error, "the recovery sweep failed"),
                    }
                }
            })
        });
        Ok(Mageflow::new(Session::new(engine), sweeper, Some(backend)))
    }
}

/// The store a builder told nothing uses: Redis when `REDIS_URL` is set, else memory.
async fn default_store() -> Result<Arc<dyn Store>> {
    #[cfg(feature = "redis")]
    if let Some(config) = RedisStoreConfig::from_env()? {
        return Ok(Arc::new(RedisStore::connect_with(config).await?));
    }
    #[cfg(feature = "memory")]
    return Ok(Arc::new(MemoryStore::new()));
    #[cfg(not(feature = "memory"))]
    Err(Error::Config(
        "no store: set REDIS_URL, or give one with `.store(..)`, or enable the `memory` feature for the embedded store"
            .to_owned(),
    ))
}
