//! Flows described in JSON: [`parse`] reads a description into a [`Node`] tree, [`describe`] writes one, and
//! [`check_bound_values`] checks bound values against the tasks' schemas.

use serde_json::{Map, Value};

use crate::engine::session::Session;
use crate::error::{Error, Result};
use crate::flow::{Body, Node, SwarmConfig};

const TASK_KEYS: &[&str] = &["task", "bind", "on_success", "on_error"];
const CHAIN_KEYS: &[&str] = &["chain", "name", "bind", "on_success", "on_error"];
const SWARM_KEYS: &[&str] = &[
    "swarm",
    "name",
    "max_concurrency",
    "stop_after_failures",
    "max_items",
    "outputs_only",
    "open",
    "bind",
    "on_success",
    "on_error",
];

fn invalid(path: &str, problem: impl std::fmt::Display) -> Error {
    Error::InvalidFlow(format!("at `{path}`: {problem}"))
}

/// Reads a flow's description.
pub(crate) fn parse(description: &Value) -> Result<Node> {
    parse_node(description, "flow")
}

fn parse_node(value: &Value, path: &str) -> Result<Node> {
    let object = match value {
        Value::String(name) => return task(name, path),
        Value::Object(object) => object,
        other => {
            return Err(invalid(
                path,
                format!(
                    "expected a node (a task name, or an object with `task`, `chain` or `swarm`), got {}",
                    kind_of(other)
                ),
            ));
        }
    };
    let kinds: Vec<&str> = ["task", "chain", "swarm"].into_iter().filter(|kind| object.contains_key(*kind)).collect();
    let (kind, allowed) = match kinds.as_slice() {
        ["task"] => ("task", TASK_KEYS),
        ["chain"] => ("chain", CHAIN_KEYS),
        ["swarm"] => ("swarm", SWARM_KEYS),
        [] => {
            return Err(invalid(
                path,
                format!(
                    "an object node needs one of `task`, `chain` or `swarm`; it has {}",
                    key_list(object.keys().map(String::as_str))
                ),
            ));
        }
        several => {
            return Err(invalid(
                path,
                format!("a node is one thing, but this one has {}", key_list(several.iter().copied())),
            ));
        }
    };
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(invalid(
            path,
            format!(
                "unknown key `{unknown}` in a {kind}; the keys of a {kind} are {}",
                key_list(allowed.iter().copied())
            ),
        ));
    }
    let mut node = match kind {
        "task" => match &object["task"] {
            Value::String(name) => task(name, path)?,
            other => {
                return Err(invalid(&format!("{path}.task"), format!("expected a task name, got {}", kind_of(other))));
            }
        },
        "chain" => {
            let steps = nodes(&object["chain"], &format!("{path}.chain"), "the chain's steps")?;
            Node::new(Body::Chain { name: string(object, "name", path)?, steps })
        }
        _ => {
            let items = nodes(&object["swarm"], &format!("{path}.swarm"), "the swarm's items")?;
            let defaults = SwarmConfig::default();
            let config = SwarmConfig {
                max_concurrency: integer(object, "max_concurrency", path, u32::MAX)?
                    .unwrap_or(defaults.max_concurrency),
                stop_after_failures: integer(object, "stop_after_failures", path, u32::MAX)?,
                max_items: integer(object, "max_items", path, u64::MAX)?,
                outputs_only: boolean(object, "outputs_only", path)?.unwrap_or(false),
            };
            let closed = !boolean(object, "open", path)?.unwrap_or(false);
            Node::new(Body::Swarm { name: string(object, "name", path)?, items, config, closed })
        }
    };
    match object.get("bind") {
        None => {}
        Some(Value::Object(args)) => node.args = args.clone(),
        Some(other) => {
            return Err(invalid(
                &format!("{path}.bind"),
                format!("bound arguments are an object of fields and values, got {}", kind_of(other)),
            ));
        }
    }
    for (key, callbacks) in [("on_success", &mut node.on_success), ("on_error", &mut node.on_error)] {
        match object.get(key) {
            None => {}
            Some(Value::Array(list)) => {
                if list.is_empty() {
                    return Err(invalid(&format!("{path}.{key}"), "an empty list of callbacks; leave the key out"));
                }
                for (index, callback) in list.iter().enumerate() {
                    callbacks.push(parse_node(callback, &format!("{path}.{key}[{index}]"))?);
                }
            }
            Some(callback) => callbacks.push(parse_node(callback, &format!("{path}.{key}"))?),
        }
    }
    Ok(node)
}

fn task(name: &str, path: &str) -> Result<Node> {
    if name.trim().is_empty() {
        return Err(invalid(path, "a task name cannot be empty"));
    }
    Ok(Node::new(Body::Task { name: name.to_owned() }))
}

fn nodes(value: &Value, path: &str, what: &str) -> Result<Vec<Node>> {
    match value {
        Value::Array(list) if list.is_empty() => Err(invalid(path, format!("{what} cannot be empty"))),
        Value::Array(list) => {
            list.iter().enumerate().map(|(index, node)| parse_node(node, &format!("{path}[{index}]"))).collect()
        }
        other => Err(invalid(path, format!("{what} are a list of nodes, got {}", kind_of(other)))),
    }
}

fn string(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(invalid(&format!("{path}.{key}"), format!("expected a string, got {}", kind_of(other)))),
    }
}

fn boolean(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => {
            Err(invalid(&format!("{path}.{key}"), format!("expected true or false, got {}", kind_of(other))))
        }
    }
}

fn integer<T: TryFrom<u64> + Into<u64> + Copy>(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    max: T,
) -> Result<Option<T>> {
    let Some(value) = object.get(key) else { return Ok(None) };
    match value.as_u64().and_then(|number| T::try_from(number).ok()) {
        Some(number) => Ok(Some(number)),
        None => Err(invalid(
            &format!("{path}.{key}"),
            format!("expected a whole number from 0 to {}, got {value}", max.into()),
        )),
    }
}

fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn key_list<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let keys: Vec<String> = keys.map(|key| format!("`{key}`")).collect();
    if keys.is_empty() { "no keys".to_owned() } else { keys.join(", ") }
}

/// Describes a tree in the format [`parse`] reads.
pub(crate) fn describe(node: &Node) -> Value {
    let mut object = Map::new();
    match &node.body {
        Body::Task { name } => {
            if node.args.is_empty() && node.on_success.is_empty() && node.on_error.is_empty() {
                return Value::String(name.clone());
            }
            object.insert("task".into(), Value::String(name.clone()));
        }
        Body::Chain { name, steps } => {
            object.insert("chain".into(), steps.iter().map(describe).collect());
            if let Some(name) = name {
                object.insert("name".into(), Value::String(name.clone()));
            }
        }
        Body::Swarm { name, items, config, closed } => {
            object.insert("swarm".into(), items.iter().map(describe).collect());
            if let Some(name) = name {
                object.insert("name".into(), Value::String(name.clone()));
            }
            if config.max_concurrency != SwarmConfig::default().max_concurrency {
                object.insert("max_concurrency".into(), config.max_concurrency.into());
            }
            if let Some(limit) = config.stop_after_failures {
                object.insert("stop_after_failures".into(), limit.into());
            }
            if let Some(max) = config.max_items {
                object.insert("max_items".into(), max.into());
            }
            if config.outputs_only {
                object.insert("outputs_only".into(), true.into());
            }
            if !closed {
                object.insert("open".into(), true.into());
            }
        }
    }
    if !node.args.is_empty() {
        object.insert("bind".into(), Value::Object(node.args.clone()));
    }
    for (key, callbacks) in [("on_success", &node.on_success), ("on_error", &node.on_error)] {
        match callbacks.as_slice() {
            [] => {}
            [callback] => {
                object.insert(key.into(), describe(callback));
            }
            several => {
                object.insert(key.into(), several.iter().map(describe).collect());
            }
        }
    }
    Value::Object(object)
}

/// Checks every bound value of a task against the schema of its field, except objects (merged into the input, so
/// possibly partial). The names were checked by `resolve`.
pub(crate) async fn check_bound_values(session: &Session, root: &Node) -> Result<()> {
    let mut bound: Vec<(String, Map<String, Value>)> = Vec::new();
    root.walk(&mut |node| {
        if let Body::Task { name } = &node.body
            && !node.args.is_empty()
        {
            bound.push((name.clone(), node.args.clone()));
        }
    });
    for (task, args) in bound {
        let definition = session.definition(&task).await?;
        let Some(properties) = definition.schema.get("properties").and_then(Value::as_object) else { continue };
        for (field, value) in args.iter().filter(|(_, value)| !value.is_object()) {
            let Some(field_schema) = properties.get(field) else { continue };
            let mut schema = match field_schema {
                Value::Object(schema) => schema.clone(),
                Value::Bool(true) => continue,
                _ => Map::new(),
            };
            // the field's schema may refer to the input's definitions
            for definitions in ["$defs", "definitions"] {
                if let Some(shared) = definition.schema.get(definitions) {
                    schema.insert(definitions.to_owned(), shared.clone());
                }
            }
            let schema = if field_schema == &Value::Bool(false) { Value::Bool(false) } else { Value::Object(schema) };
            let Ok(validator) = jsonschema::validator_for(&schema) else { continue };
            let problems: Vec<String> = validator.iter_errors(value).map(|error| error.to_string()).collect();
            if !problems.is_empty() {
                return Err(Error::InvalidInput {
                    task,
                    problems: problems
                        .iter()
                        .map(|problem| format!("the bound argument `{field}`: {problem}"))
                        .collect(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(description: Value) {
        let node = parse(&description).unwrap_or_else(|error| panic!("{description}: {error}"));
        assert_eq!(describe(&node), description);
    }

    #[test]
    fn descriptions_read_back_as_written() {
        round_trip(json!("extract"));
        round_trip(json!({"task": "clean", "bind": {"strict": true}}));
        round_trip(json!({"chain": ["a", "b"], "name": "etl", "on_success": "notify", "on_error": ["alert", "page"]}));
        round_trip(json!({
            "swarm": ["a", {"chain": ["b", "c"]}],
            "max_concurrency": 3,
            "stop_after_failures": 1,
            "max_items": 4,
            "outputs_only": true,
            "open": true,
            "bind": {"tag": "x"},
        }));
    }

    #[test]
    fn swarms_keep_the_runtime_defaults() {
        let node = parse(&json!({"swarm": ["a"]})).unwrap();
        let Body::Swarm { config, closed, .. } = &node.body else { panic!("a swarm") };
        assert_eq!(config, &SwarmConfig::default());
        assert!(closed);
    }

    fn error(description: Value) -> String {
        parse(&description).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        assert_eq!(
            error(json!({"chain": ["a", {"tsk": "b"}]})),
            "invalid flow: at `flow.chain[1]`: an object node needs one of `task`, `chain` or `swarm`; it has `tsk`"
        );
        assert_eq!(
            error(json!({"swarm": ["a"], "max_concurency": 3})),
            "invalid flow: at `flow`: unknown key `max_concurency` in a swarm; the keys of a swarm are `swarm`, \
             `name`, `max_concurrency`, `stop_after_failures`, `max_items`, `outputs_only`, `open`, `bind`, \
             `on_success`, `on_error`"
        );
        assert_eq!(
            error(json!({"swarm": ["a"], "max_concurrency": "3"})),
            "invalid flow: at `flow.max_concurrency`: expected a whole number from 0 to 4294967295, got \"3\""
        );
        assert_eq!(
            error(json!({"swarm": ["a"], "max_concurrency": -1})),
            "invalid flow: at `flow.max_concurrency`: expected a whole number from 0 to 4294967295, got -1"
        );
        assert_eq!(error(json!({"chain": []})), "invalid flow: at `flow.chain`: the chain's steps cannot be empty");
        assert_eq!(
            error(json!({"chain": "a"})),
            "invalid flow: at `flow.chain`: the chain's steps are a list of nodes, got the string \"a\""
        );
        assert_eq!(
            error(json!({"task": "a", "chain": ["b", "c"]})),
            "invalid flow: at `flow`: a node is one thing, but this one has `task`, `chain`"
        );
        assert_eq!(
            error(json!(["a", "b"])),
            "invalid flow: at `flow`: expected a node (a task name, or an object with \
             `task`, `chain` or `swarm`), got a list"
        );
        assert_eq!(
            error(json!({"task": "a", "bind": [1]})),
            "invalid flow: at `flow.bind`: bound arguments are an object of fields and values, got a list"
        );
        assert_eq!(error(json!({"task": " "})), "invalid flow: at `flow`: a task name cannot be empty");
        assert_eq!(
            error(json!({"task": "a", "on_error": []})),
            "invalid flow: at `flow.on_error`: an empty list of callbacks; leave the key out"
        );
        assert_eq!(
            error(json!({"chain": ["a", {"swarm": ["b", 3]}]})),
            "invalid flow: at `flow.chain[1].swarm[1]`: expected a node (a task name, or an object with `task`, \
             `chain` or `swarm`), got the number 3"
        );
    }
}
