//! `watch`: live progress until a flow finishes.
//!
//! The end of the flow is awaited through the client's finish notification ([`Mageflow::wait`]); progress in
//! between is read again every `--interval`. On a terminal, indicatif draws one bar for the flow and for each
//! chain, swarm and callback in it (at most [`MAX_BARS`]); with `--json`, each change of progress is one JSON line
//! on stdout (`{"event":"progress",...}`), and the end is a last line `{"event":"finished","flow":{...}}`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mageflow_runtime::{FlowTree, Kind, Mageflow, SignatureId, SignatureState, Status};
use serde::Serialize;
use serde_json::json;

use crate::commands::{parse_id, tree};
use crate::error::CliError;
use crate::view::{NodeView, render_tree};

/// The most bars drawn at once; the flow's other parts count in their parents' bars.
pub const MAX_BARS: usize = 24;

/// The progress of one part of a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Its id.
    pub id: SignatureId,
    /// `task`, `chain` or `swarm`.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its status.
    pub status: Status,
    /// Finished parts: a chain's finished steps, a swarm's finished items, 1 for a finished task.
    pub finished: u64,
    /// All parts: steps, items, or 1 for a task.
    pub total: u64,
}

fn progress_of(tree: &FlowTree) -> Progress {
    let state = &tree.state;
    let (finished, total) = match (&state.swarm, state.kind) {
        (Some(swarm), _) => (swarm.succeeded + swarm.failed, swarm.items),
        (None, Kind::Chain) => {
            let done = tree.children.iter().filter(|child| child.state.status.is_finished()).count() as u64;
            (done, state.children.len() as u64)
        }
        _ => (u64::from(state.status.is_finished()), 1),
    };
    Progress { id: state.id.clone(), kind: state.kind, name: state.name.clone(), status: state.status, finished, total }
}

/// The parts that get a bar: the flow itself, then its containers and callbacks, depth first.
pub fn parts(tree: &FlowTree) -> Vec<Progress> {
    fn walk(tree: &FlowTree, root: bool, out: &mut Vec<Progress>) {
        if out.len() >= MAX_BARS {
            return;
        }
        if root || tree.state.kind != Kind::Task {
            out.push(progress_of(tree));
        }
        for child in &tree.children {
            walk(child, false, out);
        }
        for callback in tree.success_callbacks.iter().chain(&tree.error_callbacks) {
            if out.len() < MAX_BARS && callback.state.kind == Kind::Task {
                out.push(progress_of(callback));
            }
            walk(callback, false, out);
        }
    }
    let mut out = Vec::new();
    walk(tree, true, &mut out);
    out
}

struct Bars {
    multi: MultiProgress,
    bars: HashMap<SignatureId, ProgressBar>,
    style: ProgressStyle,
}

impl Bars {
    fn new() -> Bars {
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), bars: HashMap::new(), style }
    }

    fn update(&mut self, parts: &[Progress]) {
        for part in parts {
            let bar = self.bars.entry(part.id.clone()).or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(part.total).with_style(self.style.clone()));
                bar.set_prefix(format!("{} `{}`", part.kind.as_str(), part.name));
                bar
            });
            bar.set_length(part.total);
            bar.set_position(part.finished);
            bar.set_message(part.status.to_string());
        }
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}

fn line(out: &mut impl Write, value: &serde_json::Value) -> Result<(), CliError> {
    writeln!(out, "{value}")
        .and_then(|_| out.flush())
        .map_err(|error| CliError::Usage(format!("cannot write: {error}")))
}

/// Watches a flow until it finishes: `Ok` when it is done, [`CliError::FlowDidNotSucceed`] when it failed or was
/// canceled.
pub async fn watch(
    client: &Mageflow,
    id: &str,
    interval: Duration,
    json: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let first = tree(client, id).await?;
    let id = parse_id(id)?;
    let mut bars = (!json).then(Bars::new);
    let mut last: Option<Vec<Progress>> = None;
    // the flow ends when its root has finished and so have the root's callbacks (an error callback after a success
    // is skipped: canceled at once)
    let callbacks: Vec<SignatureId> =
        first.state.success_callbacks.iter().chain(&first.state.error_callbacks).cloned().collect();
    let mut current = first;
    let finished = async {
        client.wait(&id, None).await?;
        for callback in &callbacks {
            match client.wait(callback, None).await {
                Ok(_) | Err(mageflow_runtime::Error::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    };
    tokio::pin!(finished);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut ended = false;
    loop {
        let now = parts(&current);
        if last.as_ref() != Some(&now) {
            match &mut bars {
                Some(bars) => bars.update(&now),
                None => {
                    line(out, &json!({"event": "progress", "id": id, "status": current.state.status, "parts": now}))?
                }
            }
            last = Some(now);
        }
        if ended && over(&current) {
            break;
        }
        tokio::select! {
            waited = &mut finished, if !ended => {
                waited.map_err(CliError::from)?;
                ended = true;
            }
            _ = ticks.tick() => {}
        }
        current = tree(client, id.as_str()).await?;
    }
    if let Some(bars) = &mut bars {
        bars.update(&parts(&current));
        bars.finish();
    }
    if json {
        line(out, &json!({"event": "finished", "flow": NodeView::of(&current)}))?;
    } else {
        write!(out, "{}", summary(&current)).map_err(|error| CliError::Usage(format!("cannot write: {error}")))?;
    }
    finished_ok(&current.state)
}

/// Whether the root and its callbacks have finished, as read.
fn over(tree: &FlowTree) -> bool {
    tree.state.status.is_finished()
        && tree
            .success_callbacks
            .iter()
            .chain(&tree.error_callbacks)
            .all(|callback| callback.state.status.is_finished())
}

/// What `watch` prints at the end: the root's and its callbacks' headlines and results or errors (`show` prints the
/// whole tree).
pub fn summary(tree: &FlowTree) -> String {
    let root = FlowTree {
        state: tree.state.clone(),
        children: Vec::new(),
        success_callbacks: tree
            .success_callbacks
            .iter()
            .map(|callback| FlowTree { children: Vec::new(), ..callback.clone() })
            .collect(),
        error_callbacks: tree
            .error_callbacks
            .iter()
            .map(|callback| FlowTree { children: Vec::new(), ..callback.clone() })
            .collect(),
    };
    render_tree(&root)
}

fn finished_ok(state: &SignatureState) -> Result<(), CliError> {
    match state.status {
        Status::Done => Ok(()),
        status => Err(CliError::FlowDidNotSucceed {
            id: state.id.clone(),
            status,
            detail: state.error.as_ref().map(|failure| format!(": {failure}")).unwrap_or_default(),
        }),
    }
}
