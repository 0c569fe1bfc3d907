//! [`Mageflow`]: the client. Build it with [`Mageflow::builder`], register tasks, then sign and run them, read
//! their state, and suspend, resume, interrupt or cancel whole flows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::backend::{Backend, LocalBackend, Worker};
use crate::config::TtlConfig;
use crate::engine::protocol::field;
use crate::engine::{Engine, Lifecycle, StoredRecord};
use crate::error::{Error, Result};
use crate::flow::SwarmConfig;
use crate::flow::{Body, Node};
use crate::model::SignatureId;
use crate::registry::Registry;
use crate::scope::CreationScope;
use crate::signature::{Chain, Handle, Signature, Swarm};
use crate::state::{FlowTree, SignatureState};
#[cfg(feature = "memory")]
use crate::store::MemoryStore;
use crate::store::Store;
#[cfg(feature = "redis")]
use crate::store::{RedisStore, RedisStoreConfig};
use crate::task::Task;

/// How often a waiter reads the state again even without a notification (notifications can be lost when the
/// store's connection drops).
const WAIT_SAFETY_INTERVAL: Duration = Duration::from_secs(5);

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

    /// Connects the store, records the task definitions in it, and starts the worker.
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
        for registered in registry.registered() {
            let key = engine.keys.definition(&registered.definition.name);
            store.write_hash(&key, registered.definition.to_fields()).await?;
        }
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
        Ok(Mageflow { inner: Arc::new(Inner { engine, sweeper: Mutex::new(sweeper), scope: None }) })
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

struct Inner {
    engine: Arc<Engine>,
    sweeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set on the client a task run gets: the run's creation journal.
    scope: Option<Arc<CreationScope>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut sweeper) = self.sweeper.lock()
            && let Some(sweeper) = sweeper.take()
        {
            sweeper.abort();
        }
    }
}

/// The mageflow client: signs tasks, runs flows, reads their state and controls their lifecycle. Cheap to clone.
#[derive(Clone)]
pub struct Mageflow {
    inner: Arc<Inner>,
}

impl Mageflow {
    /// A builder: memory store (or Redis when `REDIS_URL` is set), local backend, no tasks.
    pub fn builder() -> MageflowBuilder {
        MageflowBuilder::new()
    }

    /// A client on an engine that lives already (a worker's, for one run).
    pub(crate) fn from_engine(engine: Arc<Engine>) -> Mageflow {
        Mageflow { inner: Arc::new(Inner { engine, sweeper: Mutex::new(None), scope: None }) }
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The client a task run gets: the same engine, with the run's creation journal.
    pub(crate) fn scoped(&self, scope: Arc<CreationScope>) -> Mageflow {
        let inner = Inner { engine: self.inner.engine.clone(), sweeper: Mutex::new(None), scope: Some(scope) };
        Mageflow { inner: Arc::new(inner) }
    }

    pub(crate) fn scope(&self) -> Option<&Arc<CreationScope>> {
        self.inner.scope.as_ref()
    }

    /// A new node: inside a task run that journals its creations, with the run's next id.
    fn node(&self, body: Body) -> Node {
        match self.scope() {
            Some(scope) => Node::with_id(scope.next_id(), body),
            None => Node::new(body),
        }
    }

    /// The store this client keeps state in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.engine.store
    }

    /// The prefix of every key this client writes.
    pub fn key_prefix(&self) -> &str {
        self.inner.engine.keys.prefix()
    }

    /// A signature of a task, typed by the task's input and output.
    pub fn sign<T: Task>(&self, task: T) -> Signature<T::Input, T::Output> {
        Signature::new(self.clone(), self.node(Body::Task { name: task.name().to_owned() }))
    }

    /// A signature of a task by its registered name. The name and the inputs are checked (against the task's JSON
    /// schema) when the signature is created or run, before anything is stored.
    pub fn sign_name(&self, task: &str) -> Signature<Value, Value> {
        Signature::new(self.clone(), self.node(Body::Task { name: task.to_owned() }))
    }

    /// A chain of steps (tasks, chains or swarms, at least two): each step gets the previous step's result.
    pub fn chain<N: Into<Node>>(&self, steps: impl IntoIterator<Item = N>) -> Chain<Value, Value> {
        let steps = steps.into_iter().map(Into::into).collect();
        Signature::new(self.clone(), self.node(Body::Chain { name: None, steps }))
    }

    /// A swarm of items (tasks, chains or swarms) that run in parallel with the swarm's message; closed unless
    /// made [`open`](Signature::open).
    pub fn swarm<N: Into<Node>>(&self, items: impl IntoIterator<Item = N>) -> Swarm<Value> {
        let items = items.into_iter().map(Into::into).collect();
        Signature::new(
            self.clone(),
            self.node(Body::Swarm { name: None, items, config: SwarmConfig::default(), closed: true }),
        )
    }

    /// A handle on a stored flow, by id (for flows started elsewhere).
    pub fn handle(&self, id: SignatureId) -> Handle<Value, Value> {
        Handle::new(self.clone(), id)
    }

    /// The state of one signature.
    pub async fn status(&self, id: &SignatureId) -> Result<SignatureState> {
        let records = self.engine().read(id, false).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        let record = records.into_iter().next().ok_or_else(|| Error::NotFound(id.clone()))?;
        SignatureState::parse(id, &record.fields, record.children)
    }

    /// The whole flow under a signature: children and callbacks, recursively, read in one call. Nodes that expired
    /// are left out.
    pub async fn tree(&self, id: &SignatureId) -> Result<FlowTree> {
        let records = self.engine().read(id, true).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        let mut stored: HashMap<SignatureId, StoredRecord> =
            records.into_iter().map(|record| (record.id.clone(), record)).collect();
        tree_of(id, &mut stored)?.ok_or_else(|| Error::NotFound(id.clone()))
    }

    /// Waits until a signature has finished (done, failed or canceled) and returns its final state; with a
    /// `timeout`, fails with [`Error::WaitTimeout`] when it takes longer.
    pub async fn wait(&self, id: &SignatureId, timeout: Option<Duration>) -> Result<SignatureState> {
        self.wait_finished(id, timeout).await?;
        self.status(id).await
    }

    /// Waits until a signature has finished and returns its stored fields (without its children, which a large
    /// swarm has many of).
    pub(crate) async fn wait_finished(
        &self,
        id: &SignatureId,
        timeout: Option<Duration>,
    ) -> Result<std::collections::HashMap<String, String>> {
        let wait = async {
            let channel = self.engine().keys.finished_channel(id);
            loop {
                let notified = self.store().notified(&channel).await?;
                let records = self.engine().read_watching(id).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
                let fields = records.into_iter().next().map(|record| record.fields).unwrap_or_default();
                let status = fields.get(field::STATUS).and_then(|s| crate::Status::parse(s));
                if status.is_some_and(crate::Status::is_finished) {
                    return Ok(fields);
                }
                let _ = tokio::time::timeout(WAIT_SAFETY_INTERVAL, notified).await;
            }
        };
        match timeout {
            None => wait.await,
            Some(limit) => {
                tokio::time::timeout(limit, wait).await.unwrap_or(Err(Error::WaitTimeout(id.clone(), limit)))
            }
        }
    }

    async fn lifecycle(&self, op: Lifecycle, id: &SignatureId) -> Result<()> {
        let transition = self.engine().lifecycle(op, id).await?;
        self.engine().apply(transition).await
    }

    /// Suspends a signature and everything in it: nothing new starts (a run that starts anyway is canceled and
    /// keeps its input); running tasks finish. Harmless to call twice.
    pub async fn suspend(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Suspend, id).await
    }

    /// Like [`suspend`](Self::suspend), and also aborts running tasks through the backend; they run again on
    /// resume.
    pub async fn interrupt(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Interrupt, id).await
    }

    /// Resumes what was suspended or interrupted: runs that were stopped are dispatched again, exactly once.
    pub async fn resume(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Resume, id).await
    }

    /// Ends a signature and everything in it for good: running tasks are aborted, no callback of it runs, and its
    /// parent (if any) sees it as failed.
    pub async fn cancel(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Cancel, id).await
    }

    /// Dispatches again the runs dispatched more than `older_than` ago that never began, and the runs whose lease
    /// expired (their worker died or was cut off); returns how many.
    pub async fn recover(&self, older_than: Duration) -> Result<usize> {
        self.engine().recover(older_than, 10_000).await
    }

    /// Stops the worker: no new runs start; running ones get up to `deadline` to finish, then are aborted.
    pub async fn shutdown(&self, deadline: Duration) -> Result<()> {
        if let Ok(mut sweeper) = self.inner.sweeper.lock()
            && let Some(sweeper) = sweeper.take()
        {
            sweeper.abort();
        }
        Ok(self.engine().backend.shutdown(deadline).await?)
    }
}

impl std::fmt::Debug for Mageflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mageflow").field("prefix", &self.key_prefix()).finish_non_exhaustive()
    }
}

/// The tree under `id` from the records read (each used once, so that a damaged record cannot make a cycle).
fn tree_of(id: &SignatureId, stored: &mut HashMap<SignatureId, StoredRecord>) -> Result<Option<FlowTree>> {
    let Some(record) = stored.remove(id) else {
        return Ok(None);
    };
    let state = SignatureState::parse(id, &record.fields, record.children)?;
    let mut subtrees = |ids: &[SignatureId]| -> Result<Vec<FlowTree>> {
        let mut out = Vec::new();
        for child in ids {
            out.extend(tree_of(child, stored)?);
        }
        Ok(out)
    };
    let children = subtrees(&state.children)?;
    let success_callbacks = subtrees(&state.success_callbacks)?;
    let error_callbacks = subtrees(&state.error_callbacks)?;
    Ok(Some(FlowTree { state, children, success_callbacks, error_callbacks }))
}
