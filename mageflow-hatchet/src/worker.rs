//! A Hatchet worker: declares workflows, registers, listens for work, runs an [`ActionHandler`]
//! and reports each attempt's progress to the engine.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tonic::Code;
use tracing::Instrument as _;

pub use crate::action::StepAction;
use crate::action::{ActionKind, action_kind};
use crate::backoff::ExponentialBackoff;
use crate::connection::{Connection, now_timestamp};
use crate::error::{HatchetError, Result};
use crate::proto::{AssignedAction, StepActionEvent, StepActionEventType};
use crate::workflow::WorkflowDefinition;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Success, with the output as JSON text.
    Completed(String),
    /// Failure; the engine retries it unless `non_retryable` or the retries are used up.
    Failed {
        /// The error text the engine records.
        message: String,
        /// Ask the engine not to retry.
        non_retryable: bool,
    },
}

impl StepOutcome {
    /// A success whose output is `value` serialized as JSON.
    pub fn completed(value: &impl serde::Serialize) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => StepOutcome::Completed(text),
            Err(e) => StepOutcome::Failed {
                message: format!("the task output cannot be serialized as JSON: {e}"),
                non_retryable: true,
            },
        }
    }

    /// A retryable failure.
    pub fn failed(message: impl Into<String>) -> Self {
        StepOutcome::Failed { message: message.into(), non_retryable: false }
    }

    /// A failure the engine must not retry.
    pub fn non_retryable(message: impl Into<String>) -> Self {
        StepOutcome::Failed { message: message.into(), non_retryable: true }
    }
}

/// Runs the steps assigned to a [`Worker`].
#[async_trait]
pub trait ActionHandler: Send + Sync + 'static {
    /// Runs one assigned step; the future is dropped (aborted) if the engine cancels the step.
    async fn run(&self, action: StepAction) -> StepOutcome;
}

/// Settings of a [`Worker`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The worker name shown in the dashboard.
    pub name: String,
    /// How many steps run at once (the engine assigns at most this many).
    pub slots: u32,
    /// Interval between heartbeats (the engine expects 4 s).
    pub heartbeat_interval: Duration,
    /// How long a graceful shutdown waits for running steps before aborting them.
    pub shutdown_grace: Duration,
    /// First delay before reconnecting the action stream.
    pub reconnect_initial: Duration,
    /// Largest delay between reconnects.
    pub reconnect_max: Duration,
}

impl WorkerOptions {
    /// Defaults: 4 s heartbeats, 30 s shutdown grace, reconnects from 200 ms up to 10 s.
    pub fn new(name: impl Into<String>, slots: u32) -> Self {
        WorkerOptions {
            name: name.into(),
            slots,
            heartbeat_interval: Duration::from_secs(4),
            shutdown_grace: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
        }
    }
}

/// A worker ready to start.
pub struct Worker {
    connection: Connection,
    options: WorkerOptions,
    workflows: Vec<WorkflowDefinition>,
    handler: Arc<dyn ActionHandler>,
}

impl Worker {
    /// A worker running `handler` for `workflows`.
    pub fn new(
        connection: Connection,
        options: WorkerOptions,
        workflows: Vec<WorkflowDefinition>,
        handler: impl ActionHandler,
    ) -> Self {
        Worker { connection, options, workflows, handler: Arc::new(handler) }
    }

    /// Declares every workflow (`PutWorkflow`), registers the worker, and starts listening,
    /// heartbeating and running steps in the background.
    pub async fn start(self) -> Result<WorkerHandle> {
        if self.options.slots == 0 {
            return Err(HatchetError::InvalidInput {
                what: "worker slots",
                reason: "a worker needs at least one slot".into(),
            });
        }
        let config = self.connection.config().clone();
        let mut actions = Vec::with_capacity(self.workflows.len());
        for workflow in &self.workflows {
            self.connection.put_workflow(workflow).await?;
            actions.push(config.action_id(&workflow.name, &workflow.task()));
        }
        let registration = self.connection.register(&self.options.name, actions, self.options.slots).await?;
        let worker_id = registration.worker_id.clone();
        tracing::info!(worker_id = %worker_id, name = %self.options.name, "Hatchet worker registered");
        let (shutdown_tx, shutdown_rx) = watch::channel(None);
        let grace = self.options.shutdown_grace;
        let runtime = Arc::new(Runtime {
            connection: self.connection,
            worker_id: worker_id.clone(),
            namespace: config.namespace().to_string(),
            slots: Arc::new(Semaphore::new(self.options.slots as usize)),
            running: Mutex::new(HashMap::new()),
            handler: self.handler,
            options: self.options,
        });
        let join = tokio::spawn(supervise(runtime, shutdown_rx));
        Ok(WorkerHandle { worker_id, grace, shutdown: shutdown_tx, join })
    }
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    worker_id: String,
    grace: Duration,
    shutdown: watch::Sender<Option<Duration>>,
    join: JoinHandle<Result<()>>,
}

impl WorkerHandle {
    /// The id the engine gave this worker.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Stops taking work, lets running steps finish within the shutdown grace, then aborts the rest.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.shutdown.send(Some(self.grace));
        self.wait().await
    }

    /// Like [`shutdown`](Self::shutdown), with `grace` instead of the configured shutdown grace.
    pub async fn shutdown_within(self, grace: Duration) -> Result<()> {
        let _ = self.shutdown.send(Some(grace));
        self.wait().await
    }

    /// Waits until the worker stops (after [`shutdown`](Self::shutdown) or a fatal error).
    pub async fn wait(self) -> Result<()> {
        match self.join.await {
            Ok(result) => result,
            Err(_) => Err(HatchetError::Stopped("the worker task")),
        }
    }
}

type AttemptKey = (String, u32);

struct Runtime {
    connection: Connection,
    worker_id: String,
    namespace: String,
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<AttemptKey, AbortHandle>>,
    handler: Arc<dyn ActionHandler>,
    options: WorkerOptions,
}

impl Runtime {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<AttemptKey, AbortHandle>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn supervise(runtime: Arc<Runtime>, mut shutdown: watch::Receiver<Option<Duration>>) -> Result<()> {
    let heartbeat = tokio::spawn(heartbeat_loop(Arc::clone(&runtime)));
    let mut tasks = JoinSet::new();
    let result = listen_loop(&runtime, &mut tasks, &mut shutdown).await;
    let grace = shutdown.borrow().unwrap_or(runtime.options.shutdown_grace);
    let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(remaining = tasks.len(), ?grace, "shutdown grace elapsed; aborting running steps");
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    heartbeat.abort();
    tracing::info!(worker_id = %runtime.worker_id, "Hatchet worker stopped");
    result
}

async fn heartbeat_loop(runtime: Arc<Runtime>) {
    let mut interval = tokio::time::interval(runtime.options.heartbeat_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = runtime.connection.heartbeat(&runtime.worker_id).await {
            tracing::warn!(%error, "heartbeat failed");
        }
    }
}

async fn listen_loop(
    runtime: &Arc<Runtime>,
    tasks: &mut JoinSet<()>,
    shutdown: &mut watch::Receiver<Option<Duration>>,
) -> Result<()> {
    let mut backoff = ExponentialBackoff::new(runtime.options.reconnect_initial, runtime.options.reconnect_max);
    loop {
        if shutdown.borrow().is_some() {
            return Ok(());
        }
        let opened = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            opened = runtime.connection.listen(&runtime.worker_id) => opened,
        };
        match opened {
            Ok(mut stream) => {
                tracing::debug!("listening for actions");
                loop {
                    tokio::select! {
                        _ = shutdown.changed() => return Ok(()),
                        Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                        message = stream.message() => match message {
                            Ok(Some(action)) => {
                                backoff.reset();
                                handle_action(runtime, tasks, action);
                            }
                            Ok(None) => {
                                tracing::info!("action stream ended; reconnecting");
                                break;
                            }
                            Err(status) => {
                                if fatal(status.code()) {
                                    return Err(HatchetError::rpc("Dispatcher.ListenV2", status));
                                }
                                tracing::warn!(code = ?status.code(), message = status.message(),
                                    "action stream broke; reconnecting");
                                break;
                            }
                        },
                    }
                }
            }
            Err(error) => {
                if error.code().is_some_and(fatal) {
                    return Err(error);
                }
                tracing::warn!(%error, "cannot open the action stream; retrying");
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn fatal(code: Code) -> bool {
    matches!(code, Code::Unauthenticated | Code::PermissionDenied)
}

/// The W3C trace context in an assigned action's `additional_metadata`, if any.
fn trace_of(action: &AssignedAction) -> Option<mageflow_runtime::TraceContext> {
    let metadata = action.additional_metadata.as_deref().filter(|text| text.contains("traceparent"))?;
    match serde_json::from_str(metadata).ok()? {
        serde_json::Value::Object(metadata) => mageflow_runtime::TraceContext::read_from(&metadata),
        _ => None,
    }
}

fn handle_action(runtime: &Arc<Runtime>, tasks: &mut JoinSet<()>, action: AssignedAction) {
    let key = (action.task_run_external_id.clone(), u32::try_from(action.retry_count).unwrap_or(0));
    match action_kind(&action) {
        Ok(ActionKind::Cancel) => {
            if let Some(handle) = runtime.running().remove(&key) {
                tracing::info!(task_run = %key.0, attempt = key.1, "cancelling step");
                handle.abort();
            }
        }
        Ok(ActionKind::Start) => {
            if runtime.running().contains_key(&key) {
                tracing::debug!(task_run = %key.0, attempt = key.1, "duplicate assignment ignored");
                return;
            }
            let span = tracing::info_span!("hatchet_step",
                action = %action.action_id, run = %action.workflow_run_id,
                task_run = %action.task_run_external_id, attempt = action.retry_count,
                signature_id = tracing::field::Empty);
            // in the trace of the span that dispatched the run, like the run's own span (see `mageflow_runtime::trace`)
            if let Some(trace) = trace_of(&action) {
                trace.set_parent_of(&span);
            }
            let rt = Arc::clone(runtime);
            let task_key = key.clone();
            let abort = tasks.spawn(
                async move {
                    run_step(&rt, action).await;
                    rt.running().remove(&task_key);
                }
                .instrument(span),
            );
            runtime.running().insert(key, abort);
        }
        Err(error) => tracing::warn!(%error, "ignoring action"),
    }
}

async fn run_step(runtime: &Runtime, action: AssignedAction) {
    let step = match StepAction::from_assigned(&action, &runtime.namespace) {
        Ok(step) => step,
        Err(error) => {
            tracing::error!(%error, "cannot decode the assigned step; failing it without retry");
            let ids = crate::action::EventIds {
                job_id: action.job_id.clone(),
                job_run_id: action.job_run_id.clone(),
                task_id: action.task_id.clone(),
            };
            let event =
                event_for(runtime, &action, &ids, StepActionEventType::StepEventTypeFailed, error.to_string(), true);
            send_event(runtime, event).await;
            return;
        }
    };
    if let Some(id) = step.signature_id() {
        tracing::Span::current().record("signature_id", id);
    }
    let Ok(_permit) = Arc::clone(&runtime.slots).acquire_owned().await else {
        return;
    };
    let started =
        event_for(runtime, &action, &step.ids, StepActionEventType::StepEventTypeStarted, String::new(), false);
    send_event(runtime, started).await;
    let ids = step.ids.clone();
    let outcome = match AssertUnwindSafe(runtime.handler.run(step)).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            StepOutcome::failed(format!("the task handler panicked: {text}"))
        }
    };
    let event = match outcome {
        StepOutcome::Completed(output) => {
            tracing::info!("step completed");
            event_for(runtime, &action, &ids, StepActionEventType::StepEventTypeCompleted, output, false)
        }
        StepOutcome::Failed { message, non_retryable } => {
            tracing::warn!(error = %message, non_retryable, "step failed");
            event_for(runtime, &action, &ids, StepActionEventType::StepEventTypeFailed, message, non_retryable)
        }
    };
    send_event(runtime, event).await;
}

fn event_for(
    runtime: &Runtime,
    action: &AssignedAction,
    ids: &crate::action::EventIds,
    kind: StepActionEventType,
    payload: String,
    should_not_retry: bool,
) -> StepActionEvent {
    StepActionEvent {
        worker_id: runtime.worker_id.clone(),
        job_id: ids.job_id.clone(),
        job_run_id: ids.job_run_id.clone(),
        task_id: ids.task_id.clone(),
        task_run_external_id: action.task_run_external_id.clone(),
        action_id: action.action_id.clone(),
        event_timestamp: Some(now_timestamp()),
        event_type: kind as i32,
        event_payload: payload,
        retry_count: Some(action.retry_count),
        should_not_retry: should_not_retry.then_some(true),
        retry_after_ms: None,
    }
}

/// Sends a step event, retrying transient failures a few times.
async fn send_event(runtime: &Runtime, event: StepActionEvent) {
    let mut backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(2));
    for attempt in 1..=5 {
        match runtime.connection.send_step_action_event(event.clone()).await {
            Ok(()) => return,
            Err(error) if error.is_transient() && attempt < 5 => {
                tracing::warn!(%error, attempt, "sending a step event failed; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(error) => {
                tracing::error!(%error, event_type = event.event_type, "cannot report step event");
                return;
            }
        }
    }
}
