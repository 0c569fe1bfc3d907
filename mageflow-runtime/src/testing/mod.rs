//! Testing flows without a task manager: [`Recorder`] is a backend that records every dispatch (task, input, bound
//! arguments, parent flow) and, in inline mode, runs the registered handlers one at a time, in dispatch order,
//! inside the test, so that a whole flow can be asserted step by step.
//!
//! ```no_run
//! # async fn example() -> mageflow_runtime::Result<()> {
//! use mageflow_runtime::{Mageflow, testing::Recorder};
//! use serde_json::json;
//!
//! let recorder = Recorder::new();
//! let client = Mageflow::builder().memory_store().backend(recorder.clone()).build().await?;
//! // ... run the code under test, which starts flows with `client` ...
//! recorder.assert_task_dispatched("charge", json!({"order_id": 7}));
//! # Ok(())
//! # }
//! ```
//!
//! Inputs are checked against the tasks' JSON schemas as in production: a dispatch whose input does not fit is
//! refused with an error naming the task and the problem.

mod stored;

pub use stored::{corrupt_field, delete_record, stored_record, stored_signatures};

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::Notify;

use crate::backend::{AttemptOutcome, BackendError, Delivery, Dispatcher, Interrupt, Run, Runner, SkipReason, Worker};
use crate::model::{Kind, SignatureId};

/// A chain or swarm a dispatched task belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRef {
    /// Its id.
    pub id: SignatureId,
    /// Chain or swarm (or a task that continued with a flow).
    pub kind: Kind,
    /// Its name.
    pub name: String,
}

/// What became of a dispatch that ran inline.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    /// The handler's output.
    Output(Value),
    /// The handler failed for good with this message (retries, when the task has any, ran first).
    Failed(String),
    /// The handler continued with a flow.
    Continued,
    /// The run did not start (its signature was stopped, finished or replaced).
    Skipped(SkipReason),
}

/// One dispatched task run.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    /// The task's name.
    pub task: String,
    /// The signature the run executes.
    pub signature_id: SignatureId,
    /// The input the task gets: the message merged with the bound arguments.
    pub input: Value,
    /// The task's own bound arguments.
    pub args: Map<String, Value>,
    /// The chain or swarm it runs in, if any.
    pub parent: Option<FlowRef>,
    /// In inline mode, once it ran: what came of it.
    pub outcome: Option<RunOutcome>,
}

/// A chain or swarm that started: its first runs were dispatched.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowDispatch {
    /// Its id.
    pub id: SignatureId,
    /// Chain or swarm.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The names of its steps or items, in order (a nested chain or swarm by its name).
    pub members: Vec<String>,
}

#[derive(Default)]
struct State {
    dispatches: Vec<Dispatch>,
    flows: Vec<FlowDispatch>,
    interrupts: Vec<SignatureId>,
    queue: VecDeque<(usize, Run)>,
    busy: bool,
}

struct Inner {
    inline: bool,
    state: Mutex<State>,
    worker: OnceLock<Worker>,
    idle: Notify,
}

/// A backend for unit tests: records every dispatch; with [`Recorder::inline`], also runs them. Cheap to clone;
/// clones share the record.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// Records dispatches without running them.
    pub fn new() -> Self {
        Recorder::with_mode(false)
    }

    /// Records dispatches and runs them with the registered handlers, one at a time, in dispatch order (retries
    /// run at once, without backoff), so that a flow runs the same way on every test run.
    pub fn inline() -> Self {
        Recorder::with_mode(true)
    }

    fn with_mode(inline: bool) -> Self {
        let inner = Inner { inline, state: Mutex::default(), worker: OnceLock::new(), idle: Notify::new() };
        Recorder { inner: Arc::new(inner) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every dispatch so far, in order.
    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.state().dispatches.clone()
    }

    /// The dispatches of one task, in order.
    pub fn task_dispatches(&self, task: &str) -> Vec<Dispatch> {
        self.state().dispatches.iter().filter(|d| d.task == task).cloned().collect()
    }

    /// The chains and swarms that started, in order.
    pub fn flow_dispatches(&self) -> Vec<FlowDispatch> {
        self.state().flows.clone()
    }

    /// The signatures whose runs were asked to be interrupted.
    pub fn interrupts(&self) -> Vec<SignatureId> {
        self.state().interrupts.clone()
    }

    /// Forgets everything recorded.
    pub fn clear(&self) {
        let mut state = self.state();
        state.dispatches.clear();
        state.flows.clear();
        state.interrupts.clear();
    }

    /// In inline mode, waits until every dispatched run (and every run those made due) has run.
    pub async fn settle(&self) {
        loop {
            let idle = self.inner.idle.notified();
            {
                let state = self.state();
                if !self.inner.inline || (!state.busy && state.queue.is_empty()) {
                    return;
                }
            }
            idle.await;
        }
    }

    /// The first dispatch of `task` whose input contains `expected` (every field of `expected`, recursively, equal
    /// in the input). Panics, showing the expected input, the actual inputs and the per-field differences, when
    /// there is none.
    #[track_caller]
    pub fn assert_task_dispatched(&self, task: &str, expected: Value) -> Dispatch {
        self.find_dispatch(task, &expected, false)
    }

    /// The first dispatch of `task` whose input is exactly `expected`; panics like
    /// [`assert_task_dispatched`](Self::assert_task_dispatched).
    #[track_caller]
    pub fn assert_task_dispatched_exact(&self, task: &str, expected: Value) -> Dispatch {
        self.find_dispatch(task, &expected, true)
    }

    #[track_caller]
    fn find_dispatch(&self, task: &str, expected: &Value, exact: bool) -> Dispatch {
        let dispatches = self.dispatches();
        let candidates: Vec<&Dispatch> = dispatches.iter().filter(|d| d.task == task).collect();
        if candidates.is_empty() {
            let mut names: Vec<&str> = dispatches.iter().map(|d| d.task.as_str()).collect();
            names.dedup();
            panic!("task `{task}` was not dispatched; dispatched tasks: {names:?}");
        }
        let matches = |input: &Value| if exact { input == expected } else { contains(input, expected) };
        if let Some(found) = candidates.iter().find(|d| matches(&d.input)) {
            return (*found).clone();
        }
        let mut message = format!(
            "task `{task}` was dispatched {} time(s), but no input {} the expected one\nexpected{}: {expected}\n",
            candidates.len(),
            if exact { "equals" } else { "contains" },
            if exact { "" } else { " (partial)" },
        );
        for (n, candidate) in candidates.iter().enumerate() {
            let _ = writeln!(message, "actual #{}: {}", n + 1, candidate.input);
            for line in differences(&candidate.input, expected, exact, "") {
                let _ = writeln!(message, "    {line}");
            }
        }
        panic!("{message}")
    }

    /// The chain named `name` that started, checking that its steps are exactly `steps`, in order.
    #[track_caller]
    pub fn assert_chain_dispatched(&self, name: &str, steps: &[&str]) -> FlowDispatch {
        let flow = self.find_flow(Kind::Chain, name);
        if flow.members != steps {
            panic!("chain `{name}` has other steps\nexpected: {steps:?}\nactual:   {:?}", flow.members);
        }
        flow
    }

    /// The swarm named `name` that started, checking that it has every item in `items` (as many times as listed).
    #[track_caller]
    pub fn assert_swarm_dispatched(&self, name: &str, items: &[&str]) -> FlowDispatch {
        let flow = self.find_flow(Kind::Swarm, name);
        let mut left = flow.members.clone();
        for item in items {
            match left.iter().position(|member| member == item) {
                Some(at) => {
                    left.remove(at);
                }
                None => panic!(
                    "swarm `{name}` lacks the item `{item}`\nexpected items: {items:?}\nactual items:   {:?}",
                    flow.members
                ),
            }
        }
        flow
    }

    #[track_caller]
    fn find_flow(&self, kind: Kind, name: &str) -> FlowDispatch {
        let flows = self.flow_dispatches();
        match flows.iter().find(|f| f.kind == kind && f.name == name) {
            Some(flow) => flow.clone(),
            None => {
                let started: Vec<String> = flows.iter().map(|f| format!("{} `{}`", f.kind.as_str(), f.name)).collect();
                panic!("no {} named `{name}` started; started flows: {started:?}", kind.as_str())
            }
        }
    }

    /// Panics if anything was dispatched, listing what.
    #[track_caller]
    pub fn assert_nothing_dispatched(&self) {
        let dispatches = self.dispatches();
        if !dispatches.is_empty() {
            let listed: Vec<String> = dispatches.iter().map(|d| format!("{} {}", d.task, d.input)).collect();
            panic!("expected no dispatches, but {} occurred: {listed:#?}", dispatches.len());
        }
    }

    fn worker(&self) -> Result<&Worker, BackendError> {
        self.inner.worker.get().ok_or_else(|| BackendError::other("the recorder was not started"))
    }

    /// Builds the record of a run: its bound arguments and parent from the store, its input checked against the
    /// task's schema; records the chains and swarms it starts.
    async fn describe(&self, run: &Run) -> Result<Dispatch, BackendError> {
        let client =
            &self.worker()?.client().map_err(|error| BackendError::other(error.to_string()).caused_by(error))?;
        let refused = |problem: String| BackendError::dispatch(format!("task `{}`: {problem}", run.task));
        let definition = client.session().definition(&run.task).await.map_err(|e| refused(e.to_string()))?;
        definition.validate(&run.input).map_err(|e| refused(format!("input validation failed: {e}")))?;
        let state = client.status(&run.signature_id).await.map_err(|e| refused(e.to_string()))?;
        let mut parent = None;
        let mut ancestor = state.parent.clone();
        while let Some(id) = ancestor {
            let flow = client.status(&id).await.map_err(|e| refused(e.to_string()))?;
            if parent.is_none() {
                parent = Some(FlowRef { id: id.clone(), kind: flow.kind, name: flow.name.clone() });
            }
            let known = self.state().flows.iter().any(|f| f.id == id);
            if !known && flow.kind != Kind::Task {
                let mut members = Vec::with_capacity(flow.children.len());
                for child in &flow.children {
                    let name = client.status(child).await.map(|s| s.name).unwrap_or_else(|_| "?".to_owned());
                    members.push(name);
                }
                let record = FlowDispatch { id: id.clone(), kind: flow.kind, name: flow.name.clone(), members };
                let mut state = self.state();
                if !state.flows.iter().any(|f| f.id == id) {
                    state.flows.push(record);
                }
            }
            ancestor = flow.parent.clone();
        }
        Ok(Dispatch {
            task: run.task.clone(),
            signature_id: run.signature_id.clone(),
            input: run.input.clone(),
            args: state.args,
            parent,
            outcome: None,
        })
    }

    /// Runs queued runs one at a time until the queue is empty.
    async fn drain(self) {
        loop {
            let next = {
                let mut state = self.state();
                match state.queue.pop_front() {
                    Some(next) => Some(next),
                    None => {
                        state.busy = false;
                        None
                    }
                }
            };
            let Some((index, run)) = next else {
                self.inner.idle.notify_waiters();
                return;
            };
            let Ok(worker) = self.worker().cloned() else { return };
            let mut attempt = 1;
            let outcome = loop {
                match worker.execute(&run, Delivery::attempt(attempt)).await {
                    AttemptOutcome::Failed { retry_in: Some(_), .. } => attempt += 1,
                    AttemptOutcome::Failed { message, retry_in: None } => break RunOutcome::Failed(message),
                    AttemptOutcome::Succeeded(output) => break RunOutcome::Output(output),
                    AttemptOutcome::Continued => break RunOutcome::Continued,
                    AttemptOutcome::Skipped(reason) => break RunOutcome::Skipped(reason),
                    AttemptOutcome::Unrecorded(error) => break RunOutcome::Failed(error),
                }
            };
            if let Some(dispatch) = self.state().dispatches.get_mut(index) {
                dispatch.outcome = Some(outcome);
            }
        }
    }
}

/// Whether `actual` contains `expected`: equal, or both objects with every expected field contained.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => {
            expected.iter().all(|(key, value)| actual.get(key).is_some_and(|found| contains(found, value)))
        }
        _ => actual == expected,
    }
}

/// Field-by-field differences between an actual and an expected input.
fn differences(actual: &Value, expected: &Value, exact: bool, path: &str) -> Vec<String> {
    let (Value::Object(actual_fields), Value::Object(expected_fields)) = (actual, expected) else {
        return if actual == expected {
            Vec::new()
        } else {
            vec![format!("{}: expected {expected}, got {actual}", if path.is_empty() { "input" } else { path })]
        };
    };
    let mut lines = Vec::new();
    for (key, value) in expected_fields {
        let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        match actual_fields.get(key) {
            None => lines.push(format!("{here}: missing (expected {value})")),
            Some(found) if exact => lines.extend(differences(found, value, true, &here)),
            Some(found) if !contains(found, value) => lines.extend(differences(found, value, false, &here)),
            Some(_) => {}
        }
    }
    if exact {
        for (key, value) in actual_fields {
            if !expected_fields.contains_key(key) {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                lines.push(format!("{here}: not expected (got {value})"));
            }
        }
    }
    lines
}

#[async_trait]
impl Dispatcher for Recorder {
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError> {
        let mut described = Vec::with_capacity(runs.len());
        for run in &runs {
            described.push(self.describe(run).await?);
        }
        let start_draining = {
            let mut state = self.state();
            for (run, dispatch) in runs.into_iter().zip(described) {
                let index = state.dispatches.len();
                state.dispatches.push(dispatch);
                if self.inner.inline {
                    state.queue.push_back((index, run));
                }
            }
            let start = self.inner.inline && !state.busy && !state.queue.is_empty();
            if start {
                state.busy = true;
            }
            start
        };
        if start_draining {
            tokio::spawn(self.clone().drain());
        }
        Ok(())
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError> {
        self.state().interrupts.extend(runs.iter().map(|run| run.signature_id.clone()));
        Ok(())
    }
}

#[async_trait]
impl Runner for Recorder {
    async fn start(&self, worker: Worker) -> Result<(), BackendError> {
        self.inner.worker.set(worker).map_err(|_| BackendError::other("the recorder was already started"))
    }

    async fn shutdown(&self, _deadline: std::time::Duration) -> Result<(), BackendError> {
        self.settle().await;
        Ok(())
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("inline", &self.inner.inline).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn partial_inputs_match_recursively() {
        let actual = json!({"order": {"id": 7, "lines": 2}, "note": "x"});
        assert!(contains(&actual, &json!({"order": {"id": 7}})));
        assert!(contains(&actual, &json!({})));
        assert!(!contains(&actual, &json!({"order": {"id": 8}})));
        assert!(!contains(&actual, &json!({"missing": 1})));
    }

    #[test]
    fn differences_name_each_field() {
        let actual = json!({"order": {"id": 7}, "note": "x"});
        assert_eq!(
            differences(&actual, &json!({"order": {"id": 8}, "extra": true}), false, ""),
            vec!["extra: missing (expected true)", "order.id: expected 8, got 7"]
        );
        assert_eq!(
            differences(&actual, &json!({"order": {"id": 7}}), true, ""),
            vec!["note: not expected (got \"x\")"]
        );
    }
}
