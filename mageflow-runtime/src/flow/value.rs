//! [`Flow`]: a flow to run or to store — a task, a [`Chain`] or a [`Swarm`] with bound arguments and callbacks —
//! typed by its input, its output and its kind; and the kind markers ([`TaskKind`], [`ChainKind`], [`SwarmKind`],
//! [`AnyKind`]). A flow is a plain value: the client makes it ([`Mageflow::sign`](crate::Mageflow::sign), ...),
//! `flow!` and JSON build it, and the client runs it ([`Mageflow::run`](crate::Mageflow::run), ...).

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::dsl::json;
use crate::error::{Error, Result};
use crate::flow::{Body, Node, SwarmConfig};
use crate::model::SignatureId;

/// Marks a [`Flow`] (or a [`Handle`](crate::Handle)) of one task.
#[derive(Debug)]
pub enum TaskKind {}
/// Marks a [`Flow`] (or a [`Handle`](crate::Handle)) of a chain: steps run one after another, each result feeding
/// the next step.
#[derive(Debug)]
pub enum ChainKind {}
/// Marks a [`Flow`] (or a [`Handle`](crate::Handle)) of a swarm: items run in parallel with a concurrency limit.
#[derive(Debug)]
pub enum SwarmKind {}
/// Marks a [`Flow`] or a [`Handle`](crate::Handle) whose kind is not known where it is made (a `flow!` flow, a
/// flow from JSON, a handle from an id).
#[derive(Debug)]
pub enum AnyKind {}

/// A flow typed by its input `I`, its output `O` (`serde_json::Value` for flows made by name) and its kind `K`: a
/// task (`K = TaskKind`), a [`Chain`], a [`Swarm`], or any of them (`K = AnyKind`, what `flow!` and JSON build),
/// with bound arguments and success and error callbacks.
///
/// Who makes one:
/// - the client, from a task or a task's name, or from steps and items: [`Mageflow::sign`](crate::Mageflow::sign),
///   [`sign_name`](crate::Mageflow::sign_name), [`chain`](crate::Mageflow::chain),
///   [`swarm`](crate::Mageflow::swarm) (inside a task run, their ids are the run's, so a retried run makes the same
///   ones);
/// - `flow!`, checking at compile time that every step accepts its predecessor's output;
/// - [`Flow::from_json`] and [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json), at run time
///   (`Flow<Value, Value>`);
/// - [`Flow::swarm`], a swarm of same-typed flows known while running.
///
/// The client runs it or stores it — [`Mageflow::run`](crate::Mageflow::run),
/// [`run_no_wait`](crate::Mageflow::run_no_wait), [`create`](crate::Mageflow::create), or a
/// [`Batch`](crate::Batch) — and returns a [`Handle`](crate::Handle) of the same kind (only a swarm's handle can add
/// items). A flow is also a node of another flow (a chain step, a swarm item, a callback, a node of `flow!`), since
/// it converts into a [`Node`].
///
/// Nothing is stored until the flow runs. Its ids are fixed when it is built, so a flow runs once: build it again
/// to run it again.
#[must_use = "a flow does nothing until the client runs it"]
pub struct Flow<I, O, K = AnyKind> {
    pub(crate) node: Node,
    pub(crate) problem: Option<Error>,
    types: PhantomData<fn(I, K) -> O>,
}

/// A chain: steps that run one after another, each step's result feeding the next. Its output is the last step's.
pub type Chain<I, O> = Flow<I, O, ChainKind>;

/// A swarm: items that run in parallel. Its output is the outcome of every item, in item order.
pub type Swarm<I, O = Vec<crate::Outcome>> = Flow<I, O, SwarmKind>;

impl<I, O, K> Flow<I, O, K> {
    pub(crate) fn from_node(node: Node) -> Self {
        Flow { node, problem: None, types: PhantomData }
    }

    pub(crate) fn with_problem(node: Node, problem: Option<Error>) -> Self {
        Flow { node, problem, types: PhantomData }
    }

    /// Keeps the first problem met while building.
    pub(crate) fn note(&mut self, problem: Option<Error>) {
        if self.problem.is_none() {
            self.problem = problem;
        }
    }

    /// The id the flow's root has (or will have) in the store.
    pub fn id(&self) -> &SignatureId {
        self.node.id()
    }

    /// The flow's root node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The flow described in JSON, in the form [`Flow::from_json`] reads: a task is its name (or
    /// `{"task": name, "bind": {...}}`), a chain `{"chain": [...]}`, a swarm `{"swarm": [...], "max_concurrency":
    /// n, ...}`, with `name`, `bind`, `on_success` and `on_error` where given. Ids are left out.
    pub fn to_json(&self) -> Value {
        json::describe(&self.node)
    }

    /// Declares the input and output types of a flow whose types the compiler cannot know, such as one built from
    /// JSON (`Flow<Value, Value>`), so that it can take part in a typed flow. Nothing is checked at compile time:
    /// the entry input is still checked against the tasks' schemas when the flow runs, and the result must
    /// deserialize into `O2`.
    pub fn assume_types<I2, O2>(self) -> Flow<I2, O2, K> {
        Flow { node: self.node, problem: self.problem, types: PhantomData }
    }

    /// The same flow with its kind forgotten (`K = AnyKind`), as `flow!` takes its nodes.
    pub(crate) fn any_kind(self) -> Flow<I, O> {
        Flow { node: self.node, problem: self.problem, types: PhantomData }
    }

    /// The node, or the first problem met while building the flow.
    pub(crate) fn into_checked(self) -> Result<Node> {
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok(self.node),
        }
    }

    /// Binds arguments (a JSON object): they are merged over the input when the task runs, winning over the
    /// message's fields. Each field must be a field of the task's input.
    pub fn bind(mut self, args: Value) -> Self {
        match args {
            Value::Object(map) => self.node.args.extend(map),
            other => {
                let name = self.node.name();
                self.note(Some(Error::InvalidFlow(format!(
                    "bound arguments of `{name}` must be a JSON object, got {other}"
                ))));
            }
        }
        self
    }

    /// Binds one argument.
    pub fn arg(mut self, field: &str, value: impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => {
                self.node.args.insert(field.to_owned(), value);
            }
            Err(source) => self.note(Some(Error::Serialize { what: format!("the argument `{field}`"), source })),
        }
        self
    }

    /// Adds a callback that runs once when this flow succeeds, with its result as input (in the callback's
    /// `#[mageflow(return_value)]` field, or as its whole input).
    pub fn on_success(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_success.push(callback.into());
        self
    }

    /// Adds a callback that runs once when this flow fails for good (after its last retry), with the
    /// [`Failure`](crate::Failure) report (the failed input and a structured error) as input.
    pub fn on_error(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_error.push(callback.into());
        self
    }
}

impl<I, O> Chain<I, O> {
    /// Names the chain (shown in its state and tree).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        if let Body::Chain { name: slot, .. } = &mut self.node.body {
            *slot = Some(name.into());
        }
        self
    }
}

impl<I, O> Swarm<I, O> {
    fn config(&mut self) -> Option<&mut SwarmConfig> {
        match &mut self.node.body {
            Body::Swarm { config, .. } => Some(config),
            _ => None,
        }
    }

    /// Names the swarm (shown in its state and tree).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        if let Body::Swarm { name: slot, .. } = &mut self.node.body {
            *slot = Some(name.into());
        }
        self
    }

    /// At most `limit` items run at once (0: no limit; 30 by default).
    pub fn max_concurrency(mut self, limit: u32) -> Self {
        if let Some(config) = self.config() {
            config.max_concurrency = limit;
        }
        self
    }

    /// Fails the swarm once `failures` items failed: queued items never start, running ones are interrupted, error
    /// callbacks run once. Without it, the swarm succeeds and reports failed items in its results. A swarm that
    /// lists its members' outputs only ([`Flow::swarm`]) must stop at its first failure: any other threshold is
    /// refused when it is stored.
    pub fn stop_after_failures(mut self, failures: u32) -> Self {
        if let Some(config) = self.config() {
            config.stop_after_failures = Some(failures);
        }
        self
    }

    /// The swarm takes at most `items` items, and closes when it has them.
    pub fn max_items(mut self, items: u64) -> Self {
        if let Some(config) = self.config() {
            config.max_items = Some(items);
        }
        self
    }

    /// Keeps the swarm open after it starts, so that items can be added while it runs
    /// ([`Handle::add`](crate::Handle::add), ...). An open swarm completes only after
    /// [`Handle::close`](crate::Handle::close). Swarms are closed by default.
    pub fn open(mut self) -> Self {
        if let Body::Swarm { closed, .. } = &mut self.node.body {
            *closed = false;
        }
        self
    }
}

impl<I, O> Swarm<I, Vec<O>> {
    /// A swarm of flows that take the same input and produce the same type, known while running (one member per
    /// file, say): its output is the list of their outputs, in member order. Like the swarms of `flow!`, it fails at
    /// its first failed member; it runs at most 30 members at once unless told otherwise
    /// ([`max_concurrency`](Self::max_concurrency)). Use it in `flow!` in braces:
    /// `flow!(list >> { Flow::swarm(files.iter().map(|file| flow!(resize.bind(file = file)))) } >> merge)`.
    pub fn swarm<K>(members: impl IntoIterator<Item = Flow<I, O, K>>) -> Self {
        let mut problem = None;
        let items = members
            .into_iter()
            .map(|member| {
                problem = problem.take().or(member.problem);
                member.node
            })
            .collect();
        let config = SwarmConfig { stop_after_failures: Some(1), outputs_only: true, ..Default::default() };
        Flow::with_problem(Node::new(Body::Swarm { name: None, items, config, closed: true }), problem)
    }
}

impl Flow<Value, Value> {
    /// A flow from its JSON description (see [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json) for the
    /// format). Only the shape is checked here; [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json) also
    /// checks the task names and bound arguments against the tasks' schemas, and running a flow always does.
    pub fn from_json(description: &Value) -> Result<Self> {
        let node = json::parse(description)?;
        node.check_shape()?;
        Ok(Flow::from_node(node))
    }
}

impl<I, O, K> From<Flow<I, O, K>> for Node {
    /// The flow's root node. A problem met while building the flow stays with the node: storing or running it
    /// reports the problem.
    fn from(flow: Flow<I, O, K>) -> Node {
        let mut node = flow.node;
        if let Some(problem) = flow.problem {
            node.problem.get_or_insert_with(|| problem.to_string());
        }
        node
    }
}

impl<I, O, K> fmt::Debug for Flow<I, O, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Flow");
        debug.field("id", self.id()).field("flow", &format_args!("{}", self.to_json()));
        if let Some(problem) = &self.problem {
            debug.field("problem", &format_args!("{problem}"));
        }
        debug.finish()
    }
}
