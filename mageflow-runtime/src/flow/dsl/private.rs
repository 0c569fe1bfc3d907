//! What the code `flow!` generates calls: building blocks that carry the types of a flow, and the rules they
//! follow. Reached as `::mageflow::__private`; not a public API.
//!
//! The rules:
//! - a node that follows another takes its output as its whole input ([`Whole`]), or, when its input derives
//!   `TaskInput`, in its return-value field ([`Field`]); which of the two is decided by the input's type
//!   ([`RouteProbe`]), as the engine decides where a predecessor's result goes. [`Whole::expected`] and
//!   [`Field::expected`] give the type the node takes from its predecessor;
//! - a task that takes the output in its return-value field needs its other required fields bound
//!   ([`Field::missing`] is the first that is not), and its return-value field not bound ([`Field::role`], which
//!   is [`Unfed`] for every other field);
//! - a bound argument names a field of the input ([`InputFields::Fields`]) and has its type;
//! - an error callback takes a failure report ([`FailureReport`]);
//! - a swarm's output is the tuple of its members' outputs ([`Members`]), or of their [`Outcome`]s when it
//!   tolerates failures.
//!
//! `flow!` checks each rule with a trait it declares in a block of its own next to the node it checks, whose
//! `#[diagnostic::on_unimplemented]` message names the user's nodes, and calls the check as a trait function (so
//! that the error is that one unmet bound, with no note about generated items).

use std::marker::PhantomData;

use serde::Serialize;
use serde_json::{Map, Value};

pub use super::{InputFields, IntoFlow};
use crate::error::Error;
pub use crate::flow::Flow;
use crate::flow::{Body, Node, SwarmConfig};
use crate::model::Outcome;
use crate::run::task::{Task, TaskInput};

// ---- where a predecessor's output goes --------------------------------------------------------------------------

/// The predecessor's output is the node's whole input.
#[derive(Clone, Copy, Debug)]
pub struct Whole;

/// The predecessor's output goes to the return-value field of the node's input (a `TaskInput`).
#[derive(Clone, Copy, Debug)]
pub struct Field;

/// Finds where a predecessor's output goes in a node whose input is `T`:
/// `(&RouteProbe::of(&node)).route()` is [`Field`] when `T: TaskInput` and [`Whole`] otherwise (with
/// [`RouteOfTaskInput`] and [`RouteOfWholeInput`] in scope).
pub struct RouteProbe<T>(PhantomData<fn() -> T>);

impl<T> RouteProbe<T> {
    /// The probe for the input of `node`.
    pub fn of<N: HasInput<Input = T>>(_node: &N) -> Self {
        RouteProbe(PhantomData)
    }
}

/// The probe's answer for inputs that derive `TaskInput`.
pub trait RouteOfTaskInput {
    /// [`Field`].
    fn route(&self) -> Field {
        Field
    }
}

impl<T: TaskInput> RouteOfTaskInput for RouteProbe<T> {}

/// The probe's answer for every other input.
pub trait RouteOfWholeInput {
    /// [`Whole`].
    fn route(&self) -> Whole {
        Whole
    }
}

impl<T> RouteOfWholeInput for &RouteProbe<T> {}

impl Whole {
    /// What the node takes from its predecessor: its whole input.
    pub fn expected<N: HasInput>(&self, _node: &N) -> PhantomData<N::Input> {
        PhantomData
    }

    /// The first required field that is neither bound nor fed: none, since the predecessor's output is the whole
    /// input (bound arguments are merged over it).
    pub fn missing<B>(&self, _binding: &PhantomData<B>) -> PhantomData<AllBound> {
        PhantomData
    }

    /// The role of a bound field: any field may be bound over the predecessor's output.
    pub fn role<M, T>(&self, _slot: &Slot<M, T>) -> PhantomData<AnyField> {
        PhantomData
    }
}

impl Field {
    /// What the node takes from its predecessor: the type of its return-value field.
    pub fn expected<N: HasInput>(&self, _node: &N) -> PhantomData<<N::Input as TaskInput>::ReturnValue>
    where
        N::Input: TaskInput,
    {
        PhantomData
    }

    /// The first required field, other than the return-value field, that is not bound (its marker), or
    /// [`AllBound`].
    pub fn missing<B: Binding>(&self, _binding: &PhantomData<B>) -> PhantomData<B::Missing> {
        PhantomData
    }

    /// The role of a bound field: its marker, [`Unfed`] unless it is the return-value field, which the
    /// predecessor's output fills.
    pub fn role<M, T>(&self, _slot: &Slot<M, T>) -> PhantomData<M> {
        PhantomData
    }
}

/// The output of a flow or of a sequence being built, as a type.
pub fn output_of<P: Produces>(_producer: &P) -> PhantomData<P::Output> {
    PhantomData
}

/// Things with an input type: flows and tasks being bound.
pub trait HasInput {
    /// The input.
    type Input;
}

impl<I, O> HasInput for Flow<I, O> {
    type Input = I;
}

impl<I, O, S> HasInput for Binder<I, O, S> {
    type Input = I;
}

/// Things with an output type: flows and sequences being built.
pub trait Produces {
    /// The output.
    type Output;
}

impl<I, O> Produces for Flow<I, O> {
    type Output = O;
}

impl<I, O> Produces for Seq<I, O> {
    type Output = O;
}

/// A failure report, what an error callback takes (whole, or in its return-value field).
pub trait FailureReport {}

impl<X> FailureReport for crate::model::Failure<X> {}

/// Gives a checked node the predecessor's output type as its input type (the checks are `flow!`'s).
pub fn retype<I2, I, O>(flow: Flow<I, O>) -> Flow<I2, O> {
    Flow::with_problem(flow.node, flow.problem)
}

// ---- nodes ------------------------------------------------------------------------------------------------------

/// A task none of whose arguments `flow!` bound.
pub struct Fresh<I>(PhantomData<fn() -> I>);

/// A flow whose arguments were checked when it was built (or that was built at run time).
pub struct Trusted;

/// A required field that is bound, in a binding state (the derive's `...Binding<..>` types). A required field that
/// is not bound is its marker (the derive's `enum <field> {}`).
pub enum Bound {}

/// Every required field is bound: what [`Binding::Missing`] is when nothing is missing.
pub enum AllBound {}

/// What `flow!` knows of the bound arguments of a node: the first required field that is not bound.
pub trait Binding {
    /// The marker of the first required field that is not bound, or [`AllBound`].
    type Missing;
}

impl Binding for Trusted {
    type Missing = AllBound;
}

impl<I: InputFields> Binding for Fresh<I>
where
    I::Unbound: Binding,
{
    type Missing = <I::Unbound as Binding>::Missing;
}

/// The state of one required field, then the rest: `<S as Unless<Rest>>::Then` is `Rest` when `S` is [`Bound`],
/// and the field's marker when it is not (the derive implements it for its markers).
pub trait Unless<Rest> {
    /// The first field that is not bound, from this one on.
    type Then;
}

impl<Rest> Unless<Rest> for Bound {
    type Then = Rest;
}

/// A field that may be bound although the predecessor's output fills the return-value field: every field but that
/// one (the derive implements it for their markers).
pub trait Unfed {}

/// Any field, when the predecessor's output is the whole input.
pub enum AnyField {}

impl Unfed for AnyField {}

// ---- bound arguments --------------------------------------------------------------------------------------------

/// One field of a task input, as `flow!` sees it: a marker type `M` naming it, its type `T`, and its name in JSON.
pub struct Slot<M, T> {
    name: &'static str,
    types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Slot<M, T> {
    /// The slot of the field serialized as `name`.
    pub const fn new(name: &'static str) -> Self {
        Slot { name, types: PhantomData }
    }

    /// The field's name in JSON.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Binding the field marked `M` turns a binding state into `Next`.
pub trait BindField<M> {
    /// The state once the field is bound.
    type Next;
}

/// A task (input `I`, output `O`) whose arguments are being bound: the arguments so far, and their binding state
/// `S`.
pub struct Binder<I, O, S> {
    task: &'static str,
    args: Map<String, Value>,
    problem: Option<Error>,
    types: PhantomData<fn(I, S) -> O>,
}

impl<I, O> Binder<I, O, ()> {
    /// Starts binding arguments of `task`; [`InputFields::bind_fields`] gives its fields and binding state.
    pub fn new<T: Task<Input = I, Output = O>>(task: &T) -> Self {
        Binder { task: task.name(), args: Map::new(), problem: None, types: PhantomData }
    }
}

impl<I, O, S> Binder<I, O, S> {
    /// The same arguments in another binding state.
    pub(crate) fn restate<S2>(self) -> Binder<I, O, S2> {
        Binder { task: self.task, args: self.args, problem: self.problem, types: PhantomData }
    }

    /// The binding state.
    pub fn binding(&self) -> PhantomData<S> {
        PhantomData
    }
}

/// Binds one field (the value's type is `flow!`'s check).
pub fn bind<I, O, S, M, F, V: Serialize>(
    mut binder: Binder<I, O, S>,
    slot: &Slot<M, F>,
    value: &V,
) -> Binder<I, O, S::Next>
where
    S: BindField<M>,
{
    match serde_json::to_value(value) {
        Ok(value) => {
            binder.args.insert(slot.name.to_owned(), value);
        }
        Err(source) => {
            if binder.problem.is_none() {
                binder.problem = Some(Error::Serialize { what: format!("the argument `{}`", slot.name), source });
            }
        }
    }
    binder.restate()
}

/// The bound task as a flow.
pub fn bound<I, O, S>(binder: Binder<I, O, S>) -> Flow<I, O> {
    let mut node = Node::new(Body::Task { name: binder.task.to_owned() });
    node.args = binder.args;
    Flow::with_problem(node, binder.problem)
}

// ---- sequences --------------------------------------------------------------------------------------------------

/// A sequence being built: its steps so far, typed by the sequence's input and its last step's output.
pub struct Seq<I, O> {
    steps: Vec<Node>,
    problem: Option<Error>,
    types: PhantomData<fn(I) -> O>,
}

/// A sequence starting with `first`.
pub fn seq<I, O>(first: Flow<I, O>) -> Seq<I, O> {
    Seq { steps: vec![first.node], problem: first.problem, types: PhantomData }
}

/// Appends a step that takes the sequence's output.
pub fn then<I, A, O>(mut seq: Seq<I, A>, next: Flow<A, O>) -> Seq<I, O> {
    seq.steps.push(next.node);
    Seq { steps: seq.steps, problem: seq.problem.or(next.problem), types: PhantomData }
}

/// The sequence as a flow: its only step, or a chain of its steps.
pub fn end<I, O>(mut seq: Seq<I, O>) -> Flow<I, O> {
    let node = if seq.steps.len() == 1 {
        seq.steps.remove(0)
    } else {
        Node::new(Body::Chain { name: None, steps: seq.steps })
    };
    Flow::with_problem(node, seq.problem)
}

// ---- swarms -----------------------------------------------------------------------------------------------------

/// The members of a typed swarm: a tuple of flows that take the same input.
pub trait Members {
    /// The members' input.
    type Input;
    /// The tuple of the members' outputs: the output of a swarm that fails at its first failure.
    type Outputs;
    /// The tuple of the members' outcomes: the output of a swarm that tolerates failures.
    type Outcomes;
    /// The members' nodes, and the first problem met building them.
    fn into_nodes(self) -> (Vec<Node>, Option<Error>);
}

macro_rules! members {
    ($($flow:ident $output:ident),+) => {
        impl<I, $($output),+> Members for ($(Flow<I, $output>,)+) {
            type Input = I;
            type Outputs = ($($output,)+);
            type Outcomes = ($(Outcome<$output>,)+);

            #[allow(non_snake_case)]
            fn into_nodes(self) -> (Vec<Node>, Option<Error>) {
                let ($($flow,)+) = self;
                let mut problem = None;
                let mut nodes = Vec::new();
                $(
                    problem = problem.or($flow.problem);
                    nodes.push($flow.node);
                )+
                (nodes, problem)
            }
        }
    };
}

members!(F1 O1);
members!(F1 O1, F2 O2);
members!(F1 O1, F2 O2, F3 O3);
members!(F1 O1, F2 O2, F3 O3, F4 O4);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11, F12 O12);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11, F12 O12, F13 O13);
members!(F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11, F12 O12, F13 O13, F14 O14);
members!(
    F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11, F12 O12, F13 O13, F14 O14, F15 O15
);
members!(
    F1 O1, F2 O2, F3 O3, F4 O4, F5 O5, F6 O6, F7 O7, F8 O8, F9 O9, F10 O10, F11 O11, F12 O12, F13 O13, F14 O14, F15 O15,
    F16 O16
);

/// The most members a typed swarm has (the arity of [`Members`]' tuples).
pub const MAX_MEMBERS: usize = 16;

/// The options of a swarm of `flow!`, as written.
#[derive(Clone, Debug, Default)]
pub struct SwarmOptions {
    /// `max_concurrency = n`.
    pub max_concurrency: Option<u32>,
    /// `stop_after_failures = n`.
    pub stop_after_failures: Option<u32>,
    /// `max_items = n`.
    pub max_items: Option<u64>,
}

fn swarm_node(nodes: Vec<Node>, options: &SwarmOptions, outputs_only: bool) -> Node {
    let defaults = SwarmConfig::default();
    let config = SwarmConfig {
        max_concurrency: options.max_concurrency.unwrap_or(defaults.max_concurrency),
        stop_after_failures: if outputs_only { Some(1) } else { options.stop_after_failures },
        max_items: options.max_items,
        outputs_only,
    };
    Node::new(Body::Swarm { name: None, items: nodes, config, closed: true })
}

/// A swarm that fails at its first failed member; its output is the tuple of its members' outputs.
pub fn swarm<M: Members>(members: M, options: SwarmOptions) -> Flow<M::Input, M::Outputs> {
    let (nodes, problem) = members.into_nodes();
    Flow::with_problem(swarm_node(nodes, &options, true), problem)
}

/// A swarm with a failure threshold (`stop_after_failures`); its output is the tuple of its members' outcomes.
pub fn swarm_outcomes<M: Members>(members: M, options: SwarmOptions) -> Flow<M::Input, M::Outcomes> {
    let (nodes, problem) = members.into_nodes();
    Flow::with_problem(swarm_node(nodes, &options, false), problem)
}

// ---- flow options -----------------------------------------------------------------------------------------------

/// Adds a success callback, which takes the flow's output.
pub fn on_success<I, O, X>(mut flow: Flow<I, O>, callback: Flow<O, X>) -> Flow<I, O> {
    flow.note(callback.problem);
    flow.node.on_success.push(callback.node);
    flow
}

/// Adds an error callback, which takes a failure report.
pub fn on_error<I, O, F, X>(mut flow: Flow<I, O>, callback: Flow<crate::Failure<F>, X>) -> Flow<I, O> {
    flow.note(callback.problem);
    flow.node.on_error.push(callback.node);
    flow
}

/// Names a flow's chain or swarm.
pub fn named<I, O>(mut flow: Flow<I, O>, name: impl Into<String>) -> Flow<I, O> {
    let name = name.into();
    match &mut flow.node.body {
        Body::Chain { name: slot, .. } | Body::Swarm { name: slot, .. } => *slot = Some(name),
        Body::Task { name: task } => {
            let problem = Error::InvalidFlow(format!(
                "`name = \"{name}\"` names a chain or a swarm, but this flow is the task `{task}`, named by its task"
            ));
            flow.note(Some(problem));
        }
    }
    flow
}

/// A stand-in for a flow `flow!` could not read (its error is reported): it never runs.
pub fn placeholder<I, O>() -> Flow<I, O> {
    let problem = Error::InvalidFlow("this flow did not compile".to_owned());
    Flow::with_problem(Node::new(Body::Chain { name: None, steps: Vec::new() }), Some(problem))
}

pub use crate::model::Failure;
