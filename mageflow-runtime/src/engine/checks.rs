//! The checks a flow passes before anything of it is stored: its shape, that its tasks are known (registered
//! here or recorded in the store by a worker), that bound arguments are fields of the tasks' inputs and do not bind
//! the return field of a task that the step before it feeds, and that the inputs of the tasks that start at once
//! fit their JSON schemas.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::session::Session;
use crate::error::{Error, Result};
use crate::flow::{Body, Node};
use crate::run::registry::Definition;
use crate::run::{definitions, input};

impl Session {
    /// Looks up the definitions of every task in a tree (registered here, or recorded in the store by a worker)
    /// and checks the bound arguments against their schemas.
    pub(crate) async fn resolve(&self, root: &Node) -> Result<()> {
        root.check_shape()?;
        let mut tasks: Vec<&Node> = Vec::new();
        root.walk(&mut |node| {
            if let Body::Task { .. } = &node.body {
                tasks.push(node);
            }
        });
        // each definition looked up once (a swarm's thousand items are mostly one task)
        let mut definitions: HashMap<&str, Arc<Definition>> = HashMap::new();
        let mut last: Option<(&str, Arc<Definition>)> = None;
        for node in tasks {
            let Body::Task { name } = &node.body else { continue };
            let definition = match &last {
                Some((last_name, definition)) if last_name == name => definition.clone(),
                _ => {
                    let definition = match definitions.get(name.as_str()) {
                        Some(definition) => definition.clone(),
                        None => {
                            let definition = self.definition(name).await?;
                            definitions.insert(name, definition.clone());
                            definition
                        }
                    };
                    last = Some((name, definition.clone()));
                    definition
                }
            };
            if let Some(field) = node.args.keys().find(|field| !definition.accepts_field(field)) {
                return Err(Error::InvalidInput {
                    task: name.clone(),
                    problems: vec![format!("the bound argument `{field}` is not a field of the task's input")],
                });
            }
        }
        let return_field = |task: &str| definitions.get(task).and_then(|definition| definition.return_field.clone());
        match bound_return_field(root, false, &mut Vec::new(), &return_field) {
            Some(problem) => Err(Error::InvalidFlow(problem)),
            None => Ok(()),
        }
    }

    /// The definition of a task: registered here, or read from the store.
    pub(crate) async fn definition(&self, name: &str) -> Result<Arc<Definition>> {
        let engine = &self.engine;
        if let Some(definition) = engine.registry.definition(name) {
            return Ok(definition);
        }
        match definitions::get(engine.store.as_ref(), engine.keys.prefix(), name).await? {
            Some(definition) => Ok(engine.registry.learn(definition)),
            None => Err(Error::UnknownTask { name: name.to_owned(), known: engine.registry.known_names() }),
        }
    }

    /// Checks the input every task that starts at once would get when `root` starts with `message`.
    pub(crate) async fn validate_entry(&self, root: &Node, message: &Value) -> Result<()> {
        let mut checks = Vec::new();
        collect_entry_inputs(root, message, &mut Vec::new(), &mut checks)?;
        for (task, input) in checks {
            self.definition(&task).await?.validate(&input)?;
        }
        Ok(())
    }

    /// Checks a flow before anything of it is stored: its shape, its tasks, its bound arguments, and the inputs of
    /// the tasks that start at once with `message`.
    pub(crate) async fn check_flow(&self, root: &Node, message: &Value) -> Result<()> {
        self.resolve(root).await?;
        self.validate_entry(root, message).await
    }
}

/// Finds a task fed by the step before it whose return field is bound, by the task or by a container around it: the
/// bound value would be merged over the output the task is fed (the same mistake `flow!` refuses at compile time).
/// A task is fed when it is a chain step after the first or a callback, or the first step of a fed chain or an item
/// of a fed swarm. `outer` are the containers around `node` (name and bound arguments), nearest last.
fn bound_return_field<'a>(
    node: &'a Node,
    fed: bool,
    outer: &mut Vec<(String, &'a serde_json::Map<String, Value>)>,
    return_field: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let problem = match &node.body {
        Body::Task { name } => match return_field(name).filter(|_| fed) {
            Some(field) if node.args.contains_key(&field) => Some(format!(
                "the task `{name}` follows another step, whose output goes to its return field `{field}`, but \
                 `{field}` is also bound, which would replace that output: do not bind `{field}` on a task that a step \
                 feeds (bind it on a task that starts a flow)"
            )),
            Some(field) => outer.iter().rev().find(|(_, args)| args.contains_key(&field)).map(|(container, _)| {
                format!(
                    "the task `{name}` follows another step, whose output goes to its return field `{field}`, but \
                     {container} binds `{field}` for its tasks, which would replace that output: do not bind \
                     `{field}` there"
                )
            }),
            None => None,
        },
        Body::Chain { steps, .. } | Body::Swarm { items: steps, .. } => {
            let chain = matches!(node.body, Body::Chain { .. });
            let what = if chain { "the chain" } else { "the swarm" };
            outer.push((format!("{what} `{}`", node.name()), &node.args));
            let found = steps
                .iter()
                .enumerate()
                .find_map(|(index, step)| bound_return_field(step, fed || (chain && index > 0), outer, return_field));
            outer.pop();
            found
        }
    };
    problem.or_else(|| {
        // callbacks are signatures of their own: fed, with no container around them
        node.on_success
            .iter()
            .chain(&node.on_error)
            .find_map(|callback| bound_return_field(callback, true, &mut Vec::new(), return_field))
    })
}

/// The (task, input) pairs of the tasks that start at once when `node` starts with `message`: the node itself, a
/// chain's first step, every item of a swarm. `args` are the bound arguments of the enclosing containers.
fn collect_entry_inputs(
    node: &Node,
    message: &Value,
    outer: &mut Vec<serde_json::Map<String, Value>>,
    out: &mut Vec<(String, Value)>,
) -> Result<()> {
    outer.insert(0, node.args.clone());
    let result = match &node.body {
        Body::Task { name } => {
            let input = input::build(message.clone(), false, None, outer)
                .map_err(|problem| Error::InvalidInput { task: name.clone(), problems: vec![problem] })?;
            out.push((name.clone(), input));
            Ok(())
        }
        Body::Chain { steps, .. } => match steps.first() {
            Some(first) => collect_entry_inputs(first, message, outer, out),
            None => Ok(()),
        },
        Body::Swarm { items, .. } => items.iter().try_for_each(|item| collect_entry_inputs(item, message, outer, out)),
    };
    outer.remove(0);
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(name: &str, args: Value) -> Node {
        let mut node = Node::new(Body::Task { name: name.to_owned() });
        if let Value::Object(args) = args {
            node.args = args;
        }
        node
    }

    fn chain(steps: Vec<Node>, args: Value) -> Node {
        let mut node = Node::new(Body::Chain { name: Some("etl".to_owned()), steps });
        if let Value::Object(args) = args {
            node.args = args;
        }
        node
    }

    /// `send-email` takes its predecessor's output in `receipt`; `audit` takes it whole.
    fn problem(root: &Node) -> Option<String> {
        let return_field = |task: &str| (task == "send-email").then(|| "receipt".to_owned());
        bound_return_field(root, false, &mut Vec::new(), &return_field)
    }

    #[test]
    fn binding_the_return_field_of_a_fed_step_is_refused() {
        let flow = chain(
            vec![task("charge", json!({})), task("send-email", json!({"receipt": 1, "template": "t"}))],
            json!({}),
        );
        let problem = problem(&flow).expect("refused");
        assert_eq!(
            problem,
            "the task `send-email` follows another step, whose output goes to its return field `receipt`, but \
             `receipt` is also bound, which would replace that output: do not bind `receipt` on a task that a step \
             feeds (bind it on a task that starts a flow)"
        );
    }

    #[test]
    fn a_container_that_binds_the_return_field_of_a_fed_step_is_refused() {
        let swarm = Node::new(Body::Swarm {
            name: None,
            items: vec![task("send-email", json!({"template": "t"})), task("audit", json!({}))],
            config: crate::flow::SwarmConfig::default(),
            closed: true,
        });
        let flow = chain(vec![task("charge", json!({})), swarm], json!({"receipt": 1}));
        let problem = problem(&flow).expect("refused");
        assert!(problem.contains("the chain `etl` binds `receipt` for its tasks"), "{problem}");
    }

    #[test]
    fn a_callback_is_fed() {
        let mut flow = task("charge", json!({}));
        flow.on_success.push(task("send-email", json!({"receipt": 1})));
        assert!(problem(&flow).is_some_and(|problem| problem.contains("`send-email`")));
    }

    #[test]
    fn a_task_that_starts_the_flow_or_takes_its_input_whole_may_be_bound() {
        let first =
            chain(vec![task("send-email", json!({"receipt": 1})), task("audit", json!({"cents": 2}))], json!({}));
        assert_eq!(problem(&first), None, "the first step is not fed: its input is the flow's");
        assert_eq!(problem(&task("send-email", json!({"receipt": 1}))), None);
        let whole = chain(vec![task("charge", json!({})), task("audit", json!({"cents": 2}))], json!({}));
        assert_eq!(problem(&whole), None, "bound arguments of a task fed whole are merged over its input");
        let other = chain(vec![task("charge", json!({})), task("send-email", json!({"template": "t"}))], json!({}));
        assert_eq!(problem(&other), None, "the other fields may be bound");
    }
}
