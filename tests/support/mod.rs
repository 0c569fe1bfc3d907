//! What the integration tests share: a real `redis-server` per test (or a shared one from
//! `MAGEFLOW_TEST_REDIS_URL`), clients on either store with isolated key prefixes, clients on Hatchet (a fake
//! engine per test, two workers), and awaiting helpers.
#![allow(dead_code)]

pub mod cluster;
pub mod processes;
pub mod tls;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mageflow::store::{KeyInfo, Notified, Reply, Script, StoreError};
use mageflow::{Mageflow, MageflowBuilder, SignatureId, SignatureState, Store, TtlConfig};
use mageflow_hatchet::fake::{FakeConfig, FakeHandle, FakeHatchet};
use mageflow_hatchet::{Connection, HatchetBackend, HatchetBackendOptions};

/// How long a test waits for any one thing before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A `redis-server` this test started, stopped when dropped; or a shared server named by
/// `MAGEFLOW_TEST_REDIS_URL`.
pub struct RedisServer {
    pub url: String,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port (nothing saved to disk) and waits until it accepts connections; on
    /// another port when another process took the first one before the server bound it. Panics, never skips, when
    /// it cannot.
    pub fn start() -> RedisServer {
        if let Ok(url) = std::env::var("MAGEFLOW_TEST_REDIS_URL") {
            return RedisServer { url, child: None };
        }
        let mut problems = Vec::new();
        for _ in 0..5 {
            match try_spawn_redis(&cluster::free_port().to_string()) {
                Ok((child, port)) => {
                    return RedisServer { url: format!("redis://127.0.0.1:{port}"), child: Some(child) };
                }
                Err(problem) => problems.push(problem),
            }
        }
        panic!("redis-server did not start in 5 tries:\n{}", problems.join("\n"))
    }
}

/// Starts `redis-server` on `port` and waits until it accepts connections.
fn spawn_redis(port: &str) -> (Child, String) {
    try_spawn_redis(port).unwrap_or_else(|problem| panic!("{problem}"))
}

/// [`spawn_redis`], or what went wrong when the server exited before accepting connections.
fn try_spawn_redis(port: &str) -> Result<(Child, String), String> {
    let mut child = Command::new("redis-server")
        .args(["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot start redis-server ({error}): install Redis (e.g. `apt-get install redis-server`) or set \
                 MAGEFLOW_TEST_REDIS_URL to a Redis the tests may use"
            )
        });
    cluster::wait_until_ready(&mut child, &format!("redis-server on port {port}"))?;
    Ok((child, port.to_owned()))
}

impl RedisServer {
    /// Stops the server (a Redis that goes away).
    pub fn stop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        let port = self.url.rsplit(':').next().expect("a port").to_owned();
        let (child, _) = spawn_redis(&port);
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Which store a conformance test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A real Redis Cluster of three primaries, started for the test.
    Cluster,
}

/// Which backend the clients of a conformance test run tasks on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The in-process local backend (the default of a client).
    Local,
    /// Hatchet: a fake engine of the test's own, with two worker clients.
    Hatchet,
    /// apalis: a queue on the test's Redis, with two worker clients.
    Apalis,
}

/// The store a test runs on, kept alive for the test's duration.
pub struct TestStore {
    /// The clients started next to the test's own ones: on Hatchet, a second worker for each client.
    workers: Mutex<Vec<Mageflow>>,
    pub kind: StoreKind,
    pub backend: BackendKind,
    pub redis: Option<RedisServer>,
    /// The Redis Cluster of a cluster test.
    pub cluster: Option<cluster::RedisCluster>,
    /// The memory store every client of a memory test shares, so that a second client sees the first one's flows.
    pub memory: mageflow::MemoryStore,
    pub prefix: String,
    /// The fake Hatchet engine of a Hatchet test.
    pub hatchet: Option<FakeHandle>,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl TestStore {
    pub fn new(kind: StoreKind) -> TestStore {
        let redis = (kind == StoreKind::Redis).then(RedisServer::start);
        let cluster = (kind == StoreKind::Cluster).then(cluster::RedisCluster::start);
        let prefix = format!("t{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        TestStore {
            workers: Mutex::default(),
            kind,
            backend: BackendKind::Local,
            redis,
            cluster,
            memory: mageflow::MemoryStore::new(),
            prefix,
            hatchet: None,
        }
    }

    /// A test on Hatchet: a Redis store, and a fake Hatchet engine whose workers are dropped after 3 s without a
    /// heartbeat (they beat every 100 ms).
    pub async fn hatchet() -> TestStore {
        let mut store = TestStore::new(StoreKind::Redis);
        let config = FakeConfig { inactivity_timeout: Duration::from_secs(3), ..FakeConfig::default() };
        let fake =
            FakeHatchet::start(config).await.unwrap_or_else(|error| panic!("cannot start a fake Hatchet: {error}"));
        store.backend = BackendKind::Hatchet;
        store.hatchet = Some(fake);
        store
    }

    /// A test on apalis: a Redis store, and an apalis queue on the same Redis, outside the test's key prefix (apalis
    /// keeps its job records without a TTL until they are vacuumed).
    pub fn apalis() -> TestStore {
        let mut store = TestStore::new(StoreKind::Redis);
        store.backend = BackendKind::Apalis;
        store
    }

    /// A new backend on the test's apalis queue (`None` unless this is an apalis test), with 1 s heartbeats.
    pub fn apalis_backend(&self) -> Option<mageflow_apalis::ApalisBackend> {
        if self.backend != BackendKind::Apalis {
            return None;
        }
        let url = &self.redis.as_ref()?.url;
        let options = mageflow_apalis::ApalisBackendOptions::new(format!("{}-worker", self.prefix))
            .queue(format!("apalis-{}", self.prefix))
            .heartbeat(Duration::from_secs(1), 3);
        Some(mageflow_apalis::ApalisBackend::connect_lazy(url, options).unwrap_or_else(|error| panic!("{error}")))
    }

    /// A builder on this store with the test's key prefix and no recovery sweep (tests call `recover` themselves);
    /// on Hatchet or apalis, with a backend of its own.
    pub fn builder(&self) -> MageflowBuilder {
        if let Some(backend) = self.apalis_backend() {
            return self.store_builder().backend(backend);
        }
        match self.hatchet_backend() {
            Some(backend) => self.store_builder().backend(backend),
            None => self.store_builder(),
        }
    }

    fn store_builder(&self) -> MageflowBuilder {
        let builder = Mageflow::builder().key_prefix(self.prefix.clone()).recovery(None, Duration::ZERO);
        match (&self.redis, &self.cluster) {
            (Some(redis), _) => builder.redis_url(redis.url.clone()),
            (None, Some(cluster)) => builder.redis_url(cluster.url()),
            (None, None) => builder.store(self.memory.clone()),
        }
    }

    /// A new backend on the test's fake Hatchet (`None` for a local test), tuned for tests: 100 ms heartbeats,
    /// quick reconnects; its slots are the client's concurrency.
    pub fn hatchet_backend(&self) -> Option<HatchetBackend> {
        let fake = self.hatchet.as_ref()?;
        let config = fake.client_config().unwrap_or_else(|error| panic!("fake Hatchet config: {error}"));
        let connection = Connection::connect_lazy(config).unwrap_or_else(|error| panic!("fake Hatchet: {error}"));
        let name = format!("{}-worker-{}", self.prefix, NEXT.fetch_add(1, Ordering::Relaxed));
        let options = HatchetBackendOptions::new(name)
            .heartbeat_interval(Duration::from_millis(100))
            .reconnect(Duration::from_millis(20), Duration::from_millis(500));
        Some(HatchetBackend::new(connection, options))
    }

    /// A client on this store, configured by `configure` (register tasks, set TTLs, ...).
    ///
    /// On Hatchet and apalis, a second worker client with the same configuration starts next to it (kept until the
    /// test ends), so that runs are shared between two workers, unless the client runs on a backend the scenario
    /// chose (its own backend was replaced and never started) or on one slot (`concurrency(1)`: the scenario needs
    /// a single slot in all).
    pub async fn client(&self, configure: impl Fn(MageflowBuilder) -> MageflowBuilder) -> Mageflow {
        let build = |builder: MageflowBuilder| async move {
            builder.build().await.unwrap_or_else(|error| panic!("cannot build a client: {error}"))
        };
        if let Some(backend) = self.apalis_backend() {
            let client = build(configure(self.store_builder().backend(backend.clone()))).await;
            if backend.worker_concurrency().is_some_and(|slots| slots > 1) {
                let second = self.apalis_backend().unwrap_or_else(|| unreachable!("an apalis test has a queue"));
                let worker = build(configure(self.store_builder()).backend(second)).await;
                self.workers.lock().unwrap().push(worker);
            }
            return client;
        }
        let Some(backend) = self.hatchet_backend() else {
            return build(configure(self.store_builder())).await;
        };
        let client = build(configure(self.store_builder().backend(backend.clone()))).await;
        if backend.slots().is_some_and(|slots| slots > 1) {
            let second = self.hatchet_backend().unwrap_or_else(|| unreachable!("a Hatchet test has a fake engine"));
            let worker = build(configure(self.store_builder()).backend(second)).await;
            self.workers.lock().unwrap().push(worker);
        }
        client
    }

    /// Short TTLs, to check that finished flows get the done TTL.
    pub fn ttl() -> TtlConfig {
        TtlConfig::new(Duration::from_secs(1000), Duration::from_secs(100))
    }
}

/// Runs a scenario on every store, on Hatchet and on apalis: `conformance!(name, |store| async move { ... })` makes
/// `name::memory`, `name::redis` (local backend), `name::cluster` (a real 3-primary Redis Cluster, local backend),
/// `name::hatchet` (Redis, two workers on a fake Hatchet) and `name::apalis` (Redis, two workers on an apalis-redis
/// queue). `conformance!(local_backend: name, ..)` makes only the first three, for scenarios about the local backend
/// itself or that bring their own backend.
#[macro_export]
macro_rules! conformance {
    // scenarios about the local backend itself (or that bring their own backend): both stores, no Hatchet
    (local_backend: $name:ident, $body:expr) => {
        mod $name {
            use super::*;
            $crate::conformance!(@on $body, memory: $crate::support::TestStore::new($crate::support::StoreKind::Memory));
            $crate::conformance!(@on $body, redis: $crate::support::TestStore::new($crate::support::StoreKind::Redis));
            $crate::conformance!(@on $body, cluster: $crate::support::TestStore::new($crate::support::StoreKind::Cluster));
        }
    };
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            $crate::conformance!(@on $body, memory: $crate::support::TestStore::new($crate::support::StoreKind::Memory));
            $crate::conformance!(@on $body, redis: $crate::support::TestStore::new($crate::support::StoreKind::Redis));
            $crate::conformance!(@on $body, cluster: $crate::support::TestStore::new($crate::support::StoreKind::Cluster));
            $crate::conformance!(@on $body, hatchet: $crate::support::TestStore::hatchet().await);
            $crate::conformance!(@on $body, apalis: $crate::support::TestStore::apalis());
        }
    };
    // one test: the scenario on the store `$store` makes
    (@on $body:expr, $test:ident: $store:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let store = $store;
            $crate::support::bounded(($body)(store)).await;
        }
    };
}

/// Runs a scenario, failing it (instead of hanging the suite) if it takes longer than two minutes.
pub async fn bounded(scenario: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_secs(120), scenario).await.is_err() {
        panic!("the scenario did not finish within two minutes");
    }
}

/// Waits for a signature to finish, failing the test after [`WAIT`].
/// The TTLs once every flow under a prefix finished (with [`TestStore::ttl`]): task definitions never expire, the
/// groups of signatures have their done TTL (100 s), and the shard keys (flow index, outbox) and pointers expire
/// within the active plus the done TTL.
#[allow(dead_code)]
pub fn assert_done_ttls(keys: &[mageflow::store::KeyInfo]) {
    for key in keys {
        if key.key.contains(":task:") || key.key.ends_with(":tasks") {
            assert_eq!(key.ttl, None, "task definitions never expire: {}", key.key);
            continue;
        }
        let ttl = key.ttl.unwrap_or_else(|| panic!("{} has no TTL", key.key)).as_secs();
        let limit = if key.key.contains(":g:") { 100 } else { 1100 };
        assert!(ttl <= limit, "{} has a TTL of {ttl} s, more than {limit} s", key.key);
    }
}

pub async fn finished(client: &Mageflow, id: &SignatureId) -> SignatureState {
    client.wait(id, Some(WAIT)).await.unwrap_or_else(|error| panic!("{id} did not finish: {error}"))
}

/// A backend that delivers every run of the `doubled` tasks twice, concurrently, through the real local backend:
/// the at-least-once delivery the engine must cope with. It counts the dispatches it is asked for, by task.
#[derive(Clone, Debug)]
pub struct DuplicatingBackend {
    pub inner: mageflow::LocalBackend,
    pub doubled: Vec<String>,
    pub dispatched: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl DuplicatingBackend {
    pub fn new(concurrency: usize, doubled: &[&str]) -> Self {
        DuplicatingBackend {
            inner: mageflow::LocalBackend::new(concurrency),
            doubled: doubled.iter().map(|t| t.to_string()).collect(),
            dispatched: Default::default(),
        }
    }

    pub fn dispatches_of(&self, task: &str) -> usize {
        self.dispatched.lock().unwrap().iter().filter(|t| *t == task).count()
    }
}

#[async_trait::async_trait]
impl mageflow::Dispatcher for DuplicatingBackend {
    async fn dispatch(&self, runs: Vec<mageflow::backend::Run>) -> Result<(), mageflow::backend::BackendError> {
        let mut deliveries = Vec::new();
        for run in runs {
            self.dispatched.lock().unwrap().push(run.task.clone());
            if self.doubled.contains(&run.task) {
                deliveries.push(run.clone());
            }
            deliveries.push(run);
        }
        self.inner.dispatch(deliveries).await
    }

    async fn interrupt(&self, runs: &[mageflow::backend::Interrupt]) -> Result<(), mageflow::backend::BackendError> {
        self.inner.interrupt(runs).await
    }
}

#[async_trait::async_trait]
impl mageflow::Runner for DuplicatingBackend {
    async fn start(&self, worker: mageflow::backend::Worker) -> Result<(), mageflow::backend::BackendError> {
        self.inner.start(worker).await
    }

    async fn shutdown(&self, deadline: Duration) -> Result<(), mageflow::backend::BackendError> {
        self.inner.shutdown(deadline).await
    }
}

/// A backend that counts the runs it dispatches and can lose dispatches (a worker that dies between a transition
/// and its dispatch), delegating the rest to the real local backend.
#[derive(Clone, Debug, Default)]
pub struct CountingBackend {
    pub inner: mageflow::LocalBackend,
    pub dispatched: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Runs of these tasks are lost instead of dispatched.
    pub lose: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl CountingBackend {
    pub fn dispatched_tasks(&self) -> Vec<String> {
        self.dispatched.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl mageflow::Dispatcher for CountingBackend {
    async fn dispatch(&self, runs: Vec<mageflow::backend::Run>) -> Result<(), mageflow::backend::BackendError> {
        let lose = self.lose.lock().unwrap().clone();
        let mut kept = Vec::new();
        for run in runs {
            self.dispatched.lock().unwrap().push(run.task.clone());
            if !lose.contains(&run.task) {
                kept.push(run);
            }
        }
        self.inner.dispatch(kept).await
    }

    async fn interrupt(&self, runs: &[mageflow::backend::Interrupt]) -> Result<(), mageflow::backend::BackendError> {
        self.inner.interrupt(runs).await
    }
}

#[async_trait::async_trait]
impl mageflow::Runner for CountingBackend {
    async fn start(&self, worker: mageflow::backend::Worker) -> Result<(), mageflow::backend::BackendError> {
        self.inner.start(worker).await
    }

    async fn shutdown(&self, deadline: Duration) -> Result<(), mageflow::backend::BackendError> {
        self.inner.shutdown(deadline).await
    }
}

/// A store that counts the round trips it makes, by script operation or command.
#[derive(Clone)]
pub struct CountingStore<S> {
    inner: S,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl<S: Store> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        CountingStore { inner, counts: Arc::default() }
    }

    fn count(&self, what: &str) {
        *self.counts.lock().unwrap().entry(what.to_owned()).or_default() += 1;
    }
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

/// Every field of the hash at `key` (empty when there is none), read by a script that declares the key, as a test
/// reads what its tasks wrote; the `Store` trait has no raw reads.
pub async fn read_hash(store: &dyn Store, key: &str) -> std::collections::HashMap<String, String> {
    let script = Script::new("return redis.call('HGETALL', KEYS[1])");
    let texts = texts(store.eval(&script, vec![key.to_owned()], Vec::new()).await.expect("HGETALL"));
    texts.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect()
}

/// Every element of the list at `key` (empty when there is none), read by a script that declares the key.
pub async fn read_list(store: &dyn Store, key: &str) -> Vec<String> {
    let script = Script::new("return redis.call('LRANGE', KEYS[1], 0, -1)");
    texts(store.eval(&script, vec![key.to_owned()], Vec::new()).await.expect("LRANGE"))
}

fn texts(reply: Reply) -> Vec<String> {
    let items = reply.as_array().unwrap_or_else(|| panic!("expected an array, got {reply:?}"));
    items.iter().map(|item| item.as_text().expect("a text").to_owned()).collect()
}

#[async_trait::async_trait]
impl<S: Store + Clone> Store for CountingStore<S> {
    async fn eval(&self, script: &Script, keys: Vec<String>, args: Vec<String>) -> Result<Reply, StoreError> {
        // `eval:<op>` counts script calls (round trips); `op:<op>` counts transitions, also those a `multi` carries
        // (after the 6 header arguments: a count, then per transition its descriptor, "<operation> <key index>
        // <argument count> <group>", and its arguments)
        self.count(&format!("eval:{}", args[0]));
        if args[0] == "multi" {
            let mut at = 7;
            for _ in 0..args[6].parse::<usize>().unwrap_or(0) {
                let mut descriptor = args[at].split(' ');
                self.count(&format!("op:{}", descriptor.next().unwrap_or_default()));
                at += 1 + descriptor.nth(1).and_then(|count| count.parse::<usize>().ok()).unwrap_or(0);
            }
        } else {
            self.count(&format!("op:{}", args[0]));
        }
        self.inner.eval(script, keys, args).await
    }
    fn calls_at_once(&self) -> usize {
        self.inner.calls_at_once()
    }
    async fn scan(&self, prefix: &str) -> Result<Vec<KeyInfo>, StoreError> {
        self.inner.scan(prefix).await
    }
    async fn notified(&self, channel: &str) -> Result<Notified, StoreError> {
        self.count("subscribe");
        self.inner.notified(channel).await
    }
}
