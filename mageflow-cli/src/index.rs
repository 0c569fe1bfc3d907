//! `flows` and `stuck`: the flow index read through the client (`Mageflow::flows`, `Mageflow::stuck`), each entry
//! completed from the flow's state, and what they print.

use std::time::Duration;

use clap::ValueEnum;
use mageflow_runtime::{Kind, Mageflow, SignatureId, Status, SwarmProgress};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// Which flows to list: `flows`' options, and the MCP tool `list_flows`' arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFilter {
    /// Only flows with one of these statuses (all when empty).
    #[serde(default)]
    pub status: Vec<StatusArg>,
    /// Only flows with this name (a task's name, or the name given to a chain or swarm).
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

/// A page of flows from the flow index, with each flow's kind and a swarm's counters read from its state.
pub async fn list_flows(client: &Mageflow, filter: &FlowFilter) -> Result<FlowsPage, CliError> {
    let mut query = mageflow_runtime::FlowFilter::new().limit(filter.limit.unwrap_or(50) as usize);
    for status in &filter.status {
        query = query.status((*status).into());
    }
    if let Some(name) = &filter.name {
        query = query.name(name.clone());
    }
    if let Some(secs) = filter.older_than_secs {
        query = query.older_than(Duration::from_secs(secs));
    }
    if let Some(secs) = filter.newer_than_secs {
        query = query.younger_than(Duration::from_secs(secs));
    }
    if let Some(cursor) = &filter.cursor {
        let cursor = cursor.parse().map_err(|_| {
            CliError::Usage(format!(
                "`{cursor}` is not a flow cursor: pass the `next` cursor that the previous page printed"
            ))
        })?;
        query = query.after(cursor);
    }
    let page = client.flows(&query).await.map_err(CliError::from)?;
    let states = futures::future::join_all(page.flows.iter().map(|flow| client.status(&flow.id))).await;
    let mut flows = Vec::with_capacity(page.flows.len());
    for (flow, state) in page.flows.into_iter().zip(states) {
        // a flow whose state expired since the index was read is left out
        let Ok(state) = state else { continue };
        flows.push(FlowSummary {
            id: flow.id,
            kind: state.kind,
            name: flow.name,
            status: state.status,
            created_at: crate::view::timestamp(flow.created_at),
            finished_at: flow.finished_at.map(crate::view::timestamp),
            swarm: state.swarm,
        });
    }
    Ok(FlowsPage { flows, next: page.next.map(|cursor| cursor.to_string()) })
}

/// The stuck runs: dispatched more than `older_than` ago and never begun, or whose lease expired; at most `limit`.
pub async fn list_stuck(client: &Mageflow, older_than: Duration, limit: u32) -> Result<StuckRuns, CliError> {
    let stuck = client.stuck(older_than).await.map_err(CliError::from)?;
    let stuck: Vec<_> = stuck.into_iter().take(limit as usize).collect();
    let states = futures::future::join_all(stuck.iter().map(|run| client.status(&run.id))).await;
    let mut runs = Vec::with_capacity(stuck.len());
    for (run, state) in stuck.into_iter().zip(states) {
        let Ok(state) = state else { continue };
        runs.push(StuckRun {
            id: run.id,
            task: state.name,
            reason: match run.reason {
                mageflow_runtime::StuckReason::NeverBegan => StuckReason::NeverBegan,
                mageflow_runtime::StuckReason::LeaseExpired => StuckReason::LeaseExpired,
            },
            since: crate::view::timestamp(run.since),
            attempt: state.attempt,
        });
    }
    Ok(StuckRuns { runs })
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

/// A status of a flow, as a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StatusArg {
    Pending,
    Active,
    Done,
    Failed,
    Suspended,
    Interrupted,
    Canceled,
}

impl From<StatusArg> for mageflow_runtime::Status {
    fn from(status: StatusArg) -> Self {
        use mageflow_runtime::Status;
        match status {
            StatusArg::Pending => Status::Pending,
            StatusArg::Active => Status::Active,
            StatusArg::Done => Status::Done,
            StatusArg::Failed => Status::Failed,
            StatusArg::Suspended => Status::Suspended,
            StatusArg::Interrupted => Status::Interrupted,
            StatusArg::Canceled => Status::Canceled,
        }
    }
}
