//! What `flow!` builds [`Flow`]s with: the [`IntoFlow`] and [`InputFields`] traits it relies on, and flows
//! described in JSON at run time ([`Flow::from_json`],
//! [`Mageflow::flow_from_json`](crate::Mageflow::flow_from_json)).
//!
//! `flow!` arranges calls into [`private`] (reached as `::mageflow::__private`); the typing rules live there, as
//! trait bounds.

use crate::flow::{Body, Flow, Node};
use crate::run::task::Task;

pub(crate) mod json;
pub mod private;

/// What can be a node of `flow!`: a task (made with `#[mageflow::task]`) or a [`Flow`] of any kind.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task or a flow",
    label = "not a task",
    note = "a node of `flow!` is a task made with `#[mageflow::task]` or a `Flow` (from the client, `flow!` or \
            `Flow::from_json`)"
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

impl<I, O, K> IntoFlow for Flow<I, O, K> {
    type Input = I;
    type Output = O;
    type Binding = private::Trusted;

    fn into_flow(self) -> Flow<I, O> {
        self.any_kind()
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
    use serde_json::{Value, json};

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
        // the swarm options exist only on swarms (`K = SwarmKind`): on another flow they do not compile
        // (tests/ui/flow/fail_swarm_option_on_a_task.rs); a failure threshold other than 1 would break the output's
        // type, so storing such a swarm is refused
        let tolerant = Node::from(Flow::swarm(["a", "b"].map(task)).stop_after_failures(2));
        assert!(tolerant.check_shape().is_err());
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
