//! Typed flows: [`Flow`], the value `flow!` builds, whose input and output types the compiler checks; the
//! [`IntoFlow`] and [`InputFields`] traits it relies on; flows described in JSON at run time
//! ([`Flow::from_json`], [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json)); and running flows with [`Mageflow::run`](crate::Mageflow::run).
//!
//! `flow!` arranges calls into [`private`] (reached as `::mageflow::__private`); the typing rules live there, as
//! trait bounds.

use std::fmt;
use std::marker::PhantomData;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::flow::Signature;
use crate::flow::{Body, Node};
use crate::model::SignatureId;
use crate::run::task::Task;

pub(crate) mod json;
pub mod private;

/// A flow typed by its input `I` and output `O`: a task, a chain or a swarm, with bound arguments and callbacks,
/// not tied to a client. `flow!` builds them, checking at compile time that every step accepts its predecessor's
/// output; [`Flow::from_json`] and [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json) build untyped ones (`Flow<Value, Value>`) at run
/// time. Run one with [`Mageflow::run`](crate::Mageflow::run) or [`Mageflow::run_no_wait`](crate::Mageflow::run_no_wait); use one as a node of another flow (in `flow!`,
/// as a chain step or a swarm item) since it converts into a [`Node`].
///
/// Nothing is stored until the flow runs. Its ids are fixed when it is built, so a flow runs once: build it again
/// to run it again.
#[must_use = "a flow does nothing until it is run"]
pub struct Flow<I, O> {
    pub(crate) node: Node,
    pub(crate) problem: Option<Error>,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O> Flow<I, O> {
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

    /// The id the flow's root will have in the store.
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
    pub fn assume_types<I2, O2>(self) -> Flow<I2, O2> {
        Flow { node: self.node, problem: self.problem, types: PhantomData }
    }

    /// The node, or the first problem met while building the flow.
    pub(crate) fn into_checked(self) -> Result<Node> {
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok(self.node),
        }
    }
}

impl<I, O> Flow<I, Vec<O>> {
    /// A swarm of flows that take the same input and produce the same type, known while running (one member per
    /// file, say): its output is the list of their outputs, in member order. Like the swarms of `flow!`, it fails at
    /// its first failed member; it runs at most 30 members at once unless told otherwise
    /// ([`max_concurrency`](Self::max_concurrency)). Use it in `flow!` in braces:
    /// `flow!(list >> { Flow::swarm(files.iter().map(|file| flow!(resize.bind(file = file)))) } >> merge)`.
    pub fn swarm(members: impl IntoIterator<Item = Flow<I, O>>) -> Self {
        let mut problem = None;
        let items = members
            .into_iter()
            .map(|member| {
                problem = problem.take().or(member.problem);
                member.node
            })
            .collect();
        let config =
            crate::flow::SwarmConfig { stop_after_failures: Some(1), outputs_only: true, ..Default::default() };
        Flow::with_problem(Node::new(Body::Swarm { name: None, items, config, closed: true }), problem)
    }

    /// At most `limit` members of the swarm run at once (0: no limit).
    pub fn max_concurrency(mut self, limit: u32) -> Self {
        match &mut self.node.body {
            Body::Swarm { config, .. } => config.max_concurrency = limit,
            _ => self.note(Some(Error::InvalidFlow("`max_concurrency` applies to a swarm".to_owned()))),
        }
        self
    }
}

impl Flow<Value, Value> {
    /// A flow from its JSON description (see [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json) for the format). Only the shape is
    /// checked here; [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json) also checks the task names and bound arguments against the tasks'
    /// schemas, and running a flow always does.
    pub fn from_json(description: &Value) -> Result<Self> {
        let node = json::parse(description)?;
        node.check_shape()?;
        Ok(Flow::from_node(node))
    }
}

impl<I, O> From<Flow<I, O>> for Node {
    /// The flow's root node. A problem met while building the flow stays with the node: storing or running it
    /// reports the problem.
    fn from(flow: Flow<I, O>) -> Node {
        let mut node = flow.node;
        if let Some(problem) = flow.problem {
            node.problem.get_or_insert_with(|| problem.to_string());
        }
        node
    }
}

impl<I, O, K> From<Signature<I, O, K>> for Flow<I, O> {
    fn from(signature: Signature<I, O, K>) -> Self {
        signature.into_flow()
    }
}

impl<I, O> fmt::Debug for Flow<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Flow");
        debug.field("id", self.id()).field("flow", &format_args!("{}", self.to_json()));
        if let Some(problem) = &self.problem {
            debug.field("problem", &format_args!("{problem}"));
        }
        debug.finish()
    }
}

/// What can be a node of `flow!`: a task (made with `#[mageflow::task]`), a [`Flow`], or a [`Signature`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task or a flow",
    label = "not a task",
    note = "a node of `flow!` is a task made with `#[mageflow::task]`, a `Flow` (from `flow!` or `Flow::from_json`) \
            or a `Signature`"
)]
pub trait IntoFlow {
    /// The input of the flow.
    type Input;
    /// The output of the flow.
    type Output;
    /// What `flow!` knows of the arguments bound to the node: for a task, nothing yet; for a flow, that it was
    /// checked when it was built.
    #[doc(hidden)]
    type Binding;

    /// The flow.
    fn into_flow(self) -> Flow<Self::Input, Self::Output>;
}

impl<T: Task> IntoFlow for T {
    type Input = T::Input;
    type Output = T::Output;
    type Binding = private::Fresh<T::Input>;

    fn into_flow(self) -> Flow<T::Input, T::Output> {
        Flow::from_node(Node::new(Body::Task { name: self.name().to_owned() }))
    }
}

impl<I, O> IntoFlow for Flow<I, O> {
    type Input = I;
    type Output = O;
    type Binding = private::Trusted;

    fn into_flow(self) -> Flow<I, O> {
        self
    }
}

impl<I, O, K> IntoFlow for Signature<I, O, K> {
    type Input = I;
    type Output = O;
    type Binding = private::Trusted;

    fn into_flow(self) -> Flow<I, O> {
        let id = self.id().clone();
        match self.into_checked() {
            Ok(node) => Flow::from_node(node),
            Err(problem) => Flow::with_problem(Node::with_id(id, Body::Task { name: String::new() }), Some(problem)),
        }
    }
}

/// The fields of a task input that `flow!` can bind (`task.bind(field = value)`), each with its type, and which of
/// them must be given when the task follows another one. Derived with `#[derive(InputFields)]`, and by
/// `#[derive(TaskInput)]`; its items are for the code `flow!` generates.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not list its fields, so `flow!` cannot bind them",
    label = "the input of this task is `{Self}`",
    note = "derive `mageflow::InputFields` on `{Self}` (or `mageflow::TaskInput`, which includes it)"
)]
pub trait InputFields {
    /// A struct with one [`Slot`](private::Slot) per field that can be bound: `flow!` reads `fields.name` to
    /// check a bound argument's name and type.
    #[doc(hidden)]
    type Fields;
    /// Which fields are bound: none yet. Binding a field changes its state; the required ones must be bound (or
    /// fed by the previous step) for the task to follow another one.
    #[doc(hidden)]
    type Unbound;

    /// The fields.
    #[doc(hidden)]
    fn fields() -> Self::Fields;

    /// The fields of a task being bound, and its binding state with nothing bound: where `.bind(..)` in `flow!`
    /// starts.
    #[doc(hidden)]
    fn bind_fields<O, S>(binder: private::Binder<Self, O, S>) -> (Self::Fields, private::Binder<Self, O, Self::Unbound>)
    where
        Self: Sized,
    {
        (Self::fields(), binder.restate())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(name: &str) -> Flow<Value, Value> {
        Flow::from_node(Node::new(Body::Task { name: name.to_owned() }))
    }

    #[test]
    fn a_problem_met_while_building_stays_with_the_node() {
        let flow = private::named(task("resize"), "images");
        assert!(flow.problem.is_some());
        let node = Node::from(flow);
        let error = node.check_shape().unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid flow: `resize` could not be built: invalid flow: `name = \"images\"` names a chain or a swarm, \
             but this flow is the task `resize`, named by its task"
        );
    }

    #[test]
    fn a_swarm_of_flows_lists_their_outputs_and_stops_at_the_first_failure() {
        let swarm = Flow::swarm(["a", "b", "c"].map(task)).max_concurrency(2);
        assert_eq!(
            swarm.to_json(),
            json!({"swarm": ["a", "b", "c"], "max_concurrency": 2, "stop_after_failures": 1, "outputs_only": true})
        );
        assert!(swarm.problem.is_none());
        let chain = private::end(private::then(private::seq(task("a")), task("b")));
        assert!(chain.assume_types::<Value, Vec<Value>>().max_concurrency(2).problem.is_some());
    }

    #[test]
    fn typed_swarms_and_sequences_build_their_nodes() {
        let members = (task("a"), private::retype::<Value, _, _>(task("b")));
        let strict = private::swarm(members, private::SwarmOptions { max_concurrency: Some(4), ..Default::default() });
        assert_eq!(
            strict.to_json(),
            json!({"swarm": ["a", "b"], "max_concurrency": 4, "stop_after_failures": 1, "outputs_only": true})
        );
        let options = private::SwarmOptions { stop_after_failures: Some(2), max_items: Some(3), ..Default::default() };
        let tolerant = private::swarm_outcomes((task("a"),), options);
        assert_eq!(tolerant.to_json(), json!({"swarm": ["a"], "stop_after_failures": 2, "max_items": 3}));
        let single = private::end(private::seq(task("a")));
        assert_eq!(single.to_json(), json!("a"), "a sequence of one node is that node");
        let with_callbacks = private::on_error(
            private::on_success(single, task("ok")),
            task("ko").assume_types::<crate::Failure, Value>(),
        );
        assert_eq!(with_callbacks.to_json(), json!({"task": "a", "on_success": "ok", "on_error": "ko"}));
    }
}
