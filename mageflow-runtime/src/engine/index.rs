//! The flow index, for operators' tools: root flows listed by status, name and creation time, a page at a time
//! ([`Mageflow::flows`](crate::Mageflow::flows)), and runs that are stuck ([`Mageflow::stuck`](crate::Mageflow::stuck)). Every store keeps the index, the cluster
//! too: each shard keeps its own part, and a listing merges them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::FlowQuery;
use super::session::Session;
use crate::error::{Error, Result};
use crate::model::{SignatureId, Status};

/// Which root flows [`Mageflow::flows`](crate::Mageflow::flows) lists: all by default, 50 per page, newest first.
#[derive(Clone, Debug)]
pub struct FlowFilter {
    statuses: Vec<Status>,
    name: Option<String>,
    created_after: Option<SystemTime>,
    created_before: Option<SystemTime>,
    limit: usize,
    cursor: Option<FlowCursor>,
}

impl Default for FlowFilter {
    fn default() -> Self {
        FlowFilter {
            statuses: Vec::new(),
            name: None,
            created_after: None,
            created_before: None,
            limit: 50,
            cursor: None,
        }
    }
}

impl FlowFilter {
    /// Every root flow, 50 per page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only flows with this status (call it again to admit more statuses).
    pub fn status(mut self, status: Status) -> Self {
        self.statuses.push(status);
        self
    }

    /// Only flows with this name (a task's name, or the name given to a chain or swarm).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only flows created at or after this time.
    pub fn created_after(mut self, time: SystemTime) -> Self {
        self.created_after = Some(time);
        self
    }

    /// Only flows created at most this long ago.
    pub fn younger_than(self, age: Duration) -> Self {
        self.created_after(SystemTime::now() - age)
    }

    /// Only flows created before this time.
    pub fn created_before(mut self, time: SystemTime) -> Self {
        self.created_before = Some(time);
        self
    }

    /// Only flows created more than this long ago.
    pub fn older_than(self, age: Duration) -> Self {
        self.created_before(SystemTime::now() - age)
    }

    /// At most this many flows per page (at least 1).
    pub fn limit(mut self, flows: usize) -> Self {
        self.limit = flows.max(1);
        self
    }

    /// The page after the one that gave this cursor ([`FlowPage::next`]).
    pub fn after(mut self, cursor: FlowCursor) -> Self {
        self.cursor = Some(cursor);
        self
    }
}

/// Where a page of flows ended; pass it to [`FlowFilter::after`] for the next page. Its text form
/// ([`Display`](std::fmt::Display), [`FromStr`](std::str::FromStr)) is what tools hand to their users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowCursor {
    created_ms: u64,
    member: String,
}

impl std::fmt::Display for FlowCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_ms, self.member.replace('|', "."))
    }
}

impl std::str::FromStr for FlowCursor {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad =
            || Error::Config(format!("`{text}` is not a flow cursor (it looks like `1733390000123.<group>.<id>`)"));
        let mut parts = text.splitn(3, '.');
        let created_ms = parts.next().and_then(|ms| ms.parse().ok()).ok_or_else(bad)?;
        let group = parts.next().filter(|group| !group.is_empty()).ok_or_else(bad)?;
        let id = parts.next().and_then(SignatureId::parse).ok_or_else(bad)?;
        Ok(FlowCursor { created_ms, member: format!("{group}|{id}") })
    }
}

/// One root flow, as the index knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSummary {
    /// The flow's root signature.
    pub id: SignatureId,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: Status,
    /// When it was stored.
    pub created_at: SystemTime,
    /// When it finished.
    pub finished_at: Option<SystemTime>,
}

/// A page of flows, newest first.
#[derive(Clone, Debug)]
pub struct FlowPage {
    /// The flows of this page.
    pub flows: Vec<FlowSummary>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<FlowCursor>,
}

/// Why a run is stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StuckReason {
    /// It was dispatched, and no worker began it.
    NeverBegan,
    /// It began, and its worker stopped renewing its lease (it died or was cut off).
    LeaseExpired,
}

/// A run that should have moved on and did not. The recovery sweep dispatches such runs again.
#[derive(Clone, Debug, PartialEq)]
pub struct StuckRun {
    /// The task's signature.
    pub id: SignatureId,
    /// Why it is stuck.
    pub reason: StuckReason,
    /// Since when: its dispatch, or its lease's expiry.
    pub since: SystemTime,
}

fn ms_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl Session {
    /// A page of root flows (the flows stored by `run`, `create` or a batch; not their steps or callbacks) that
    /// match `filter`, newest first. Flows leave the index when their state expires.
    pub async fn flows(&self, filter: &FlowFilter) -> Result<FlowPage> {
        let query = FlowQuery {
            statuses: filter.statuses.clone(),
            name: filter.name.clone(),
            cursor: filter.cursor.as_ref().map(|cursor| (cursor.created_ms, cursor.member.clone())),
            after_ms: filter.created_after.map(ms_since_epoch),
            before_ms: filter.created_before.map(ms_since_epoch),
            limit: filter.limit + 1,
        };
        let mut entries = self.engine.flows(&query).await?;
        let more = entries.len() > filter.limit;
        entries.truncate(filter.limit);
        let next = match (more, entries.last()) {
            (true, Some(last)) => Some(FlowCursor { created_ms: last.created_ms, member: last.member() }),
            _ => None,
        };
        let mut flows = Vec::with_capacity(entries.len());
        for entry in entries {
            let status = Status::parse(&entry.status).ok_or_else(|| Error::CorruptState {
                id: entry.id.clone(),
                detail: format!("its flow index entry has the status `{}`", entry.status),
            })?;
            flows.push(FlowSummary {
                id: entry.id,
                name: entry.name,
                status,
                created_at: at_ms(entry.created_ms),
                finished_at: (entry.finished_s > 0).then(|| UNIX_EPOCH + Duration::from_secs(entry.finished_s)),
            });
        }
        Ok(FlowPage { flows, next })
    }

    /// Runs dispatched more than `older_than` ago that never began, and runs whose lease expired (their worker died
    /// or was cut off), oldest first: what the recovery sweep will dispatch again.
    pub async fn stuck(&self, older_than: Duration) -> Result<Vec<StuckRun>> {
        let due = self.engine.due(older_than, 1000).await?;
        let never = due.unbegun.into_iter().map(|member| (member, StuckReason::NeverBegan));
        let lost = due.expired.into_iter().map(|member| (member, StuckReason::LeaseExpired));
        let mut runs: Vec<StuckRun> = never
            .chain(lost)
            .map(|(member, reason)| StuckRun { id: member.id, reason, since: at_ms(member.score as u64) })
            .collect();
        runs.sort_by_key(|run| run.since);
        Ok(runs)
    }
}
