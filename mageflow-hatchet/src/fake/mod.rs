//! An in-process fake Hatchet engine speaking the real gRPC protocol (feature `fake`).
//!
//! It implements what mageflow needs end to end: `PutWorkflow`, worker registration, action
//! streams with round-robin assignment within slot limits, step events with retries,
//! cancellation, reassignment of runs from workers that stop heartbeating, attempt timeouts,
//! run-result subscriptions, triggering (with child dedupe) and run details. Calls must carry
//! a well-formed `Bearer` token; gzip requests are accepted.
//!
//! Limits: one task per workflow; concurrency settings and retry backoff are remembered but not
//! enforced (retries are re-queued at once); tokens are not verified, only parsed.
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
mod services;

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
pub use engine::{RecordedStepEvent, RunSnapshot, RunState, WorkflowSpec};

use crate::config::{HatchetConfig, TlsStrategy, unsigned_token};
use crate::error::Result;
use crate::proto::{
    AssignedAction, dispatcher_server::DispatcherServer, v1, workflow_service_server::WorkflowServiceServer,
};
use engine::{Engine, EngineSettings};
use services::{AdminService, DispatcherService, Shared, WorkflowsService};

/// Settings of a fake engine.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Tenant id put in minted tokens and responses.
    pub tenant_id: String,
    /// A worker whose last heartbeat is older than this is inactive and loses its runs.
    pub inactivity_timeout: Duration,
    /// How many times a run may be reassigned after its worker died before it fails.
    pub max_internal_retries: u32,
    /// The version `GetVersion` answers.
    pub version: String,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            port: 0,
            tenant_id: "707d0855-80ab-4e1f-a156-f1c4546cbf52".to_string(),
            inactivity_timeout: Duration::from_secs(15),
            max_internal_retries: 3,
            version: "v0.78.23".to_string(),
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
        let shared = Arc::new(Shared {
            engine: Mutex::new(Engine::new(EngineSettings {
                tenant_id: config.tenant_id.clone(),
                inactivity_timeout: config.inactivity_timeout,
                max_internal_retries: config.max_internal_retries,
            })),
            version: config.version.clone(),
            listens: tokio::sync::watch::channel(0).0,
            step_events: tokio::sync::watch::channel(0).0,
            subscriptions: tokio::sync::watch::channel(0).0,
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
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(InterceptedService::new(dispatcher, check_auth))
            .add_service(InterceptedService::new(workflows, check_auth))
            .add_service(InterceptedService::new(admin, check_auth))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stop_rx.await;
            });
        let server = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "fake Hatchet server failed");
            }
        });
        let sweep_every = (config.inactivity_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let sweeper_shared = Arc::clone(&shared);
        let sweeper = tokio::spawn(async move {
            let mut interval = tokio::time::interval(sweep_every);
            loop {
                interval.tick().await;
                sweeper_shared.engine().sweep(Instant::now());
            }
        });
        tracing::info!(%addr, "fake Hatchet engine listening");
        Ok(FakeHandle { addr, tenant_id: config.tenant_id, shared, stop: Some(stop_tx), server: Some(server), sweeper })
    }
}

/// A running fake engine.
pub struct FakeHandle {
    addr: SocketAddr,
    tenant_id: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
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

    /// An unsigned token whose claims point at this engine.
    pub fn token(&self) -> String {
        let host_port = self.addr.to_string();
        unsigned_token(&self.tenant_id, &format!("http://{host_port}"), &host_port)
    }

    /// A plaintext client configuration for this engine.
    pub fn client_config(&self) -> Result<HatchetConfig> {
        Ok(HatchetConfig::from_token(self.token())?.with_tls(TlsStrategy::None))
    }

    /// The state of a run (tests).
    pub fn run(&self, run_id: &str) -> Option<RunSnapshot> {
        self.shared.engine().snapshot(run_id)
    }

    /// Every step event received so far, in arrival order (tests).
    pub fn step_events(&self) -> Vec<RecordedStepEvent> {
        self.shared.engine().events()
    }

    /// A declared workflow (tests).
    pub fn workflow(&self, name: &str) -> Option<WorkflowSpec> {
        self.shared.engine().workflow(name)
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
