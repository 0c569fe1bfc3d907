//! [`HatchetBackend`]: mageflow's [`Backend`](mageflow_runtime::Backend) over Hatchet.
//!
//! - **Dispatch**: every run becomes one Hatchet run of the workflow named after its task (one task per
//!   workflow), triggered with `TriggerWorkflow` (`BulkTriggerWorkflow` for several runs at once). The run's input
//!   is the task input; its additional metadata carries the signature id and the dispatch token, built fresh for
//!   every run (a run triggered from inside a handler never inherits its parent's metadata).
//! - **Worker**: [`Runner::start`] declares a workflow per registered task (retries, timeout, backoff and input
//!   schema from the task) and registers a Hatchet worker for them. Each assigned step is rebuilt into a [`Run`]
//!   and executed by mageflow's [`Worker`](mageflow_runtime::backend::Worker); the outcome goes back to Hatchet (a retryable failure is retried by
//!   Hatchet, whose retries are the task's retries).
//! - **Interrupts** cancel the run through `CancelTasks`, naming the task run id recorded when the run began, so
//!   any process can interrupt any run; the worker running it aborts the handler.
//! - **Safety net**: the backend subscribes (`SubscribeToWorkflowRuns`) to the runs it triggered. When Hatchet
//!   reports one finished as failed or cancelled while its signature still waits for that very run (its worker
//!   died and Hatchet gave up, or someone cancelled it in the dashboard), the failure is recorded with
//!   [`Worker::abandon`](mageflow_runtime::backend::Worker::abandon), so error callbacks and parents move on. Runs are forgotten once finished.
//!
//! Only runs dispatched by mageflow can run on a mageflow worker: a run triggered without mageflow's metadata (from
//! the dashboard or another SDK) fails at once without retries, since it has no signature to execute.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use mageflow_runtime::backend::{
    AttemptOutcome, BackendError, Delivery, Dispatcher, Interrupt, Run, Runner, SkipReason, Worker as MageflowWorker,
};
use mageflow_runtime::{ErrorKind, SignatureId, TaskOptions};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::Code;

use crate::config::HatchetConfig;
use crate::connection::Connection;
use crate::error::{HatchetError, Result};
use crate::metadata;
use crate::proto::v1;
use crate::subscribe::{RunSubscriber, TaskOutcome};
use crate::worker::{ActionHandler, StepAction, StepOutcome, WorkerHandle, WorkerOptions};
use crate::workflow::{Backoff, TriggerRequest, WorkflowDefinition};

/// Settings of a [`HatchetBackend`]: start from [`HatchetBackendOptions::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HatchetBackendOptions {
    /// The worker name shown in the Hatchet dashboard.
    pub worker_name: String,
    /// How many steps this worker runs at once (its Hatchet slots); `None` takes the client's
    /// `MageflowBuilder::concurrency` (16 by default).
    pub slots: Option<u32>,
    /// Interval between heartbeats (Hatchet expects one every 4 s, assigns nothing more to a worker silent for 5 s
    /// and moves its runs after 30 s).
    pub heartbeat_interval: Duration,
    /// First delay before reconnecting the action stream.
    pub reconnect_initial: Duration,
    /// Largest delay between reconnects.
    pub reconnect_max: Duration,
    /// Added to a task's timeout for the timeout declared to Hatchet, so that mageflow's own timeout (which records
    /// the failure with [`ErrorKind::Timeout`]) fires first and Hatchet's only catches a stuck worker.
    pub timeout_margin: Duration,
    /// The timeout declared to Hatchet for tasks without one (Hatchet's own default is 60 s).
    pub untimed_timeout: Duration,
    /// Whether [`Runner::start`] registers a Hatchet worker for the registered tasks. Without, the client only
    /// dispatches (its tasks' workflows are still declared, so that runs can be triggered before a worker is up).
    pub run_worker: bool,
    /// Whether the backend subscribes to the runs it triggers, to record the failure of runs that Hatchet ends
    /// without an outcome reaching mageflow.
    pub watch_runs: bool,
    /// The most runs sent in one `BulkTriggerWorkflow` call.
    pub bulk_size: usize,
}

impl HatchetBackendOptions {
    /// Defaults: the client's concurrency as slots, 4 s heartbeats, reconnects from 200 ms up to 10 s, a 5 s
    /// timeout margin, 24 h for tasks without a timeout, a worker, watched runs, bulk triggers of up to 500 runs.
    pub fn new(worker_name: impl Into<String>) -> Self {
        HatchetBackendOptions {
            worker_name: worker_name.into(),
            slots: None,
            heartbeat_interval: Duration::from_secs(4),
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            timeout_margin: Duration::from_secs(5),
            untimed_timeout: Duration::from_secs(24 * 3600),
            run_worker: true,
            watch_runs: true,
            bulk_size: 500,
        }
    }

    /// Sets how many steps run at once, whatever the client's concurrency.
    pub fn slots(mut self, slots: u32) -> Self {
        self.slots = Some(slots);
        self
    }

    /// Sets the heartbeat interval.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets the first and the largest delay between reconnects of the action stream.
    pub fn reconnect(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_initial = initial;
        self.reconnect_max = max;
        self
    }

    /// Sets the margin added to task timeouts, and the timeout of tasks without one.
    pub fn timeouts(mut self, margin: Duration, untimed: Duration) -> Self {
        self.timeout_margin = margin;
        self.untimed_timeout = untimed;
        self
    }

    /// Only dispatches: no Hatchet worker is registered.
    pub fn dispatch_only(mut self) -> Self {
        self.run_worker = false;
        self
    }

    /// Turns the subscription to triggered runs on or off.
    pub fn watch_runs(mut self, watch: bool) -> Self {
        self.watch_runs = watch;
        self
    }

    /// The Hatchet workflow a task is declared as.
    pub fn workflow_definition(&self, task: &str, options: &TaskOptions, schema: Option<&Value>) -> WorkflowDefinition {
        let timeout = match options.timeout {
            Some(timeout) => timeout.saturating_add(self.timeout_margin),
            None => self.untimed_timeout,
        };
        let mut definition = WorkflowDefinition::new(task).retries(options.retries).timeout(timeout);
        definition.backoff = Some(Backoff {
            factor: options.backoff.factor.max(1.0) as f32,
            max_seconds: u32::try_from(options.backoff.max.as_secs_f64().ceil() as u64).unwrap_or(u32::MAX).max(1),
        });
        definition.input_json_schema = schema.map(Value::to_string);
        definition.description = format!("mageflow task `{task}`");
        definition
    }
}

impl Default for HatchetBackendOptions {
    /// [`HatchetBackendOptions::new`] with the worker name `mageflow`.
    fn default() -> Self {
        HatchetBackendOptions::new("mageflow")
    }
}

/// mageflow's [`Backend`](mageflow_runtime::Backend) over Hatchet: see the [module documentation](self). Cheap to clone; clones share the
/// connection and the worker.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mageflow_hatchet::{HatchetBackend, HatchetBackendOptions, HatchetConfig};
/// let backend = HatchetBackend::connect(HatchetConfig::from_env()?, HatchetBackendOptions::new("billing")).await?;
/// let client = mageflow_runtime::Mageflow::builder().backend(backend).build().await?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Clone)]
pub struct HatchetBackend {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    options: HatchetBackendOptions,
    started: OnceLock<()>,
    worker: Mutex<Option<WorkerHandle>>,
    worker_id: OnceLock<String>,
    slots: OnceLock<u32>,
    watched: Mutex<Option<mpsc::UnboundedSender<Watched>>>,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

/// A triggered run the backend waits for.
struct Watched {
    run_id: String,
    run: Run,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HatchetBackend {
    /// A backend on an existing connection.
    pub fn new(connection: Connection, options: HatchetBackendOptions) -> Self {
        HatchetBackend {
            inner: Arc::new(Inner {
                connection,
                options,
                started: OnceLock::new(),
                worker: Mutex::new(None),
                worker_id: OnceLock::new(),
                slots: OnceLock::new(),
                watched: Mutex::new(None),
                watcher: Mutex::new(None),
            }),
        }
    }

    /// Connects to the engine now (failing if it cannot be reached) and makes a backend.
    pub async fn connect(config: HatchetConfig, options: HatchetBackendOptions) -> Result<Self> {
        Ok(HatchetBackend::new(Connection::connect(config).await?, options))
    }

    /// A backend configured from the environment (`HATCHET_CLIENT_TOKEN`, `HATCHET_CLIENT_TLS_STRATEGY`,
    /// `HATCHET_CLIENT_HOST_PORT`, `HATCHET_CLIENT_NAMESPACE`); it connects on first use.
    pub fn from_env(options: HatchetBackendOptions) -> Result<Self> {
        Ok(HatchetBackend::new(Connection::connect_lazy(HatchetConfig::from_env()?)?, options))
    }

    /// The connection to Hatchet.
    pub fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    /// The settings.
    pub fn options(&self) -> &HatchetBackendOptions {
        &self.inner.options
    }

    /// The id Hatchet gave this backend's worker, once it is registered.
    pub fn worker_id(&self) -> Option<&str> {
        self.inner.worker_id.get().map(String::as_str)
    }

    /// How many steps this backend's worker runs at once, once it is registered.
    pub fn slots(&self) -> Option<u32> {
        self.inner.slots.get().copied()
    }

    fn trigger_request(run: &Run) -> TriggerRequest {
        TriggerRequest::new(run.task.clone(), run.input.clone())
            .signature_id(run.signature_id.as_str())
            .dispatch_token(run.token)
    }

    fn watch(&self, runs: &[Run], run_ids: Vec<String>) {
        let watched = lock(&self.inner.watched);
        let Some(sender) = watched.as_ref() else { return };
        for (run, run_id) in runs.iter().zip(run_ids) {
            let _ = sender.send(Watched { run_id, run: run.clone() });
        }
    }
}

impl std::fmt::Debug for HatchetBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HatchetBackend")
            .field("config", self.inner.connection.config())
            .field("options", &self.inner.options)
            .field("worker_id", &self.worker_id())
            .finish()
    }
}

/// Whether a failed call certainly did not reach the engine, so that sending it again cannot start a run twice.
fn unreached(error: &HatchetError) -> bool {
    error.code() == Some(Code::Unavailable) || matches!(error, HatchetError::Connect { .. })
}

/// Runs `call` again (up to three times in all) while the engine is unreachable.
async fn retry_unreached<T, F, Fut>(what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(100);
    let mut tries = 1;
    loop {
        match call().await {
            Err(error) if unreached(&error) && tries < 3 => {
                tracing::warn!(%error, tries, "{what} did not reach Hatchet; sending it again in {delay:?}");
                tokio::time::sleep(delay).await;
                delay *= 4;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[async_trait]
impl Dispatcher for HatchetBackend {
    async fn dispatch(&self, runs: Vec<Run>) -> std::result::Result<(), BackendError> {
        let connection = &self.inner.connection;
        for chunk in runs.chunks(self.inner.options.bulk_size.max(1)) {
            let requests: Vec<TriggerRequest> = chunk.iter().map(Self::trigger_request).collect();
            let triggered = match requests.as_slice() {
                [single] => {
                    retry_unreached("TriggerWorkflow", || connection.trigger_workflow(single)).await.map(|id| vec![id])
                }
                many => retry_unreached("BulkTriggerWorkflow", || connection.bulk_trigger_workflow(many)).await,
            };
            let run_ids = triggered.map_err(|error| BackendError::dispatch(error.to_string()).caused_by(error))?;
            tracing::debug!(runs = chunk.len(), "triggered Hatchet runs");
            self.watch(chunk, run_ids);
        }
        Ok(())
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> std::result::Result<(), BackendError> {
        let mut refs = Vec::with_capacity(runs.len());
        for run in runs {
            match &run.run_ref {
                Some(run_ref) => refs.push(run_ref.clone()),
                None => tracing::debug!(
                    signature = %run.signature_id,
                    "no Hatchet run to cancel (the run has not begun; it is skipped when it starts)"
                ),
            }
        }
        if refs.is_empty() {
            return Ok(());
        }
        let connection = &self.inner.connection;
        let cancelled = retry_unreached("CancelTasks", || connection.cancel_tasks(refs.clone()))
            .await
            .map_err(|error| BackendError::other(error.to_string()).caused_by(error))?;
        tracing::info!(asked = refs.len(), cancelled = cancelled.len(), "cancelled Hatchet runs");
        Ok(())
    }
}

#[async_trait]
impl Runner for HatchetBackend {
    async fn start(&self, worker: MageflowWorker) -> std::result::Result<(), BackendError> {
        if self.inner.started.set(()).is_err() {
            return Err(BackendError::other("the Hatchet backend was already started"));
        }
        let options = &self.inner.options;
        if options.watch_runs {
            let (sender, receiver) = mpsc::unbounded_channel();
            let watcher = tokio::spawn(watch_runs(
                self.inner.connection.clone(),
                self.inner.connection.run_results(),
                worker.clone(),
                receiver,
            ));
            *lock(&self.inner.watched) = Some(sender);
            *lock(&self.inner.watcher) = Some(watcher);
        }
        let mut names = worker.task_names();
        names.sort();
        let mut tasks = HashMap::new();
        let mut workflows = Vec::with_capacity(names.len());
        for name in names {
            if let Some(other) = tasks.insert(name.to_lowercase(), name.clone()) {
                return Err(BackendError::other(format!(
                    "the tasks `{other}` and `{name}` differ only in case, but Hatchet workflow names are lower \
                     case: rename one of them"
                )));
            }
            let task_options = worker.task_options(&name).unwrap_or_default();
            let schema = worker.task_schema(&name);
            workflows.push(options.workflow_definition(&name, &task_options, schema.as_ref()));
        }
        if workflows.is_empty() {
            tracing::info!("no tasks are registered: this client only dispatches to Hatchet");
            return Ok(());
        }
        let connection = &self.inner.connection;
        if !options.run_worker {
            for workflow in &workflows {
                connection
                    .put_workflow(workflow)
                    .await
                    .map_err(|error| BackendError::other(error.to_string()).caused_by(error))?;
            }
            tracing::info!(workflows = workflows.len(), "declared the Hatchet workflows; no worker runs here");
            return Ok(());
        }
        let slots = match options.slots {
            Some(slots) => slots,
            None => u32::try_from(worker.concurrency()).unwrap_or(u32::MAX),
        };
        let mut worker_options = WorkerOptions::new(options.worker_name.clone(), slots);
        worker_options.heartbeat_interval = options.heartbeat_interval;
        worker_options.reconnect_initial = options.reconnect_initial;
        worker_options.reconnect_max = options.reconnect_max;
        let runner = StepRunner { worker, tasks };
        let handle =
            crate::worker::Worker::new(connection.clone(), worker_options, workflows, runner).start().await.map_err(
                |error| BackendError::other(format!("cannot start the Hatchet worker: {error}")).caused_by(error),
            )?;
        let _ = self.inner.worker_id.set(handle.worker_id().to_owned());
        let _ = self.inner.slots.set(slots);
        *lock(&self.inner.worker) = Some(handle);
        Ok(())
    }

    async fn shutdown(&self, deadline: Duration) -> std::result::Result<(), BackendError> {
        let handle = lock(&self.inner.worker).take();
        let stopped = match handle {
            Some(handle) => handle.shutdown_within(deadline).await,
            None => Ok(()),
        };
        lock(&self.inner.watched).take();
        if let Some(watcher) = lock(&self.inner.watcher).take() {
            watcher.abort();
        }
        stopped.map_err(|error| {
            BackendError::other(format!("the Hatchet worker stopped with an error: {error}")).caused_by(error)
        })
    }
}

/// Waits for the runs the backend triggered; records the failure of those Hatchet ends without an outcome.
async fn watch_runs(
    connection: Connection,
    subscriber: RunSubscriber,
    worker: MageflowWorker,
    mut receiver: mpsc::UnboundedReceiver<Watched>,
) {
    let mut pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Some(watched) => pending.push(watch_run(&connection, &subscriber, &worker, watched)),
                None => break,
            },
            Some(()) = pending.next(), if !pending.is_empty() => {}
        }
    }
}

async fn watch_run(connection: &Connection, subscriber: &RunSubscriber, worker: &MageflowWorker, watched: Watched) {
    let Watched { run_id, run } = watched;
    let result = match subscriber.wait(&run_id).await {
        Ok(result) => result,
        Err(error) => {
            tracing::warn!(%run_id, signature = %run.signature_id, %error, "stopped watching a Hatchet run");
            return;
        }
    };
    match result.outcome() {
        Ok(TaskOutcome::Completed(_)) => {}
        Ok(TaskOutcome::Failed(error)) => settle_failed_run(connection, worker, &run_id, &run, error).await,
        Err(error) => tracing::warn!(%run_id, %error, "a finished Hatchet run reported no outcome"),
    }
}

/// Hatchet finished a run as failed or cancelled: record the failure unless mageflow already has an outcome for
/// the run (or moved on to a newer run of the signature, or stopped it).
async fn settle_failed_run(connection: &Connection, worker: &MageflowWorker, run_id: &str, run: &Run, error: &str) {
    let attempt = match worker.current_attempt(run).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return,
        Err(store_error) => {
            tracing::warn!(%run_id, signature = %run.signature_id, %store_error,
                "cannot tell whether a failed Hatchet run was recorded");
            return;
        }
    };
    let cancelled = match connection.get_run_details(run_id).await {
        Ok(details) => details.status == v1::RunStatus::Cancelled as i32,
        Err(details_error) => {
            tracing::debug!(%run_id, %details_error, "cannot read the run's status; taking it as failed");
            false
        }
    };
    let (kind, message) = if cancelled {
        (ErrorKind::Canceled, format!("Hatchet cancelled run {run_id} before its outcome reached mageflow: {error}"))
    } else {
        (ErrorKind::Error, format!("Hatchet ended run {run_id} without its outcome reaching mageflow: {error}"))
    };
    tracing::warn!(%run_id, signature = %run.signature_id, task = %run.task, %message, "recording the run as failed");
    if let Err(store_error) = worker.abandon(run, kind, &message, attempt.max(1)).await {
        tracing::error!(%run_id, signature = %run.signature_id, %store_error, "cannot record the failed run");
    }
}

/// Runs the steps Hatchet assigns with mageflow's worker.
struct StepRunner {
    worker: MageflowWorker,
    /// Task names by lower-case workflow name.
    tasks: HashMap<String, String>,
}

#[async_trait]
impl ActionHandler for StepRunner {
    async fn run(&self, action: StepAction) -> StepOutcome {
        let run = match run_of(&action, &self.tasks) {
            Ok(run) => run,
            Err(message) => {
                tracing::warn!(run = %action.workflow_run_id, %message, "refusing a Hatchet run");
                return StepOutcome::non_retryable(message);
            }
        };
        let delivery = Delivery {
            attempt: action.retry_count.saturating_add(1),
            metadata: action.additional_metadata,
            run_ref: Some(action.task_run_external_id),
        };
        step_outcome(self.worker.execute(&run, delivery).await)
    }
}

/// Rebuilds the run mageflow dispatched from an assigned step; the error says why it cannot be.
fn run_of(action: &StepAction, tasks: &HashMap<String, String>) -> std::result::Result<Run, String> {
    let Some(id) = action.signature_id() else {
        return Err(format!(
            "run {} of `{}` was not dispatched by mageflow (its metadata has no `{}`): only runs started through \
             mageflow can run on a mageflow worker; start the task with a mageflow client",
            action.workflow_run_id,
            action.workflow_name,
            metadata::SIGNATURE_ID_KEY
        ));
    };
    let signature_id =
        SignatureId::parse(id).ok_or_else(|| format!("the run metadata names `{id}`, which is not a signature id"))?;
    let token = metadata::dispatch_token(&action.additional_metadata)
        .ok_or_else(|| format!("the run metadata of {signature_id} has no valid `{}`", metadata::DISPATCH_TOKEN_KEY))?;
    let task = tasks.get(&action.workflow_name).cloned().unwrap_or_else(|| action.workflow_name.clone());
    Ok(Run { signature_id, token, task, input: action.input.clone() })
}

/// What Hatchet is told about an attempt.
fn step_outcome(outcome: AttemptOutcome) -> StepOutcome {
    match outcome {
        AttemptOutcome::Succeeded(output) => StepOutcome::completed(&output),
        // mageflow has retries left: Hatchet, configured with the task's retries, runs the next attempt
        AttemptOutcome::Failed { message, retry_in: Some(_) } => StepOutcome::failed(message),
        // the failure is final and already recorded
        AttemptOutcome::Failed { message, retry_in: None } => StepOutcome::non_retryable(message),
        // the handler handed over to a flow of its own: this run is done, the signature finishes with that flow
        AttemptOutcome::Continued => StepOutcome::completed(&json!({ "mageflow_continued": true })),
        // nothing to do: the run is stale, stopped (it runs again on resume), finished, or running elsewhere
        AttemptOutcome::Skipped(reason) => StepOutcome::completed(&json!({ "mageflow_skipped": skip_name(&reason) })),
        // the store could not record the outcome: let Hatchet deliver the run again
        AttemptOutcome::Unrecorded(error) => {
            StepOutcome::failed(format!("mageflow could not record the outcome ({error}); the run is retried"))
        }
    }
}

fn skip_name(reason: &SkipReason) -> &'static str {
    match reason {
        SkipReason::Missing => "missing",
        SkipReason::Stale => "stale",
        SkipReason::Stopped => "stopped",
        SkipReason::Finished => "finished",
        SkipReason::Busy => "busy",
        SkipReason::Continued => "continued",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::EventIds;
    use mageflow_runtime::Backoff as TaskBackoff;
    use serde_json::Map;

    fn action(metadata: Map<String, Value>) -> StepAction {
        StepAction {
            workflow_name: "send-email".into(),
            task_name: "send-email".into(),
            action_id: "send-email:send-email".into(),
            workflow_run_id: "run-1".into(),
            task_run_external_id: "task-run-1".into(),
            retry_count: 2,
            input: json!({"to": "ada"}),
            parents: Map::new(),
            additional_metadata: metadata,
            parent_workflow_run_id: None,
            ids: EventIds::default(),
        }
    }

    fn mageflow_metadata(id: &str, token: u64) -> Map<String, Value> {
        let mut metadata = Map::new();
        metadata::set_signature_id(&mut metadata, id);
        metadata::set_dispatch_token(&mut metadata, token);
        metadata
    }

    #[test]
    fn a_run_is_rebuilt_from_the_metadata() {
        let tasks = HashMap::from([("send-email".to_owned(), "Send-Email".to_owned())]);
        let run = run_of(&action(mageflow_metadata("sig1", 3)), &tasks).unwrap();
        assert_eq!(run.signature_id.as_str(), "sig1");
        assert_eq!((run.token, run.task.as_str()), (3, "Send-Email"));
        assert_eq!(run.input, json!({"to": "ada"}));
        let run = run_of(&action(mageflow_metadata("sig1", 3)), &HashMap::new()).unwrap();
        assert_eq!(run.task, "send-email", "unknown workflows keep their name");
    }

    #[test]
    fn runs_without_mageflow_metadata_are_refused() {
        let error = run_of(&action(Map::new()), &HashMap::new()).unwrap_err();
        assert!(error.contains("not dispatched by mageflow"), "{error}");
        let mut no_token = Map::new();
        metadata::set_signature_id(&mut no_token, "sig1");
        let error = run_of(&action(no_token), &HashMap::new()).unwrap_err();
        assert!(error.contains(metadata::DISPATCH_TOKEN_KEY), "{error}");
        let error = run_of(&action(mageflow_metadata("not an id!", 1)), &HashMap::new()).unwrap_err();
        assert!(error.contains("not a signature id"), "{error}");
    }

    #[test]
    fn attempt_outcomes_map_to_step_outcomes() {
        assert_eq!(
            step_outcome(AttemptOutcome::Succeeded(json!({"a": 1}))),
            StepOutcome::Completed(r#"{"a":1}"#.into())
        );
        assert_eq!(
            step_outcome(AttemptOutcome::Failed { message: "boom".into(), retry_in: Some(Duration::from_secs(1)) }),
            StepOutcome::failed("boom")
        );
        assert_eq!(
            step_outcome(AttemptOutcome::Failed { message: "boom".into(), retry_in: None }),
            StepOutcome::non_retryable("boom")
        );
        assert_eq!(
            step_outcome(AttemptOutcome::Continued),
            StepOutcome::Completed(r#"{"mageflow_continued":true}"#.into())
        );
        assert_eq!(
            step_outcome(AttemptOutcome::Skipped(SkipReason::Stale)),
            StepOutcome::Completed(r#"{"mageflow_skipped":"stale"}"#.into())
        );
        let StepOutcome::Failed { message, non_retryable: false } =
            step_outcome(AttemptOutcome::Unrecorded("redis down".into()))
        else {
            panic!("an unrecorded outcome is a retryable failure")
        };
        assert!(message.contains("redis down"), "{message}");
    }

    #[test]
    fn workflows_carry_the_task_options() {
        let options = HatchetBackendOptions::default();
        let task = TaskOptions {
            retries: 3,
            timeout: Some(Duration::from_millis(1500)),
            backoff: TaskBackoff {
                initial: Duration::from_millis(100),
                factor: 3.0,
                max: Duration::from_millis(10_500),
            },
        };
        let schema = json!({"type": "object"});
        let definition = options.workflow_definition("charge", &task, Some(&schema));
        assert_eq!((definition.name.as_str(), definition.retries), ("charge", 3));
        assert_eq!(definition.timeout, Some(Duration::from_millis(6500)), "the task's timeout plus the margin");
        assert_eq!(definition.backoff, Some(Backoff { factor: 3.0, max_seconds: 11 }));
        assert_eq!(definition.input_json_schema.as_deref(), Some(r#"{"type":"object"}"#));
        let untimed = options.workflow_definition("wait", &TaskOptions::default(), None);
        assert_eq!(untimed.timeout, Some(Duration::from_secs(24 * 3600)));
        assert_eq!((untimed.retries, untimed.input_json_schema), (0, None));
    }

    #[test]
    fn trigger_requests_carry_fresh_metadata() {
        let run = Run {
            signature_id: SignatureId::parse("sig9").unwrap(),
            token: 4,
            task: "charge".into(),
            input: json!({"amount": 3}),
        };
        let request = HatchetBackend::trigger_request(&run);
        assert_eq!(request.workflow, "charge");
        assert_eq!(request.input, json!({"amount": 3}));
        assert_eq!(
            Value::Object(request.metadata),
            json!({"mageflow_signature_id": "sig9", "mageflow_dispatch_token": "4"})
        );
    }
}
