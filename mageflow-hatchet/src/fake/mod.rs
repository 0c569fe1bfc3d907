//! An in-process fake Hatchet engine speaking the real gRPC protocol (feature `fake`).
//!
//! It implements what Hatchet's SDKs use to run and trigger tasks: `PutWorkflow` (one task or a
//! DAG of tasks with parents), worker registration, action streams with round-robin assignment
//! within slot limits and by priority, step events with retries (and `retry_after_ms`),
//! cancellation, Hatchet's dead-worker timing (no new work after 5 s of silence, runs moved
//! after 30 s), attempt timeouts and `RefreshTimeout`, run-result and run-event subscriptions,
//! triggering with Hatchet's validation and child dedupe, events (`Push`), task logs (`PutLog`)
//! and run details; on a second port, the REST reads SDKs poll for results
//! (`GET /api/v1/stable/workflow-runs/{id}`). Calls must carry a well-formed `Bearer` token;
//! gzip requests are accepted. Hatchet's official Python SDK and the Rust `hatchet-sdk` crate are
//! tested against it.
//!
//! Limits (see the README's table): concurrency settings, rate limits, worker labels and retry
//! backoff are remembered but not enforced; durable tasks, cron and schedules are not served;
//! tokens are parsed, not verified.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mageflow_hatchet::fake::{FakeConfig, FakeHatchet};
//! let fake = FakeHatchet::start(FakeConfig::default()).await?;
//! let connection = mageflow_hatchet::Connection::connect(fake.client_config()?).await?;
//! # drop(connection); fake.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod engine;
mod rest;
mod services;
mod time;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;

pub use auth::check_auth;
pub use engine::{
    DEFAULT_TASK_TIMEOUT, LogLine, RecordedRequests, RecordedStepEvent, RunSnapshot, RunState, TaskSnapshot, TaskSpec,
    WorkflowSpec,
};

use crate::config::{HatchetConfig, TlsStrategy, unsigned_token};
use crate::error::Result;
use crate::proto::{
    AssignedAction, dispatcher_server::DispatcherServer, events_service_server::EventsServiceServer, v1,
    workflow_service_server::WorkflowServiceServer,
};
use engine::{Engine, EngineSettings};
use services::{AdminService, DispatcherService, EventsService, Shared, WorkflowsService};

/// Settings of a fake engine.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// gRPC port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// REST port to bind on 127.0.0.1 (the token's `server_url`); 0 picks a free one.
    pub rest_port: u16,
    /// Tenant id put in minted tokens and responses.
    pub tenant_id: String,
    /// No new work is assigned to a worker whose last heartbeat (or stream start) is older than
    /// this (Hatchet: 5 s). The effective value is at most `inactivity_timeout`.
    pub stop_assigning_after: Duration,
    /// The runs of a worker whose last heartbeat is older than this move to other workers
    /// (Hatchet: 30 s).
    pub inactivity_timeout: Duration,
    /// How many times a run may be reassigned after its worker died before it fails.
    pub max_internal_retries: u32,
    /// The version `GetVersion` answers. The default is the newest engine version whose
    /// version-gated SDK paths the fake serves; see [`DEFAULT_VERSION`].
    pub version: String,
}

/// What `GetVersion` answers by default: v0.111.0, the version from which SDKs send
/// `retry_after_ms`, which the fake honours. SDKs also gate durable eviction (v0.80.0) on the
/// version; durable tasks are not served by the fake at any version.
pub const DEFAULT_VERSION: &str = "v0.111.0";

/// Hatchet's `HeartbeatInterval` is 4 s; after 5 s without one a worker gets no new work.
pub const STOP_ASSIGNING_AFTER: Duration = Duration::from_secs(5);
/// After 30 s without a heartbeat, Hatchet moves a worker's runs to other workers.
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            port: 0,
            rest_port: 0,
            tenant_id: "707d0855-80ab-4e1f-a156-f1c4546cbf52".to_string(),
            stop_assigning_after: STOP_ASSIGNING_AFTER,
            inactivity_timeout: INACTIVITY_TIMEOUT,
            max_internal_retries: 3,
            version: DEFAULT_VERSION.to_string(),
        }
    }
}

/// Starts fake engines.
#[derive(Debug)]
pub struct FakeHatchet;

impl FakeHatchet {
    /// Binds 127.0.0.1 and serves the fake engine until [`FakeHandle::shutdown`].
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeHandle> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let rest_listener = TcpListener::bind(("127.0.0.1", config.rest_port)).await?;
        let rest_addr = rest_listener.local_addr()?;
        let shared = Arc::new(Shared {
            engine: Mutex::new(Engine::new(EngineSettings {
                tenant_id: config.tenant_id.clone(),
                stop_assigning_after: config.stop_assigning_after,
                inactivity_timeout: config.inactivity_timeout,
                max_internal_retries: config.max_internal_retries,
            })),
            version: config.version.clone(),
            listens: tokio::sync::watch::channel(0).0,
            step_events: tokio::sync::watch::channel(0).0,
            subscriptions: tokio::sync::watch::channel(0).0,
            changes: tokio::sync::watch::channel(0).0,
        });
        let dispatcher = DispatcherServer::new(DispatcherService(Arc::clone(&shared)))
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let workflows = WorkflowServiceServer::new(WorkflowsService(Arc::clone(&shared)))
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let admin = v1::admin_service_server::AdminServiceServer::new(AdminService(Arc::clone(&shared)))
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let events = EventsServiceServer::new(EventsService(Arc::clone(&shared)))
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(InterceptedService::new(dispatcher, check_auth))
            .add_service(InterceptedService::new(workflows, check_auth))
            .add_service(InterceptedService::new(admin, check_auth))
            .add_service(InterceptedService::new(events, check_auth))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stop_rx.await;
            });
        let server = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "fake Hatchet server failed");
            }
        });
        let shortest = config.inactivity_timeout.min(config.stop_assigning_after);
        let rest_app = rest::router(Arc::clone(&shared));
        let rest = tokio::spawn(async move {
            if let Err(error) = axum::serve(rest_listener, rest_app).await {
                tracing::error!(%error, "fake Hatchet REST server failed");
            }
        });
        let sweep_every = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let sweeper_shared = Arc::clone(&shared);
        let sweeper = tokio::spawn(async move {
            let mut interval = tokio::time::interval(sweep_every);
            loop {
                interval.tick().await;
                sweeper_shared.engine().sweep(Instant::now());
                sweeper_shared.touch();
            }
        });
        tracing::info!(%addr, %rest_addr, "fake Hatchet engine listening");
        Ok(FakeHandle {
            addr,
            rest_addr,
            tenant_id: config.tenant_id,
            shared,
            stop: Some(stop_tx),
            server: Some(server),
            rest,
            sweeper,
        })
    }
}

/// A running fake engine.
pub struct FakeHandle {
    addr: SocketAddr,
    rest_addr: SocketAddr,
    tenant_id: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    rest: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl std::fmt::Debug for FakeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeHandle {
    /// The address the engine listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the REST API (the token's `server_url`).
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The REST base URL, `http://127.0.0.1:<rest port>`.
    pub fn server_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    /// An unsigned token whose claims point at this engine: `grpc_broadcast_address` at the gRPC
    /// port, `server_url` at the REST port.
    pub fn token(&self) -> String {
        unsigned_token(&self.tenant_id, &self.server_url(), &self.addr.to_string())
    }

    /// A plaintext client configuration for this engine.
    pub fn client_config(&self) -> Result<HatchetConfig> {
        Ok(HatchetConfig::from_token(self.token())?.with_tls(TlsStrategy::None))
    }

    /// The state of a run (tests).
    pub fn run(&self, run_id: &str) -> Option<RunSnapshot> {
        self.shared.engine().snapshot(run_id)
    }

    /// Every run, in creation order (tests).
    pub fn runs(&self) -> Vec<RunSnapshot> {
        self.shared.engine().all_runs()
    }

    /// Every step event received so far, in arrival order (tests).
    pub fn step_events(&self) -> Vec<RecordedStepEvent> {
        self.shared.engine().events()
    }

    /// A declared workflow (tests).
    pub fn workflow(&self, name: &str) -> Option<WorkflowSpec> {
        self.shared.engine().workflow(name)
    }

    /// Every log line stored by `EventsService.PutLog`, in arrival order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.shared.engine().logs()
    }

    /// The log lines of one task run, in arrival order.
    pub fn task_logs(&self, task_run_external_id: &str) -> Vec<LogLine> {
        self.logs().into_iter().filter(|l| l.task_run_external_id == task_run_external_id).collect()
    }

    /// The `PutWorkflow`, `Register`, trigger and `Push` requests received so far, as sent.
    pub fn recorded_requests(&self) -> RecordedRequests {
        self.shared.engine().recorded()
    }

    /// Ids of the workers registered so far, in registration order.
    pub fn worker_ids(&self) -> Vec<String> {
        self.shared.engine().worker_ids()
    }

    /// Waits until `done` holds for this engine, re-checking after every call that may change its
    /// state and every sweep (tests: wait for a condition without sleeping). Wrap it in a timeout.
    pub async fn wait_until(&self, done: impl Fn(&FakeHandle) -> bool) {
        let mut changes = self.shared.changes.subscribe();
        loop {
            if done(self) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Whether `worker_id` has an open action stream now.
    pub fn is_listening(&self, worker_id: &str) -> bool {
        self.shared.engine().is_listening(worker_id)
    }

    /// Waits until `worker_id` has an open action stream (tests: avoids racing the worker start).
    pub async fn wait_until_listening(&self, worker_id: &str) {
        let mut changes = self.shared.listens.subscribe();
        loop {
            if self.shared.engine().is_listening(worker_id) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until at least `count` open subscription streams watch the unfinished run `run_id` (tests).
    pub async fn wait_for_watchers(&self, run_id: &str, count: usize) {
        let mut changes = self.shared.subscriptions.subscribe();
        loop {
            if self.shared.engine().watchers(run_id) >= count {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Ends every open action and subscription stream, as a network blip would (tests).
    /// Clients are expected to reconnect.
    pub fn drop_streams(&self) {
        self.shared.engine().close_streams();
    }

    /// Waits until the recorded step events satisfy `done` (tests).
    pub async fn wait_for_step_events(&self, done: impl Fn(&[RecordedStepEvent]) -> bool) {
        let mut changes = self.shared.step_events.subscribe();
        loop {
            if done(&self.step_events()) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Pushes a hand-made action onto a worker's stream (tests of malformed input);
    /// false if the worker is not listening.
    pub fn inject_action(&self, worker_id: &str, action: AssignedAction) -> bool {
        self.shared.engine().inject(worker_id, action)
    }

    /// Ends all streams and stops serving.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), server).await.is_err()
        {
            tracing::warn!("fake Hatchet server did not stop within 5s");
        }
    }

    fn stop_now(&mut self) {
        self.sweeper.abort();
        self.rest.abort();
        self.shared.engine().close_streams();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
