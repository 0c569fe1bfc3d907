//! The fake engine's state machine: workflows, runs, workers and subscriptions.
//!
//! Everything lives in one [`Engine`] behind a mutex; every method is synchronous and never
//! awaits, so the lock is never held across an await point.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tonic::Status;

use crate::action::parse_metadata;
use crate::proto::{self, ActionType, AssignedAction, StepActionEventType, v1};
use crate::workflow::parse_duration_text;

/// Sender half of a worker's `ListenV2` stream.
pub(crate) type ActionSender = mpsc::UnboundedSender<Result<AssignedAction, Status>>;
/// Sender half of a `SubscribeToWorkflowRuns` stream.
pub(crate) type RunEventSender = mpsc::UnboundedSender<Result<proto::WorkflowRunEvent, Status>>;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Waiting for a worker.
    Queued,
    /// Sent to a worker, STARTED not yet received.
    Assigned,
    /// STARTED received.
    Running,
    /// Finished with an output.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl RunState {
    /// Whether the run has finished for good.
    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Completed | RunState::Failed | RunState::Cancelled)
    }

    fn to_proto(self) -> v1::RunStatus {
        match self {
            RunState::Queued | RunState::Assigned => v1::RunStatus::Queued,
            RunState::Running => v1::RunStatus::Running,
            RunState::Completed => v1::RunStatus::Completed,
            RunState::Failed => v1::RunStatus::Failed,
            RunState::Cancelled => v1::RunStatus::Cancelled,
        }
    }
}

/// A workflow as declared by `PutWorkflow`.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    /// Engine-side (namespaced, lower-case) name.
    pub name: String,
    /// Stable workflow id.
    pub workflow_id: String,
    /// Id of the latest version.
    pub version_id: String,
    /// The task's readable id.
    pub task_name: String,
    /// The task's action id.
    pub action: String,
    /// Retries allowed after the first attempt.
    pub retries: u32,
    /// Attempt timeout, if any.
    pub timeout: Option<Duration>,
    /// Concurrency settings (remembered, not enforced).
    pub concurrency: Vec<v1::Concurrency>,
    /// Input JSON schema text.
    pub input_json_schema: Option<String>,
}

/// A snapshot of one run, for tests.
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    /// The run id.
    pub workflow_run_id: String,
    /// The task run id.
    pub task_run_external_id: String,
    /// The workflow name.
    pub workflow: String,
    /// Current state.
    pub state: RunState,
    /// Current attempt number.
    pub retry_count: i32,
    /// How many times the run was sent to a worker (START actions).
    pub deliveries: u32,
    /// Workers the run was sent to, in order.
    pub assigned_workers: Vec<String>,
    /// Output of a completed run.
    pub output: Option<String>,
    /// Error of a failed or cancelled run.
    pub error: Option<String>,
    /// Metadata JSON text.
    pub additional_metadata: String,
}

/// A step event as the fake received it, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStepEvent {
    /// The reporting worker.
    pub worker_id: String,
    /// The task run id.
    pub task_run_external_id: String,
    /// The attempt the event refers to.
    pub retry_count: i32,
    /// The event type.
    pub event_type: StepActionEventType,
    /// The payload.
    pub payload: String,
    /// Whether it changed the run (false for stale or duplicate events).
    pub applied: bool,
}

#[derive(Debug)]
struct Run {
    id: String,
    task_run_id: String,
    workflow: String,
    action: String,
    task_name: String,
    workflow_id: String,
    version_id: String,
    input: Value,
    metadata: String,
    parent_id: Option<String>,
    child_index: Option<i32>,
    child_key: Option<String>,
    priority: i32,
    state: RunState,
    retry_count: i32,
    app_retries: u32,
    internal_retries: u32,
    max_retries: u32,
    timeout: Option<Duration>,
    worker: Option<String>,
    started_at: Option<Instant>,
    output: Option<String>,
    error: Option<String>,
    watchers: Vec<u64>,
    deliveries: u32,
    assigned_workers: Vec<String>,
}

#[derive(Debug)]
struct WorkerEntry {
    id: String,
    actions: HashSet<String>,
    slots: usize,
    running: HashSet<String>,
    last_heartbeat: Instant,
    listener: Option<ActionSender>,
    active: bool,
}

/// Settings the engine needs at run time.
#[derive(Debug, Clone)]
pub(crate) struct EngineSettings {
    pub tenant_id: String,
    pub inactivity_timeout: Duration,
    pub max_internal_retries: u32,
}

/// The whole fake engine state.
pub(crate) struct Engine {
    settings: EngineSettings,
    workflows: HashMap<String, WorkflowSpec>,
    runs: HashMap<String, Run>,
    by_task_run: HashMap<String, String>,
    queue: VecDeque<String>,
    workers: Vec<WorkerEntry>,
    rr_next: usize,
    children: HashMap<(String, String), String>,
    subscribers: HashMap<u64, RunEventSender>,
    next_id: u64,
    events: Vec<RecordedStepEvent>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn invalid(message: String) -> Status {
    Status::invalid_argument(message)
}

/// A validated trigger, ready to become a run.
pub(crate) struct NewRun {
    workflow: String,
    input: Value,
    metadata: String,
    parent_id: Option<String>,
    child_index: Option<i32>,
    child_key: Option<String>,
    priority: i32,
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Self {
        Engine {
            settings,
            workflows: HashMap::new(),
            runs: HashMap::new(),
            by_task_run: HashMap::new(),
            queue: VecDeque::new(),
            workers: Vec::new(),
            rr_next: 0,
            children: HashMap::new(),
            subscribers: HashMap::new(),
            next_id: 0,
            events: Vec::new(),
        }
    }

    // ---- workflows -------------------------------------------------------------------

    pub fn put_workflow(
        &mut self,
        request: v1::CreateWorkflowVersionRequest,
    ) -> Result<v1::CreateWorkflowVersionResponse, Status> {
        let name = request.name.trim().to_lowercase();
        if name.is_empty() {
            return Err(invalid("workflow name is empty".into()));
        }
        let [task] = request.tasks.as_slice() else {
            return Err(invalid(format!(
                "workflow {name:?} has {} tasks; the fake engine supports exactly one task per workflow",
                request.tasks.len()
            )));
        };
        if task.readable_id.is_empty() || task.action.is_empty() {
            return Err(invalid(format!("workflow {name:?}: task readable_id and action are required")));
        }
        let retries = u32::try_from(task.retries)
            .map_err(|_| invalid(format!("workflow {name:?}: retries {} is negative", task.retries)))?;
        let timeout = if task.timeout.is_empty() {
            None
        } else {
            Some(parse_duration_text(&task.timeout).ok_or_else(|| {
                invalid(format!("workflow {name:?}: timeout {:?} is not a duration like \"30s\"", task.timeout))
            })?)
        };
        let input_json_schema = match &request.input_json_schema {
            None => None,
            Some(bytes) => {
                let text = String::from_utf8(bytes.clone())
                    .map_err(|_| invalid(format!("workflow {name:?}: input_json_schema is not UTF-8")))?;
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| invalid(format!("workflow {name:?}: input_json_schema is not JSON: {e}")))?;
                Some(text)
            }
        };
        let mut concurrency = task.concurrency.clone();
        concurrency.extend(request.concurrency_arr.iter().cloned());
        concurrency.extend(request.concurrency.clone());
        let workflow_id = self.workflows.get(&name).map(|w| w.workflow_id.clone()).unwrap_or_else(new_id);
        let version_id = new_id();
        self.workflows.insert(
            name.clone(),
            WorkflowSpec {
                name,
                workflow_id: workflow_id.clone(),
                version_id: version_id.clone(),
                task_name: task.readable_id.clone(),
                action: task.action.to_lowercase(),
                retries,
                timeout,
                concurrency,
                input_json_schema,
            },
        );
        Ok(v1::CreateWorkflowVersionResponse { id: version_id, workflow_id })
    }

    pub fn workflow(&self, name: &str) -> Option<WorkflowSpec> {
        self.workflows.get(&name.to_lowercase()).cloned()
    }

    // ---- triggering --------------------------------------------------------------------

    pub fn validate_trigger(&self, request: &v1::TriggerWorkflowRequest) -> Result<NewRun, Status> {
        let workflow = request.name.trim().to_lowercase();
        if workflow.is_empty() {
            return Err(invalid("workflow name is empty".into()));
        }
        if !self.workflows.contains_key(&workflow) {
            return Err(Status::not_found(format!("workflow {workflow:?} is not registered; call PutWorkflow first")));
        }
        let input = if request.input.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&request.input)
                .map_err(|e| invalid(format!("input of {workflow:?} is not JSON: {e}")))?
        };
        let metadata = parse_metadata(request.additional_metadata.as_deref())
            .map_err(|reason| invalid(format!("{reason} (workflow {workflow:?})")))?;
        if request.parent_id.is_none() && (request.child_index.is_some() || request.child_key.is_some()) {
            return Err(invalid("child_index/child_key need parent_id".into()));
        }
        Ok(NewRun {
            workflow,
            input,
            metadata: Value::Object(metadata).to_string(),
            parent_id: request.parent_id.clone(),
            child_index: request.child_index,
            child_key: request.child_key.clone(),
            priority: request.priority.unwrap_or(1),
        })
    }

    fn child_key(run: &NewRun) -> Option<(String, String)> {
        let parent = run.parent_id.clone()?;
        if let Some(key) = &run.child_key {
            Some((parent, format!("key:{key}")))
        } else {
            run.child_index.map(|i| (parent, format!("index:{i}")))
        }
    }

    pub fn create_run(&mut self, new: NewRun) -> String {
        let dedupe = Self::child_key(&new);
        if let Some(existing) = dedupe.as_ref().and_then(|k| self.children.get(k)) {
            return existing.clone();
        }
        let Some(spec) = self.workflows.get(&new.workflow) else {
            return String::new();
        };
        let id = new_id();
        let task_run_id = new_id();
        let run = Run {
            id: id.clone(),
            task_run_id: task_run_id.clone(),
            workflow: spec.name.clone(),
            action: spec.action.clone(),
            task_name: spec.task_name.clone(),
            workflow_id: spec.workflow_id.clone(),
            version_id: spec.version_id.clone(),
            input: new.input,
            metadata: new.metadata,
            parent_id: new.parent_id,
            child_index: new.child_index,
            child_key: new.child_key,
            priority: new.priority,
            state: RunState::Queued,
            retry_count: 0,
            app_retries: 0,
            internal_retries: 0,
            max_retries: spec.retries,
            timeout: spec.timeout,
            worker: None,
            started_at: None,
            output: None,
            error: None,
            watchers: Vec::new(),
            deliveries: 0,
            assigned_workers: Vec::new(),
        };
        if let Some(key) = dedupe {
            self.children.insert(key, id.clone());
        }
        self.by_task_run.insert(task_run_id, id.clone());
        self.runs.insert(id.clone(), run);
        self.queue.push_back(id.clone());
        id
    }

    // ---- workers -----------------------------------------------------------------------

    pub fn register(&mut self, request: proto::WorkerRegisterRequest) -> Result<proto::WorkerRegisterResponse, Status> {
        if request.worker_name.trim().is_empty() {
            return Err(invalid("worker_name is empty".into()));
        }
        let slots = match request.slots {
            None => request.slot_config.get("default").copied().unwrap_or(100),
            Some(n) => n,
        };
        let slots = usize::try_from(slots)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid(format!("slots must be positive, got {slots}")))?;
        let id = new_id();
        self.workers.push(WorkerEntry {
            id: id.clone(),
            actions: request.actions.iter().map(|a| a.to_lowercase()).collect(),
            slots,
            running: HashSet::new(),
            last_heartbeat: Instant::now(),
            listener: None,
            active: true,
        });
        Ok(proto::WorkerRegisterResponse {
            tenant_id: self.settings.tenant_id.clone(),
            worker_id: id,
            worker_name: request.worker_name,
        })
    }

    fn worker_index(&self, worker_id: &str) -> Result<usize, Status> {
        self.workers
            .iter()
            .position(|w| w.id == worker_id)
            .ok_or_else(|| Status::not_found(format!("worker {worker_id:?} is not registered; call Register first")))
    }

    pub fn listen(&mut self, worker_id: &str, sender: ActionSender) -> Result<(), Status> {
        let index = self.worker_index(worker_id)?;
        let worker = &mut self.workers[index];
        worker.listener = Some(sender);
        // Re-send what was assigned but never started: it may have been lost with the old stream.
        let unstarted: Vec<String> = worker
            .running
            .iter()
            .filter(|id| self.runs.get(*id).is_some_and(|r| r.state == RunState::Assigned))
            .cloned()
            .collect();
        for run_id in unstarted {
            if let Some(run) = self.runs.get(&run_id) {
                let action = self.start_action(run);
                if let Some(listener) = &self.workers[index].listener {
                    let _ = listener.send(Ok(action));
                }
            }
        }
        self.dispatch();
        Ok(())
    }

    pub fn heartbeat(&mut self, worker_id: &str) -> Result<(), Status> {
        let index = self.worker_index(worker_id)?;
        let worker = &mut self.workers[index];
        worker.last_heartbeat = Instant::now();
        if !worker.active {
            tracing::info!(worker_id, "worker is heartbeating again");
            worker.active = true;
            self.dispatch();
        }
        Ok(())
    }

    // ---- assignment ----------------------------------------------------------------------

    fn start_action(&self, run: &Run) -> AssignedAction {
        let payload = json!({
            "input": run.input,
            "parents": {},
            "triggers": {},
            "user_data": {},
            "overrides": {},
            "step_run_errors": {},
            "triggered_by": "manual",
        });
        AssignedAction {
            tenant_id: self.settings.tenant_id.clone(),
            workflow_run_id: run.id.clone(),
            get_group_key_run_id: String::new(),
            job_id: run.version_id.clone(),
            job_name: run.workflow.clone(),
            job_run_id: run.id.clone(),
            task_id: run.task_run_id.clone(),
            task_run_external_id: run.task_run_id.clone(),
            action_id: run.action.clone(),
            action_type: ActionType::StartStepRun as i32,
            action_payload: payload.to_string(),
            task_name: run.task_name.clone(),
            retry_count: run.retry_count,
            additional_metadata: Some(run.metadata.clone()),
            child_workflow_index: run.child_index,
            child_workflow_key: run.child_key.clone(),
            parent_workflow_run_id: run.parent_id.clone(),
            priority: run.priority,
            workflow_id: Some(run.workflow_id.clone()),
            workflow_version_id: Some(run.version_id.clone()),
        }
    }

    fn pick_worker(&mut self, action: &str) -> Option<usize> {
        let n = self.workers.len();
        for offset in 0..n {
            let i = (self.rr_next + offset) % n;
            let w = &self.workers[i];
            if w.active && w.listener.is_some() && w.actions.contains(action) && w.running.len() < w.slots {
                self.rr_next = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// Assigns queued runs to free workers, round-robin, in queue order.
    pub fn dispatch(&mut self) {
        let mut waiting = VecDeque::new();
        while let Some(run_id) = self.queue.pop_front() {
            let Some(run) = self.runs.get(&run_id) else {
                continue;
            };
            if run.state != RunState::Queued {
                continue;
            }
            let action_id = run.action.clone();
            let mut assigned = false;
            while let Some(index) = self.pick_worker(&action_id) {
                let Some(run) = self.runs.get(&run_id) else {
                    break;
                };
                let action = self.start_action(run);
                let worker = &mut self.workers[index];
                let sent = worker.listener.as_ref().is_some_and(|l| l.send(Ok(action)).is_ok());
                if !sent {
                    worker.listener = None;
                    continue;
                }
                worker.running.insert(run_id.clone());
                let worker_id = worker.id.clone();
                if let Some(run) = self.runs.get_mut(&run_id) {
                    run.state = RunState::Assigned;
                    run.worker = Some(worker_id.clone());
                    run.deliveries += 1;
                    run.assigned_workers.push(worker_id);
                }
                assigned = true;
                break;
            }
            if !assigned {
                waiting.push_back(run_id);
            }
        }
        self.queue = waiting;
    }

    fn release_slot(&mut self, run_id: &str) {
        let worker_id = self.runs.get_mut(run_id).and_then(|r| r.worker.take());
        if let Some(w) = worker_id.and_then(|id| self.workers.iter_mut().find(|w| w.id == id)) {
            w.running.remove(run_id);
        }
    }

    fn send_cancel(&self, run: &Run) {
        let Some(worker_id) = &run.worker else { return };
        let Some(worker) = self.workers.iter().find(|w| &w.id == worker_id) else {
            return;
        };
        let mut action = self.start_action(run);
        action.action_type = ActionType::CancelStepRun as i32;
        action.action_payload = String::new();
        if let Some(listener) = &worker.listener {
            let _ = listener.send(Ok(action));
        }
    }

    // ---- step events ---------------------------------------------------------------------

    pub fn step_event(&mut self, event: proto::StepActionEvent) -> Result<proto::ActionEventResponse, Status> {
        self.worker_index(&event.worker_id)?;
        let kind = StepActionEventType::try_from(event.event_type)
            .map_err(|_| invalid(format!("unknown step event type {}", event.event_type)))?;
        if kind == StepActionEventType::StepEventTypeUnknown {
            return Err(invalid("step event type is UNKNOWN (0); send STARTED, COMPLETED or FAILED".into()));
        }
        let run_id = self.by_task_run.get(&event.task_run_external_id).cloned();
        let Some(run) = run_id.as_ref().and_then(|id| self.runs.get(id)) else {
            let message = format!("task run {:?} does not exist", event.task_run_external_id);
            self.events.push(RecordedStepEvent {
                worker_id: event.worker_id,
                task_run_external_id: event.task_run_external_id,
                retry_count: event.retry_count.unwrap_or(0),
                event_type: kind,
                payload: event.event_payload,
                applied: false,
            });
            return Err(Status::not_found(message));
        };
        let run_id = run.id.clone();
        if kind == StepActionEventType::StepEventTypeCompleted && !event.event_payload.is_empty() {
            serde_json::from_str::<Value>(&event.event_payload)
                .map_err(|e| invalid(format!("COMPLETED payload is not JSON: {e}")))?;
        }
        let retry_count = event.retry_count.unwrap_or(run.retry_count);
        let current = retry_count == run.retry_count
            && !run.state.is_finished()
            && run.worker.as_deref() == Some(event.worker_id.as_str());
        let mut applied = false;
        if current {
            applied = true;
            match kind {
                StepActionEventType::StepEventTypeStarted => {
                    if let Some(run) = self.runs.get_mut(&run_id)
                        && run.state == RunState::Assigned
                    {
                        run.state = RunState::Running;
                        run.started_at = Some(Instant::now());
                    }
                }
                StepActionEventType::StepEventTypeAcknowledged => {}
                StepActionEventType::StepEventTypeCompleted => {
                    let output =
                        if event.event_payload.is_empty() { "null".to_string() } else { event.event_payload.clone() };
                    self.release_slot(&run_id);
                    self.finish(&run_id, RunState::Completed, Some(output), None);
                }
                StepActionEventType::StepEventTypeFailed => {
                    self.fail_attempt(&run_id, event.event_payload.clone(), event.should_not_retry.unwrap_or(false));
                }
                StepActionEventType::StepEventTypeCancelled => {
                    self.release_slot(&run_id);
                    self.finish(&run_id, RunState::Cancelled, None, Some("task cancelled".into()));
                }
                StepActionEventType::StepEventTypeUnknown => applied = false,
            }
        }
        self.events.push(RecordedStepEvent {
            worker_id: event.worker_id.clone(),
            task_run_external_id: event.task_run_external_id,
            retry_count,
            event_type: kind,
            payload: event.event_payload,
            applied,
        });
        self.dispatch();
        Ok(proto::ActionEventResponse { tenant_id: self.settings.tenant_id.clone(), worker_id: event.worker_id })
    }

    /// An attempt failed: retry it if retries remain, else fail the run.
    fn fail_attempt(&mut self, run_id: &str, error: String, non_retryable: bool) {
        self.release_slot(run_id);
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        if !non_retryable && run.app_retries < run.max_retries {
            run.app_retries += 1;
            run.retry_count += 1;
            run.state = RunState::Queued;
            run.started_at = None;
            self.queue.push_back(run_id.to_string());
        } else {
            self.finish(run_id, RunState::Failed, None, Some(error));
        }
    }

    fn finish(&mut self, run_id: &str, state: RunState, output: Option<String>, error: Option<String>) {
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        run.state = state;
        run.output = output;
        run.error = error;
        let watchers = std::mem::take(&mut run.watchers);
        let event = Self::run_event(run);
        for id in watchers {
            if let Some(sender) = self.subscribers.get(&id)
                && sender.send(Ok(event.clone())).is_err()
            {
                self.subscribers.remove(&id);
            }
        }
    }

    fn run_event(run: &Run) -> proto::WorkflowRunEvent {
        proto::WorkflowRunEvent {
            workflow_run_id: run.id.clone(),
            event_type: proto::WorkflowRunEventType::Finished as i32,
            event_timestamp: Some(crate::connection::now_timestamp()),
            results: vec![proto::StepRunResult {
                task_run_external_id: run.task_run_id.clone(),
                task_name: run.task_name.clone(),
                job_run_id: run.id.clone(),
                error: run.error.clone(),
                output: run.output.clone(),
            }],
        }
    }

    // ---- cancellation, details -------------------------------------------------------------

    pub fn cancel(&mut self, external_ids: &[String]) -> Vec<String> {
        let mut cancelled = Vec::new();
        for id in external_ids {
            let run_id = if self.runs.contains_key(id) {
                id.clone()
            } else if let Some(run_id) = self.by_task_run.get(id) {
                run_id.clone()
            } else {
                continue;
            };
            let Some(run) = self.runs.get(&run_id) else {
                continue;
            };
            if run.state.is_finished() {
                continue;
            }
            self.send_cancel(run);
            cancelled.push(run.task_run_id.clone());
            self.release_slot(&run_id);
            self.finish(&run_id, RunState::Cancelled, None, Some("task cancelled".into()));
        }
        self.dispatch();
        cancelled
    }

    pub fn run_details(&self, run_id: &str) -> Result<v1::GetRunDetailsResponse, Status> {
        let run = self
            .runs
            .get(run_id)
            .or_else(|| self.by_task_run.get(run_id).and_then(|id| self.runs.get(id)))
            .ok_or_else(|| Status::not_found(format!("run {run_id:?} does not exist")))?;
        let detail = v1::TaskRunDetail {
            external_id: run.task_run_id.clone(),
            status: run.state.to_proto() as i32,
            error: run.error.clone(),
            output: run.output.clone().map(String::into_bytes),
            readable_id: run.task_name.clone(),
            is_evicted: false,
        };
        Ok(v1::GetRunDetailsResponse {
            input: run.input.to_string().into_bytes(),
            status: run.state.to_proto() as i32,
            task_runs: HashMap::from([(run.task_name.clone(), detail)]),
            done: run.state.is_finished(),
            additional_metadata: run.metadata.clone().into_bytes(),
            is_evicted: false,
        })
    }

    // ---- subscriptions -----------------------------------------------------------------------

    pub fn add_subscriber(&mut self, sender: RunEventSender) -> u64 {
        self.next_id += 1;
        self.subscribers.insert(self.next_id, sender);
        self.next_id
    }

    pub fn remove_subscriber(&mut self, id: u64) {
        self.subscribers.remove(&id);
    }

    pub fn subscribe(&mut self, subscriber: u64, run_id: &str) {
        let Some(run) = self.runs.get_mut(run_id) else {
            tracing::debug!(run_id, "subscription to an unknown run ignored");
            return;
        };
        if run.state.is_finished() {
            let event = Self::run_event(run);
            if let Some(sender) = self.subscribers.get(&subscriber) {
                let _ = sender.send(Ok(event));
            }
        } else if !run.watchers.contains(&subscriber) {
            run.watchers.push(subscriber);
        }
    }

    // ---- liveness and timeouts -------------------------------------------------------------

    /// Marks silent workers inactive and requeues their runs; fails timed-out attempts.
    pub fn sweep(&mut self, now: Instant) {
        let threshold = self.settings.inactivity_timeout;
        let mut orphaned = Vec::new();
        for worker in &mut self.workers {
            if worker.active && now.duration_since(worker.last_heartbeat) > threshold {
                tracing::info!(worker_id = %worker.id, "worker stopped heartbeating; reassigning its runs");
                worker.active = false;
                orphaned.extend(worker.running.drain());
            }
        }
        for run_id in orphaned {
            let max = self.settings.max_internal_retries;
            let Some(run) = self.runs.get_mut(&run_id) else {
                continue;
            };
            run.worker = None;
            if run.internal_retries < max {
                run.internal_retries += 1;
                run.retry_count += 1;
                run.state = RunState::Queued;
                run.started_at = None;
                self.queue.push_front(run_id);
            } else {
                self.finish(
                    &run_id,
                    RunState::Failed,
                    None,
                    Some("the worker running this task stopped responding".into()),
                );
            }
        }
        let timed_out: Vec<(String, Duration)> = self
            .runs
            .values()
            .filter(|r| r.state == RunState::Running)
            .filter_map(|r| match (r.started_at, r.timeout) {
                (Some(start), Some(timeout)) if now.duration_since(start) > timeout => Some((r.id.clone(), timeout)),
                _ => None,
            })
            .collect();
        for (run_id, timeout) in timed_out {
            if let Some(run) = self.runs.get(&run_id) {
                self.send_cancel(run);
            }
            self.fail_attempt(&run_id, format!("task timed out after {}s", timeout.as_secs_f64()), false);
        }
        self.dispatch();
    }

    // ---- inspection -----------------------------------------------------------------------

    pub fn snapshot(&self, run_id: &str) -> Option<RunSnapshot> {
        self.runs.get(run_id).map(|r| RunSnapshot {
            workflow_run_id: r.id.clone(),
            task_run_external_id: r.task_run_id.clone(),
            workflow: r.workflow.clone(),
            state: r.state,
            retry_count: r.retry_count,
            deliveries: r.deliveries,
            assigned_workers: r.assigned_workers.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            additional_metadata: r.metadata.clone(),
        })
    }

    pub fn events(&self) -> Vec<RecordedStepEvent> {
        self.events.clone()
    }

    pub fn watchers(&self, run_id: &str) -> usize {
        self.runs.get(run_id).map_or(0, |r| r.watchers.iter().filter(|id| self.subscribers.contains_key(id)).count())
    }

    pub fn is_listening(&self, worker_id: &str) -> bool {
        self.workers.iter().any(|w| w.id == worker_id && w.listener.as_ref().is_some_and(|l| !l.is_closed()))
    }

    pub fn inject(&mut self, worker_id: &str, action: AssignedAction) -> bool {
        self.workers
            .iter()
            .find(|w| w.id == worker_id)
            .and_then(|w| w.listener.as_ref())
            .is_some_and(|l| l.send(Ok(action)).is_ok())
    }

    /// Ends every open stream (before shutting the server down).
    pub fn close_streams(&mut self) {
        for worker in &mut self.workers {
            worker.listener = None;
        }
        self.subscribers.clear();
    }
}
