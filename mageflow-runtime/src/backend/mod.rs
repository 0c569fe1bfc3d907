//! What runs tasks: the [`Backend`] trait, and the in-process [`LocalBackend`].
//!
//! A backend carries [`Run`]s to workers and, on the worker side, hands each delivery to a [`Worker`], which runs
//! the registered handler and records the outcome. Backends may deliver a run twice; the engine copes.

mod handoff;
mod local;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::run::worker::{AttemptOutcome, SkipReason, Worker};

pub use handoff::HandOffBackend;
pub use local::LocalBackend;

use crate::cause::Cause;
use crate::model::SignatureId;
use crate::trace::TraceContext;

/// One run of a task, as the engine dispatches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The signature the run executes.
    pub signature_id: SignatureId,
    /// The dispatch token: a delivery whose token is no longer the signature's current one is stale and skipped.
    pub token: u64,
    /// The registered name of the task.
    pub task: String,
    /// The input, already built from the message and the bound arguments.
    pub input: Value,
    /// The W3C trace context of the span that dispatched the run, which the run's span is made a child of (see
    /// [`crate::trace`]). Backends carry it with the run; `None` when nothing was traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
}

/// A running task to abort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupt {
    /// The signature whose run is aborted.
    pub signature_id: SignatureId,
    /// The backend's reference of the run, as given to [`Worker::execute`] when it began.
    pub run_ref: Option<String>,
}

/// How a backend delivers one attempt of a run to [`Worker::execute`].
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// The attempt number, starting at 1.
    pub attempt: u32,
    /// Metadata the handler sees in its [`TaskContext`](crate::TaskContext). A W3C `traceparent` (and
    /// `tracestate`) here parents the run's span when the [`Run`] carries no [`trace`](Run::trace) itself.
    pub metadata: serde_json::Map<String, Value>,
    /// The backend's own id of the run, recorded so that an interrupt from any process can name it.
    pub run_ref: Option<String>,
}

impl Delivery {
    /// Attempt `attempt` with no metadata and no run reference.
    pub fn attempt(attempt: u32) -> Self {
        Delivery { attempt, ..Default::default() }
    }
}

/// The dispatching side of a task manager: hands runs to it, and aborts them. The engine holds only this side.
#[async_trait]
pub trait Dispatcher: Send + Sync + 'static {
    /// Hands runs to the task manager. Returns once they are accepted, not when they ran.
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError>;

    /// Aborts the running (or queued) runs of these signatures; their outcomes are not reported.
    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError>;

    /// An identity of the pool in this process that runs what this backend is given, if it is one (the
    /// `LocalBackend`): the outcome of a run may then begin the next run at once, and the pool runs it in place
    /// without a dispatch. A backend that wraps another and must see every dispatch keeps the default, `None`.
    fn in_process_pool(&self) -> Option<usize> {
        None
    }
}

/// The running side of a task manager: takes deliveries and hands each to a [`Worker`], until shut down. The
/// client starts it when it is built and stops it on [`shutdown`](crate::Mageflow::shutdown).
#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// Starts taking runs and executing them with `worker`.
    async fn start(&self, worker: Worker) -> Result<(), BackendError>;

    /// Stops taking runs, lets running ones finish for up to `deadline`, then aborts the rest.
    async fn shutdown(&self, deadline: Duration) -> Result<(), BackendError>;
}

/// A task manager, both sides: what [`MageflowBuilder::backend`](crate::MageflowBuilder::backend) takes.
/// Implemented by [`LocalBackend`], `mageflow-hatchet` and `mageflow-apalis`; implement [`Dispatcher`] and
/// [`Runner`] to add one.
pub trait Backend: Dispatcher + Runner {}

impl<T: Dispatcher + Runner> Backend for T {}

/// An error of a backend. `detail` says what went wrong (including the underlying error's text); the underlying
/// error (a `tonic` status, a Redis error of apalis) stays reachable as the [`source`](std::error::Error::source).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend refused or failed to dispatch; the runs stay in the outbox and are dispatched again by the
    /// recovery sweep.
    #[error("dispatch failed: {detail}; the runs stay in the outbox and are dispatched again by the recovery sweep")]
    Dispatch {
        /// What failed.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
    /// The backend was shut down.
    #[error("the backend is shut down")]
    ShutDown,
    /// Any other failure of the task manager.
    #[error("{detail}")]
    Other {
        /// What failed.
        detail: String,
        /// The underlying error.
        #[source]
        cause: Option<Cause>,
    },
}

impl BackendError {
    /// [`BackendError::Dispatch`] without a cause.
    pub fn dispatch(detail: impl Into<String>) -> Self {
        BackendError::Dispatch { detail: detail.into(), cause: None }
    }

    /// [`BackendError::Other`] without a cause.
    pub fn other(detail: impl Into<String>) -> Self {
        BackendError::Other { detail: detail.into(), cause: None }
    }

    /// The same error, keeping `cause` as its source (a [`ShutDown`](BackendError::ShutDown) has none to keep).
    pub fn caused_by(mut self, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let BackendError::Dispatch { cause, .. } | BackendError::Other { cause, .. } = &mut self {
            *cause = Some(Cause::new(error));
        }
        self
    }
}
