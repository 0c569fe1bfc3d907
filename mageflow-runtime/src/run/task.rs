//! What a task is: the [`Task`] trait that `#[mageflow::task]` implements, its options, the context a run receives
//! and the error a handler returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{ErrorKind, SignatureId};

/// A boxed, sendable future, as returned by [`Task::run`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A named async handler with a typed input and output.
///
/// Implemented by the value that `#[mageflow::task]` generates for an `async fn`; register it with
/// [`MageflowBuilder::task`](crate::MageflowBuilder::task) and sign it with [`Mageflow::sign`](crate::Mageflow::sign).
pub trait Task: Send + Sync + 'static {
    /// The input the handler takes. Its JSON schema is what inputs of by-name signatures are checked against.
    type Input: Serialize + DeserializeOwned + JsonSchema + Send + 'static;
    /// The value the handler produces on success.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// The name the task is registered and dispatched under (kebab-case of the function name by default).
    fn name(&self) -> &'static str;

    /// Retries, timeout and backoff.
    fn options(&self) -> TaskOptions {
        TaskOptions::default()
    }

    /// The input field a predecessor's result is written to when this task runs as a success callback, a chain
    /// step or a swarm item; `None` when the result is the whole input.
    fn return_field(&self) -> Option<&'static str> {
        None
    }

    /// The JSON schema of the output, if the task declares one: published with the task's definition for tools
    /// (the `mageflow` CLI's `tasks`, its MCP server). `#[task]` gives it when the output type implements
    /// `JsonSchema`; `None` by default.
    fn output_schema(&self) -> Option<serde_json::Value> {
        None
    }

    /// Runs the handler once: its output, or a flow to run in its place ([`Next::Flow`]).
    fn run(&self, input: Self::Input, ctx: TaskContext) -> BoxFuture<'static, Result<Next<Self::Output>, TaskError>>;
}

/// What a handler returns: its output, or a flow that runs in its place and whose result becomes the task's
/// output (a conditional continuation). The flow is spliced into the task's parent: the task finishes when the flow
/// does, with its result, and its callbacks and parent carry on from there.
///
/// A handler declared `-> Result<Next<O>, E>` has the output type `O`.
#[derive(Debug)]
pub enum Next<O> {
    /// The task's output.
    Output(O),
    /// A flow to run in the task's place.
    Flow(Box<Continuation>),
}

/// A flow a handler hands over to, with the input it starts with. Made by [`Next::flow`].
#[derive(Debug)]
pub struct Continuation {
    pub(crate) node: crate::flow::Node,
    pub(crate) input: Result<serde_json::Value, String>,
}

impl<O> Next<O> {
    /// Continues with `flow` (a signature, chain or swarm; its result must deserialize into `O`), started with
    /// `input`.
    pub fn flow(flow: impl Into<crate::flow::Node>, input: impl Serialize) -> Self {
        let input = serde_json::to_value(input).map_err(|error| format!("the continuation's input: {error}"));
        Next::Flow(Box::new(Continuation { node: flow.into(), input }))
    }

    /// The output, if this is one.
    pub fn into_output(self) -> Option<O> {
        match self {
            Next::Output(output) => Some(output),
            Next::Flow(_) => None,
        }
    }
}

impl<O> From<O> for Next<O> {
    fn from(output: O) -> Self {
        Next::Output(output)
    }
}

/// How a task is retried and how long one attempt may take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOptions {
    /// How many times a failed attempt is retried: `retries = 3` means at most four attempts.
    pub retries: u32,
    /// How long one attempt may run before it fails with [`ErrorKind::Timeout`]; `None` for no limit.
    pub timeout: Option<Duration>,
    /// The wait before each retry.
    pub backoff: Backoff,
}

/// Exponential backoff between attempts: `initial * factor^(n-1)`, capped at `max`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The factor each later wait is multiplied by.
    pub factor: f64,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(100), factor: 2.0, max: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// The wait before retrying after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() { self.max } else { Duration::from_secs_f64(secs) }
    }
}

/// What a running handler knows about its run.
#[derive(Clone)]
pub struct TaskContext {
    /// The signature this run executes.
    pub signature_id: SignatureId,
    /// The registered name of the task.
    pub task: String,
    /// The attempt number, starting at 1.
    pub attempt: u32,
    /// Metadata of the run, as the backend delivered it.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The client running this task (a `Mageflow`, read back by `TaskContext::client`, which lives with the client
    /// so that tasks sit below it).
    pub(crate) client: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

impl TaskContext {
    /// A context for calling a handler directly (in a unit test): no client, no metadata.
    pub fn new(signature_id: SignatureId, task: impl Into<String>, attempt: u32) -> Self {
        TaskContext { signature_id, task: task.into(), attempt, metadata: Default::default(), client: None }
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("signature_id", &self.signature_id)
            .field("task", &self.task)
            .field("attempt", &self.attempt)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// The error a task handler returns.
///
/// Any `std::error::Error` converts into it with `?`; build one by hand with [`TaskError::new`], or with
/// [`TaskError::non_retryable`] for a failure that retrying cannot fix.
pub struct TaskError {
    kind: ErrorKind,
    message: String,
    retryable: bool,
}

impl TaskError {
    /// A retryable error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        TaskError { kind: ErrorKind::Error, message: message.into(), retryable: true }
    }

    /// An error that fails the task at once, whatever retries are left.
    pub fn non_retryable(message: impl Into<String>) -> Self {
        TaskError { kind: ErrorKind::Error, message: message.into(), retryable: false }
    }

    /// An error of a given kind.
    pub fn with_kind(kind: ErrorKind, message: impl Into<String>, retryable: bool) -> Self {
        TaskError { kind, message: message.into(), retryable }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether a retry may help.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        TaskError::new(message)
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("retryable", &self.retryable)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An input type with a field that receives a predecessor's result, derived with `#[derive(TaskInput)]` and
/// `#[mageflow(return_value)]` on that field.
pub trait TaskInput {
    /// The serialized name of the field that receives the result.
    const RETURN_FIELD: &'static str;
    /// The type of that field: the output a predecessor must produce.
    type ReturnValue;
}

/// Finds a task input's return field at compile time: `(&ReturnFieldProbe::<T>::new()).return_field()` is
/// `Some(field)` when `T: TaskInput` and `None` otherwise. Used by the code `#[task]` generates.
#[doc(hidden)]
pub struct ReturnFieldProbe<T>(std::marker::PhantomData<T>);

impl<T> ReturnFieldProbe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        ReturnFieldProbe(std::marker::PhantomData)
    }
}

impl<T> Default for ReturnFieldProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The probe's answer for inputs that derive [`TaskInput`].
#[doc(hidden)]
pub trait ReturnFieldOfTaskInput {
    /// The return field.
    fn return_field(&self) -> Option<&'static str>;
}

impl<T: TaskInput> ReturnFieldOfTaskInput for ReturnFieldProbe<T> {
    fn return_field(&self) -> Option<&'static str> {
        Some(T::RETURN_FIELD)
    }
}

/// The probe's answer for every other input: the result is the whole input.
#[doc(hidden)]
pub trait ReturnFieldOfWholeInput {
    /// No return field.
    fn return_field(&self) -> Option<&'static str>;
}

impl<T> ReturnFieldOfWholeInput for &ReturnFieldProbe<T> {
    fn return_field(&self) -> Option<&'static str> {
        None
    }
}

/// Finds a task output's JSON schema at compile time: `(&OutputSchemaProbe::<T>::new()).output_schema()` is
/// `Some(schema)` when `T: JsonSchema` and `None` otherwise. Used by the code `#[task]` generates.
#[doc(hidden)]
pub struct OutputSchemaProbe<T>(std::marker::PhantomData<T>);

impl<T> OutputSchemaProbe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        OutputSchemaProbe(std::marker::PhantomData)
    }
}

impl<T> Default for OutputSchemaProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The probe's answer for outputs with a JSON schema.
#[doc(hidden)]
pub trait OutputSchemaOfJsonSchema {
    /// The schema.
    fn output_schema(&self) -> Option<serde_json::Value>;
}

impl<T: JsonSchema> OutputSchemaOfJsonSchema for OutputSchemaProbe<T> {
    fn output_schema(&self) -> Option<serde_json::Value> {
        serde_json::to_value(schemars::schema_for!(T)).ok()
    }
}

/// The probe's answer for every other output: no schema.
#[doc(hidden)]
pub trait OutputSchemaUnknown {
    /// No schema.
    fn output_schema(&self) -> Option<serde_json::Value>;
}

impl<T> OutputSchemaUnknown for &OutputSchemaProbe<T> {
    fn output_schema(&self) -> Option<serde_json::Value> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow picks the probe's answer, as in generated code
    fn the_output_probe_finds_schemas_where_there_are_some() {
        struct NoSchema;
        #[allow(unused_imports)]
        use super::{OutputSchemaOfJsonSchema as _, OutputSchemaUnknown as _};
        let known = (&OutputSchemaProbe::<u32>::new()).output_schema();
        assert_eq!(known, Some(serde_json::to_value(schemars::schema_for!(u32)).unwrap()));
        assert_eq!((&OutputSchemaProbe::<NoSchema>::new()).output_schema(), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let backoff = Backoff { initial: Duration::from_millis(100), factor: 2.0, max: Duration::from_millis(500) };
        assert_eq!(backoff.delay(1), Duration::from_millis(100));
        assert_eq!(backoff.delay(2), Duration::from_millis(200));
        assert_eq!(backoff.delay(3), Duration::from_millis(400));
        assert_eq!(backoff.delay(4), Duration::from_millis(500));
        assert_eq!(backoff.delay(1000), Duration::from_millis(500));
    }

    #[derive(serde::Deserialize)]
    struct Plain;
    struct WithField;
    impl TaskInput for WithField {
        const RETURN_FIELD: &'static str = "previous";
        type ReturnValue = u32;
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow is how generated code calls the probe
    fn probe_finds_the_return_field() {
        assert_eq!((&ReturnFieldProbe::<WithField>::new()).return_field(), Some("previous"));
        assert_eq!((&ReturnFieldProbe::<Plain>::new()).return_field(), None);
    }

    #[test]
    fn std_errors_convert_with_their_causes() {
        let error: TaskError = "x".parse::<u32>().unwrap_err().into();
        assert!(error.is_retryable());
        assert_eq!(error.kind(), ErrorKind::Error);
        assert_eq!(error.message(), "invalid digit found in string");
    }
}
