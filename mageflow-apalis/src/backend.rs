//! [`ApalisBackend`]: mageflow's [`Backend`](mageflow_runtime::Backend) on apalis with `apalis-redis`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::WorkerBuilderExt as _;
use apalis::prelude::{BoxDynError, Data, TaskBuilder, TaskId, WorkerBuilder, WorkerContext};
use apalis_core::backend::Vacuum as _;
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy, PollWith};
use apalis_redis::{ConnectionManager, RedisStorage, RedisTask};
use async_trait::async_trait;
use futures::StreamExt as _;
use mageflow_runtime::backend::{
    AttemptOutcome, BackendError, Delivery, Dispatcher, Interrupt, Run, Runner as RunningSide, SkipReason,
    Worker as MageflowWorker,
};
use redis::aio::MultiplexedConnection;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use crate::error::{ApalisError, Result};
use crate::options::ApalisBackendOptions;

/// mageflow's [`Backend`](mageflow_runtime::Backend) on apalis: each run is one apalis job on an `apalis-redis` queue, and apalis workers
/// (in this process and any other on the same queue) execute them with mageflow's worker. Cheap to clone.
///
/// Who owns what:
/// - **Dispatch**: [`Dispatcher::dispatch`] pushes all the runs it is given (a swarm's fill, say) in one call of
///   apalis-redis' batch push script, then wakes the workers through apalis-redis' pub/sub channel (apalis-redis
///   1.0's push script schedules every job for now and publishes nothing itself).
/// - **Concurrency**: apalis' concurrency limit (a tower layer on the apalis worker), sized by
///   [`ApalisBackendOptions::concurrency`] or the client's `MageflowBuilder::concurrency`; a worker only fetches a
///   job when a slot is free.
/// - **Retries and backoff**: mageflow's. A failed attempt with retries left waits for the task's backoff and runs
///   again as the next attempt inside the same apalis job (apalis-redis reschedules failed jobs by whole seconds
///   with a fixed backoff, which cannot honour a task's backoff). An apalis job fails only when mageflow could not
///   record an outcome (its store was unreachable): apalis then delivers it again.
/// - **Outcomes**: recorded exactly once by mageflow's engine, whatever apalis redelivers: a duplicate delivery of a
///   running run is busy and dropped, a delivery of a replaced run is stale and dropped.
/// - **Interrupts**: [`Dispatcher::interrupt`] publishes the runs' apalis job ids on the queue's interrupt channel;
///   the worker running one (in any process) aborts its handler. A worker that misses the message notices at its
///   next lease renewal that the run was interrupted and aborts it then.
/// - **Shutdown**: [`Runner::shutdown`](mageflow_runtime::Runner::shutdown) stops the apalis worker (no new jobs; jobs fetched but not started go back
///   to the queue), lets running jobs finish until the deadline, then aborts them, ends their runs' leases and
///   fails their apalis jobs, so that apalis delivers them again and the next delivery runs at once (not skipped
///   as busy while the aborted execution's lease would still hold).
/// - **A dead process**: mageflow's run leases and recovery sweep dispatch its runs again as new jobs (the next
///   attempt, with a new dispatch token), so keep the sweep on in at least one process. apalis' orphan recovery
///   also puts the dead worker's own jobs back in the queue: each is skipped as busy while its run's lease holds,
///   runs again if the lease expired and no sweep replaced the run yet, and is stale and skipped once one has.
#[derive(Clone)]
pub struct ApalisBackend {
    inner: Arc<Inner>,
}

struct Inner {
    options: ApalisBackendOptions,
    client: redis::Client,
    /// Pushes jobs and publishes interrupts; reconnects by itself. Made on first use by a lazy backend.
    conn: tokio::sync::OnceCell<ConnectionManager>,
    /// The URL without its password, for messages.
    url: String,
    /// The concurrency of the started worker.
    concurrency: OnceLock<usize>,
    config: apalis_redis::Config,
    shared: Arc<Shared>,
    started: OnceLock<()>,
    stop: watch::Sender<bool>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

/// What the backend shares with its apalis worker, which must not keep the backend alive.
#[derive(Default)]
struct Shared {
    /// Runs executing in this process: their handler's abort handle by apalis job id.
    running: Mutex<HashMap<String, AbortHandle>>,
    /// Set when shutdown aborts the runs still going: their jobs are failed, so that apalis delivers them again.
    aborting: AtomicBool,
}

impl Drop for Inner {
    /// The last handle on the backend is gone (its client was dropped): stop the worker and the subscriber.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(subscriber) = lock(&self.subscriber).take() {
            subscriber.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The URL with `protocol=resp3`: apalis-redis wakes its workers through pub/sub pushes, which need RESP3.
fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

static WORKERS: AtomicU64 = AtomicU64::new(0);

impl ApalisBackend {
    /// Connects to the Redis at `url` (the one holding mageflow's state or another; `?protocol=resp3` is added if
    /// the URL names no protocol) and makes a backend on [`ApalisBackendOptions::queue`].
    pub async fn connect(url: &str, options: ApalisBackendOptions) -> Result<Self> {
        let backend = ApalisBackend::connect_lazy(url, options)?;
        backend.connection().await.map_err(|source| ApalisError::Connect { url: backend.inner.url.clone(), source })?;
        Ok(backend)
    }

    /// Like [`connect`](Self::connect), but connects on first use: only the URL and the options are checked now.
    pub fn connect_lazy(url: &str, options: ApalisBackendOptions) -> Result<Self> {
        options.validate()?;
        let full = with_resp3(url);
        let client =
            redis::Client::open(full.as_str()).map_err(|source| ApalisError::Url { url: redacted(url), source })?;
        let (stop, _) = watch::channel(false);
        Ok(ApalisBackend {
            inner: Arc::new(Inner {
                config: options.apalis_config(),
                options,
                client,
                conn: tokio::sync::OnceCell::new(),
                url: redacted(url),
                concurrency: OnceLock::new(),
                shared: Arc::default(),
                started: OnceLock::new(),
                stop,
                supervisor: Mutex::new(None),
                subscriber: Mutex::new(None),
            }),
        })
    }

    /// The settings.
    pub fn options(&self) -> &ApalisBackendOptions {
        &self.inner.options
    }

    /// The apalis-redis configuration of the queue.
    pub fn apalis_config(&self) -> &apalis_redis::Config {
        &self.inner.config
    }

    /// The connection that pushes jobs and publishes interrupts, made on first use.
    async fn connection(&self) -> std::result::Result<ConnectionManager, redis::RedisError> {
        let client = &self.inner.client;
        self.inner.conn.get_or_try_init(|| client.get_connection_manager()).await.cloned()
    }

    /// An apalis-redis storage on the queue, to inspect it or push jobs with apalis' own API.
    pub async fn storage(&self) -> Result<RedisStorage<Run>> {
        let conn =
            self.connection().await.map_err(|source| ApalisError::Connect { url: self.inner.url.clone(), source })?;
        Ok(RedisStorage::new(conn).with_config(self.inner.config.clone()))
    }

    /// How many runs the worker started by [`Runner::start`](mageflow_runtime::Runner::start) executes at once; `None` before it started, or when
    /// no worker runs in this process.
    pub fn worker_concurrency(&self) -> Option<usize> {
        self.inner.concurrency.get().copied()
    }

    /// How many runs execute in this process now.
    pub fn running(&self) -> usize {
        lock(&self.inner.shared.running).len()
    }

    /// Deletes the records apalis keeps of jobs that finished more than `age` ago (apalis-redis keeps every job's
    /// data and result until then). Returns how many were deleted.
    pub async fn vacuum(&self, age: Duration) -> std::result::Result<usize, BackendError> {
        let mut storage =
            self.storage().await.map_err(|error| BackendError::other(error.to_string()).caused_by(error))?;
        storage
            .vacuum_before(age)
            .await
            .map_err(|error| BackendError::other(format!("apalis-redis vacuum: {error}")).caused_by(error))
    }

    /// The channel on which interrupts of this queue's runs are published.
    fn interrupt_channel(&self) -> String {
        interrupt_channel(&self.inner.options.queue)
    }
}

fn interrupt_channel(queue: &str) -> String {
    format!("mageflow:{queue}:interrupt")
}

impl std::fmt::Debug for ApalisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApalisBackend").field("options", &self.inner.options).finish()
    }
}

/// The apalis job of a run: the run itself, as JSON (with its trace context, when it has one).
fn job_of(run: &Run) -> std::result::Result<RedisTask, BackendError> {
    let bytes = serde_json::to_vec(run).map_err(|error| BackendError::dispatch(error.to_string()).caused_by(error))?;
    Ok(TaskBuilder::new(bytes).build())
}

#[async_trait]
impl Dispatcher for ApalisBackend {
    async fn dispatch(&self, runs: Vec<Run>) -> std::result::Result<(), BackendError> {
        if runs.is_empty() {
            return Ok(());
        }
        let jobs = runs.iter().map(job_of).collect::<std::result::Result<Vec<_>, _>>()?;
        let mut conn = self.connection().await.map_err(|error| {
            BackendError::dispatch(format!("cannot reach the apalis queue's Redis at {}: {error}", self.inner.url))
                .caused_by(error)
        })?;
        apalis_redis::queries::push_tasks(&mut conn, &self.inner.config, &jobs)
            .await
            .map_err(|error| BackendError::dispatch(format!("apalis-redis push: {error}")).caused_by(error))?;
        // apalis-redis 1.0 pushes every job as scheduled for now (to be promoted by the next fetch) and so never
        // publishes its `available` wake-up: publish it here, or idle workers would wait for their next heartbeat
        let woken = redis::cmd("PUBLISH")
            .arg(wake_channel(&self.inner.config))
            .arg(jobs.len())
            .query_async::<u64>(&mut conn)
            .await;
        if let Err(error) = woken {
            tracing::warn!(%error, "cannot wake the apalis workers; they find the jobs at their next heartbeat");
        }
        tracing::debug!(runs = jobs.len(), queue = %self.inner.options.queue, "pushed apalis jobs");
        Ok(())
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> std::result::Result<(), BackendError> {
        let channel = self.interrupt_channel();
        if runs.iter().all(|run| run.run_ref.is_none()) {
            return Ok(());
        }
        let mut conn = self.connection().await.map_err(|error| {
            BackendError::other(format!("cannot reach the apalis queue's Redis at {}: {error}", self.inner.url))
                .caused_by(error)
        })?;
        for run in runs {
            let Some(run_ref) = &run.run_ref else {
                tracing::debug!(signature = %run.signature_id, "no apalis job to abort (the run has not begun)");
                continue;
            };
            redis::cmd("PUBLISH").arg(&channel).arg(run_ref).query_async::<u64>(&mut conn).await.map_err(|error| {
                BackendError::other(format!("cannot publish the interrupt of {run_ref}: {error}")).caused_by(error)
            })?;
            tracing::info!(signature = %run.signature_id, job = %run_ref, "published an interrupt");
        }
        Ok(())
    }
}

#[async_trait]
impl RunningSide for ApalisBackend {
    async fn start(&self, worker: MageflowWorker) -> std::result::Result<(), BackendError> {
        if self.inner.started.set(()).is_err() {
            return Err(BackendError::other("the apalis backend was already started"));
        }
        let options = &self.inner.options;
        if !options.run_worker {
            tracing::info!(queue = %options.queue, "no apalis worker runs here: this client only dispatches");
            return Ok(());
        }
        if worker.task_names().is_empty() {
            tracing::info!(queue = %options.queue, "no tasks are registered: this client only dispatches");
            return Ok(());
        }
        // interrupts first, so that no run starts before they can reach it
        let pubsub = subscribe(&self.inner.client, &self.interrupt_channel()).await.map_err(BackendError::other)?;
        let subscriber = tokio::spawn(listen_for_interrupts(
            pubsub,
            self.inner.client.clone(),
            self.interrupt_channel(),
            self.inner.shared.clone(),
            options.restart_delay,
        ));
        *lock(&self.inner.subscriber) = Some(subscriber);

        let runner = Runner { worker: worker.clone(), shared: self.inner.shared.clone() };
        let concurrency = options.concurrency.unwrap_or_else(|| worker.concurrency()).max(1);
        let supervisor = Supervisor {
            client: self.inner.client.clone(),
            config: self.inner.config.clone(),
            name: options.worker_name.clone(),
            concurrency,
            restart_delay: options.restart_delay,
            wake_echo: options.wake_echo,
            runner,
            stop: self.inner.stop.subscribe(),
        };
        *lock(&self.inner.supervisor) = Some(tokio::spawn(supervisor.run()));
        let _ = self.inner.concurrency.set(concurrency);
        tracing::info!(queue = %options.queue, concurrency, "started the apalis worker");
        Ok(())
    }

    async fn shutdown(&self, deadline: Duration) -> std::result::Result<(), BackendError> {
        let _ = self.inner.stop.send(true);
        if let Some(subscriber) = lock(&self.inner.subscriber).take() {
            subscriber.abort();
        }
        let Some(mut supervisor) = lock(&self.inner.supervisor).take() else { return Ok(()) };
        if tokio::time::timeout(deadline, &mut supervisor).await.is_ok() {
            return Ok(());
        }
        let shared = &self.inner.shared;
        shared.aborting.store(true, Ordering::SeqCst);
        let running: Vec<AbortHandle> = lock(&shared.running).values().cloned().collect();
        tracing::warn!(running = running.len(), "shutdown deadline passed; aborting the runs still going");
        for handle in running {
            handle.abort();
        }
        // the aborted jobs end at once; apalis then records them as failed (to be delivered again) and stops
        match tokio::time::timeout(Duration::from_secs(5), &mut supervisor).await {
            Ok(_) => Ok(()),
            Err(_) => {
                supervisor.abort();
                Err(BackendError::other("the apalis worker did not stop within 5 s of aborting its runs"))
            }
        }
    }
}

/// A subscription to the queue's interrupt channel.
async fn subscribe(client: &redis::Client, channel: &str) -> std::result::Result<redis::aio::PubSub, String> {
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .map_err(|error| format!("cannot subscribe to the apalis queue's interrupts: {error}"))?;
    pubsub.subscribe(channel).await.map_err(|error| format!("cannot subscribe to `{channel}`: {error}"))?;
    Ok(pubsub)
}

/// Aborts the running jobs whose ids are published on the interrupt channel, subscribing again whenever the
/// subscription drops (meanwhile interrupts reach runs at their next lease renewal).
async fn listen_for_interrupts(
    mut pubsub: redis::aio::PubSub,
    client: redis::Client,
    channel: String,
    shared: Arc<Shared>,
    retry: Duration,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(run_ref) = message.get_payload::<String>() else { continue };
                if let Some(handle) = lock(&shared.running).get(&run_ref) {
                    tracing::info!(job = %run_ref, "interrupting the running job");
                    handle.abort();
                }
            }
        }
        tracing::warn!("the interrupt subscription dropped; subscribing again");
        pubsub = loop {
            tokio::time::sleep(retry).await;
            match subscribe(&client, &channel).await {
                Ok(pubsub) => break pubsub,
                Err(error) => tracing::warn!(%error, "cannot subscribe to interrupts yet"),
            }
        };
    }
}

/// Keeps an apalis worker running until the backend stops: a worker whose stream ended on an error (Redis went
/// away) starts again, under a new name (apalis refuses a name whose worker looks alive).
struct Supervisor {
    client: redis::Client,
    config: apalis_redis::Config,
    name: String,
    concurrency: usize,
    restart_delay: Duration,
    wake_echo: Duration,
    runner: Runner,
    stop: watch::Receiver<bool>,
}

impl Supervisor {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                return;
            }
            let name = format!("{}-{}-{}", self.name, std::process::id(), WORKERS.fetch_add(1, Ordering::Relaxed));
            match self.run_worker(&name).await {
                Ok(()) if *self.stop.borrow() => return,
                Ok(()) => tracing::warn!(worker = %name, "the apalis worker stopped; starting it again"),
                Err(error) => tracing::error!(worker = %name, %error, "the apalis worker failed; starting it again"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.restart_delay) => {}
                _ = self.stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    async fn run_worker(&mut self, name: &str) -> std::result::Result<(), String> {
        let storage = wake_on_push(&self.client, &self.config, self.wake_echo).await?;
        let context = WorkerContext::new(name);
        let worker = WorkerBuilder::new(context.clone())
            .backend(storage)
            .concurrency(self.concurrency)
            .data(self.runner.clone())
            .build(run_job);
        let run = worker.run();
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => return result.map_err(|error| error.to_string()),
            _ = self.stop.wait_for(|stop| *stop) => {}
        }
        // stop the worker: it takes no new jobs, puts back the ones it fetched, and waits for the running ones
        loop {
            if context.stop().is_ok() {
                break;
            }
            tokio::select! {
                result = &mut run => return result.map_err(|error| error.to_string()),
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
        run.await.map_err(|error| error.to_string())
    }
}

/// The queue's storage, woken when jobs are pushed: like apalis-redis' `RedisStorageFactory`, a RESP3 connection
/// subscribed to the queue's `available` channel, but one that does not lose a wake-up. apalis consumes a wake-up
/// even while a fetch is in flight; a job pushed just after that fetch read the queue would then wait for the next
/// heartbeat. So each wake-up is echoed once, `echo` later, which fetches again.
async fn wake_on_push(
    client: &redis::Client,
    config: &apalis_redis::Config,
    echo: Duration,
) -> std::result::Result<PollWith<RedisStorage<Run, MultiplexedConnection>, WakeOnPush>, String> {
    let signal = Arc::new(Signal::default());
    let pushed = signal.clone();
    let connection_config = redis::AsyncConnectionConfig::new().set_push_sender(move |_: redis::PushInfo| {
        pushed.raise();
        Ok::<(), redis::aio::SendError>(())
    });
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&connection_config)
        .await
        .map_err(|error| format!("cannot connect to the apalis queue's Redis: {error}"))?;
    let channel = wake_channel(config);
    conn.subscribe(&channel).await.map_err(|error| {
        format!("cannot subscribe to `{channel}` (apalis-redis' wake-ups need RESP3: `?protocol=resp3`): {error}")
    })?;
    let storage = RedisStorage::new(conn).with_config(config.clone());
    Ok(PollWith::new(storage, WakeOnPush { signal, echo, pending_echo: None }))
}

/// The channel on which apalis-redis wakes the workers of a queue.
fn wake_channel(config: &apalis_redis::Config) -> String {
    format!("tasks:{}:available", config.active_jobs_list())
}

/// A pushed-job notification, shared between the connection's push handler and the worker's poll strategy.
#[derive(Default)]
struct Signal {
    raised: AtomicBool,
    waker: futures::task::AtomicWaker,
}

impl Signal {
    fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// An apalis poll strategy: wakes the worker when a job is pushed, and once more `echo` later.
struct WakeOnPush {
    signal: Arc<Signal>,
    echo: Duration,
    pending_echo: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl PollStrategy for WakeOnPush {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        self.signal.waker.register(cx.waker());
        let raised = self.signal.raised.swap(false, Ordering::AcqRel);
        if raised {
            self.pending_echo = Some(Box::pin(tokio::time::sleep(self.echo)));
        }
        if let Some(echo) = &mut self.pending_echo
            && echo.as_mut().poll(cx).is_ready()
        {
            self.pending_echo = None;
            return Poll::Ready(Some(()));
        }
        if raised { Poll::Ready(Some(())) } else { Poll::Pending }
    }
}

/// What an apalis job runs with: mageflow's worker and the table of running jobs.
#[derive(Clone)]
struct Runner {
    worker: MageflowWorker,
    shared: Arc<Shared>,
}

/// The apalis job handler: runs a mageflow run's attempts. Its result is what apalis records for the job; it fails
/// (and apalis delivers the job again) only when mageflow could not record an outcome, or when shutdown aborted it.
async fn run_job(run: Run, id: TaskId, runner: Data<Runner>) -> std::result::Result<Value, BoxDynError> {
    let run_ref = id.to_string();
    let mut metadata = Map::new();
    metadata.insert("apalis_job_id".into(), Value::String(run_ref.clone()));
    if let Some(trace) = &run.trace {
        trace.write_to(&mut metadata);
    }
    let job = tokio::spawn(run_attempts(runner.worker.clone(), run.clone(), run_ref.clone(), metadata));
    lock(&runner.shared.running).insert(run_ref.clone(), job.abort_handle());
    let ended = job.await;
    lock(&runner.shared.running).remove(&run_ref);
    match ended {
        Ok(result) => result,
        Err(error) if error.is_cancelled() && runner.shared.aborting.load(Ordering::SeqCst) => {
            // apalis may deliver the job again at once: without its lease, that delivery runs instead of being
            // skipped as busy (and acknowledged) while the aborted execution's lease would still hold
            if let Err(error) = runner.worker.release(&run).await {
                tracing::warn!(%error, signature = %run.signature_id, "cannot end the aborted run's lease; \
                    apalis' next delivery is skipped while it holds, and the recovery sweep dispatches the run again");
            }
            Err(format!(
                "the run of {} was aborted by the worker's shutdown; apalis delivers it again",
                run.signature_id
            )
            .into())
        }
        Err(error) if error.is_cancelled() => {
            tracing::info!(signature = %run.signature_id, job = %run_ref, "the run was interrupted");
            Ok(json!({ "mageflow": "interrupted" }))
        }
        Err(error) => Err(format!("the run of {} panicked outside its handler: {error}", run.signature_id).into()),
    }
}

/// Runs a delivery's attempts until one succeeds, fails for good or is skipped.
async fn run_attempts(
    worker: MageflowWorker,
    run: Run,
    run_ref: String,
    metadata: Map<String, Value>,
) -> std::result::Result<Value, BoxDynError> {
    let mut attempt = 1;
    loop {
        let delivery = Delivery { attempt, metadata: metadata.clone(), run_ref: Some(run_ref.clone()) };
        match worker.execute(&run, delivery).await {
            AttemptOutcome::Failed { retry_in: Some(wait), .. } => {
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            outcome => return job_result(outcome),
        }
    }
}

/// What apalis records for a job whose run ended with `outcome`.
fn job_result(outcome: AttemptOutcome) -> std::result::Result<Value, BoxDynError> {
    match outcome {
        AttemptOutcome::Succeeded(_) => Ok(json!({ "mageflow": "succeeded" })),
        AttemptOutcome::Failed { message, .. } => Ok(json!({ "mageflow": "failed", "error": message })),
        AttemptOutcome::Continued => Ok(json!({ "mageflow": "continued" })),
        AttemptOutcome::Skipped(reason) => Ok(json!({ "mageflow": "skipped", "reason": skip_name(&reason) })),
        AttemptOutcome::Unrecorded(error) => {
            tracing::error!(%error, "mageflow could not record the run's outcome; apalis delivers the job again");
            Err(format!("mageflow could not record the outcome ({error}); apalis delivers the job again").into())
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

    #[test]
    fn urls_ask_for_resp3_and_hide_passwords() {
        assert_eq!(with_resp3("redis://h:1"), "redis://h:1?protocol=resp3");
        assert_eq!(with_resp3("redis://h:1/0?x=1"), "redis://h:1/0?x=1&protocol=resp3");
        assert_eq!(with_resp3("redis://h:1?protocol=resp3"), "redis://h:1?protocol=resp3");
        assert_eq!(redacted("redis://user:secret@h:1"), "redis://***@h:1");
        assert_eq!(redacted("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn only_unrecorded_outcomes_fail_the_job() {
        assert!(job_result(AttemptOutcome::Succeeded(json!(1))).is_ok());
        assert!(job_result(AttemptOutcome::Failed { message: "x".into(), retry_in: None }).is_ok());
        assert!(job_result(AttemptOutcome::Skipped(SkipReason::Busy)).is_ok());
        assert!(job_result(AttemptOutcome::Continued).is_ok());
        let error = job_result(AttemptOutcome::Unrecorded("redis down".into())).unwrap_err();
        assert!(error.to_string().contains("redis down"), "{error}");
    }
}
