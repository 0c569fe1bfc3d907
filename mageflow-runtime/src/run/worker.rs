//! [`Worker`]: what a backend calls for each delivery. It asks the engine whether the run may start, runs the
//! registered handler (with the task's timeout, catching panics), and records the outcome, dispatching what is due
//! next.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::FutureExt;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::backend::{Delivery, Run};
use crate::client::Mageflow;
use crate::engine::protocol::{self, field};
use crate::engine::{Code, Engine, Transition};
use crate::model::{ErrorKind, ErrorReport, Failure, SignatureId, Status, in_group};
use crate::run::registry::Produced;
use crate::run::scope::CreationScope;
use crate::run::task::{Continuation, TaskContext, TaskError};
use crate::trace::TraceContext;

/// Why a delivery did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The signature no longer exists (it expired, or was never created in this store).
    Missing,
    /// A newer dispatch of the signature replaced this one.
    Stale,
    /// The signature is suspended or interrupted; it keeps its input and runs again on resume.
    Stopped,
    /// The signature has already finished (done, failed or canceled).
    Finished,
    /// Another delivery of the same dispatch is running and its lease holds: one execution at a time per run.
    Busy,
    /// The run already handed over to a flow that runs in its place.
    Continued,
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// The handler succeeded with this output, and the success was recorded.
    Succeeded(Value),
    /// The handler failed. With `retry_in`, the backend should run the same delivery again after that wait, with
    /// the next attempt number; without, the failure was final and recorded.
    Failed {
        /// The error, in words.
        message: String,
        /// When to retry, if the task has retries left and the error is retryable.
        retry_in: Option<Duration>,
    },
    /// The handler handed over to a flow that runs in its place; the task finishes when that flow does.
    Continued,
    /// The run did not start.
    Skipped(SkipReason),
    /// The engine could not record anything (the store is unreachable); the backend may deliver the run again.
    Unrecorded(String),
}

/// Runs deliveries for a backend. Cheap to clone. It refers to its client's engine without owning it, so that
/// dropping every [`Mageflow`] handle frees the engine, its backend and this worker's loops (a delivery that arrives
/// after that is [`AttemptOutcome::Unrecorded`]).
#[derive(Clone)]
pub struct Worker {
    engine: Weak<Engine>,
    concurrency: usize,
}

/// A worker whose client is alive, for the length of one call.
struct Live {
    engine: Arc<Engine>,
    client: Mageflow,
}

const DROPPED: &str = "the mageflow client this worker belongs to was dropped";

impl Worker {
    pub(crate) fn new(engine: &Arc<Engine>, concurrency: usize) -> Self {
        Worker { engine: Arc::downgrade(engine), concurrency }
    }

    fn live(&self) -> Option<Live> {
        let engine = self.engine.upgrade()?;
        Some(Live { client: Mageflow::from_engine(engine.clone()), engine })
    }

    /// A client on this worker's engine, while its owner lives.
    pub(crate) fn client(&self) -> crate::Result<Mageflow> {
        self.engine().map(Mageflow::from_engine)
    }

    fn engine(&self) -> crate::Result<Arc<Engine>> {
        self.engine.upgrade().ok_or_else(|| crate::Error::Config(DROPPED.to_owned()))
    }

    /// How many tasks the client asked to run at once (16 by default, set with
    /// [`MageflowBuilder::concurrency`](crate::MageflowBuilder::concurrency)). Backends that run tasks in this
    /// process size their pool with it unless told otherwise.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The names of the tasks this worker can run.
    pub fn task_names(&self) -> Vec<String> {
        let Some(engine) = self.engine.upgrade() else { return Vec::new() };
        engine.registry.registered().map(|r| r.definition.name.clone()).collect()
    }

    /// The retries, timeout and backoff of a task this worker can run.
    pub fn task_options(&self, task: &str) -> Option<crate::TaskOptions> {
        self.engine.upgrade()?.registry.handler(task).map(|r| r.definition.options.clone())
    }

    /// The input JSON schema of a task this worker can run.
    pub fn task_schema(&self, task: &str) -> Option<Value> {
        self.engine.upgrade()?.registry.handler(task).map(|r| r.definition.schema.clone())
    }

    /// Runs one attempt of a run and records its outcome.
    pub async fn execute(&self, run: &Run, delivery: Delivery) -> AttemptOutcome {
        let attempt = delivery.attempt.max(1);
        let Some(live) = self.live() else {
            return AttemptOutcome::Unrecorded(DROPPED.to_owned());
        };
        let span = run_span(run, attempt, &delivery.metadata);
        live.execute(run, attempt, delivery.metadata, delivery.run_ref, None, None).instrument(span).await
    }

    /// Runs one attempt of a run in this process (the local backend) and records its outcome. With `begun`, the run
    /// already began (its attempt): an earlier outcome claimed it, so it does not ask to begin again. The outcome
    /// claims the first task it dispatches in turn: that run comes back, begun, for the caller to run next in the
    /// same place, instead of being dispatched (one script call per step of a chain, or item of a swarm). Only when
    /// `pool` is the engine's backend's [`in_process_pool`](crate::Backend::in_process_pool): a backend that wraps
    /// the pool sees every run; and not when `pool` is `None` (the pool is shutting down).
    pub(crate) async fn execute_here(
        &self,
        run: &Run,
        delivery: Delivery,
        begun: Option<u32>,
        pool: Option<usize>,
    ) -> (AttemptOutcome, Option<(Run, u32)>) {
        let attempt = begun.unwrap_or(delivery.attempt).max(1);
        let Some(live) = self.live() else {
            return (AttemptOutcome::Unrecorded(DROPPED.to_owned()), None);
        };
        // only when what the engine dispatches would run in this very pool
        let claim = pool.is_some() && live.engine.backend.in_process_pool() == pool;
        let span = run_span(run, attempt, &delivery.metadata);
        let mut next = None;
        let outcome = live
            .execute(run, attempt, delivery.metadata, delivery.run_ref, begun, claim.then_some(&mut next))
            .instrument(span)
            .await;
        (outcome, next)
    }

    /// Records a run as failed for good when the task manager reports that it ended without an outcome reaching
    /// mageflow (its worker died and its retries were used up, ...). Ignored if the signature already finished.
    pub async fn abandon(&self, run: &Run, kind: ErrorKind, message: &str, attempt: u32) -> crate::Result<()> {
        let failure = Failure {
            task: run.task.clone(),
            signature_id: run.signature_id.clone(),
            input: run.input.clone(),
            error: ErrorReport { kind, message: message.to_owned(), attempt },
        };
        let engine = self.engine()?;
        let transition = engine.fail(&failure, run.token, false).await?;
        engine.apply(transition).await
    }

    /// Ends the lease of a run whose execution the backend aborted (at shutdown, say), so that the next delivery
    /// of the same dispatch runs at once instead of being skipped as busy until the lease would have expired.
    /// `false` when the run no longer held its signature (it finished, was interrupted, or a newer dispatch
    /// replaced it). Call it only once the execution has stopped: a run whose lease ended may run again elsewhere.
    pub async fn release(&self, run: &Run) -> crate::Result<bool> {
        self.engine()?.renew(&run.signature_id, run.token, Duration::ZERO).await
    }

    /// The last attempt of `run` that began (0 if none did) while `run` is still its signature's current dispatch
    /// and the signature may still run (pending or active); `None` when the signature finished, is suspended or
    /// interrupted, expired, or a newer dispatch replaced this run.
    ///
    /// A backend that learns from its task manager that a run ended without an outcome calls this before
    /// [`abandon`](Self::abandon), so that a late report about an old run (one that was interrupted, then
    /// resumed as a new run) does not fail the signature's newer run.
    pub async fn current_attempt(&self, run: &Run) -> crate::Result<Option<u32>> {
        let engine = self.engine()?;
        let Some(records) = engine.read(&run.signature_id, false).await? else {
            return Ok(None);
        };
        let fields = records.into_iter().next().map(|record| record.fields).unwrap_or_default();
        let current = fields.get(field::TOKEN).is_some_and(|token| token.parse() == Ok(run.token));
        let status = fields.get(field::STATUS).and_then(|status| Status::parse(status));
        let runnable = matches!(status, Some(Status::Pending | Status::Active));
        Ok((current && runnable).then(|| fields.get(field::ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(0)))
    }
}

impl Live {
    /// `begun`: the run already began with this attempt (claimed by an earlier outcome). `next`: where the task the
    /// outcome claims goes, when the caller runs it next (else the outcome claims none).
    async fn execute(
        &self,
        run: &Run,
        attempt: u32,
        metadata: Map<String, Value>,
        run_ref: Option<String>,
        begun: Option<u32>,
        mut next: Option<&mut Option<(Run, u32)>>,
    ) -> AttemptOutcome {
        let registered = self.engine.registry.handler(&run.task);
        // a task that may be retried journals what it creates, so that its retries create nothing twice
        let journaled = registered
            .is_some_and(|registered| self.engine.idempotent_creation && registered.definition.options.retries > 0);
        let begin = match begun {
            Some(attempt) => {
                let mut begin = Transition::empty(Code::Run);
                begin.extra.push(attempt.to_string());
                begin
            }
            None => match self.engine.begin(run, attempt, run_ref.as_deref(), journaled).await {
                Ok(transition) => transition,
                Err(error) => return AttemptOutcome::Unrecorded(error.to_string()),
            },
        };
        match begin.code {
            Code::Run => {}
            code => {
                let reason = match code {
                    Code::Missing => SkipReason::Missing,
                    Code::Stale => SkipReason::Stale,
                    Code::Stopped => SkipReason::Stopped,
                    Code::Busy => SkipReason::Busy,
                    Code::Continued => SkipReason::Continued,
                    _ => SkipReason::Finished,
                };
                tracing::debug!(?reason, "the run does not start");
                // a run whose record was damaged failed instead, and what that made due goes out
                if (!begin.due.is_empty() || !begin.interrupts.is_empty())
                    && let Err(error) = self.engine.apply(begin).await
                {
                    return AttemptOutcome::Unrecorded(error.to_string());
                }
                return AttemptOutcome::Skipped(reason);
            }
        }
        // the attempt as the store counts it: after the attempts of earlier dispatches that were lost
        let delivered = attempt;
        let attempt = begin.extra.first().and_then(|a| a.parse().ok()).unwrap_or(delivered);
        let Some(registered) = registered else {
            let error = TaskError::with_kind(
                ErrorKind::UnknownTask,
                format!("no handler for task `{}` is registered on this worker", run.task),
                false,
            );
            return self.record_failure(run, attempt, error, false, next).await;
        };
        let allowed = registered.definition.options.retries.saturating_add(1);
        if attempt > delivered && attempt > allowed {
            let message = format!(
                "the run was lost: its worker stopped renewing the run's lease (it died or was cut off) and the \
                 task's {allowed} attempt(s) are used up"
            );
            let error = TaskError::with_kind(ErrorKind::Lost, message, false);
            return self.record_failure(run, attempt - 1, error, journaled, next).await;
        }
        let options = registered.definition.options.clone();
        let client = match journaled {
            true => {
                let replay = begin.extra.iter().skip(1).filter_map(|id| SignatureId::parse(id)).collect();
                self.client.scoped(Arc::new(CreationScope::new(run.signature_id.clone(), replay)))
            }
            false => self.client.clone(),
        };
        let mut ctx = TaskContext::new(run.signature_id.clone(), run.task.clone(), attempt).with_client(client.clone());
        ctx.metadata = metadata;
        // what the handler creates is stored next to the running signature
        let group = protocol::group_of(&run.signature_id).to_owned();
        let call = AssertUnwindSafe(in_group(group, registered.handler.call(run.input.clone(), ctx))).catch_unwind();
        let handler = async {
            match options.timeout {
                Some(limit) => match tokio::time::timeout(limit, call).await {
                    Ok(result) => result,
                    Err(_) => Ok(Err(TaskError::with_kind(
                        ErrorKind::Timeout,
                        format!("the attempt ran longer than the task's timeout of {limit:?}"),
                        true,
                    ))),
                },
                None => call.await,
            }
        };
        let result = tokio::select! {
            result = handler => result,
            () = self.hold_lease(run) => {
                tracing::warn!("the run lost its lease (it was recovered elsewhere, interrupted or finished); aborting it");
                return AttemptOutcome::Skipped(SkipReason::Stale);
            }
        };
        let result = result.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the handler panicked".to_owned());
            Err(TaskError::with_kind(ErrorKind::Panic, format!("the handler panicked: {message}"), true))
        });
        match result {
            Ok(Produced::Continue(continuation)) => self.continue_with(run, attempt, &client, continuation).await,
            Ok(Produced::Output(output)) => {
                let claim = next.is_some();
                let succeeded = self.engine.succeed(&run.signature_id, run.token, &output, journaled, claim);
                match self.record(succeeded, next.as_deref_mut()).await {
                    Ok(true) => AttemptOutcome::Succeeded(output),
                    Ok(false) => AttemptOutcome::Skipped(SkipReason::Stale),
                    Err(error) => AttemptOutcome::Unrecorded(error.to_string()),
                }
            }
            Err(error) if error.is_retryable() && attempt <= options.retries => {
                let retry_in = options.backoff.delay(attempt);
                tracing::info!(error = %error, "attempt failed; retrying in {retry_in:?}");
                // the lease, renewed at most a third of its length ago, must outlast the wait for the retry
                let lease = self.engine.lease;
                if retry_in > lease / 2
                    && let Err(error) = self.engine.renew(&run.signature_id, run.token, retry_in + lease).await
                {
                    tracing::warn!(%error, "cannot extend the run's lease over the wait for its retry");
                }
                AttemptOutcome::Failed { message: error.message().to_owned(), retry_in: Some(retry_in) }
            }
            Err(error) => self.record_failure(run, attempt, error, journaled, next).await,
        }
    }

    /// Splices the flow a handler handed over to into the task's place, after checking it like a flow a user
    /// starts; an invalid one fails the task.
    async fn continue_with(
        &self,
        run: &Run,
        attempt: u32,
        client: &Mageflow,
        continuation: Box<Continuation>,
    ) -> AttemptOutcome {
        let journaled = client.scope().is_some();
        let Continuation { mut node, input } = *continuation;
        let checked = match input {
            Ok(input) => client.session().check_flow(&node, &input).await.map(|()| input).map_err(|e| e.to_string()),
            Err(problem) => Err(problem),
        };
        let input = match checked {
            Ok(input) => input,
            Err(problem) => {
                let message = format!("the flow `{}` it continues with is invalid: {problem}", node.name());
                let error = TaskError::with_kind(ErrorKind::InvalidOutput, message, false);
                return self.record_failure(run, attempt, error, journaled, None).await;
            }
        };
        if let Some(scope) = client.scope() {
            scope.adopt(&mut node);
        }
        let continued = self.engine.continue_with(&run.signature_id, run.token, &node, &input, journaled);
        match self.record(continued, None).await {
            Ok(true) => AttemptOutcome::Continued,
            Ok(false) => AttemptOutcome::Skipped(SkipReason::Stale),
            Err(error) => AttemptOutcome::Unrecorded(error.to_string()),
        }
    }

    async fn record_failure(
        &self,
        run: &Run,
        attempt: u32,
        error: TaskError,
        journaled: bool,
        next: Option<&mut Option<(Run, u32)>>,
    ) -> AttemptOutcome {
        tracing::warn!(error = %error, "the task failed for good");
        let failure = Failure {
            task: run.task.clone(),
            signature_id: run.signature_id.clone(),
            input: run.input.clone(),
            error: ErrorReport { kind: error.kind(), message: error.message().to_owned(), attempt },
        };
        let failed = self.engine.fail_claiming(&failure, run.token, journaled, next.is_some());
        match self.record(failed, next).await {
            Ok(true) => AttemptOutcome::Failed { message: error.message().to_owned(), retry_in: None },
            Ok(false) => AttemptOutcome::Skipped(SkipReason::Stale),
            Err(store_error) => AttemptOutcome::Unrecorded(store_error.to_string()),
        }
    }

    /// Applies the transition that records an outcome; `false` when the run was stale (a newer dispatch replaced it
    /// after its lease was lost), so that nothing was recorded. The task the outcome claimed goes to `next`.
    async fn record(
        &self,
        transition: impl Future<Output = crate::Result<Transition>>,
        next: Option<&mut Option<(Run, u32)>>,
    ) -> crate::Result<bool> {
        let mut transition = transition.await?;
        if transition.code == Code::Stale {
            tracing::warn!("the run's outcome is stale: its lease was lost and a newer dispatch replaced it");
            return Ok(false);
        }
        if let Some(next) = next {
            *next = self.engine.take_claimed(&mut transition);
        }
        self.engine.apply(transition).await?;
        Ok(true)
    }

    /// Renews the run's lease every third of its length while the handler runs; returns only when the run no longer
    /// holds its signature, or when the store stayed unreachable until the lease must have expired (another worker
    /// may then run it: this one stops, so that the run never runs twice at once).
    async fn hold_lease(&self, run: &Run) {
        let length = self.engine.lease;
        // the lease was taken just before the handler started; count from a little earlier to be safe
        let mut held_until = tokio::time::Instant::now() + length.mul_f64(0.9);
        loop {
            tokio::time::sleep(length / 3).await;
            let asked = tokio::time::Instant::now();
            match self.engine.renew(&run.signature_id, run.token, length).await {
                Ok(true) => held_until = asked + length,
                Ok(false) => return,
                Err(error) if tokio::time::Instant::now() >= held_until => {
                    tracing::warn!(%error, "the store stayed unreachable until the run's lease expired");
                    return;
                }
                Err(error) => tracing::warn!(%error, "cannot renew the run's lease; trying again"),
            }
        }
    }
}

/// The span of one attempt of a run: a child of the span that dispatched the run when the run carries its trace
/// context, or its delivery's metadata does (`traceparent`, for a backend that carries it only there), and the
/// feature `opentelemetry` is on; so that a whole flow is one trace.
fn run_span(run: &Run, attempt: u32, metadata: &Map<String, Value>) -> tracing::Span {
    let span = tracing::info_span!("mageflow.run", task = %run.task, signature = %run.signature_id, attempt);
    match &run.trace {
        Some(trace) => trace.set_parent_of(&span),
        None => {
            if let Some(trace) = TraceContext::read_from(metadata) {
                trace.set_parent_of(&span);
            }
        }
    }
    span
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("tasks", &self.task_names()).finish()
    }
}
