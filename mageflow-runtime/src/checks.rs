//! The checks a flow passes before anything of it is stored: its shape, that its tasks are known (registered
//! here or recorded in the store by a worker), that bound arguments are fields of the tasks' inputs, and that the
//! inputs of the tasks that start at once fit their JSON schemas.

use std::sync::Arc;

use serde_json::Value;

use crate::client::Mageflow;
use crate::error::{Error, Result};
use crate::flow::{Body, Node};
use crate::input;
use crate::registry::Definition;

impl Mageflow {
    /// Looks up the definitions of every task in a tree (registered here, or recorded in the store by a worker)
    /// and checks the bound arguments against their schemas.
    pub(crate) async fn resolve(&self, root: &Node) -> Result<()> {
        root.check_shape()?;
        let mut tasks: Vec<(String, Vec<String>)> = Vec::new();
        root.walk(&mut |node| {
            if let Body::Task { name } = &node.body {
                tasks.push((name.clone(), node.args.keys().cloned().collect()));
            }
        });
        for (name, bound) in tasks {
            let definition = self.definition(&name).await?;
            if let Some(field) = bound.iter().find(|field| !definition.accepts_field(field)) {
                return Err(Error::InvalidInput {
                    task: name,
                    problems: vec![format!("the bound argument `{field}` is not a field of the task's input")],
                });
            }
        }
        Ok(())
    }

    /// The definition of a task: registered here, or read from the store.
    pub(crate) async fn definition(&self, name: &str) -> Result<Arc<Definition>> {
        let engine = self.engine();
        if let Some(definition) = engine.registry.definition(name) {
            return Ok(definition);
        }
        let fields = engine.store.read_hash(&engine.keys.definition(name)).await?;
        match Definition::from_fields(&fields) {
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
