//! Workflow definitions (what a worker declares with `PutWorkflow`) and trigger requests.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::HatchetConfig;
use crate::error::{HatchetError, Result};
use crate::proto::v1;

/// Exponential retry backoff the engine applies between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Multiplier applied to the delay after each failed attempt.
    pub factor: f32,
    /// Upper bound of the delay, in seconds.
    pub max_seconds: u32,
}

/// A workflow with one task, as mageflow declares each of its tasks to Hatchet.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDefinition {
    /// Workflow name (the namespace is added and the name lower-cased when sent).
    pub name: String,
    /// Name of the single task; defaults to the workflow name.
    pub task_name: Option<String>,
    /// How many times a failed attempt is retried (0 = run once).
    pub retries: u32,
    /// Maximum run time of one attempt; `None` keeps the engine default (60 s).
    pub timeout: Option<Duration>,
    /// Retry backoff; `None` retries immediately.
    pub backoff: Option<Backoff>,
    /// JSON schema of the input, as JSON text.
    pub input_json_schema: Option<String>,
    /// Free text shown in the dashboard.
    pub description: String,
}

impl WorkflowDefinition {
    /// A definition with no retries, the default timeout and no schema.
    pub fn new(name: impl Into<String>) -> Self {
        WorkflowDefinition {
            name: name.into(),
            task_name: None,
            retries: 0,
            timeout: None,
            backoff: None,
            input_json_schema: None,
            description: String::new(),
        }
    }

    /// Sets the number of retries.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry backoff.
    pub fn backoff(mut self, factor: f32, max_seconds: u32) -> Self {
        self.backoff = Some(Backoff { factor, max_seconds });
        self
    }

    /// Sets the input JSON schema (JSON text).
    pub fn input_json_schema(mut self, schema: impl Into<String>) -> Self {
        self.input_json_schema = Some(schema.into());
        self
    }

    /// Sets the task name.
    pub fn task_name(mut self, task: impl Into<String>) -> Self {
        self.task_name = Some(task.into());
        self
    }

    /// The task name, lower case (defaults to the workflow name).
    pub fn task(&self) -> String {
        self.task_name.as_deref().unwrap_or(&self.name).to_lowercase()
    }

    /// Builds the `v1.AdminService/PutWorkflow` request.
    pub fn to_request(&self, config: &HatchetConfig) -> Result<v1::CreateWorkflowVersionRequest> {
        if self.name.trim().is_empty() {
            return Err(HatchetError::InvalidInput {
                what: "workflow definition",
                reason: "the workflow name is empty; give every task a name".into(),
            });
        }
        if let Some(schema) = &self.input_json_schema {
            serde_json::from_str::<Value>(schema).map_err(|e| HatchetError::InvalidInput {
                what: "input JSON schema",
                reason: format!("workflow {:?}: not valid JSON: {e}", self.name),
            })?;
        }
        let retries = i32::try_from(self.retries).map_err(|_| HatchetError::InvalidInput {
            what: "retries",
            reason: format!("{} is too large", self.retries),
        })?;
        let task = self.task();
        let task_opts = v1::CreateTaskOpts {
            readable_id: task.clone(),
            action: config.action_id(&self.name, &task),
            timeout: self.timeout.map(duration_text).unwrap_or_default(),
            retries,
            backoff_factor: self.backoff.map(|b| b.factor),
            backoff_max_seconds: self.backoff.map(|b| i32::try_from(b.max_seconds).unwrap_or(i32::MAX)),
            // What current SDKs send: one unit of the default slot type per run.
            slot_requests: std::collections::HashMap::from([("default".to_string(), 1)]),
            ..Default::default()
        };
        Ok(v1::CreateWorkflowVersionRequest {
            name: config.workflow_name(&self.name),
            description: self.description.clone(),
            tasks: vec![task_opts],
            input_json_schema: self.input_json_schema.clone().map(String::into_bytes),
            ..Default::default()
        })
    }
}

/// Formats a duration the way Hatchet reads it: whole seconds, at least one (`"30s"`).
pub fn duration_text(duration: Duration) -> String {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    format!("{}s", secs.max(1))
}

/// Parses a Hatchet duration (`"30s"`, `"5m"`, `"2h"`, `"500ms"`); `None` when unreadable.
pub fn parse_duration_text(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

/// Identifies a run as the child of a task run, so that triggering it twice yields one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOf {
    /// The parent workflow run id.
    pub parent_id: String,
    /// The parent task run id.
    pub parent_task_run_external_id: String,
    /// Position of the child among its siblings; sent as 0 when unset (Hatchet requires an
    /// index with every child trigger, and the key, when set, takes precedence).
    pub index: Option<i32>,
    /// Key of the child among its siblings.
    pub key: Option<String>,
}

/// A request to start one run of a workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRequest {
    /// The workflow name (namespace and lower case are applied when sent).
    pub workflow: String,
    /// The run input.
    pub input: Value,
    /// Additional metadata (a JSON object) visible to the worker.
    pub metadata: Map<String, Value>,
    /// Parent, when this run is a child run.
    pub child_of: Option<ChildOf>,
    /// Priority override.
    pub priority: Option<i32>,
}

impl TriggerRequest {
    /// A request with the given input and no metadata.
    pub fn new(workflow: impl Into<String>, input: Value) -> Self {
        TriggerRequest { workflow: workflow.into(), input, metadata: Map::new(), child_of: None, priority: None }
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Records the mageflow signature id in the metadata.
    pub fn signature_id(mut self, id: impl Into<String>) -> Self {
        crate::metadata::set_signature_id(&mut self.metadata, id);
        self
    }

    /// Records the mageflow dispatch token in the metadata.
    pub fn dispatch_token(mut self, token: u64) -> Self {
        crate::metadata::set_dispatch_token(&mut self.metadata, token);
        self
    }

    /// Makes this a child run.
    pub fn child_of(mut self, child: ChildOf) -> Self {
        self.child_of = Some(child);
        self
    }

    /// Builds the wire request.
    pub fn to_proto(&self, config: &HatchetConfig) -> Result<v1::TriggerWorkflowRequest> {
        if self.workflow.trim().is_empty() {
            return Err(HatchetError::InvalidInput {
                what: "trigger request",
                reason: "the workflow name is empty".into(),
            });
        }
        let input = serde_json::to_string(&self.input)
            .map_err(|e| HatchetError::InvalidInput { what: "run input", reason: e.to_string() })?;
        let metadata = serde_json::to_string(&self.metadata)
            .map_err(|e| HatchetError::InvalidInput { what: "run metadata", reason: e.to_string() })?;
        let child = self.child_of.as_ref();
        Ok(v1::TriggerWorkflowRequest {
            name: config.workflow_name(&self.workflow),
            input,
            parent_id: child.map(|c| c.parent_id.clone()),
            parent_task_run_external_id: child.map(|c| c.parent_task_run_external_id.clone()),
            child_index: child.map(|c| c.index.unwrap_or(0)),
            child_key: child.and_then(|c| c.key.clone()),
            additional_metadata: Some(metadata),
            priority: self.priority,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        assert_eq!(duration_text(Duration::from_secs(30)), "30s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "2s");
        assert_eq!(duration_text(Duration::ZERO), "1s");
        assert_eq!(parse_duration_text("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration_text("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration_text("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration_text("soon"), None);
        assert_eq!(parse_duration_text("10"), None);
    }

    #[test]
    fn bad_schema_is_rejected() {
        let config = HatchetConfig::from_token(crate::config::unsigned_token("t", "http://x", "h:1")).unwrap();
        let err = WorkflowDefinition::new("a").input_json_schema("{not json").to_request(&config).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"));
    }
}
