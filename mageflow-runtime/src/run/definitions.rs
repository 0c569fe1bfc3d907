//! Published task definitions: what a client that registers tasks tells operators' tools about them (name, input
//! and output schemas, retries, timeout), in one hash `<prefix>:tasks` written and read by `store/definitions.lua`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::run::registry::Definition;
use crate::run::task::TaskOptions;
use crate::store::{Reply, Script, Store, StoreError};

/// The script that publishes and lists definitions (one declared key: the definitions hash).
fn script() -> &'static Script {
    static SCRIPT: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("../store/definitions.lua")))
}

/// The hash holding every published definition under `prefix`: field = task name, value = [`TaskDefinition`] as
/// JSON. It never expires.
pub(crate) fn key(prefix: &str) -> String {
    format!("{prefix}:tasks")
}

/// A task definition as a client that registers the task publishes it when it is built, for tools that run no
/// handlers (the `mageflow` CLI, its MCP server): read them with [`Mageflow::task_definitions`](crate::Mageflow::task_definitions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskDefinition {
    /// The name the task is registered and signed under.
    pub name: String,
    /// The JSON schema of its input.
    pub input_schema: Value,
    /// The JSON schema of its output, when the task declares one (`#[task]` does when the output type implements
    /// `JsonSchema`).
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// The input field a predecessor's result goes to (`None`: the result is the whole input).
    #[serde(default)]
    pub return_field: Option<String>,
    /// How many times a failed attempt is retried.
    #[serde(default)]
    pub retries: u32,
    /// How long one attempt may run, in milliseconds (`None`: no limit).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// When it was last published (seconds since the Unix epoch): when a client registering it was last built.
    #[serde(default)]
    pub published_at: u64,
}

impl TaskDefinition {
    fn of(definition: &Definition, published_at: u64) -> Self {
        TaskDefinition {
            name: definition.name.clone(),
            input_schema: definition.schema.clone(),
            output_schema: definition.output_schema.clone(),
            return_field: definition.return_field.clone(),
            retries: definition.options.retries,
            timeout_ms: definition.options.timeout.map(|timeout| timeout.as_millis() as u64),
            published_at,
        }
    }

    /// The definition a client that does not register the task checks signatures and inputs against.
    fn into_definition(self) -> Definition {
        let options = TaskOptions {
            retries: self.retries,
            timeout: self.timeout_ms.map(Duration::from_millis),
            ..TaskOptions::default()
        };
        let mut definition = Definition::new(self.name, self.input_schema, self.return_field, options);
        definition.output_schema = self.output_schema;
        definition
    }
}

/// Publishes these definitions under `prefix` in one script call.
pub(crate) async fn publish<'a>(
    store: &dyn Store,
    prefix: &str,
    definitions: impl IntoIterator<Item = &'a Definition>,
) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut args = vec!["publish".to_owned()];
    for definition in definitions {
        let published = TaskDefinition::of(definition, now);
        let json = serde_json::to_string(&published).map_err(|source| Error::Serialize {
            what: format!("the definition of task `{}`", published.name),
            source,
        })?;
        args.push(published.name);
        args.push(json);
    }
    if args.len() == 1 {
        return Ok(());
    }
    store.eval(script(), vec![key(prefix)], args).await?;
    Ok(())
}

/// The definition of task `name` published under `prefix`, if any client registering it was built.
pub(crate) async fn get(store: &dyn Store, prefix: &str, name: &str) -> Result<Option<Definition>> {
    let reply = store.eval(script(), vec![key(prefix)], vec!["get".to_owned(), name.to_owned()]).await?;
    match reply {
        Reply::Nil => Ok(None),
        Reply::Text(json) => Ok(Some(parse(prefix, name, &json)?.into_definition())),
        other => Err(StoreError::protocol(format!("reading the definition of `{name}` replied {other:?}")).into()),
    }
}

/// A published definition read back from its JSON.
fn parse(prefix: &str, name: &str, json: &str) -> Result<TaskDefinition> {
    serde_json::from_str(json).map_err(|error| {
        StoreError::protocol(format!(
            "the definition of task `{name}` in `{}` is not a task definition ({error}); a worker of this mageflow \
             version publishes it again when it starts",
            key(prefix)
        ))
        .caused_by(error)
        .into()
    })
}

/// Every definition published under `prefix`, sorted by name.
pub(crate) async fn list(store: &dyn Store, prefix: &str) -> Result<Vec<TaskDefinition>> {
    let reply = store.eval(script(), vec![key(prefix)], vec!["list".to_owned()]).await?;
    let Some(flat) = reply.as_array() else {
        return Err(StoreError::protocol(format!("listing task definitions replied {reply:?}")).into());
    };
    let mut definitions = Vec::with_capacity(flat.len() / 2);
    for pair in flat.chunks(2) {
        let [Reply::Text(name), Reply::Text(json)] = pair else {
            return Err(StoreError::protocol(format!("listing task definitions replied {pair:?}")).into());
        };
        definitions.push(parse(prefix, name, json)?);
    }
    definitions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(definitions)
}

#[cfg(all(test, feature = "memory"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::MemoryStore;

    fn definition(name: &str, retries: u32) -> Definition {
        let options = TaskOptions { retries, timeout: Some(Duration::from_secs(3)), ..TaskOptions::default() };
        Definition::new(name.to_owned(), json!({"type": "object"}), Some("rows".to_owned()), options)
    }

    #[tokio::test]
    async fn published_definitions_read_back_sorted_and_replaced_by_name() {
        let store = MemoryStore::new();
        publish(&store, "p", [&definition("zeta", 1), &definition("alpha", 2)]).await.unwrap();
        publish(&store, "p", [&definition("zeta", 5)]).await.unwrap();
        let listed = list(&store, "p").await.unwrap();
        let names: Vec<(&str, u32)> = listed.iter().map(|d| (d.name.as_str(), d.retries)).collect();
        assert_eq!(names, [("alpha", 2), ("zeta", 5)]);
        assert_eq!(listed[0].input_schema, json!({"type": "object"}));
        assert_eq!(listed[0].return_field.as_deref(), Some("rows"));
        assert_eq!(listed[0].timeout_ms, Some(3000));
        assert_eq!(listed[0].output_schema, None);
        assert!(list(&store, "other").await.unwrap().is_empty());
        let keys = store.scan("p:").await.unwrap();
        assert_eq!(keys.iter().map(|k| (k.key.as_str(), k.ttl)).collect::<Vec<_>>(), [("p:tasks", None)]);
    }

    #[tokio::test]
    async fn a_damaged_definition_is_named() {
        let store = MemoryStore::new();
        let damage = Script::new("return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])");
        store.eval(&damage, vec!["p:tasks".into()], vec!["x".into(), "{".into()]).await.unwrap();
        let error = list(&store, "p").await.unwrap_err().to_string();
        assert_eq!(
            error,
            "unexpected reply from the store: the definition of task `x` in `p:tasks` is not a task definition (EOF \
             while parsing an object at line 1 column 1); a worker of this mageflow version publishes it again when \
             it starts"
        );
    }
}
