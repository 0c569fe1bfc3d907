//! The JSON the API answers: flows of the index, and flow trees with times in ms and large values cut short.

use std::time::{SystemTime, UNIX_EPOCH};

use mageflow_runtime::{ErrorKind, FlowPage, FlowSummary, FlowTree, Kind, SignatureState, Status, SwarmProgress};
use serde::Serialize;
use serde_json::Value;

/// JSON values longer than this (serialized) are sent as a preview.
const MAX_VALUE_CHARS: usize = 4096;
/// Children of one container sent at most; the rest are counted in `hidden_children`.
pub(crate) const MAX_CHILDREN: usize = 500;

pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|since| since.as_millis() as u64).unwrap_or(0)
}

/// A value, or a string that starts like it and says how long it is.
fn preview(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_VALUE_CHARS {
        return value;
    }
    let mut end = MAX_VALUE_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Value::String(format!("{}… ({} bytes in all; read the whole value from the store)", &text[..end], text.len()))
}

#[derive(Serialize)]
pub(crate) struct FlowSummaryView {
    id: String,
    name: String,
    status: Status,
    created_at: u64,
    finished_at: Option<u64>,
}

impl From<FlowSummary> for FlowSummaryView {
    fn from(flow: FlowSummary) -> Self {
        FlowSummaryView {
            id: flow.id.to_string(),
            name: flow.name,
            status: flow.status,
            created_at: millis(flow.created_at),
            finished_at: flow.finished_at.map(millis),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct FlowPageView {
    flows: Vec<FlowSummaryView>,
    next: Option<String>,
}

impl From<FlowPage> for FlowPageView {
    fn from(page: FlowPage) -> Self {
        FlowPageView {
            flows: page.flows.into_iter().map(Into::into).collect(),
            next: page.next.map(|cursor| cursor.to_string()),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ErrorView {
    kind: ErrorKind,
    message: String,
    attempt: u32,
    task: String,
    signature_id: String,
}

#[derive(Serialize)]
pub(crate) struct NodeView {
    id: String,
    kind: Kind,
    name: String,
    status: Status,
    previous_status: Option<Status>,
    attempt: u32,
    position: Option<u64>,
    created_at: u64,
    finished_at: Option<u64>,
    args: Value,
    message: Option<Value>,
    result: Option<Value>,
    error: Option<ErrorView>,
    swarm: Option<SwarmProgress>,
    children: Vec<NodeView>,
    hidden_children: usize,
    success_callbacks: Vec<NodeView>,
    error_callbacks: Vec<NodeView>,
}

impl NodeView {
    fn new(tree: FlowTree) -> Self {
        let FlowTree { state, children, success_callbacks, error_callbacks } = tree;
        let SignatureState {
            id,
            kind,
            name,
            status,
            previous_status,
            parent: _,
            position,
            attempt,
            args,
            message,
            result,
            error,
            swarm,
            created_at,
            finished_at,
            ..
        } = state;
        let hidden_children = children.len().saturating_sub(MAX_CHILDREN);
        NodeView {
            id: id.to_string(),
            kind,
            name,
            status,
            previous_status,
            attempt,
            position,
            created_at: millis(created_at),
            finished_at: finished_at.map(millis),
            args: preview(Value::Object(args)),
            message: message.map(preview),
            result: result.map(preview),
            error: error.map(|failure| ErrorView {
                kind: failure.error.kind,
                message: failure.error.message,
                attempt: failure.error.attempt,
                task: failure.task,
                signature_id: failure.signature_id.to_string(),
            }),
            swarm,
            children: children.into_iter().take(MAX_CHILDREN).map(NodeView::new).collect(),
            hidden_children,
            success_callbacks: success_callbacks.into_iter().map(NodeView::new).collect(),
            error_callbacks: error_callbacks.into_iter().map(NodeView::new).collect(),
        }
    }
}

/// A whole flow, as `GET /api/flows/ID` and the `tree` events send it.
#[derive(Serialize)]
pub(crate) struct FlowView {
    root: NodeView,
    /// Every node has finished (done, failed or canceled): nothing will change any more.
    finished: bool,
}

impl FlowView {
    pub fn new(tree: FlowTree) -> Self {
        let finished = tree.nodes().iter().all(|node| node.status.is_finished());
        FlowView { root: NodeView::new(tree), finished }
    }
}

/// The ids of a tree's nodes that have not finished, running ones first, at most `limit`: the signatures whose
/// finish a live view waits for.
pub(crate) fn unfinished(tree: &FlowTree, limit: usize) -> Vec<mageflow_runtime::SignatureId> {
    let nodes = tree.nodes();
    let active = nodes.iter().filter(|node| node.status == Status::Active);
    let waiting = nodes.iter().filter(|node| !node.status.is_finished() && node.status != Status::Active);
    active.chain(waiting).take(limit).map(|node| node.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_values_are_cut_to_a_preview() {
        let small = serde_json::json!({ "rows": [1, 2, 3] });
        assert_eq!(preview(small.clone()), small);
        let large = Value::String("é".repeat(3000));
        let Value::String(cut) = preview(large) else { panic!("a preview is a string") };
        assert!(cut.starts_with("\"éé"));
        assert!(cut.ends_with("… (6002 bytes in all; read the whole value from the store)"), "{cut}");
        assert!(cut.len() < MAX_VALUE_CHARS + 80);
    }
}
