//! What the code `flow!` generates calls: building blocks that carry the types of a flow, and the traits whose
//! bounds are the typing rules. Reached as `::mageflow::__private`; not a public API.
//!
//! The rules:
//! - a node that follows another takes its output as its whole input ([`Whole`]), or, when its input derives
//!   `TaskInput`, in its return-value field ([`Field`], checked by [`FedBy`]); which of the two is decided by the
//!   input's type ([`RouteProbe`]), as the engine decides where a predecessor's result goes;
//! - a task that takes the output in its return-value field needs its other required fields bound ([`Ready`]);
//! - a bound argument names a field of the input ([`InputFields::Fields`]) and has its type;
//! - a swarm's output is the tuple of its members' outputs ([`Members`]), or of their [`Outcome`]s when it
//!   tolerates failures.
//!
//! The checks that name the user's tasks in their messages are traits `flow!` declares next to the flow, with the
//! same impls as the ones here.

use std::marker::PhantomData;

use serde::Serialize;
use serde_json::{Map, Value};

pub use super::{Flow, InputFields, IntoFlow};
use crate::error::Error;
use crate::flow::{Body, Node, SwarmConfig};
use crate::model::Outcome;
use crate::task::{Task, TaskInput};

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

/// `T` takes `A` in its return-value field: implemented by `#[derive(TaskInput)]` with `A` the field's type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take `{A}` in its return-value field",
    note = "derive `mageflow::TaskInput` on `{Self}` and mark the field with `#[mageflow(return_value)]`"
)]
pub trait FedBy<A> {}

/// The rule of `a >> b`: `b`'s input (`Self`) takes `a`'s output `A`, where `R` (found by [`RouteProbe`]) says it
/// goes: the whole input, or the return-value field. `flow!` checks it through a trait of its own, implemented for
/// the types that implement this one, whose message names the user's nodes.
#[diagnostic::on_unimplemented(
    message = "a step takes `{Self}`, but the step before it produces `{A}`",
    note = "a step takes the previous step's output as its whole input, or in the `#[mageflow(return_value)]` field \
            of an input that derives `TaskInput`"
)]
pub trait Accepts<A, R> {}

impl<T> Accepts<T, Whole> for T {}

impl<T: FedBy<A>, A> Accepts<A, Field> for T {}

/// The rule of `on_error = node`: the node's input (`Self`) takes a failure report `Failure<X>`, whole or in its
/// return-value field.
#[diagnostic::on_unimplemented(
    message = "an error callback takes a failure report (`mageflow::Failure`), not `{Self}`",
    note = "an error callback takes `mageflow::Failure<I>` (`I` the failed task's input, or `serde_json::Value`) as \
            its whole input, or in its `#[mageflow(return_value)]` field"
)]
pub trait AcceptsFailure<R, X> {}

impl<X> AcceptsFailure<Whole, X> for crate::model::Failure<X> {}

impl<T: FedBy<crate::model::Failure<X>>, X> AcceptsFailure<Field, X> for T {}

/// The rule of the members of a swarm that starts a flow: they all take the flow's input `I` as is.
#[diagnostic::on_unimplemented(message = "a member takes `{Self}`, but the flow's input is `{I}`")]
pub trait SameInput<I> {}

impl<T> SameInput<T> for T {}

/// The rule of `field = value` in `.bind(..)`: the value (`Self`) has the field's type `F`; `K` says how.
#[diagnostic::on_unimplemented(message = "the field takes `{F}`, but this value is `{Self}`")]
pub trait BindAs<F, K> {}

impl<F> BindAs<F, SameType> for F {}

impl BindAs<String, StrForString> for &str {}

impl<F> BindAs<F, Borrowed> for &F {}

/// Gives a checked node the predecessor's output type as its input type (the checks are `flow!`'s).
pub fn retype<I2, I, O>(flow: Flow<I, O>) -> Flow<I2, O> {
    Flow { node: flow.node, problem: flow.problem, types: PhantomData }
}

// ---- nodes ------------------------------------------------------------------------------------------------------

/// A node of `flow!` as a flow, with what is known of its bound arguments.
pub fn node<N, I, O, B>(node: N) -> (Flow<I, O>, PhantomData<B>)
where
    N: IntoFlow<Input = I, Output = O, Binding = B>,
{
    (node.into_flow(), PhantomData)
}

/// A task none of whose arguments `flow!` bound.
pub struct Fresh<I>(PhantomData<fn() -> I>);

/// A flow whose arguments were checked when it was built (or that was built at run time).
pub struct Trusted;

/// A field that is bound, in a binding state (the derive's `...Binding<..>` types).
pub enum Bound {}

/// A field that is not bound.
pub enum Unbound {}

/// A binding state `flow!` may hand the node to, when the predecessor's output goes where `R` says: when it goes
/// to the return-value field ([`Field`]), every other required field must be bound (the derive implements it for
/// its binding states, naming the missing field in the error).
pub trait Ready<R> {}

impl<S> Ready<Whole> for S {}

impl Ready<Field> for Trusted {}

impl<I: InputFields> Ready<Field> for Fresh<I> where I::Unbound: Ready<Field> {}

/// Checks that a node's required fields are bound (or fed) for where its predecessor's output goes.
pub fn check_ready<R, B: Ready<R>>(_route: &R, _binding: &PhantomData<B>) {}

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

/// A task whose input lists its fields: what `.bind(..)` needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task, so it has no arguments to bind",
    label = "not a task",
    note = "`.bind(..)` binds fields of the input of a task made with `#[mageflow::task]`"
)]
pub trait TaskFields {
    /// The task's input.
    type TaskInput;
    /// The task's output.
    type TaskOutput;
    /// The input's fields.
    type Fields;
    /// The input's binding state with nothing bound.
    type Unbound;
    /// The input's fields.
    fn input_fields() -> Self::Fields;
    /// The task's name.
    fn task_name(&self) -> &'static str;
}

impl<T: Task> TaskFields for T
where
    T::Input: InputFields,
{
    type TaskInput = T::Input;
    type TaskOutput = T::Output;
    type Fields = <T::Input as InputFields>::Fields;
    type Unbound = <T::Input as InputFields>::Unbound;

    fn input_fields() -> Self::Fields {
        <T::Input as InputFields>::fields()
    }

    fn task_name(&self) -> &'static str {
        self.name()
    }
}

/// A task (input `I`, output `O`) whose arguments are being bound: the arguments so far, and their binding state
/// `S`.
pub struct Binder<I, O, S> {
    task: &'static str,
    args: Map<String, Value>,
    problem: Option<Error>,
    types: PhantomData<fn(I, S) -> O>,
}

/// Starts binding arguments of a task: its input's fields, and a binder with nothing bound.
pub fn bind_start<T, I, O, F, S>(task: T) -> (F, Binder<I, O, S>)
where
    T: TaskFields<TaskInput = I, TaskOutput = O, Fields = F, Unbound = S>,
{
    let binder = Binder { task: task.task_name(), args: Map::new(), problem: None, types: PhantomData };
    (T::input_fields(), binder)
}

/// Binds one field (the value's type is `flow!`'s check).
pub fn bind<I, O, S, M, F, V: Serialize>(
    mut binder: Binder<I, O, S>,
    slot: Slot<M, F>,
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
    Binder { task: binder.task, args: binder.args, problem: binder.problem, types: PhantomData }
}

impl<I, O, S> Binder<I, O, S> {
    /// The binding state, for [`check_ready`].
    pub fn binding(&self) -> PhantomData<S> {
        PhantomData
    }
}

/// The bound task as a flow.
pub fn bound<I, O, S>(binder: Binder<I, O, S>) -> Flow<I, O> {
    let mut node = Node::new(Body::Task { name: binder.task.to_owned() });
    node.args = binder.args;
    Flow::with_problem(node, binder.problem)
}

/// A bound value of the field's own type.
pub struct SameType;
/// A `&str` bound to a `String` field.
pub struct StrForString;
/// A reference to a value of the field's type.
pub struct Borrowed;

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
