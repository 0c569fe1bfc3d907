//! Helpers shared by the integration tests: a fake engine, handlers built from closures,
//! and a timeout that turns a hang into a failure.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mageflow_hatchet::fake::{FakeConfig, FakeHandle, FakeHatchet};
use mageflow_hatchet::{
    ActionHandler, Connection, StepAction, StepOutcome, Worker, WorkerHandle, WorkerOptions, WorkflowDefinition,
};

/// Fails the test if `future` does not finish within 10 s.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(10), future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after 10s"),
    }
}

pub async fn fake() -> (FakeHandle, Connection) {
    fake_with(FakeConfig::default()).await
}

pub async fn fake_with(config: FakeConfig) -> (FakeHandle, Connection) {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
    let fake = FakeHatchet::start(config).await.expect("fake starts");
    let connection = Connection::connect(fake.client_config().expect("config")).await.expect("connects");
    (fake, connection)
}

/// An [`ActionHandler`] made from a closure.
pub struct FnHandler<F>(pub F);

#[async_trait::async_trait]
impl<F> ActionHandler for FnHandler<F>
where
    F: Fn(StepAction) -> BoxFuture<'static, StepOutcome> + Send + Sync + 'static,
{
    async fn run(&self, action: StepAction) -> StepOutcome {
        (self.0)(action).await
    }
}

pub fn handler<F, Fut>(
    f: F,
) -> FnHandler<impl Fn(StepAction) -> BoxFuture<'static, StepOutcome> + Send + Sync + 'static>
where
    F: Fn(StepAction) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StepOutcome> + Send + 'static,
{
    let f = Arc::new(f);
    FnHandler(move |action| {
        let f = Arc::clone(&f);
        Box::pin(async move { f(action).await }) as BoxFuture<'static, StepOutcome>
    })
}

pub fn options(name: &str, slots: u32) -> WorkerOptions {
    let mut options = WorkerOptions::new(name, slots);
    options.heartbeat_interval = Duration::from_millis(50);
    options.reconnect_initial = Duration::from_millis(20);
    options.reconnect_max = Duration::from_millis(200);
    options
}

/// Starts a worker and waits until the fake sees its action stream.
pub async fn start_worker(
    fake: &FakeHandle,
    connection: &Connection,
    options: WorkerOptions,
    workflows: Vec<WorkflowDefinition>,
    handler: impl ActionHandler,
) -> WorkerHandle {
    let worker =
        within(Worker::new(connection.clone(), options, workflows, handler).start()).await.expect("worker starts");
    within(fake.wait_until_listening(worker.worker_id())).await;
    worker
}

/// Sends `()` on drop: tells a test that a handler future was dropped (aborted).
pub struct DropSignal(pub Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}
