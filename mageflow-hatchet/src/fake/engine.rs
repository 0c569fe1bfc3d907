//! The fake engine's state machine: workflows, runs and their tasks, workers, subscriptions.
//!
//! Everything lives in one [`Engine`] behind a mutex; every method is synchronous and never
//! awaits, so the lock is never held across an await point.
//!
//! A *run* is one execution of a workflow; it owns one *task run* per task of the workflow.
//! Tasks without parents are queued when the run is created; a task whose parents all completed
//! is queued next, with their outputs in its payload's `parents`. A failed or cancelled task
//! cancels the tasks that depend on it. The run finishes when all its tasks have finished.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

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
/// Sender half of a `SubscribeToWorkflowEvents` stream.
pub(crate) type WorkflowEventSender = mpsc::UnboundedSender<Result<proto::WorkflowEvent, Status>>;

/// Where a run, or one task of a run, is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// A task waiting for its parent tasks to complete.
    Pending,
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
    /// Whether the run (or task) has finished for good.
    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Completed | RunState::Failed | RunState::Cancelled)
    }

    fn to_proto(self) -> v1::RunStatus {
        match self {
            RunState::Pending | RunState::Queued | RunState::Assigned => v1::RunStatus::Queued,
            RunState::Running => v1::RunStatus::Running,
            RunState::Completed => v1::RunStatus::Completed,
            RunState::Failed => v1::RunStatus::Failed,
            RunState::Cancelled => v1::RunStatus::Cancelled,
        }
    }
}

/// One task of a declared workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task's readable id (its name within the workflow).
    pub readable_id: String,
    /// The task's action id, `"<workflow>:<task>"` in lower case.
    pub action: String,
    /// Readable ids of the tasks that must complete before this one starts.
    pub parents: Vec<String>,
    /// Retries allowed after the first attempt.
    pub retries: u32,
    /// Attempt timeout (Hatchet's 60 s when the task declares none).
    pub timeout: Option<Duration>,
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
    /// The first task's readable id (the only task of a single-task workflow).
    pub task_name: String,
    /// The first task's action id.
    pub action: String,
    /// The first task's retries.
    pub retries: u32,
    /// The first task's attempt timeout, if any.
    pub timeout: Option<Duration>,
    /// Every task, in declaration order.
    pub tasks: Vec<TaskSpec>,
    /// Event keys that start a run of this workflow (`EventsService.Push`).
    pub event_triggers: Vec<String>,
    /// Priority of runs triggered without one.
    pub default_priority: Option<i32>,
    /// Concurrency settings (remembered, not enforced).
    pub concurrency: Vec<v1::Concurrency>,
    /// Input JSON schema text.
    pub input_json_schema: Option<String>,
}

/// The state of one task of a run, for tests.
#[derive(Debug, Clone)]
pub struct TaskSnapshot {
    /// The task run id.
    pub task_run_external_id: String,
    /// The task's readable id.
    pub readable_id: String,
    /// Current state.
    pub state: RunState,
    /// Current attempt number.
    pub retry_count: i32,
    /// How many times the task was sent to a worker (START actions).
    pub deliveries: u32,
    /// Workers the task was sent to, in order.
    pub assigned_workers: Vec<String>,
    /// Output JSON text of a completed task.
    pub output: Option<String>,
    /// Error of a failed or cancelled task.
    pub error: Option<String>,
}

/// A snapshot of one run, for tests.
///
/// The task fields (`task_run_external_id` to `error`) describe the run's first task, which is
/// its only task in a single-task workflow; `tasks` has every task.
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    /// The run id.
    pub workflow_run_id: String,
    /// The first task's run id.
    pub task_run_external_id: String,
    /// The workflow name.
    pub workflow: String,
    /// State of the run as a whole.
    pub state: RunState,
    /// The first task's attempt number.
    pub retry_count: i32,
    /// How many times the first task was sent to a worker.
    pub deliveries: u32,
    /// Workers the first task was sent to, in order.
    pub assigned_workers: Vec<String>,
    /// The first task's output.
    pub output: Option<String>,
    /// The first task's error.
    pub error: Option<String>,
    /// Metadata JSON text.
    pub additional_metadata: String,
    /// Priority of the run (1 to 3).
    pub priority: i32,
    /// The parent task run id of a child run.
    pub parent_task_run_external_id: Option<String>,
    /// Every task of the run, in declaration order.
    pub tasks: Vec<TaskSnapshot>,
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

/// A log line stored by `EventsService.PutLog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The task run the line belongs to.
    pub task_run_external_id: String,
    /// The attempt the line belongs to (the request's, else the task's current attempt).
    pub retry_count: i32,
    /// The text.
    pub message: String,
    /// The level, as sent (`INFO`, `ERROR`, ...), if any.
    pub level: Option<String>,
    /// Metadata JSON object text, empty when none was sent.
    pub metadata: String,
    /// When the client says the line was written, if it said.
    pub created_at: Option<SystemTime>,
}

/// Requests the fake received, kept as sent (tests comparing what clients send).
#[derive(Debug, Clone, Default)]
pub struct RecordedRequests {
    /// `v1.AdminService.PutWorkflow` requests.
    pub put_workflow: Vec<v1::CreateWorkflowVersionRequest>,
    /// `Dispatcher.Register` requests.
    pub register: Vec<proto::WorkerRegisterRequest>,
    /// Single and bulk `TriggerWorkflow` requests, one entry per run requested.
    pub trigger: Vec<v1::TriggerWorkflowRequest>,
    /// `EventsService.Push` requests.
    pub push: Vec<proto::PushEventRequest>,
}

#[derive(Debug)]
struct TaskRun {
    id: String,
    /// Hatchet's numeric task id (REST `taskId`).
    number: i64,
    run_id: String,
    readable_id: String,
    action: String,
    parents: Vec<String>,
    state: RunState,
    retry_count: i32,
    app_retries: u32,
    internal_retries: u32,
    max_retries: u32,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    not_before: Option<Instant>,
    worker: Option<String>,
    output: Option<String>,
    error: Option<String>,
    deliveries: u32,
    assigned_workers: Vec<String>,
}

#[derive(Debug)]
struct Run {
    id: String,
    workflow: String,
    workflow_id: String,
    version_id: String,
    input: Value,
    metadata: String,
    triggered_by: &'static str,
    parent_task: Option<String>,
    parent_run: Option<String>,
    child_index: Option<i32>,
    child_key: Option<String>,
    priority: i32,
    desired_worker: Option<String>,
    tasks: Vec<String>,
    watchers: Vec<u64>,
    finished: bool,
    created_at: SystemTime,
    updated_at: SystemTime,
}

#[derive(Debug)]
struct WorkerEntry {
    id: String,
    actions: HashSet<String>,
    slots: usize,
    running: HashSet<String>,
    last_heartbeat: Instant,
    listener: Option<ActionSender>,
    labels: HashMap<String, proto::WorkerLabels>,
}

/// Settings the engine needs at run time.
#[derive(Debug, Clone)]
pub(crate) struct EngineSettings {
    pub tenant_id: String,
    /// No new work goes to a worker silent for longer than this.
    pub stop_assigning_after: Duration,
    /// The runs of a worker silent for longer than this go to other workers.
    pub inactivity_timeout: Duration,
    pub max_internal_retries: u32,
}

/// The whole fake engine state.
pub(crate) struct Engine {
    settings: EngineSettings,
    workflows: HashMap<String, WorkflowSpec>,
    runs: HashMap<String, Run>,
    run_order: Vec<String>,
    tasks: HashMap<String, TaskRun>,
    queue: VecDeque<String>,
    workers: Vec<WorkerEntry>,
    rr_next: usize,
    children: HashMap<(String, String), String>,
    subscribers: HashMap<u64, RunEventSender>,
    event_watchers: Vec<(String, WorkflowEventSender)>,
    next_id: u64,
    events: Vec<RecordedStepEvent>,
    logs: Vec<LogLine>,
    recorded: RecordedRequests,
}

/// Hatchet's execution timeout for a task declared without one.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(60);

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

fn parse_uuid(field: &str, value: &str) -> Result<String, Status> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.to_string())
        .map_err(|e| invalid(format!("{field} must be a valid UUID, got {value:?}: {e}")))
}

/// A validated trigger, ready to become a run.
pub(crate) struct NewRun {
    workflow: String,
    input: Value,
    metadata: String,
    triggered_by: &'static str,
    parent_task: Option<String>,
    child_index: Option<i32>,
    child_key: Option<String>,
    priority: Option<i32>,
    desired_worker: Option<String>,
}

/// Checks that `parents` only name tasks of the workflow and that they form no cycle.
fn check_dag(name: &str, tasks: &[TaskSpec]) -> Result<(), Status> {
    let ids: HashSet<&str> = tasks.iter().map(|t| t.readable_id.as_str()).collect();
    if ids.len() != tasks.len() {
        return Err(invalid(format!("workflow {name:?}: two tasks share a readable_id")));
    }
    for task in tasks {
        if let Some(missing) = task.parents.iter().find(|p| !ids.contains(p.as_str())) {
            return Err(invalid(format!(
                "workflow {name:?}: task {:?} names parent {missing:?}, which is not a task of the workflow",
                task.readable_id
            )));
        }
    }
    // Kahn's algorithm: every task must become ready at some point.
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        let ready: Vec<&str> = tasks
            .iter()
            .filter(|t| !done.contains(t.readable_id.as_str()))
            .filter(|t| t.parents.iter().all(|p| done.contains(p.as_str())))
            .map(|t| t.readable_id.as_str())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    if done.len() != tasks.len() {
        return Err(invalid(format!("workflow {name:?}: the task parents form a cycle")));
    }
    Ok(())
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Self {
        Engine {
            settings,
            workflows: HashMap::new(),
            runs: HashMap::new(),
            run_order: Vec::new(),
            tasks: HashMap::new(),
            queue: VecDeque::new(),
            workers: Vec::new(),
            rr_next: 0,
            children: HashMap::new(),
            subscribers: HashMap::new(),
            event_watchers: Vec::new(),
            next_id: 0,
            events: Vec::new(),
            logs: Vec::new(),
            recorded: RecordedRequests::default(),
        }
    }

    // ---- workflows -------------------------------------------------------------------

    fn task_spec(name: &str, task: &v1::CreateTaskOpts) -> Result<TaskSpec, Status> {
        if task.readable_id.is_empty() || task.action.is_empty() {
            return Err(invalid(format!("workflow {name:?}: task readable_id and action are required")));
        }
        let retries = u32::try_from(task.retries).map_err(|_| {
            invalid(format!("workflow {name:?}: task {:?} has negative retries {}", task.readable_id, task.retries))
        })?;
        let timeout = if task.timeout.is_empty() {
            Some(DEFAULT_TASK_TIMEOUT)
        } else {
            Some(parse_duration_text(&task.timeout).ok_or_else(|| {
                invalid(format!(
                    "workflow {name:?}: task {:?} timeout {:?} is not a duration like \"30s\"",
                    task.readable_id, task.timeout
                ))
            })?)
        };
        Ok(TaskSpec {
            readable_id: task.readable_id.clone(),
            action: task.action.to_lowercase(),
            parents: task.parents.clone(),
            retries,
            timeout,
        })
    }

    pub fn put_workflow(
        &mut self,
        request: v1::CreateWorkflowVersionRequest,
    ) -> Result<v1::CreateWorkflowVersionResponse, Status> {
        self.recorded.put_workflow.push(request.clone());
        let name = request.name.trim().to_lowercase();
        if name.is_empty() {
            return Err(invalid("workflow name is empty"));
        }
        if request.tasks.is_empty() {
            return Err(invalid(format!("workflow {name:?} has no tasks; declare at least one")));
        }
        let tasks = request.tasks.iter().map(|t| Self::task_spec(&name, t)).collect::<Result<Vec<_>, _>>()?;
        check_dag(&name, &tasks)?;
        if let Some(priority) = request.default_priority
            && !(1..=3).contains(&priority)
        {
            return Err(invalid(format!(
                "workflow {name:?}: default_priority must be between 1 and 3, got {priority}"
            )));
        }
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
        let mut concurrency: Vec<v1::Concurrency> = request.tasks.iter().flat_map(|t| t.concurrency.clone()).collect();
        concurrency.extend(request.concurrency_arr.iter().cloned());
        concurrency.extend(request.concurrency.clone());
        let workflow_id = self.workflows.get(&name).map(|w| w.workflow_id.clone()).unwrap_or_else(new_id);
        let version_id = new_id();
        let first = tasks[0].clone();
        self.workflows.insert(
            name.clone(),
            WorkflowSpec {
                name,
                workflow_id: workflow_id.clone(),
                version_id: version_id.clone(),
                task_name: first.readable_id,
                action: first.action,
                retries: first.retries,
                timeout: first.timeout,
                tasks,
                event_triggers: request.event_triggers.clone(),
                default_priority: request.default_priority,
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

    /// Validates a trigger the way Hatchet's admin service does (`newTriggerOpt` and ingest).
    pub fn validate_trigger(&mut self, request: &v1::TriggerWorkflowRequest) -> Result<NewRun, Status> {
        self.recorded.trigger.push(request.clone());
        let workflow = request.name.trim().to_lowercase();
        if workflow.is_empty() {
            return Err(invalid("workflow name is empty"));
        }
        let desired_worker =
            request.desired_worker_id.as_deref().map(|id| parse_uuid("desired_worker_id", id)).transpose()?;
        if let Some(priority) = request.priority
            && !(1..=3).contains(&priority)
        {
            return Err(invalid(format!("priority must be between 1 and 3, got {priority}")));
        }
        // Only the parent *task* run id makes a child; `parent_id`, `child_index` and
        // `child_key` are ignored without it (SDKs send `child_index = 0` on every trigger).
        let (parent_task, child_index, child_key) = match request.parent_task_run_external_id.as_deref() {
            None => (None, None, None),
            Some(parent) => {
                let parent = parse_uuid("parent_task_run_external_id", parent)?;
                if !self.tasks.contains_key(&parent) {
                    // Hatchet wraps the failed lookup in a plain error, which gRPC reports as UNKNOWN.
                    return Err(Status::unknown(format!(
                        "could not create trigger opt: could not find parent task {parent:?}"
                    )));
                }
                let index = request.child_index.ok_or_else(|| {
                    invalid("child_index is required with parent_task_run_external_id (SDKs count children from 0)")
                })?;
                (Some(parent), Some(index), request.child_key.clone())
            }
        };
        let input = if request.input.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&request.input)
                .map_err(|e| invalid(format!("invalid request: input of {workflow:?} is not JSON: {e}")))?
        };
        let metadata = parse_metadata(request.additional_metadata.as_deref())
            .map_err(|reason| invalid(format!("invalid request: {reason} (workflow {workflow:?})")))?;
        if !self.workflows.contains_key(&workflow) {
            return Err(invalid(format!("workflow names not found: {workflow}; declare it with PutWorkflow first")));
        }
        Ok(NewRun {
            workflow,
            input,
            metadata: Value::Object(metadata).to_string(),
            triggered_by: "manual",
            parent_task,
            child_index,
            child_key,
            priority: request.priority,
            desired_worker,
        })
    }

    fn child_key(run: &NewRun) -> Option<(String, String)> {
        let parent = run.parent_task.clone()?;
        match (&run.child_key, run.child_index) {
            (Some(key), _) => Some((parent, format!("key:{key}"))),
            (None, Some(index)) => Some((parent, format!("index:{index}"))),
            (None, None) => None,
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
        let parent_run = new.parent_task.as_ref().and_then(|t| self.tasks.get(t)).map(|t| t.run_id.clone());
        let mut task_ids = Vec::new();
        let mut ready = Vec::new();
        for task in &spec.tasks {
            let task_id = new_id();
            let state = if task.parents.is_empty() { RunState::Queued } else { RunState::Pending };
            if state == RunState::Queued {
                ready.push(task_id.clone());
            }
            self.tasks.insert(
                task_id.clone(),
                TaskRun {
                    id: task_id.clone(),
                    number: i64::try_from(self.tasks.len()).unwrap_or(i64::MAX) + 1,
                    run_id: id.clone(),
                    readable_id: task.readable_id.clone(),
                    action: task.action.clone(),
                    parents: task.parents.clone(),
                    state,
                    retry_count: 0,
                    app_retries: 0,
                    internal_retries: 0,
                    max_retries: task.retries,
                    timeout: task.timeout,
                    deadline: None,
                    not_before: None,
                    worker: None,
                    output: None,
                    error: None,
                    deliveries: 0,
                    assigned_workers: Vec::new(),
                },
            );
            task_ids.push(task_id);
        }
        let run = Run {
            id: id.clone(),
            workflow: spec.name.clone(),
            workflow_id: spec.workflow_id.clone(),
            version_id: spec.version_id.clone(),
            input: new.input,
            metadata: new.metadata,
            triggered_by: new.triggered_by,
            parent_task: new.parent_task,
            parent_run,
            child_index: new.child_index,
            child_key: new.child_key,
            priority: new.priority.or(spec.default_priority).unwrap_or(1),
            desired_worker: new.desired_worker,
            tasks: task_ids,
            watchers: Vec::new(),
            finished: false,
            created_at: SystemTime::now(),
            updated_at: SystemTime::now(),
        };
        if let Some(key) = dedupe {
            self.children.insert(key, id.clone());
        }
        self.runs.insert(id.clone(), run);
        self.run_order.push(id.clone());
        self.queue.extend(ready);
        id
    }

    /// `EventsService.Push`: stores nothing but the request, starts a run of every workflow
    /// whose event triggers name the key, and answers the event.
    pub fn push_event(&mut self, request: proto::PushEventRequest) -> Result<proto::Event, Status> {
        self.recorded.push.push(request.clone());
        if request.key.trim().is_empty() {
            return Err(invalid("event key is empty"));
        }
        let payload = if request.payload.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str::<Value>(&request.payload)
                .map_err(|e| invalid(format!("invalid request: event payload is not JSON: {e}")))?
        };
        let metadata = parse_metadata(request.additional_metadata.as_deref())
            .map_err(|reason| invalid(format!("invalid request: {reason} (event {:?})", request.key)))?;
        if let Some(priority) = request.priority
            && !(1..=3).contains(&priority)
        {
            return Err(invalid(format!("priority must be between 1 and 3, got {priority}")));
        }
        let mut names: Vec<String> = self
            .workflows
            .values()
            .filter(|w| w.event_triggers.contains(&request.key))
            .map(|w| w.name.clone())
            .collect();
        names.sort();
        for workflow in names {
            self.create_run(NewRun {
                workflow,
                input: payload.clone(),
                metadata: Value::Object(metadata.clone()).to_string(),
                triggered_by: "event",
                parent_task: None,
                child_index: None,
                child_key: None,
                priority: request.priority,
                desired_worker: None,
            });
        }
        self.dispatch();
        Ok(proto::Event {
            tenant_id: self.settings.tenant_id.clone(),
            event_id: new_id(),
            key: request.key,
            payload: request.payload,
            event_timestamp: request.event_timestamp.or_else(|| Some(crate::connection::now_timestamp())),
            additional_metadata: request.additional_metadata,
            scope: request.scope,
        })
    }

    // ---- workers -----------------------------------------------------------------------

    pub fn register(&mut self, request: proto::WorkerRegisterRequest) -> Result<proto::WorkerRegisterResponse, Status> {
        self.recorded.register.push(request.clone());
        if request.worker_name.trim().is_empty() {
            return Err(invalid("worker_name is empty"));
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
            labels: request.labels.clone(),
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
        worker.last_heartbeat = Instant::now();
        // Re-send what was assigned but never started: it may have been lost with the old stream.
        let unstarted: Vec<String> = worker
            .running
            .iter()
            .filter(|id| self.tasks.get(*id).is_some_and(|t| t.state == RunState::Assigned))
            .cloned()
            .collect();
        for task_id in unstarted {
            if let Some(action) = self.start_action(&task_id)
                && let Some(listener) = &self.workers[index].listener
            {
                let _ = listener.send(Ok(action));
            }
        }
        self.dispatch();
        Ok(())
    }

    pub fn heartbeat(&mut self, worker_id: &str) -> Result<(), Status> {
        let index = self.worker_index(worker_id)?;
        self.workers[index].last_heartbeat = Instant::now();
        self.dispatch();
        Ok(())
    }

    pub fn upsert_labels(
        &mut self,
        request: proto::UpsertWorkerLabelsRequest,
    ) -> Result<proto::UpsertWorkerLabelsResponse, Status> {
        let index = self.worker_index(&request.worker_id)?;
        self.workers[index].labels.extend(request.labels);
        Ok(proto::UpsertWorkerLabelsResponse {
            tenant_id: self.settings.tenant_id.clone(),
            worker_id: request.worker_id,
        })
    }

    // ---- assignment ----------------------------------------------------------------------

    fn start_action(&self, task_id: &str) -> Option<AssignedAction> {
        let task = self.tasks.get(task_id)?;
        let run = self.runs.get(&task.run_id)?;
        let parents: Map<String, Value> = task
            .parents
            .iter()
            .filter_map(|p| {
                let sibling = run.tasks.iter().filter_map(|id| self.tasks.get(id)).find(|t| &t.readable_id == p)?;
                let output = sibling.output.as_deref().and_then(|o| serde_json::from_str(o).ok())?;
                Some((p.clone(), output))
            })
            .collect();
        let payload = json!({
            "input": run.input,
            "parents": parents,
            "triggers": {},
            "user_data": {},
            "overrides": {},
            "step_run_errors": {},
            "triggered_by": run.triggered_by,
        });
        Some(AssignedAction {
            tenant_id: self.settings.tenant_id.clone(),
            workflow_run_id: run.id.clone(),
            get_group_key_run_id: String::new(),
            job_id: run.version_id.clone(),
            job_name: run.workflow.clone(),
            job_run_id: run.id.clone(),
            task_id: task.id.clone(),
            task_run_external_id: task.id.clone(),
            action_id: task.action.clone(),
            action_type: ActionType::StartStepRun as i32,
            action_payload: payload.to_string(),
            task_name: task.readable_id.clone(),
            retry_count: task.retry_count,
            additional_metadata: Some(run.metadata.clone()),
            child_workflow_index: run.child_index,
            child_workflow_key: run.child_key.clone(),
            parent_workflow_run_id: run.parent_run.clone(),
            priority: run.priority,
            workflow_id: Some(run.workflow_id.clone()),
            workflow_version_id: Some(run.version_id.clone()),
        })
    }

    fn assignable(&self, index: usize, action: &str, now: Instant) -> bool {
        let w = &self.workers[index];
        w.listener.as_ref().is_some_and(|l| !l.is_closed())
            && now.duration_since(w.last_heartbeat) <= self.stop_assigning_after()
            && w.actions.contains(action)
            && w.running.len() < w.slots
    }

    fn stop_assigning_after(&self) -> Duration {
        self.settings.stop_assigning_after.min(self.settings.inactivity_timeout)
    }

    fn pick_worker(&mut self, action: &str, desired: Option<&str>, now: Instant) -> Option<usize> {
        if let Some(desired) = desired
            && let Some(i) = self.workers.iter().position(|w| w.id == desired)
            && self.assignable(i, action, now)
        {
            return Some(i);
        }
        let n = self.workers.len();
        for offset in 0..n {
            let i = (self.rr_next + offset) % n;
            if self.assignable(i, action, now) {
                self.rr_next = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// Assigns queued tasks to free workers, round-robin, higher priority first, then in queue order.
    pub fn dispatch(&mut self) {
        let now = Instant::now();
        let mut order: Vec<(i32, usize, String)> = self
            .queue
            .drain(..)
            .enumerate()
            .map(|(position, id)| {
                let priority = self.tasks.get(&id).and_then(|t| self.runs.get(&t.run_id)).map_or(1, |r| r.priority);
                (-priority, position, id)
            })
            .collect();
        order.sort();
        let mut waiting = VecDeque::new();
        for (_, _, task_id) in order {
            let Some(task) = self.tasks.get(&task_id) else {
                continue;
            };
            if task.state != RunState::Queued {
                continue;
            }
            if task.not_before.is_some_and(|t| t > now) {
                waiting.push_back(task_id);
                continue;
            }
            let action_id = task.action.clone();
            let desired = self.runs.get(&task.run_id).and_then(|r| r.desired_worker.clone());
            let mut assigned = false;
            while let Some(index) = self.pick_worker(&action_id, desired.as_deref(), now) {
                let Some(action) = self.start_action(&task_id) else {
                    break;
                };
                let worker = &mut self.workers[index];
                let sent = worker.listener.as_ref().is_some_and(|l| l.send(Ok(action)).is_ok());
                if !sent {
                    worker.listener = None;
                    continue;
                }
                worker.running.insert(task_id.clone());
                let worker_id = worker.id.clone();
                if let Some(task) = self.tasks.get_mut(&task_id) {
                    task.state = RunState::Assigned;
                    task.worker = Some(worker_id.clone());
                    task.not_before = None;
                    task.deliveries += 1;
                    task.assigned_workers.push(worker_id);
                }
                assigned = true;
                break;
            }
            if !assigned {
                waiting.push_back(task_id);
            }
        }
        self.queue = waiting;
    }

    fn release_slot(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let worker_id = task.worker.clone();
        if let Some(w) = worker_id.and_then(|id| self.workers.iter_mut().find(|w| w.id == id)) {
            w.running.remove(task_id);
        }
    }

    fn send_cancel(&self, task_id: &str) {
        let Some(task) = self.tasks.get(task_id) else { return };
        let Some(worker_id) = &task.worker else { return };
        let Some(worker) = self.workers.iter().find(|w| &w.id == worker_id) else {
            return;
        };
        let Some(mut action) = self.start_action(task_id) else { return };
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
            return Err(invalid("step event type is UNKNOWN (0); send STARTED, COMPLETED or FAILED"));
        }
        let Some(task) = self.tasks.get(&event.task_run_external_id) else {
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
        let task_id = task.id.clone();
        let retry_count = event.retry_count.unwrap_or(task.retry_count);
        let current = retry_count == task.retry_count
            && !task.state.is_finished()
            && task.worker.as_deref() == Some(event.worker_id.as_str());
        let mut applied = false;
        if current {
            applied = true;
            match kind {
                StepActionEventType::StepEventTypeStarted => {
                    // SDKs may send STARTED twice for one attempt; only the first one starts it.
                    applied = false;
                    if let Some(task) = self.tasks.get_mut(&task_id)
                        && task.state == RunState::Assigned
                    {
                        applied = true;
                        task.state = RunState::Running;
                        task.deadline = task.timeout.map(|t| Instant::now() + t);
                        let event = self.task_event(&task_id, proto::ResourceEventType::Started, String::new());
                        self.publish(event);
                    }
                }
                StepActionEventType::StepEventTypeAcknowledged => {}
                StepActionEventType::StepEventTypeCompleted => {
                    let payload = event.event_payload.trim();
                    let output = if payload.is_empty() { Ok("null".to_string()) } else { Self::json_output(payload) };
                    self.release_slot(&task_id);
                    match output {
                        Ok(output) => self.finish_task(&task_id, RunState::Completed, Some(output), None),
                        // Hatchet accepts the event, then fails the task whose output it cannot store.
                        Err(reason) => self.finish_task(&task_id, RunState::Failed, None, Some(reason)),
                    }
                }
                StepActionEventType::StepEventTypeFailed => {
                    let retry_after =
                        event.retry_after_ms.and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis);
                    self.fail_attempt(
                        &task_id,
                        event.event_payload.clone(),
                        event.should_not_retry.unwrap_or(false),
                        retry_after,
                    );
                }
                StepActionEventType::StepEventTypeCancelled => {
                    self.release_slot(&task_id);
                    self.finish_task(&task_id, RunState::Cancelled, None, Some("task cancelled".into()));
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

    fn json_output(payload: &str) -> Result<String, String> {
        match serde_json::from_str::<Value>(payload) {
            Ok(value) => Ok(value.to_string()),
            Err(e) => Err(format!("the task's output is not valid JSON: {e}")),
        }
    }

    /// An attempt failed: retry it if retries remain, else fail the task.
    fn fail_attempt(&mut self, task_id: &str, error: String, non_retryable: bool, retry_after: Option<Duration>) {
        self.release_slot(task_id);
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if !non_retryable && task.app_retries < task.max_retries {
            task.app_retries += 1;
            task.retry_count += 1;
            task.state = RunState::Queued;
            task.deadline = None;
            task.worker = None;
            task.not_before = retry_after.map(|d| Instant::now() + d);
            let event = self.task_event(task_id, proto::ResourceEventType::Failed, error);
            self.publish(event);
            self.queue.push_back(task_id.to_string());
        } else {
            self.finish_task(task_id, RunState::Failed, None, Some(error));
        }
    }

    /// Ends a task for good, moves its dependents on, and finishes its run when all tasks have.
    fn finish_task(&mut self, task_id: &str, state: RunState, output: Option<String>, error: Option<String>) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        task.state = state;
        task.output = output;
        task.error = error.clone();
        task.deadline = None;
        let run_id = task.run_id.clone();
        let readable_id = task.readable_id.clone();
        let (kind, payload) = match state {
            RunState::Completed => (proto::ResourceEventType::Completed, task.output.clone().unwrap_or_default()),
            RunState::Cancelled => (proto::ResourceEventType::Cancelled, error.unwrap_or_default()),
            _ => (proto::ResourceEventType::Failed, error.unwrap_or_default()),
        };
        let event = self.task_event(task_id, kind, payload);
        self.publish(event);
        let siblings: Vec<String> = self.runs.get(&run_id).map(|r| r.tasks.clone()).unwrap_or_default();
        for sibling in &siblings {
            let Some(t) = self.tasks.get(sibling) else { continue };
            if t.state != RunState::Pending || !t.parents.contains(&readable_id) {
                continue;
            }
            if state != RunState::Completed {
                let reason = format!("parent task {readable_id:?} did not complete");
                self.finish_task(sibling, RunState::Cancelled, None, Some(reason));
                continue;
            }
            let parents_done = t.parents.iter().all(|p| {
                siblings
                    .iter()
                    .filter_map(|id| self.tasks.get(id))
                    .any(|s| &s.readable_id == p && s.state == RunState::Completed)
            });
            if parents_done && let Some(t) = self.tasks.get_mut(sibling) {
                t.state = RunState::Queued;
                self.queue.push_back(sibling.clone());
            }
        }
        self.finish_run_if_done(&run_id);
    }

    fn run_state(&self, run: &Run) -> RunState {
        let states: Vec<RunState> = run.tasks.iter().filter_map(|id| self.tasks.get(id)).map(|t| t.state).collect();
        if states.iter().all(|s| s.is_finished()) {
            if states.contains(&RunState::Failed) {
                RunState::Failed
            } else if states.contains(&RunState::Cancelled) {
                RunState::Cancelled
            } else {
                RunState::Completed
            }
        } else if states.contains(&RunState::Running) {
            RunState::Running
        } else if states.contains(&RunState::Assigned) {
            RunState::Assigned
        } else {
            RunState::Queued
        }
    }

    fn finish_run_if_done(&mut self, run_id: &str) {
        let Some(run) = self.runs.get(run_id) else { return };
        if run.finished || !self.run_state(run).is_finished() {
            return;
        }
        let event = self.run_event(run);
        let state = self.run_state(run);
        let Some(run) = self.runs.get_mut(run_id) else { return };
        run.finished = true;
        run.updated_at = SystemTime::now();
        let watchers = std::mem::take(&mut run.watchers);
        for id in watchers {
            if let Some(sender) = self.subscribers.get(&id)
                && sender.send(Ok(event.clone())).is_err()
            {
                self.subscribers.remove(&id);
            }
        }
        let kind = match state {
            RunState::Completed => proto::ResourceEventType::Completed,
            RunState::Cancelled => proto::ResourceEventType::Cancelled,
            _ => proto::ResourceEventType::Failed,
        };
        let payload = if state == RunState::Completed { self.run_output(run_id) } else { String::new() };
        let mut last = self.workflow_event(run_id, proto::ResourceType::WorkflowRun, run_id, kind, payload);
        last.hangup = true;
        self.publish(last);
        self.event_watchers.retain(|(watched, _)| watched != run_id);
    }

    /// The outputs of a run's tasks as one JSON object keyed by readable id.
    fn run_output(&self, run_id: &str) -> String {
        let Some(run) = self.runs.get(run_id) else { return String::new() };
        let outputs: Map<String, Value> = run
            .tasks
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .filter_map(|t| {
                let output = serde_json::from_str(t.output.as_deref()?).ok()?;
                Some((t.readable_id.clone(), output))
            })
            .collect();
        Value::Object(outputs).to_string()
    }

    fn run_event(&self, run: &Run) -> proto::WorkflowRunEvent {
        proto::WorkflowRunEvent {
            workflow_run_id: run.id.clone(),
            event_type: proto::WorkflowRunEventType::Finished as i32,
            event_timestamp: Some(crate::connection::now_timestamp()),
            results: run
                .tasks
                .iter()
                .filter_map(|id| self.tasks.get(id))
                .map(|t| proto::StepRunResult {
                    task_run_external_id: t.id.clone(),
                    task_name: t.readable_id.clone(),
                    job_run_id: run.id.clone(),
                    error: t.error.clone(),
                    output: t.output.clone(),
                })
                .collect(),
        }
    }

    // ---- workflow events (SubscribeToWorkflowEvents) ---------------------------------------

    fn workflow_event(
        &self,
        run_id: &str,
        resource_type: proto::ResourceType,
        resource_id: &str,
        kind: proto::ResourceEventType,
        payload: String,
    ) -> proto::WorkflowEvent {
        let task = self.tasks.get(resource_id);
        proto::WorkflowEvent {
            workflow_run_id: run_id.to_string(),
            resource_type: resource_type as i32,
            event_type: kind as i32,
            resource_id: resource_id.to_string(),
            event_timestamp: Some(crate::connection::now_timestamp()),
            event_payload: payload,
            hangup: false,
            task_retries: task.map(|t| i32::try_from(t.max_retries).unwrap_or(i32::MAX)),
            retry_count: task.map(|t| t.retry_count),
            event_index: None,
        }
    }

    fn task_event(&self, task_id: &str, kind: proto::ResourceEventType, payload: String) -> proto::WorkflowEvent {
        let run_id = self.tasks.get(task_id).map(|t| t.run_id.clone()).unwrap_or_default();
        self.workflow_event(&run_id, proto::ResourceType::StepRun, task_id, kind, payload)
    }

    fn publish(&mut self, event: proto::WorkflowEvent) {
        self.event_watchers
            .retain(|(run_id, sender)| run_id != &event.workflow_run_id || sender.send(Ok(event.clone())).is_ok());
    }

    /// `SubscribeToWorkflowEvents` for one run: a finished run answers its final event at once.
    pub fn watch_events(&mut self, run_id: &str, sender: WorkflowEventSender) -> Result<(), Status> {
        let run_id = parse_uuid("workflow_run_id", run_id)?;
        let Some(run) = self.runs.get(&run_id) else {
            return Err(Status::not_found(format!("run {run_id:?} does not exist")));
        };
        if run.finished {
            let state = self.run_state(run);
            let kind = match state {
                RunState::Completed => proto::ResourceEventType::Completed,
                RunState::Cancelled => proto::ResourceEventType::Cancelled,
                _ => proto::ResourceEventType::Failed,
            };
            let payload = if state == RunState::Completed { self.run_output(&run_id) } else { String::new() };
            let mut last = self.workflow_event(&run_id, proto::ResourceType::WorkflowRun, &run_id, kind, payload);
            last.hangup = true;
            let _ = sender.send(Ok(last));
            return Ok(());
        }
        self.event_watchers.push((run_id, sender));
        Ok(())
    }

    // ---- logs, stream events, timeouts, slots ------------------------------------------------

    fn task_by_external_id(&self, field: &str, id: &str) -> Result<&TaskRun, Status> {
        let id = parse_uuid(field, id)?;
        self.tasks.get(&id).ok_or_else(|| Status::not_found(format!("task run {id:?} does not exist")))
    }

    /// `EventsService.PutLog`: stores the line.
    pub fn put_log(&mut self, request: proto::PutLogRequest) -> Result<(), Status> {
        let task = self.task_by_external_id("task_run_external_id", &request.task_run_external_id)?;
        let metadata = if request.metadata.trim().is_empty() {
            String::new()
        } else {
            match serde_json::from_str::<Value>(&request.metadata) {
                Ok(value @ Value::Object(_)) => value.to_string(),
                Ok(_) => return Err(invalid("invalid metadata JSON: metadata must be a JSON object")),
                Err(e) => return Err(invalid(format!("invalid metadata JSON: {e}"))),
            }
        };
        let line = LogLine {
            task_run_external_id: task.id.clone(),
            retry_count: request.task_retry_count.unwrap_or(task.retry_count),
            message: request.message,
            level: request.level,
            metadata,
            created_at: request.created_at.and_then(|t| SystemTime::try_from(t).ok()),
        };
        self.logs.push(line);
        Ok(())
    }

    /// `EventsService.PutStreamEvent`: forwards the chunk to the run's event watchers.
    pub fn put_stream_event(&mut self, request: proto::PutStreamEventRequest) -> Result<(), Status> {
        let task = self.task_by_external_id("task_run_external_id", &request.task_run_external_id)?;
        let mut event = self.task_event(
            &task.id.clone(),
            proto::ResourceEventType::Stream,
            String::from_utf8_lossy(&request.message).into_owned(),
        );
        event.event_index = request.event_index;
        self.publish(event);
        Ok(())
    }

    /// `Dispatcher.RefreshTimeout`: moves the running attempt's deadline `increment` later.
    pub fn refresh_timeout(&mut self, request: &proto::RefreshTimeoutRequest) -> Result<SystemTime, Status> {
        let increment = parse_duration_text(&request.increment_timeout_by).ok_or_else(|| {
            invalid(format!(
                "invalid request: increment_timeout_by {:?} is not a duration like \"10s\"",
                request.increment_timeout_by
            ))
        })?;
        let id = self.task_by_external_id("task_run_external_id", &request.task_run_external_id)?.id.clone();
        let Some(task) = self.tasks.get_mut(&id) else {
            return Err(Status::not_found(format!("task run {id:?} does not exist")));
        };
        if !matches!(task.state, RunState::Assigned | RunState::Running) {
            return Err(Status::failed_precondition(format!(
                "task run {id:?} is not running (it is {:?}); only a running task has a timeout to refresh",
                task.state
            )));
        }
        let now = Instant::now();
        let deadline = task.deadline.unwrap_or(now + task.timeout.unwrap_or_default()) + increment;
        task.deadline = Some(deadline);
        Ok(SystemTime::now() + deadline.saturating_duration_since(now))
    }

    /// `Dispatcher.ReleaseSlot`: the task keeps running but no longer counts against its worker's slots.
    pub fn release_slot_of(&mut self, task_run_external_id: &str) -> Result<(), Status> {
        let id = self.task_by_external_id("task_run_external_id", task_run_external_id)?.id.clone();
        self.release_slot(&id);
        self.dispatch();
        Ok(())
    }

    // ---- cancellation, details -------------------------------------------------------------

    /// Cancels the given runs or task runs; answers the task run ids it cancelled.
    pub fn cancel(&mut self, external_ids: &[String]) -> Vec<String> {
        let mut cancelled = Vec::new();
        for id in external_ids {
            let task_ids: Vec<String> = if let Some(run) = self.runs.get(id) {
                run.tasks.clone()
            } else if self.tasks.contains_key(id) {
                vec![id.clone()]
            } else {
                continue;
            };
            for task_id in task_ids {
                let Some(task) = self.tasks.get(&task_id) else { continue };
                if task.state.is_finished() {
                    continue;
                }
                self.send_cancel(&task_id);
                cancelled.push(task_id.clone());
                self.release_slot(&task_id);
                self.finish_task(&task_id, RunState::Cancelled, None, Some("task cancelled".into()));
            }
        }
        self.dispatch();
        cancelled
    }

    pub fn run_details(&self, run_id: &str) -> Result<v1::GetRunDetailsResponse, Status> {
        let run = self
            .runs
            .get(run_id)
            .or_else(|| self.tasks.get(run_id).and_then(|t| self.runs.get(&t.run_id)))
            .ok_or_else(|| Status::not_found(format!("run {run_id:?} does not exist")))?;
        let task_runs = run
            .tasks
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .map(|t| {
                let detail = v1::TaskRunDetail {
                    external_id: t.id.clone(),
                    status: t.state.to_proto() as i32,
                    error: t.error.clone(),
                    output: t.output.clone().map(String::into_bytes),
                    readable_id: t.readable_id.clone(),
                    is_evicted: false,
                };
                (t.readable_id.clone(), detail)
            })
            .collect();
        let state = self.run_state(run);
        Ok(v1::GetRunDetailsResponse {
            input: run.input.to_string().into_bytes(),
            status: state.to_proto() as i32,
            task_runs,
            done: state.is_finished(),
            additional_metadata: run.metadata.clone().into_bytes(),
            is_evicted: false,
        })
    }

    /// The REST view of a run (`GET /api/v1/stable/workflow-runs/{id}`): Hatchet's
    /// `V1WorkflowRunDetails` with the fields SDKs read.
    pub fn rest_run(&self, run_id: &str) -> Option<Value> {
        let run = self.runs.get(run_id)?;
        let status = |state: RunState| match state {
            RunState::Pending | RunState::Queued | RunState::Assigned => "QUEUED",
            RunState::Running => "RUNNING",
            RunState::Completed => "COMPLETED",
            RunState::Failed => "FAILED",
            RunState::Cancelled => "CANCELLED",
        };
        let created = super::time::rfc3339(run.created_at);
        let updated = super::time::rfc3339(run.updated_at);
        let state = self.run_state(run);
        let tasks: Vec<&TaskRun> = run.tasks.iter().filter_map(|id| self.tasks.get(id)).collect();
        let error = tasks.iter().filter_map(|t| t.error.clone()).collect::<Vec<_>>().join("\n");
        let metadata: Value = serde_json::from_str(&run.metadata).unwrap_or(Value::Null);
        let output = |t: &TaskRun| t.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok());
        let task_views: Vec<Value> = tasks
            .iter()
            .map(|t| {
                let parents: Map<String, Value> = t
                    .parents
                    .iter()
                    .filter_map(|p| tasks.iter().find(|s| &s.readable_id == p).map(|s| (p.clone(), s)))
                    .filter_map(|(p, s)| output(s).map(|o| (p, o)))
                    .collect();
                json!({
                    "metadata": {"id": t.id, "createdAt": created, "updatedAt": updated},
                    "createdAt": created,
                    "displayName": t.readable_id,
                    "input": {"input": run.input, "parents": parents, "triggers": {"filter_payload": {}}},
                    "numSpawnedChildren": 0,
                    "output": output(t).unwrap_or(Value::Null),
                    "status": status(t.state),
                    "taskExternalId": t.id,
                    "taskId": t.number,
                    "taskInsertedAt": created,
                    "tenantId": self.settings.tenant_id,
                    "workflowId": run.workflow_id,
                    "workflowRunExternalId": run.id,
                    "workflowVersionId": run.version_id,
                    "actionId": t.action,
                    "retryCount": t.retry_count,
                    "attempt": t.retry_count + 1,
                    "errorMessage": t.error.clone().unwrap_or_default(),
                    "additionalMetadata": metadata,
                    "type": "TASK",
                })
            })
            .collect();
        let outputs: Map<String, Value> =
            tasks.iter().filter_map(|t| output(t).map(|o| (t.readable_id.clone(), o))).collect();
        Some(json!({
            "run": {
                "metadata": {"id": run.id, "createdAt": created, "updatedAt": updated},
                "status": status(state),
                "tenantId": self.settings.tenant_id,
                "displayName": run.workflow,
                "workflowId": run.workflow_id,
                "workflowVersionId": run.version_id,
                "output": outputs,
                "input": run.input,
                "errorMessage": error,
                "additionalMetadata": metadata,
                "parentTaskExternalId": run.parent_task,
            },
            "taskEvents": [],
            "shape": [],
            "tasks": task_views,
        }))
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
        let Some(run) = self.runs.get(run_id) else {
            tracing::debug!(run_id, "subscription to an unknown run ignored");
            return;
        };
        if run.finished {
            let event = self.run_event(run);
            if let Some(sender) = self.subscribers.get(&subscriber) {
                let _ = sender.send(Ok(event));
            }
        } else if let Some(run) = self.runs.get_mut(run_id)
            && !run.watchers.contains(&subscriber)
        {
            run.watchers.push(subscriber);
        }
    }

    // ---- liveness and timeouts -------------------------------------------------------------

    /// Moves the tasks of workers silent for longer than the inactivity timeout to other
    /// workers; fails attempts past their deadline; dispatches what became due.
    pub fn sweep(&mut self, now: Instant) {
        let threshold = self.settings.inactivity_timeout;
        let mut orphaned = Vec::new();
        for worker in &mut self.workers {
            if !worker.running.is_empty() && now.duration_since(worker.last_heartbeat) > threshold {
                tracing::info!(worker_id = %worker.id, "worker stopped heartbeating; reassigning its runs");
                orphaned.extend(worker.running.drain());
            }
        }
        for task_id in orphaned {
            let max = self.settings.max_internal_retries;
            let Some(task) = self.tasks.get_mut(&task_id) else {
                continue;
            };
            if task.state.is_finished() {
                continue;
            }
            if task.internal_retries < max {
                task.worker = None;
                task.internal_retries += 1;
                task.retry_count += 1;
                task.state = RunState::Queued;
                task.deadline = None;
                self.queue.push_front(task_id);
            } else {
                task.worker = None;
                self.finish_task(
                    &task_id,
                    RunState::Failed,
                    None,
                    Some("the worker running this task stopped responding".into()),
                );
            }
        }
        let timed_out: Vec<String> = self
            .tasks
            .values()
            .filter(|t| t.state == RunState::Running && t.deadline.is_some_and(|d| now > d))
            .map(|t| t.id.clone())
            .collect();
        for task_id in timed_out {
            self.send_cancel(&task_id);
            let timeout = self.tasks.get(&task_id).and_then(|t| t.timeout).unwrap_or_default();
            self.fail_attempt(&task_id, format!("task timed out after {}s", timeout.as_secs_f64()), false, None);
        }
        self.dispatch();
    }

    // ---- inspection -----------------------------------------------------------------------

    fn task_snapshot(t: &TaskRun) -> TaskSnapshot {
        TaskSnapshot {
            task_run_external_id: t.id.clone(),
            readable_id: t.readable_id.clone(),
            state: t.state,
            retry_count: t.retry_count,
            deliveries: t.deliveries,
            assigned_workers: t.assigned_workers.clone(),
            output: t.output.clone(),
            error: t.error.clone(),
        }
    }

    pub fn snapshot(&self, run_id: &str) -> Option<RunSnapshot> {
        let r = self.runs.get(run_id)?;
        let tasks: Vec<TaskSnapshot> =
            r.tasks.iter().filter_map(|id| self.tasks.get(id)).map(Self::task_snapshot).collect();
        let first = tasks.first()?.clone();
        Some(RunSnapshot {
            workflow_run_id: r.id.clone(),
            task_run_external_id: first.task_run_external_id,
            workflow: r.workflow.clone(),
            state: self.run_state(r),
            retry_count: first.retry_count,
            deliveries: first.deliveries,
            assigned_workers: first.assigned_workers,
            output: first.output,
            error: first.error,
            additional_metadata: r.metadata.clone(),
            priority: r.priority,
            parent_task_run_external_id: r.parent_task.clone(),
            tasks,
        })
    }

    /// Every run, in creation order.
    pub fn all_runs(&self) -> Vec<RunSnapshot> {
        self.run_order.iter().filter_map(|id| self.snapshot(id)).collect()
    }

    pub fn events(&self) -> Vec<RecordedStepEvent> {
        self.events.clone()
    }

    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.clone()
    }

    pub fn recorded(&self) -> RecordedRequests {
        self.recorded.clone()
    }

    pub fn watchers(&self, run_id: &str) -> usize {
        self.runs.get(run_id).map_or(0, |r| r.watchers.iter().filter(|id| self.subscribers.contains_key(id)).count())
    }

    pub fn is_listening(&self, worker_id: &str) -> bool {
        self.workers.iter().any(|w| w.id == worker_id && w.listener.as_ref().is_some_and(|l| !l.is_closed()))
    }

    /// Ids of the workers registered so far, in registration order.
    pub fn worker_ids(&self) -> Vec<String> {
        self.workers.iter().map(|w| w.id.clone()).collect()
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
        self.event_watchers.clear();
    }
}
