//! The state of stored signatures, read back for status and progress reporting: [`SignatureState`] for one node,
//! [`FlowTree`] for a whole flow.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::protocol::field;
use crate::error::{Error, Result};
use crate::model::{Failure, Kind, SignatureId, Status};

/// Progress counters of a swarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwarmProgress {
    /// Items added so far.
    pub items: u64,
    /// Items holding a running slot.
    pub running: u64,
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items that failed.
    pub failed: u64,
    /// Whether the swarm takes no more items.
    pub closed: bool,
    /// The concurrency limit (0: none).
    pub max_concurrency: u32,
}

/// One stored signature, as it is now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignatureState {
    /// Its id.
    pub id: SignatureId,
    /// Task, chain or swarm.
    pub kind: Kind,
    /// The task name, or the chain's / swarm's name.
    pub name: String,
    /// Where it is in its life.
    pub status: Status,
    /// The status before the last change.
    pub previous_status: Option<Status>,
    /// The chain or swarm it belongs to.
    pub parent: Option<SignatureId>,
    /// Its position in that parent.
    pub position: Option<u64>,
    /// The last attempt that began (tasks).
    pub attempt: u32,
    /// Its bound arguments.
    pub args: Map<String, Value>,
    /// The message it was started with, if it was started.
    pub message: Option<Value>,
    /// Its result, once done.
    pub result: Option<Value>,
    /// Its failure report, once failed.
    pub error: Option<Failure>,
    /// Callbacks run on success.
    pub success_callbacks: Vec<SignatureId>,
    /// Callbacks run on failure.
    pub error_callbacks: Vec<SignatureId>,
    /// A chain's steps or a swarm's items, in order.
    pub children: Vec<SignatureId>,
    /// A swarm's counters.
    pub swarm: Option<SwarmProgress>,
    /// When it was created (to the second).
    pub created_at: SystemTime,
    /// When it finished (to the second).
    pub finished_at: Option<SystemTime>,
}

/// A flow: a signature with its children and callbacks, recursively.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowTree {
    /// The node itself.
    pub state: SignatureState,
    /// Its steps or items.
    pub children: Vec<FlowTree>,
    /// Its success callbacks.
    pub success_callbacks: Vec<FlowTree>,
    /// Its error callbacks.
    pub error_callbacks: Vec<FlowTree>,
}

impl FlowTree {
    /// Every node of the tree, depth first, parents first.
    pub fn nodes(&self) -> Vec<&SignatureState> {
        let mut out = vec![&self.state];
        for tree in self.children.iter().chain(&self.success_callbacks).chain(&self.error_callbacks) {
            out.extend(tree.nodes());
        }
        out
    }

    /// The tree as indented lines: `kind name: status`, for logs and progress reports.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0, "");
        out
    }

    fn render_into(&self, out: &mut String, depth: usize, label: &str) {
        let state = &self.state;
        out.push_str(&format!(
            "{}{}{} `{}`: {}",
            "  ".repeat(depth),
            label,
            state.kind.as_str(),
            state.name,
            state.status
        ));
        if let Some(progress) = &state.swarm {
            out.push_str(&format!(
                " ({}/{} done, {} failed, {} running)",
                progress.succeeded + progress.failed,
                progress.items,
                progress.failed,
                progress.running
            ));
        }
        out.push('\n');
        for child in &self.children {
            child.render_into(out, depth + 1, "");
        }
        for callback in &self.success_callbacks {
            callback.render_into(out, depth + 1, "on success: ");
        }
        for callback in &self.error_callbacks {
            callback.render_into(out, depth + 1, "on error: ");
        }
    }
}

fn ids(text: Option<&String>) -> Vec<SignatureId> {
    text.map(|t| t.split_whitespace().filter_map(SignatureId::parse).collect()).unwrap_or_default()
}

impl SignatureState {
    /// Parses a stored hash; `children` is the container's child list.
    pub(crate) fn parse(
        id: &SignatureId,
        fields: &HashMap<String, String>,
        children: Vec<SignatureId>,
    ) -> Result<SignatureState> {
        let corrupt = |detail: String| Error::CorruptState { id: id.clone(), detail };
        let kind = fields.get(field::KIND).map(String::as_str).unwrap_or_default();
        let kind = Kind::parse(kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?;
        let status = fields.get(field::STATUS).map(String::as_str).unwrap_or_default();
        let status = Status::parse(status).ok_or_else(|| corrupt(format!("unknown status `{status}`")))?;
        let json = |field: &str| -> Result<Option<Value>> {
            fields
                .get(field)
                .map(|text| serde_json::from_str(text).map_err(|e| corrupt(format!("`{field}` is not JSON: {e}"))))
                .transpose()
        };
        let number = |field: &str| fields.get(field).and_then(|v| v.parse::<u64>().ok());
        let args = match fields.get(field::ARGS) {
            None => Map::new(),
            Some(stored) => crate::run::input::merged_layers(stored).map_err(corrupt)?,
        };
        let error = json(field::ERROR)?
            .map(serde_json::from_value::<Failure>)
            .transpose()
            .map_err(|e| corrupt(format!("`error` is not a failure report: {e}")))?;
        let swarm = (kind == Kind::Swarm).then(|| SwarmProgress {
            items: number(field::ITEMS).unwrap_or(0),
            running: number(field::RUNNING).unwrap_or(0),
            succeeded: number(field::SUCCEEDED).unwrap_or(0),
            failed: number(field::FAILED).unwrap_or(0),
            closed: fields.get(field::CLOSED).is_some_and(|v| v == "1"),
            max_concurrency: number(field::MAX_CONCURRENCY).unwrap_or(0) as u32,
        });
        Ok(SignatureState {
            id: id.clone(),
            kind,
            name: fields.get(field::TASK).cloned().unwrap_or_default(),
            status,
            previous_status: fields.get(field::PREV).and_then(|p| Status::parse(p)),
            parent: fields.get(field::PARENT).and_then(|p| SignatureId::parse(p)),
            position: number(field::POS),
            attempt: number(field::ATTEMPT).unwrap_or(0) as u32,
            args,
            message: json(field::MESSAGE)?,
            result: json(field::RESULT)?,
            error,
            success_callbacks: ids(fields.get(field::ON_OK)),
            error_callbacks: ids(fields.get(field::ON_ERR)),
            children,
            swarm,
            created_at: UNIX_EPOCH + Duration::from_secs(number(field::CREATED).unwrap_or(0)),
            finished_at: number(field::FINISHED).map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
        })
    }
}
