//! Decoding the work the engine assigns to a worker.

use serde_json::{Map, Value};

use crate::error::{HatchetError, Result};
use crate::proto::{ActionType, AssignedAction};

/// One attempt of one task, as handed to an [`ActionHandler`](crate::ActionHandler).
#[derive(Debug, Clone, PartialEq)]
pub struct StepAction {
    /// Workflow name without the namespace prefix.
    pub workflow_name: String,
    /// Task name.
    pub task_name: String,
    /// Action id (`"<namespaced workflow>:<task>"`).
    pub action_id: String,
    /// The run id.
    pub workflow_run_id: String,
    /// The task run id (the same across retries of the task).
    pub task_run_external_id: String,
    /// Attempt number, 0 for the first attempt.
    pub retry_count: u32,
    /// The run input (`input` of the action payload).
    pub input: Value,
    /// Outputs of parent tasks by readable id (empty for single-task workflows).
    pub parents: Map<String, Value>,
    /// Metadata set when the run was triggered.
    pub additional_metadata: Map<String, Value>,
    /// Parent run id, for child runs.
    pub parent_workflow_run_id: Option<String>,
    /// Engine-side ids echoed back in step events.
    pub(crate) ids: EventIds,
}

/// Ids the step events must echo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventIds {
    pub job_id: String,
    pub job_run_id: String,
    pub task_id: String,
}

impl StepAction {
    /// The mageflow signature id stored in the run metadata, if any.
    pub fn signature_id(&self) -> Option<&str> {
        crate::metadata::signature_id(&self.additional_metadata)
    }

    /// Decodes a START_STEP_RUN action; `namespace` is stripped from the workflow name.
    pub fn from_assigned(action: &AssignedAction, namespace: &str) -> Result<Self> {
        let bad = |reason: String| HatchetError::Protocol {
            what: "AssignedAction",
            reason: format!("task run {}: {reason}", action.task_run_external_id),
        };
        if action.task_run_external_id.is_empty() {
            return Err(bad("the task run id is empty".into()));
        }
        let retry_count = u32::try_from(action.retry_count)
            .map_err(|_| bad(format!("negative retry_count {}", action.retry_count)))?;
        let payload: Value = serde_json::from_str(&action.action_payload)
            .map_err(|e| bad(format!("action_payload is not JSON: {e}")))?;
        let Value::Object(mut payload) = payload else {
            return Err(bad("action_payload is not a JSON object".into()));
        };
        let input = payload.remove("input").ok_or_else(|| bad("action_payload has no `input`".into()))?;
        let parents = match payload.remove("parents") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(bad("action_payload `parents` is not an object".into())),
        };
        let additional_metadata = parse_metadata(action.additional_metadata.as_deref()).map_err(&bad)?;
        let (workflow, task) = action
            .action_id
            .split_once(':')
            .ok_or_else(|| bad(format!("action id {:?} is not <workflow>:<task>", action.action_id)))?;
        let workflow_name =
            workflow.strip_prefix(namespace).filter(|_| !namespace.is_empty()).unwrap_or(workflow).to_string();
        let task_name = if action.task_name.is_empty() { task.to_string() } else { action.task_name.clone() };
        Ok(StepAction {
            workflow_name,
            task_name,
            action_id: action.action_id.clone(),
            workflow_run_id: action.workflow_run_id.clone(),
            task_run_external_id: action.task_run_external_id.clone(),
            retry_count,
            input,
            parents,
            additional_metadata,
            parent_workflow_run_id: action.parent_workflow_run_id.clone(),
            ids: EventIds {
                job_id: action.job_id.clone(),
                job_run_id: action.job_run_id.clone(),
                task_id: action.task_id.clone(),
            },
        })
    }
}

/// Parses run metadata text: absent or empty is an empty object; anything but an object is an error.
pub fn parse_metadata(text: Option<&str>) -> Result<Map<String, Value>, String> {
    match text.map(str::trim) {
        None | Some("") | Some("null") => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("additional_metadata is not a JSON object".into()),
            Err(e) => Err(format!("additional_metadata is not JSON: {e}")),
        },
    }
}

/// What an assigned action asks the worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Run the step.
    Start,
    /// Cancel the step if it is running.
    Cancel,
}

/// Classifies an action; unknown or unsupported types are errors.
pub fn action_kind(action: &AssignedAction) -> Result<ActionKind> {
    match ActionType::try_from(action.action_type) {
        Ok(ActionType::StartStepRun) => Ok(ActionKind::Start),
        Ok(ActionType::CancelStepRun) => Ok(ActionKind::Cancel),
        Ok(other) => Err(HatchetError::Protocol {
            what: "AssignedAction",
            reason: format!("action type {} is not supported by this worker", other.as_str_name()),
        }),
        Err(_) => Err(HatchetError::Protocol {
            what: "AssignedAction",
            reason: format!("unknown action type {}", action.action_type),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(payload: &str, metadata: Option<&str>) -> AssignedAction {
        AssignedAction {
            workflow_run_id: "run-1".into(),
            task_run_external_id: "task-1".into(),
            action_id: "ns_charge:charge".into(),
            task_name: "charge".into(),
            action_payload: payload.into(),
            additional_metadata: metadata.map(String::from),
            retry_count: 2,
            ..Default::default()
        }
    }

    #[test]
    fn decodes_a_good_action() {
        let a = StepAction::from_assigned(
            &assigned(r#"{"input":{"x":1},"parents":{}}"#, Some(r#"{"mageflow_signature_id":"s1"}"#)),
            "ns_",
        )
        .unwrap();
        assert_eq!(a.workflow_name, "charge");
        assert_eq!(a.task_name, "charge");
        assert_eq!(a.retry_count, 2);
        assert_eq!(a.input["x"], 1);
        assert_eq!(a.signature_id(), Some("s1"));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for (payload, expected) in [
            ("{not json", "action_payload is not JSON"),
            ("[1,2]", "not a JSON object"),
            (r#"{"parents":{}}"#, "has no `input`"),
            (r#"{"input":1,"parents":3}"#, "`parents` is not an object"),
        ] {
            let err = StepAction::from_assigned(&assigned(payload, None), "").unwrap_err();
            assert!(err.to_string().contains(expected), "{payload}: {err}");
        }
    }

    #[test]
    fn bad_metadata_is_an_error() {
        for (meta, expected) in [("{oops", "not JSON"), ("[1]", "not a JSON object")] {
            let err = StepAction::from_assigned(&assigned(r#"{"input":{}}"#, Some(meta)), "").unwrap_err();
            assert!(err.to_string().contains(expected), "{meta}: {err}");
        }
        let ok = StepAction::from_assigned(&assigned(r#"{"input":{}}"#, Some("")), "").unwrap();
        assert!(ok.additional_metadata.is_empty());
    }

    #[test]
    fn negative_retry_count_and_bad_action_id_are_errors() {
        let mut a = assigned(r#"{"input":{}}"#, None);
        a.retry_count = -1;
        assert!(StepAction::from_assigned(&a, "").is_err());
        let mut a = assigned(r#"{"input":{}}"#, None);
        a.action_id = "nocolon".into();
        assert!(StepAction::from_assigned(&a, "").is_err());
    }

    #[test]
    fn unknown_action_types_are_errors() {
        let mut a = assigned("{}", None);
        assert_eq!(action_kind(&a).unwrap(), ActionKind::Start);
        a.action_type = 1;
        assert_eq!(action_kind(&a).unwrap(), ActionKind::Cancel);
        a.action_type = 2;
        assert!(action_kind(&a).unwrap_err().to_string().contains("not supported"));
        a.action_type = 99;
        assert!(action_kind(&a).unwrap_err().to_string().contains("unknown action type 99"));
    }
}
