//! Flows before they are stored: [`Node`] trees of tasks, chains and swarms with bound arguments and callbacks.

use serde_json::{Map, Value};

use crate::model::{Kind, SignatureId};

/// How a swarm runs its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmConfig {
    /// At most this many items run at once; 0 for no limit. 30 by default.
    pub max_concurrency: u32,
    /// The swarm fails (queued items never start, running ones are interrupted) once this many items failed.
    /// `None` (the default) never fails the swarm: failed items are reported in its results.
    pub stop_after_failures: Option<u32>,
    /// The swarm takes at most this many items and closes when it has them.
    pub max_items: Option<u64>,
    /// The swarm's result lists the items' outputs themselves (`[a, b]`) instead of their outcomes
    /// (`[{"ok": a}, {"ok": b}]`). Only for swarms that fail at their first failed item (`stop_after_failures = 1`),
    /// so that every listed item succeeded: the typed swarms of `flow!`, whose output is a tuple.
    pub outputs_only: bool,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig { max_concurrency: 30, stop_after_failures: None, max_items: None, outputs_only: false }
    }
}

/// What a node is.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Task { name: String },
    Chain { name: Option<String>, steps: Vec<Node> },
    Swarm { name: Option<String>, items: Vec<Node>, config: SwarmConfig, closed: bool },
}

/// One node of a flow that is not stored yet: a task, chain or swarm, with its bound arguments and callbacks. Its
/// id is fixed when it is made, so it can be referred to before it is stored.
#[derive(Clone, Debug)]
pub struct Node {
    pub(crate) id: SignatureId,
    pub(crate) body: Body,
    pub(crate) args: Map<String, Value>,
    pub(crate) on_success: Vec<Node>,
    pub(crate) on_error: Vec<Node>,
    /// A problem met while building the node (kept when a typed flow becomes a node); checking the node reports it.
    pub(crate) problem: Option<String>,
}

impl Node {
    pub(crate) fn new(body: Body) -> Self {
        Node::with_id(SignatureId::generate(), body)
    }

    pub(crate) fn with_id(id: SignatureId, body: Body) -> Self {
        Node { id, body, args: Map::new(), on_success: Vec::new(), on_error: Vec::new(), problem: None }
    }

    /// The id the node will have in the store.
    pub fn id(&self) -> &SignatureId {
        &self.id
    }

    /// What kind of signature the node is.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::Task { .. } => Kind::Task,
            Body::Chain { .. } => Kind::Chain,
            Body::Swarm { .. } => Kind::Swarm,
        }
    }

    /// The name stored for the node: the task name, or the chain / swarm name (the first step's task name, or
    /// `swarm`, when none was given).
    pub fn name(&self) -> String {
        match &self.body {
            Body::Task { name } => name.clone(),
            Body::Chain { name, steps } => {
                name.clone().unwrap_or_else(|| format!("chain:{}", steps.first().map(Node::name).unwrap_or_default()))
            }
            Body::Swarm { name, .. } => name.clone().unwrap_or_else(|| "swarm".to_owned()),
        }
    }

    /// Every node of the tree (callbacks included), parents before children.
    pub(crate) fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Node)) {
        visit(self);
        match &self.body {
            Body::Task { .. } => {}
            Body::Chain { steps: children, .. } | Body::Swarm { items: children, .. } => {
                children.iter().for_each(|child| child.walk(visit))
            }
        }
        self.on_success.iter().chain(&self.on_error).for_each(|callback| callback.walk(visit));
    }

    /// Every node of the tree, mutably, in the same order as [`walk`](Self::walk).
    pub(crate) fn walk_mut(&mut self, visit: &mut impl FnMut(&mut Node)) {
        visit(self);
        match &mut self.body {
            Body::Task { .. } => {}
            Body::Chain { steps: children, .. } | Body::Swarm { items: children, .. } => {
                children.iter_mut().for_each(|child| child.walk_mut(visit))
            }
        }
        self.on_success.iter_mut().chain(&mut self.on_error).for_each(|callback| callback.walk_mut(visit));
    }

    /// Checks the shape: chains have at least two steps, bound arguments of a swarm are an object, ...
    pub(crate) fn check_shape(&self) -> Result<(), crate::Error> {
        let mut problem = None;
        self.walk(&mut |node| {
            if problem.is_some() {
                return;
            }
            if let Some(built) = &node.problem {
                problem = Some(format!("`{}` could not be built: {built}", node.name()));
                return;
            }
            match &node.body {
                Body::Chain { steps, .. } if steps.len() < 2 => {
                    problem = Some(format!(
                        "chain `{}` has {} step(s); a chain needs at least two (run a single task as a signature)",
                        node.name(),
                        steps.len()
                    ));
                }
                Body::Swarm { items, config: SwarmConfig { max_items: Some(max), .. }, .. }
                    if items.len() as u64 > *max =>
                {
                    problem = Some(format!(
                        "swarm `{}` has {} items but takes at most {max} (max_items)",
                        node.name(),
                        items.len()
                    ));
                }
                Body::Swarm { config: SwarmConfig { stop_after_failures: Some(0), .. }, .. } => {
                    problem = Some(format!("swarm `{}`: stop_after_failures must be at least 1", node.name()));
                }
                Body::Swarm { config: SwarmConfig { outputs_only: true, stop_after_failures, .. }, .. }
                    if *stop_after_failures != Some(1) =>
                {
                    problem = Some(format!(
                        "swarm `{}` lists outputs only, so it must stop at its first failure (stop_after_failures = 1)",
                        node.name()
                    ));
                }
                _ => {}
            }
        });
        problem.map_or(Ok(()), |problem| Err(crate::Error::InvalidFlow(problem)))
    }
}
