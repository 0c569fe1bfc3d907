//! `flows` and `stuck`: what they print, and the functions that will read the flow index.
//!
//! The engine does not keep a flow index yet (issue 10 item 7 adds it, as `Mageflow::flows(filter)`). Until then
//! [`list_flows`] and [`list_stuck`] fail with [`CliError::NeedsFlowIndex`]; the argument parsing, the JSON shapes
//! ([`FlowsPage`], [`StuckRuns`]) and their text rendering are in place for them.

use std::time::Duration;

use mageflow_runtime::{Kind, Mageflow, SignatureId, Status, SwarmProgress};
use serde::{Deserialize, Serialize};

use crate::cli::StatusArg;
use crate::error::CliError;

/// Which flows to list: `flows`' options, and the MCP tool `list_flows`' arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFilter {
    /// Only flows with one of these statuses (all when empty).
    #[serde(default)]
    pub status: Vec<StatusArg>,
    /// Only flows whose name contains this text.
    #[serde(default)]
    pub name: Option<String>,
    /// Only flows created longer ago than this many seconds.
    #[serde(default)]
    pub older_than_secs: Option<u64>,
    /// Only flows created more recently than this many seconds ago.
    #[serde(default)]
    pub newer_than_secs: Option<u64>,
    /// At most this many flows (50 when absent).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Where the page starts: the `next` cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One flow in a list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowSummary {
    /// Its id (the root signature's).
    pub id: SignatureId,
    /// `task`, `chain` or `swarm`.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: Status,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it finished, if it did.
    pub finished_at: Option<String>,
    /// A swarm's counters.
    pub swarm: Option<SwarmProgress>,
}

/// One page of `flows`: the JSON that `flows --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowsPage {
    /// The flows, newest first.
    pub flows: Vec<FlowSummary>,
    /// The cursor of the next page (`--cursor`), or `null` on the last page.
    pub next: Option<String>,
}

/// Why a run is stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StuckReason {
    /// Dispatched, but no worker began it.
    NeverBegan,
    /// Began, but its worker stopped renewing its lease.
    LeaseExpired,
}

/// A stuck run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StuckRun {
    /// The task's signature.
    pub id: SignatureId,
    /// The task's name.
    pub task: String,
    /// Why it is stuck.
    pub reason: StuckReason,
    /// Since when (the dispatch, or the lease's expiry; RFC 3339).
    pub since: String,
    /// The last attempt that began.
    pub attempt: u32,
}

/// What `stuck --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StuckRuns {
    /// The runs, oldest first.
    pub runs: Vec<StuckRun>,
}

/// A page of flows from the flow index.
pub async fn list_flows(_client: &Mageflow, _filter: &FlowFilter) -> Result<FlowsPage, CliError> {
    Err(CliError::NeedsFlowIndex { command: "flows" })
}

/// The stuck runs, from the flow index's outbox and leases.
pub async fn list_stuck(_client: &Mageflow, _older_than: Duration, _limit: u32) -> Result<StuckRuns, CliError> {
    Err(CliError::NeedsFlowIndex { command: "stuck" })
}

/// `flows` in text: one flow a line, then the next page's cursor.
pub fn render_flows(page: &FlowsPage) -> String {
    let mut out = String::new();
    for flow in &page.flows {
        out.push_str(&format!(
            "{} {} `{}`: {}, created {}",
            flow.id,
            flow.kind.as_str(),
            flow.name,
            flow.status,
            flow.created_at
        ));
        if let Some(progress) = &flow.swarm {
            out.push_str(&format!(" ({}/{} finished)", progress.succeeded + progress.failed, progress.items));
        }
        out.push('\n');
    }
    if let Some(next) = &page.next {
        out.push_str(&format!("more: --cursor {next}\n"));
    }
    out
}

/// `stuck` in text: one run a line.
pub fn render_stuck(stuck: &StuckRuns) -> String {
    stuck
        .runs
        .iter()
        .map(|run| {
            let reason = match run.reason {
                StuckReason::NeverBegan => "dispatched but never began",
                StuckReason::LeaseExpired => "its lease expired",
            };
            format!("{} task `{}`: {reason} (since {}, attempt {})\n", run.id, run.task, run.since, run.attempt)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> SignatureId {
        SignatureId::parse(text).unwrap()
    }

    #[test]
    fn a_page_of_flows_prints_one_line_each_and_the_next_cursor() {
        let page = FlowsPage {
            flows: vec![
                FlowSummary {
                    id: id("f1"),
                    kind: Kind::Swarm,
                    name: "thumbnails".into(),
                    status: Status::Active,
                    created_at: "2026-12-05T06:00:00Z".into(),
                    finished_at: None,
                    swarm: Some(SwarmProgress {
                        items: 10,
                        running: 2,
                        succeeded: 3,
                        failed: 1,
                        closed: true,
                        max_concurrency: 2,
                    }),
                },
                FlowSummary {
                    id: id("f2"),
                    kind: Kind::Task,
                    name: "charge".into(),
                    status: Status::Done,
                    created_at: "2026-12-05T05:00:00Z".into(),
                    finished_at: Some("2026-12-05T05:00:01Z".into()),
                    swarm: None,
                },
            ],
            next: Some("c2".into()),
        };
        assert_eq!(
            render_flows(&page),
            "f1 swarm `thumbnails`: active, created 2026-12-05T06:00:00Z (4/10 finished)\n\
             f2 task `charge`: done, created 2026-12-05T05:00:00Z\nmore: --cursor c2\n"
        );
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["next"], "c2");
        assert_eq!(
            json["flows"][1],
            serde_json::json!({
                "id": "f2", "kind": "task", "name": "charge", "status": "done", "created_at": "2026-12-05T05:00:00Z",
                "finished_at": "2026-12-05T05:00:01Z", "swarm": null,
            })
        );
    }

    #[test]
    fn stuck_runs_say_why() {
        let stuck = StuckRuns {
            runs: vec![
                StuckRun {
                    id: id("r1"),
                    task: "render".into(),
                    reason: StuckReason::NeverBegan,
                    since: "2026-12-05T06:00:00Z".into(),
                    attempt: 0,
                },
                StuckRun {
                    id: id("r2"),
                    task: "load".into(),
                    reason: StuckReason::LeaseExpired,
                    since: "2026-12-05T06:01:00Z".into(),
                    attempt: 2,
                },
            ],
        };
        assert_eq!(
            render_stuck(&stuck),
            "r1 task `render`: dispatched but never began (since 2026-12-05T06:00:00Z, attempt 0)\n\
             r2 task `load`: its lease expired (since 2026-12-05T06:01:00Z, attempt 2)\n"
        );
        assert_eq!(serde_json::to_value(&stuck).unwrap()["runs"][1]["reason"], "lease_expired");
    }
}
