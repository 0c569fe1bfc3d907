//! The tasks a client knows: handlers registered in this process, and task definitions (name, input schema,
//! return field, options) that any process can read from the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::model::ErrorKind;
use crate::run::task::{BoxFuture, Next, Task, TaskContext, TaskError, TaskOptions};

/// What an erased handler produced: an output, or a flow to continue with and its input.
pub(crate) enum Produced {
    Output(Value),
    Continue(Box<crate::run::task::Continuation>),
}

/// A task handler with its types erased to JSON.
pub(crate) trait Handler: Send + Sync {
    fn call(&self, input: Value, ctx: TaskContext) -> BoxFuture<'static, Result<Produced, TaskError>>;
}

struct TypedHandler<T: Task>(Arc<T>);

impl<T: Task> Handler for TypedHandler<T> {
    fn call(&self, input: Value, ctx: TaskContext) -> BoxFuture<'static, Result<Produced, TaskError>> {
        let task = self.0.clone();
        Box::pin(async move {
            let name = task.name();
            let input: T::Input = serde_json::from_value(input).map_err(|error| {
                TaskError::with_kind(
                    ErrorKind::InvalidInput,
                    format!("the input of `{name}` does not deserialize into its input type: {error}"),
                    false,
                )
            })?;
            let output = match task.run(input, ctx).await? {
                Next::Output(output) => output,
                Next::Flow(continuation) => return Ok(Produced::Continue(continuation)),
            };
            serde_json::to_value(output).map(Produced::Output).map_err(|error| {
                TaskError::with_kind(
                    ErrorKind::InvalidOutput,
                    format!("the output of `{name}` does not serialize to JSON: {error}"),
                    false,
                )
            })
        })
    }
}

/// What is known about a task wherever it runs: enough to sign it, validate its input and route results to it.
pub(crate) struct Definition {
    pub name: String,
    pub schema: Value,
    /// The output's JSON schema, when the task declares one ([`Task::output_schema`]).
    pub output_schema: Option<Value>,
    pub validator: Option<jsonschema::Validator>,
    pub return_field: Option<String>,
    pub options: TaskOptions,
}

impl Definition {
    pub(crate) fn new(name: String, schema: Value, return_field: Option<String>, options: TaskOptions) -> Self {
        let validator = match jsonschema::validator_for(&schema) {
            Ok(validator) => Some(validator),
            Err(error) => {
                tracing::warn!(task = %name, %error, "the input schema does not compile; inputs are not validated");
                None
            }
        };
        Definition { name, schema, output_schema: None, validator, return_field, options }
    }

    /// Checks an input against the task's schema.
    pub fn validate(&self, input: &Value) -> Result<(), crate::Error> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        let problems: Vec<String> = validator
            .iter_errors(input)
            .map(|error| {
                let path = error.instance_path().to_string();
                if path.is_empty() { error.to_string() } else { format!("at `{path}`: {error}") }
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(crate::Error::InvalidInput { task: self.name.clone(), problems }) }
    }

    /// Whether a bound argument of this name can reach the input: the schema declares the property, takes any
    /// additional property (a map), or declares no properties at all. A field the input would silently ignore is
    /// refused, since it is almost always a typo.
    pub fn accepts_field(&self, field: &str) -> bool {
        match self.schema.get("properties").and_then(Value::as_object) {
            Some(properties) => {
                properties.contains_key(field)
                    || matches!(self.schema.get("additionalProperties"), Some(Value::Object(_) | Value::Bool(true)))
            }
            None => true,
        }
    }
}

/// A task registered in this process: its definition and its handler.
pub(crate) struct Registered {
    pub definition: Arc<Definition>,
    pub handler: Arc<dyn Handler>,
}

/// Registered handlers, and definitions learned from the store.
#[derive(Default)]
pub(crate) struct Registry {
    registered: HashMap<String, Registered>,
    learned: RwLock<HashMap<String, Arc<Definition>>>,
}

impl Registry {
    pub fn register<T: Task>(&mut self, task: T) {
        let name = task.name().to_owned();
        let schema = serde_json::to_value(schemars::schema_for!(T::Input)).unwrap_or(Value::Bool(true));
        let mut definition =
            Definition::new(name.clone(), schema, task.return_field().map(str::to_owned), task.options());
        definition.output_schema = task.output_schema();
        let handler = Arc::new(TypedHandler(Arc::new(task)));
        self.registered.insert(name, Registered { definition: Arc::new(definition), handler });
    }

    pub fn handler(&self, name: &str) -> Option<&Registered> {
        self.registered.get(name)
    }

    /// The definition of a task registered here or learned from the store.
    pub fn definition(&self, name: &str) -> Option<Arc<Definition>> {
        if let Some(registered) = self.registered.get(name) {
            return Some(registered.definition.clone());
        }
        self.learned.read().ok()?.get(name).cloned()
    }

    pub fn learn(&self, definition: Definition) -> Arc<Definition> {
        let definition = Arc::new(definition);
        if let Ok(mut learned) = self.learned.write() {
            learned.insert(definition.name.clone(), definition.clone());
        }
        definition
    }

    pub fn registered(&self) -> impl Iterator<Item = &Registered> {
        self.registered.values()
    }

    /// The names known here, sorted, for error messages.
    pub fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.registered.keys().cloned().collect();
        if let Ok(learned) = self.learned.read() {
            names.extend(learned.keys().filter(|name| !self.registered.contains_key(*name)).cloned());
        }
        names.sort();
        names
    }
}
