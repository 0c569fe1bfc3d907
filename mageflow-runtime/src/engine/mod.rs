//! The engine: turns requests and task outcomes into calls of the transition script, and the dispatches those
//! calls return into runs for the backend.

pub(crate) mod protocol;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::backend::{Backend, Run};
use crate::config::TtlConfig;
use crate::error::{Error, Result};
use crate::flow::Node;
use crate::input;
use crate::model::{ErrorKind, ErrorReport, Failure, SignatureId};
use crate::registry::Registry;
use crate::store::{Script, Store, StoreError};

pub(crate) use protocol::{Code, Keys, Lifecycle, Op, Sub, Transition};
use protocol::{Due, Record, encode_batch, encode_records, header, records};

/// How long a run holds its signature without renewing its lease, unless configured.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Builds a due task's input; on failure, the reason.
fn build_input(due: &Due) -> std::result::Result<Value, String> {
    let message: Value =
        serde_json::from_str(&due.message).map_err(|error| format!("the stored message is not JSON ({error})"))?;
    let mut layers = Vec::with_capacity(due.args.len());
    for args in &due.args {
        layers.push(input::merged_layers(args)?);
    }
    input::build(message, due.route, due.return_field.as_deref(), &layers)
}

/// The engine of one client: its store, key prefix, TTLs, known tasks and backend.
pub(crate) struct Engine {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    ttl: [String; 6],
    pub registry: Arc<Registry>,
    pub backend: Arc<dyn Backend>,
    /// How long transitions after a task run are retried while the store is unreachable.
    pub store_retry: Duration,
    /// Whether runs of tasks with retries journal what they create (see `scope`).
    pub idempotent_creation: bool,
    /// How long a run that began holds its signature without renewing its lease.
    pub lease: Duration,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        prefix: String,
        ttl: &TtlConfig,
        registry: Arc<Registry>,
        backend: Arc<dyn Backend>,
    ) -> Self {
        Engine {
            store,
            keys: Keys::new(prefix),
            ttl: ttl.script_args(),
            registry,
            backend,
            store_retry: Duration::from_secs(60),
            idempotent_creation: true,
            lease: DEFAULT_LEASE,
        }
    }

    /// Calls the transition script once.
    pub async fn call(&self, op: Op, op_args: Vec<String>) -> Result<Transition> {
        let mut args = header(op, &self.keys, &self.ttl, self.lease);
        args.extend(op_args);
        let reply = self.store.eval(Script::engine(), Vec::new(), args).await?;
        Transition::parse(reply)
    }

    /// Calls the transition script, retrying while the store is unreachable (every operation is idempotent, so a
    /// call that did apply before the connection broke is harmless to send again).
    pub async fn call_retrying(&self, op: Op, op_args: Vec<String>) -> Result<Transition> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.call(op, op_args.clone()).await {
                Err(Error::Store(StoreError::Unavailable(detail))) if started.elapsed() < self.store_retry => {
                    let op = op.as_str();
                    tracing::warn!(op, %detail, "the store is unreachable; retrying the transition in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// The records of a tree, with the return field of every task from the registry.
    pub fn records(&self, root: &Node, place: Option<(&SignatureId, u64)>) -> Vec<Record> {
        let registry = &self.registry;
        records(root, place, &|task| registry.definition(task).and_then(|d| d.return_field.clone()))
    }

    /// Hands a transition's due tasks to the backend and its interrupts to the backend; a due task whose input
    /// cannot be built fails (its error callbacks run), which may make further tasks due.
    pub async fn apply(&self, transition: Transition) -> Result<()> {
        let mut pending = vec![transition];
        while let Some(transition) = pending.pop() {
            let mut runs = Vec::with_capacity(transition.due.len());
            let mut broken = Vec::new();
            for due in transition.due {
                match build_input(&due) {
                    Ok(input) => runs.push(Run { signature_id: due.id, token: due.token, task: due.task, input }),
                    Err(problem) => broken.push((due, problem)),
                }
            }
            if !runs.is_empty() {
                self.backend.dispatch(runs).await?;
            }
            if !transition.interrupts.is_empty() {
                self.backend.interrupt(&transition.interrupts).await?;
            }
            for (due, problem) in broken {
                tracing::error!(task = %due.task, signature = %due.id, %problem, "cannot build the input of a run");
                let failure = Failure {
                    task: due.task.clone(),
                    signature_id: due.id.clone(),
                    input: serde_json::from_str(&due.message).unwrap_or(Value::Null),
                    error: ErrorReport { kind: ErrorKind::InvalidInput, message: problem, attempt: 0 },
                };
                pending.push(self.fail(&failure, due.token, None).await?);
            }
        }
        Ok(())
    }

    /// Records the final failure of the run of dispatch `token`, dropping the run's creation journal, if any. A
    /// run that a newer dispatch replaced records nothing (code `stale`).
    pub async fn fail(&self, failure: &Failure, token: u64, journal: Option<&str>) -> Result<Transition> {
        let payload = serde_json::to_string(failure)
            .map_err(|source| Error::Serialize { what: "a failure report".into(), source })?;
        let journal = journal.unwrap_or_default().to_owned();
        self.call_retrying(Op::Fail, vec![failure.signature_id.to_string(), token.to_string(), payload, journal]).await
    }

    /// Records the success of the run of dispatch `token`, dropping the run's creation journal, if any. A run that
    /// a newer dispatch replaced records nothing (code `stale`).
    pub async fn succeed(
        &self,
        id: &SignatureId,
        token: u64,
        output: &Value,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let journal = journal.unwrap_or_default().to_owned();
        self.call_retrying(Op::Succeed, vec![id.to_string(), token.to_string(), output.to_string(), journal]).await
    }

    /// Renews the lease of the run of dispatch `token` for `length`; `false` when the run no longer holds its
    /// signature (a newer dispatch replaced it, or the signature finished or was interrupted).
    pub async fn renew(&self, id: &SignatureId, token: u64, length: Duration) -> Result<bool> {
        let args = vec![id.to_string(), token.to_string(), length.as_millis().to_string()];
        Ok(self.call(Op::Renew, args).await?.code == Code::Ok)
    }

    /// Applies sub-operations in one atomic call: all of them, or (code `refused`, with the failing
    /// sub-operation's 1-based index and its problem in `extra`) none.
    pub async fn batch(&self, subs: &[Sub]) -> Result<Transition> {
        self.call(Op::Batch, encode_batch(subs, &|root| self.records(root, None))).await
    }

    /// Splices a flow into a running task's place: the flow becomes the task's child and starts with `message`;
    /// the task finishes with the flow's outcome. Drops the run's creation journal, if any.
    pub async fn continue_with(
        &self,
        task: &SignatureId,
        token: u64,
        flow: &Node,
        message: &Value,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let mut args = vec![task.to_string(), token.to_string()];
        encode_records(&self.records(flow, Some((task, 0))), &mut args);
        args.push(flow.id.to_string());
        args.push(message.to_string());
        args.push(journal.unwrap_or_default().to_owned());
        self.call_retrying(Op::Continue, args).await
    }

    /// Runs a lifecycle operation (`suspend`, `interrupt`, `resume`, `cancel`) on a signature and what it contains.
    pub async fn lifecycle(&self, op: Lifecycle, id: &SignatureId) -> Result<Transition> {
        let transition = self.call(op.into(), vec![id.to_string()]).await?;
        if transition.code == Code::Missing {
            return Err(Error::NotFound(id.clone()));
        }
        Ok(transition)
    }

    /// Dispatches again tasks that were dispatched more than `grace` ago and never began, and runs whose lease
    /// expired. Returns how many runs it dispatched.
    pub async fn recover(&self, grace: Duration, limit: usize) -> Result<usize> {
        let transition = self.call(Op::Recover, vec![grace.as_millis().to_string(), limit.to_string()]).await?;
        let count = transition.dispatch_count();
        let lost: usize = transition.extra.first().and_then(|n| n.parse().ok()).unwrap_or(0);
        if lost > 0 {
            tracing::warn!(lost, "runs lost their lease (their worker died or was cut off); dispatching them again");
        }
        self.apply(transition).await?;
        Ok(count)
    }

    /// Asks whether a delivery may run, recording the backend's reference of the run. A retry of a run that keeps a
    /// creation journal gets the journal's ids back in `extra`.
    pub async fn begin(
        &self,
        run: &Run,
        attempt: u32,
        run_ref: Option<&str>,
        journal: Option<&str>,
    ) -> Result<Transition> {
        let args = vec![
            run.signature_id.to_string(),
            run.token.to_string(),
            attempt.to_string(),
            run_ref.unwrap_or_default().to_owned(),
            journal.unwrap_or_default().to_owned(),
        ];
        self.call_retrying(Op::Begin, args).await
    }
}
