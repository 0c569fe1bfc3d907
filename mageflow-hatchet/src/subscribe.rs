//! Waiting for run results over one multiplexed `Dispatcher.SubscribeToWorkflowRuns` stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::auth::AuthChannel;
use crate::backoff::ExponentialBackoff;
use crate::error::{HatchetError, Result};
use crate::proto::{self, SubscribeToWorkflowRunsRequest, WorkflowRunEventType, dispatcher_client::DispatcherClient};

/// How one task of a finished run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The task completed; its output as JSON text.
    Completed(String),
    /// The task failed (or was cancelled); the error text.
    Failed(String),
}

impl TaskOutcome {
    /// Parses the output of a completed task; a failed task yields its error.
    pub fn output_json(&self) -> Result<Value> {
        match self {
            TaskOutcome::Completed(text) => serde_json::from_str(text)
                .map_err(|e| HatchetError::Protocol { what: "task output", reason: format!("not JSON: {e}") }),
            TaskOutcome::Failed(error) => {
                Err(HatchetError::InvalidInput { what: "task outcome", reason: format!("the task failed: {error}") })
            }
        }
    }
}

/// One task's result within a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// The task's readable name.
    pub task_name: String,
    /// The task run id.
    pub task_run_external_id: String,
    /// How it ended.
    pub outcome: TaskOutcome,
}

/// The results of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// The run id.
    pub workflow_run_id: String,
    /// One entry per task.
    pub tasks: Vec<TaskResult>,
}

impl RunResult {
    /// The outcome of a single-task run (the first failure wins if there are several tasks).
    pub fn outcome(&self) -> Result<&TaskOutcome> {
        let failed = self.tasks.iter().find(|t| matches!(t.outcome, TaskOutcome::Failed(_)));
        failed.or_else(|| self.tasks.first()).map(|t| &t.outcome).ok_or_else(|| HatchetError::Protocol {
            what: "WorkflowRunEvent",
            reason: format!("run {} finished with no task results", self.workflow_run_id),
        })
    }
}

/// Converts a wire event into a [`RunResult`], rejecting unknown event types and malformed results.
pub fn decode_run_event(event: proto::WorkflowRunEvent) -> Result<RunResult> {
    let bad = |reason: String| HatchetError::Protocol { what: "WorkflowRunEvent", reason };
    match WorkflowRunEventType::try_from(event.event_type) {
        Ok(WorkflowRunEventType::Finished) => {}
        Err(_) => {
            return Err(bad(format!("unknown event type {} for run {}", event.event_type, event.workflow_run_id)));
        }
    }
    if event.workflow_run_id.is_empty() {
        return Err(bad("the run id is empty".into()));
    }
    let mut tasks = Vec::with_capacity(event.results.len());
    for result in event.results {
        let outcome = match (result.error, result.output) {
            (Some(error), _) => TaskOutcome::Failed(error),
            (None, Some(output)) => TaskOutcome::Completed(output),
            (None, None) => {
                return Err(bad(format!(
                    "task {} of run {} has neither output nor error",
                    result.task_name, event.workflow_run_id
                )));
            }
        };
        tasks.push(TaskResult {
            task_name: result.task_name,
            task_run_external_id: result.task_run_external_id,
            outcome,
        });
    }
    Ok(RunResult { workflow_run_id: event.workflow_run_id, tasks })
}

type Waiters = HashMap<String, Vec<oneshot::Sender<Result<RunResult>>>>;

/// Lets many concurrent callers await run results over one shared stream.
///
/// A background task owns the stream. It re-subscribes every pending run after a reconnect,
/// so a dropped stream loses nothing; duplicate events are harmless.
#[derive(Clone)]
pub struct RunSubscriber {
    waiters: Arc<Mutex<Waiters>>,
    commands: mpsc::UnboundedSender<String>,
}

impl std::fmt::Debug for RunSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSubscriber").finish_non_exhaustive()
    }
}

impl RunSubscriber {
    /// Starts the background task on `client`; it stops when every clone is dropped.
    pub fn start(client: DispatcherClient<AuthChannel>) -> Self {
        let waiters = Arc::new(Mutex::new(Waiters::new()));
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run_stream(client, Arc::clone(&waiters), receiver));
        RunSubscriber { waiters, commands }
    }

    /// Waits for run `run_id` to finish (also if it finished before this call).
    pub async fn wait(&self, run_id: &str) -> Result<RunResult> {
        if run_id.is_empty() {
            return Err(HatchetError::InvalidInput {
                what: "run id",
                reason: "it is empty; pass the id returned by trigger_workflow".into(),
            });
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).entry(run_id.to_string()).or_default().push(tx);
        self.commands.send(run_id.to_string()).map_err(|_| HatchetError::Stopped("the run subscription"))?;
        rx.await.map_err(|_| HatchetError::Stopped("the run subscription"))?
    }

    /// The number of runs someone is currently waiting for.
    pub fn pending(&self) -> usize {
        lock(&self.waiters).len()
    }
}

fn lock(waiters: &Mutex<Waiters>) -> std::sync::MutexGuard<'_, Waiters> {
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

fn pending_ids(waiters: &Mutex<Waiters>) -> Vec<String> {
    let mut map = lock(waiters);
    map.retain(|_, senders| {
        senders.retain(|s| !s.is_closed());
        !senders.is_empty()
    });
    map.keys().cloned().collect()
}

fn deliver(waiters: &Mutex<Waiters>, run_id: &str, result: Result<RunResult>) {
    let senders = lock(waiters).remove(run_id).unwrap_or_default();
    let mut result = Some(result);
    let count = senders.len();
    for (i, sender) in senders.into_iter().enumerate() {
        let item = if i + 1 == count { result.take() } else { result.as_ref().map(clone_result) };
        if let Some(item) = item {
            let _ = sender.send(item);
        }
    }
}

fn clone_result(result: &Result<RunResult>) -> Result<RunResult> {
    match result {
        Ok(r) => Ok(r.clone()),
        Err(e) => Err(HatchetError::Protocol { what: "WorkflowRunEvent", reason: e.to_string() }),
    }
}

async fn run_stream(
    mut client: DispatcherClient<AuthChannel>,
    waiters: Arc<Mutex<Waiters>>,
    mut commands: mpsc::UnboundedReceiver<String>,
) {
    let mut backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        // Idle until someone waits.
        if pending_ids(&waiters).is_empty() {
            match commands.recv().await {
                Some(_) => {}
                None => return,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        for id in pending_ids(&waiters) {
            let _ = tx.send(SubscribeToWorkflowRunsRequest { workflow_run_id: id });
        }
        let mut stream = match client.subscribe_to_workflow_runs(UnboundedReceiverStream::new(rx)).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                let delay = backoff.next_delay();
                tracing::warn!(code = ?status.code(), message = status.message(), ?delay,
                    "SubscribeToWorkflowRuns failed; retrying");
                if wait_or_closed(&mut commands, delay).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(id) => {
                        let _ = tx.send(SubscribeToWorkflowRunsRequest { workflow_run_id: id });
                    }
                    None => return,
                },
                message = stream.message() => match message {
                    Ok(Some(event)) => {
                        let run_id = event.workflow_run_id.clone();
                        let result = decode_run_event(event);
                        if let Err(error) = &result {
                            tracing::warn!(%run_id, %error, "malformed run event");
                        }
                        deliver(&waiters, &run_id, result);
                    }
                    Ok(None) => {
                        tracing::debug!("SubscribeToWorkflowRuns stream ended; reconnecting");
                        break;
                    }
                    Err(status) => {
                        tracing::warn!(code = ?status.code(), message = status.message(),
                            "SubscribeToWorkflowRuns stream broke; reconnecting");
                        break;
                    }
                },
            }
        }
        let delay = backoff.next_delay();
        if wait_or_closed(&mut commands, delay).await {
            return;
        }
    }
}

/// Sleeps for `delay`; returns true if the command channel closed meanwhile.
/// Commands received while sleeping are dropped: their ids are already in the waiter map.
async fn wait_or_closed(commands: &mut mpsc::UnboundedReceiver<String>, delay: Duration) -> bool {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return false,
            command = commands.recv() => if command.is_none() { return true },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{StepRunResult, WorkflowRunEvent};

    fn event(event_type: i32, results: Vec<StepRunResult>) -> WorkflowRunEvent {
        WorkflowRunEvent { workflow_run_id: "run-1".into(), event_type, event_timestamp: None, results }
    }

    fn result(error: Option<&str>, output: Option<&str>) -> StepRunResult {
        StepRunResult {
            task_run_external_id: "t-1".into(),
            task_name: "task".into(),
            job_run_id: String::new(),
            error: error.map(String::from),
            output: output.map(String::from),
        }
    }

    #[test]
    fn finished_event_decodes() {
        let r = decode_run_event(event(0, vec![result(None, Some("{\"a\":1}"))])).unwrap();
        assert_eq!(r.outcome().unwrap(), &TaskOutcome::Completed("{\"a\":1}".into()));
        assert_eq!(r.outcome().unwrap().output_json().unwrap()["a"], 1);
        let r = decode_run_event(event(0, vec![result(Some("boom"), None)])).unwrap();
        assert_eq!(r.outcome().unwrap(), &TaskOutcome::Failed("boom".into()));
    }

    #[test]
    fn unknown_event_type_is_an_error() {
        let err = decode_run_event(event(7, vec![])).unwrap_err();
        assert!(err.to_string().contains("unknown event type 7"), "{err}");
    }

    #[test]
    fn result_without_output_or_error_is_an_error() {
        let err = decode_run_event(event(0, vec![result(None, None)])).unwrap_err();
        assert!(err.to_string().contains("neither output nor error"), "{err}");
    }

    #[test]
    fn malformed_output_json_is_an_error() {
        let r = decode_run_event(event(0, vec![result(None, Some("{nope"))])).unwrap();
        let err = r.outcome().unwrap().output_json().unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
    }

    #[test]
    fn empty_results_have_no_outcome() {
        let r = decode_run_event(event(0, vec![])).unwrap();
        assert!(r.outcome().is_err());
    }
}
