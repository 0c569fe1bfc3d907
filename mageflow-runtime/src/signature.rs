//! [`Signature`]: a task to run, with bound arguments and callbacks; and [`Handle`], a started or stored
//! signature whose state and result can be read.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Mageflow;
use crate::error::{Error, Result};
use crate::flow::Node;
use crate::model::{SignatureId, Status};
use crate::state::{FlowTree, SignatureState};

/// A task to run, typed by its input `I` and output `O` (`serde_json::Value` for signatures made by name): bound
/// arguments, success and error callbacks. Nothing is stored until it is created or run.
pub struct Signature<I, O> {
    client: Mageflow,
    node: Node,
    problem: Option<Error>,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O> Signature<I, O> {
    pub(crate) fn new(client: Mageflow, node: Node) -> Self {
        Signature { client, node, problem: None, types: PhantomData }
    }

    /// The id the signature has (or will have) in the store.
    pub fn id(&self) -> &SignatureId {
        self.node.id()
    }

    /// Binds arguments (a JSON object): they are merged over the input when the task runs, winning over the
    /// message's fields. Each field must be a field of the task's input.
    pub fn bind(mut self, args: Value) -> Self {
        match args {
            Value::Object(map) => self.node.args.extend(map),
            other => {
                self.problem.get_or_insert(Error::InvalidFlow(format!(
                    "bound arguments of `{}` must be a JSON object, got {other}",
                    self.node.name()
                )));
            }
        }
        self
    }

    /// Binds one argument.
    pub fn arg(mut self, field: &str, value: impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => {
                self.node.args.insert(field.to_owned(), value);
            }
            Err(source) => {
                self.problem.get_or_insert(Error::Serialize { what: format!("the argument `{field}`"), source });
            }
        }
        self
    }

    /// Adds a callback that runs once when this signature succeeds, with its result as input (in the callback's
    /// `#[mageflow(return_value)]` field, or as its whole input).
    pub fn on_success(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_success.push(callback.into());
        self
    }

    /// Adds a callback that runs once when this signature fails for good (after its last retry), with the
    /// [`Failure`](crate::Failure) report (the failed input and a structured error) as input.
    pub fn on_error(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_error.push(callback.into());
        self
    }

    fn checked(self) -> Result<(Mageflow, Node)> {
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok((self.client, self.node)),
        }
    }

    /// Stores the signature (and its callbacks) without running it; start it later with [`Handle::start`].
    pub async fn create(self) -> Result<Handle<I, O>> {
        let (client, node) = self.checked()?;
        client.resolve(&node).await?;
        client.engine().create(&node).await?;
        Ok(Handle::new(client, node.id().clone()))
    }
}

impl<I: Serialize, O> Signature<I, O> {
    /// Stores the signature and dispatches it with `input`; returns at once with a handle. The input is checked
    /// against the task's JSON schema first: on any error nothing is stored.
    pub async fn run_no_wait(self, input: I) -> Result<Handle<I, O>> {
        let (client, node) = self.checked()?;
        let message = serde_json::to_value(&input)
            .map_err(|source| Error::Serialize { what: format!("the input of `{}`", node.name()), source })?;
        client.start(&node, &message).await?;
        Ok(Handle::new(client, node.id().clone()))
    }
}

impl<I: Serialize, O: DeserializeOwned> Signature<I, O> {
    /// Runs the signature with `input` and waits for its output.
    pub async fn run(self, input: I) -> Result<O> {
        self.run_no_wait(input).await?.result().await
    }
}

impl<I, O> From<Signature<I, O>> for Node {
    fn from(signature: Signature<I, O>) -> Node {
        signature.node
    }
}

impl<I, O> fmt::Debug for Signature<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature").field("node", &self.node).finish()
    }
}

/// A stored signature: read its state, await its result, control its lifecycle.
pub struct Handle<I, O> {
    client: Mageflow,
    id: SignatureId,
    types: PhantomData<fn(I) -> O>,
}

impl<I, O> Clone for Handle<I, O> {
    fn clone(&self) -> Self {
        Handle { client: self.client.clone(), id: self.id.clone(), types: PhantomData }
    }
}

impl<I, O> fmt::Debug for Handle<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("id", &self.id).finish()
    }
}

impl<I, O> Handle<I, O> {
    pub(crate) fn new(client: Mageflow, id: SignatureId) -> Self {
        Handle { client, id, types: PhantomData }
    }

    /// The signature's id.
    pub fn id(&self) -> &SignatureId {
        &self.id
    }

    /// Its state now.
    pub async fn status(&self) -> Result<SignatureState> {
        self.client.status(&self.id).await
    }

    /// Its whole flow: children and callbacks with their states.
    pub async fn tree(&self) -> Result<FlowTree> {
        self.client.tree(&self.id).await
    }

    /// Suspends it (see [`Mageflow::suspend`]).
    pub async fn suspend(&self) -> Result<()> {
        self.client.suspend(&self.id).await
    }

    /// Interrupts it (see [`Mageflow::interrupt`]).
    pub async fn interrupt(&self) -> Result<()> {
        self.client.interrupt(&self.id).await
    }

    /// Resumes it (see [`Mageflow::resume`]).
    pub async fn resume(&self) -> Result<()> {
        self.client.resume(&self.id).await
    }

    /// Cancels it (see [`Mageflow::cancel`]).
    pub async fn cancel(&self) -> Result<()> {
        self.client.cancel(&self.id).await
    }

    /// Waits until it finished and returns its final state.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<SignatureState> {
        self.client.wait(&self.id, timeout).await
    }
}

impl<I: Serialize, O> Handle<I, O> {
    /// Starts a signature stored with [`Signature::create`].
    pub async fn start(&self, input: I) -> Result<()> {
        let message = serde_json::to_value(&input)
            .map_err(|source| Error::Serialize { what: format!("the input of {}", self.id), source })?;
        let transition = self.client.engine().call("run", vec!["0".into(), self.id.to_string(), message.to_string()]);
        let transition = transition.await?;
        match transition.code.as_str() {
            "ok" => self.client.engine().apply(transition).await,
            "missing" => Err(Error::NotFound(self.id.clone())),
            _ => Err(Error::InvalidFlow(format!("{} was already started", self.id))),
        }
    }
}

impl<I, O: DeserializeOwned> Handle<I, O> {
    /// Waits for the output: `Err(Error::Failed)` with the failure report if it failed, `Err(Error::Canceled)` if it
    /// was canceled.
    pub async fn result(&self) -> Result<O> {
        self.result_within(None).await
    }

    /// Like [`result`](Self::result), failing with [`Error::WaitTimeout`] after `timeout`.
    pub async fn result_within(&self, timeout: Option<Duration>) -> Result<O> {
        let state = self.client.wait(&self.id, timeout).await?;
        match state.status {
            Status::Done => serde_json::from_value(state.result.unwrap_or(Value::Null))
                .map_err(|source| Error::Deserialize { id: self.id.clone(), source }),
            Status::Failed => Err(match state.error {
                Some(failure) => Error::Failed(Box::new(failure)),
                None => Error::CorruptState { id: self.id.clone(), detail: "failed without a failure report".into() },
            }),
            _ => Err(Error::Canceled(self.id.clone())),
        }
    }
}
