//! How flows are printed: [`NodeView`] is the JSON shape of `show --json` (and of the MCP server's `show_flow`),
//! [`render_tree`] the text of `show`.

use std::time::{Duration, SystemTime};

use mageflow_runtime::{Failure, FlowTree, Kind, SignatureId, SignatureState, Status, SwarmProgress};
use serde::Serialize;
use serde_json::{Map, Value};

/// One node of a flow with its children and callbacks, as `show --json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeView {
    /// Its id.
    pub id: SignatureId,
    /// `task`, `chain` or `swarm`.
    pub kind: Kind,
    /// The task's name, or the chain's or swarm's.
    pub name: String,
    /// `pending`, `active`, `done`, `failed`, `suspended`, `interrupted` or `canceled`.
    pub status: Status,
    /// The status before the last change.
    pub previous_status: Option<Status>,
    /// The last attempt that began (tasks; 0 before any).
    pub attempt: u32,
    /// When it was created (RFC 3339, to the second).
    pub created_at: String,
    /// When it finished, if it did.
    pub finished_at: Option<String>,
    /// Seconds from creation to the end, if it finished.
    pub duration_secs: Option<u64>,
    /// Its bound arguments.
    pub args: Map<String, Value>,
    /// The message it was started with, if it was started.
    pub message: Option<Value>,
    /// Its result, once done.
    pub result: Option<Value>,
    /// Its failure report, once failed.
    pub error: Option<Failure>,
    /// A swarm's counters.
    pub swarm: Option<SwarmProgress>,
    /// A chain's steps or a swarm's items, in order (a task that continued with a flow: that flow).
    pub children: Vec<NodeView>,
    /// Its success callbacks.
    pub on_success: Vec<NodeView>,
    /// Its error callbacks.
    pub on_error: Vec<NodeView>,
}

/// A time as RFC 3339 in UTC, to the second.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn duration(state: &SignatureState) -> Option<Duration> {
    state.finished_at.map(|end| end.duration_since(state.created_at).unwrap_or_default())
}

impl NodeView {
    /// The view of a tree.
    pub fn of(tree: &FlowTree) -> NodeView {
        let state = &tree.state;
        NodeView {
            id: state.id.clone(),
            kind: state.kind,
            name: state.name.clone(),
            status: state.status,
            previous_status: state.previous_status,
            attempt: state.attempt,
            created_at: timestamp(state.created_at),
            finished_at: state.finished_at.map(timestamp),
            duration_secs: duration(state).map(|d| d.as_secs()),
            args: state.args.clone(),
            message: state.message.clone(),
            result: state.result.clone(),
            error: state.error.clone(),
            swarm: state.swarm.clone(),
            children: tree.children.iter().map(NodeView::of).collect(),
            on_success: tree.success_callbacks.iter().map(NodeView::of).collect(),
            on_error: tree.error_callbacks.iter().map(NodeView::of).collect(),
        }
    }
}

/// The longest result or message printed by `show` in text; `--json` prints them whole.
const SHOWN_VALUE: usize = 200;

fn shortened(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(SHOWN_VALUE) {
        Some((cut, _)) => format!("{}… ({} characters, see --json)", &text[..cut], text.chars().count()),
        None => text,
    }
}

/// The first line of a node: `kind `name` id: status`, swarm counters, and timings.
pub fn headline(state: &SignatureState) -> String {
    let mut line = format!("{} `{}` {}: {}", state.kind.as_str(), state.name, state.id, state.status);
    if let Some(progress) = &state.swarm {
        line.push_str(&format!(
            " ({}/{} finished, {} failed, {} running)",
            progress.succeeded + progress.failed,
            progress.items,
            progress.failed,
            progress.running
        ));
    }
    if state.attempt > 1 {
        line.push_str(&format!(", attempt {}", state.attempt));
    }
    line.push_str(&format!(", created {}", timestamp(state.created_at)));
    if let Some(took) = duration(state) {
        line.push_str(&format!(", finished after {}", humantime::format_duration(took)));
    }
    line
}

/// The tree as text: one headline per node, indented by depth, then its result or error on the next line;
/// callbacks are marked `on success:` / `on error:`.
pub fn render_tree(tree: &FlowTree) -> String {
    let mut out = String::new();
    render_into(tree, &mut out, 0, "");
    out
}

fn render_into(tree: &FlowTree, out: &mut String, depth: usize, label: &str) {
    let indent = "  ".repeat(depth);
    let state = &tree.state;
    out.push_str(&format!("{indent}{label}{}\n", headline(state)));
    if let Some(error) = &state.error {
        out.push_str(&format!(
            "{indent}  error: {} (kind {}, attempt {})\n",
            error.error.message, error.error.kind, error.error.attempt
        ));
    } else if let Some(result) = &state.result
        && tree.children.is_empty()
    {
        // a container's result is its children's; a task's is its own
        out.push_str(&format!("{indent}  result: {}\n", shortened(result)));
    }
    for child in &tree.children {
        render_into(child, out, depth + 1, "");
    }
    for callback in &tree.success_callbacks {
        render_into(callback, out, depth + 1, "on success: ");
    }
    for callback in &tree.error_callbacks {
        render_into(callback, out, depth + 1, "on error: ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_their_length() {
        assert_eq!(shortened(&Value::from(3)), "3");
        let long = Value::String("x".repeat(300));
        assert_eq!(shortened(&long), format!("\"{}… (302 characters, see --json)", "x".repeat(199)));
    }
}
