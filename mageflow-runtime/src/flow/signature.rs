//! [`Signature`], [`Chain`] and [`Swarm`]: flows to run, with bound arguments and callbacks; and [`Handle`], a
//! started or stored flow whose state and result can be read and whose lifecycle can be controlled.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::engine::session::Session;
use crate::engine::state::{FlowTree, SignatureState};
use crate::engine::{Lifecycle, Sub};
use crate::error::{Error, Result};
use crate::flow::{Body, IntoNodes, Node, SwarmConfig};
use crate::model::{SignatureId, Status};

/// Marks a [`Signature`] of one task.
#[derive(Debug)]
pub enum TaskKind {}
/// Marks a [`Signature`] of a chain: steps run one after another, each result feeding the next step.
#[derive(Debug)]
pub enum ChainKind {}
/// Marks a [`Signature`] of a swarm: items run in parallel with a concurrency limit.
#[derive(Debug)]
pub enum SwarmKind {}
/// Marks a [`Handle`] on a signature whose kind is not known where the handle is made (from an id, or a `flow!`
/// flow).
#[derive(Debug)]
pub enum AnyKind {}

/// A flow to run, typed by its input `I` and output `O` (`serde_json::Value` for flows made by name): a task
/// (`K = TaskKind`), a [`Chain`] or a [`Swarm`], with bound arguments and success and error callbacks. Nothing is
/// stored until it is created or run.
pub struct Signature<I, O, K = TaskKind> {
    session: Session,
    node: Node,
    problem: Option<Error>,
    types: PhantomData<fn(I, K) -> O>,
}

/// A chain: steps that run one after another, each step's result feeding the next. Its output is the last step's.
pub type Chain<I, O> = Signature<I, O, ChainKind>;

/// A swarm: items that run in parallel. Its output is the outcome of every item, in item order.
pub type Swarm<I, O = Vec<crate::Outcome>> = Signature<I, O, SwarmKind>;

impl<I, O, K> Signature<I, O, K> {
    pub(crate) fn new(session: Session, node: Node) -> Self {
        Signature { session, node, problem: None, types: PhantomData }
    }

    fn note(&mut self, problem: Error) {
        self.problem.get_or_insert(problem);
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
                let name = self.node.name();
                self.note(Error::InvalidFlow(format!(
                    "bound arguments of `{name}` must be a JSON object, got {other}"
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
            Err(source) => self.note(Error::Serialize { what: format!("the argument `{field}`"), source }),
        }
        self
    }

    /// Adds a callback that runs once when this flow succeeds, with its result as input (in the callback's
    /// `#[mageflow(return_value)]` field, or as its whole input).
    pub fn on_success(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_success.push(callback.into());
        self
    }

    /// Adds a callback that runs once when this flow fails for good (after its last retry), with the
    /// [`Failure`](crate::Failure) report (the failed input and a structured error) as input.
    pub fn on_error(mut self, callback: impl Into<Node>) -> Self {
        self.node.on_error.push(callback.into());
        self
    }

    fn checked(self) -> Result<(Session, Node)> {
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok((self.session, self.node)),
        }
    }

    /// The node, or the first problem met while building it.
    pub(crate) fn into_checked(self) -> Result<Node> {
        self.checked().map(|(_, node)| node)
    }

    /// Stores the flow (and its callbacks) without running it; start it later with [`Handle::start`].
    pub async fn create(self) -> Result<Handle<I, O, K>> {
        let (session, node) = self.checked()?;
        let id = session.create(node).await?;
        Ok(Handle::new(session, id))
    }
}

impl<I: Serialize, O, K> Signature<I, O, K> {
    /// Stores the flow and starts it with `input`; returns at once with a handle. The input of every task that
    /// starts at once is checked against its JSON schema first: on any error nothing is stored.
    pub async fn run_no_wait(self, input: I) -> Result<Handle<I, O, K>> {
        let (session, node) = self.checked()?;
        let message = serde_json::to_value(&input)
            .map_err(|source| Error::Serialize { what: format!("the input of `{}`", node.name()), source })?;
        let id = session.start(node, message).await?;
        Ok(Handle::new(session, id))
    }
}

impl<I: Serialize, O: DeserializeOwned, K> Signature<I, O, K> {
    /// Runs the flow with `input` and waits for its output.
    pub async fn run(self, input: I) -> Result<O> {
        self.run_no_wait(input).await?.result().await
    }
}

impl<I, O> Chain<I, O> {
    /// Names the chain (shown in its state and tree).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        if let Body::Chain { name: slot, .. } = &mut self.node.body {
            *slot = Some(name.into());
        }
        self
    }
}

impl<I, O> Swarm<I, O> {
    fn config(&mut self) -> Option<&mut SwarmConfig> {
        match &mut self.node.body {
            Body::Swarm { config, .. } => Some(config),
            _ => None,
        }
    }

    /// Names the swarm (shown in its state and tree).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        if let Body::Swarm { name: slot, .. } = &mut self.node.body {
            *slot = Some(name.into());
        }
        self
    }

    /// At most `limit` items run at once (0: no limit; 30 by default).
    pub fn max_concurrency(mut self, limit: u32) -> Self {
        if let Some(config) = self.config() {
            config.max_concurrency = limit;
        }
        self
    }

    /// Fails the swarm once `failures` items failed: queued items never start, running ones are interrupted, error
    /// callbacks run once. Without it, the swarm succeeds and reports failed items in its results.
    pub fn stop_after_failures(mut self, failures: u32) -> Self {
        if let Some(config) = self.config() {
            config.stop_after_failures = Some(failures);
        }
        self
    }

    /// The swarm takes at most `items` items, and closes when it has them.
    pub fn max_items(mut self, items: u64) -> Self {
        if let Some(config) = self.config() {
            config.max_items = Some(items);
        }
        self
    }

    /// Keeps the swarm open after it starts, so that items can be added while it runs
    /// ([`Handle::add`], ...). An open swarm completes only after [`Handle::close`]. Swarms are closed by default.
    pub fn open(mut self) -> Self {
        if let Body::Swarm { closed, .. } = &mut self.node.body {
            *closed = false;
        }
        self
    }
}

impl<I, O, K> From<Signature<I, O, K>> for Node {
    fn from(signature: Signature<I, O, K>) -> Node {
        signature.node
    }
}

impl<I, O, K> fmt::Debug for Signature<I, O, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature").field("node", &self.node).finish()
    }
}

/// A stored signature: read its state, await its result, control its lifecycle. Typed by its input, its output and
/// its kind: only a swarm's handle (`K = SwarmKind`) can [`add`](Handle::add) items or [`close`](Handle::close).
pub struct Handle<I, O, K = AnyKind> {
    session: Session,
    id: SignatureId,
    types: PhantomData<fn(I, K) -> O>,
}

impl<I, O, K> Clone for Handle<I, O, K> {
    fn clone(&self) -> Self {
        Handle { session: self.session.clone(), id: self.id.clone(), types: PhantomData }
    }
}

impl<I, O, K> fmt::Debug for Handle<I, O, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("id", &self.id).finish()
    }
}

impl<I, O, K> Handle<I, O, K> {
    pub(crate) fn new(session: Session, id: SignatureId) -> Self {
        Handle { session, id, types: PhantomData }
    }

    /// The signature's id.
    pub fn id(&self) -> &SignatureId {
        &self.id
    }

    /// Its state now.
    pub async fn status(&self) -> Result<SignatureState> {
        self.session.status(&self.id).await
    }

    /// Its whole flow: children and callbacks with their states.
    pub async fn tree(&self) -> Result<FlowTree> {
        self.session.tree(&self.id).await
    }

    /// Suspends it (see [`Mageflow::suspend`](crate::Mageflow::suspend)).
    pub async fn suspend(&self) -> Result<()> {
        self.session.lifecycle(Lifecycle::Suspend, &self.id).await
    }

    /// Interrupts it (see [`Mageflow::interrupt`](crate::Mageflow::interrupt)).
    pub async fn interrupt(&self) -> Result<()> {
        self.session.lifecycle(Lifecycle::Interrupt, &self.id).await
    }

    /// Resumes it (see [`Mageflow::resume`](crate::Mageflow::resume)).
    pub async fn resume(&self) -> Result<()> {
        self.session.lifecycle(Lifecycle::Resume, &self.id).await
    }

    /// Cancels it (see [`Mageflow::cancel`](crate::Mageflow::cancel)).
    pub async fn cancel(&self) -> Result<()> {
        self.session.lifecycle(Lifecycle::Cancel, &self.id).await
    }

    /// Waits until it finished and returns its final state.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<SignatureState> {
        self.session.wait(&self.id, timeout).await
    }
}

impl<I, O> Handle<I, O, SwarmKind> {
    /// Adds items to a running (or not yet started) open swarm; each runs with the swarm's message. Items are stored
    /// with their arguments in the same atomic write (a batch) that queues them, so none is dispatched
    /// half-written.
    pub async fn add(&self, items: impl IntoNodes) -> Result<()> {
        let items = items.into_nodes();
        self.session.add_items(&self.id, items).await
    }

    /// Adds items that all get `message`'s fields as bound arguments (on top of the swarm's message).
    pub async fn add_with_message(&self, items: impl IntoNodes, message: impl Serialize) -> Result<()> {
        let message = serde_json::to_value(message)
            .map_err(|source| Error::Serialize { what: "the items' message".into(), source })?;
        let items =
            items.into_nodes().into_iter().map(|item| with_message(item, &message)).collect::<Result<Vec<_>>>()?;
        self.session.add_items(&self.id, items).await
    }

    /// Adds items, each with its own message as bound arguments.
    pub async fn add_each<N: Into<Node>, M: Serialize>(&self, items: impl IntoIterator<Item = (N, M)>) -> Result<()> {
        let items = items
            .into_iter()
            .map(|(item, message)| {
                let message = serde_json::to_value(message)
                    .map_err(|source| Error::Serialize { what: "an item's message".into(), source })?;
                with_message(item.into(), &message)
            })
            .collect::<Result<Vec<_>>>()?;
        self.session.add_items(&self.id, items).await
    }

    /// Closes a swarm: it takes no more items, and completes once every item has finished.
    pub async fn close(&self) -> Result<()> {
        self.session.close_swarm(&self.id).await
    }
}

/// Puts a message's fields into a node's bound arguments (the message's fields win).
fn with_message(mut node: Node, message: &Value) -> Result<Node> {
    match message {
        Value::Object(fields) => {
            node.args.extend(fields.clone());
            Ok(node)
        }
        Value::Null => Ok(node),
        other => Err(Error::InvalidFlow(format!("an item's message must be a JSON object, got {other}"))),
    }
}

impl<I: Serialize, O, K> Handle<I, O, K> {
    /// Starts a flow stored with [`Signature::create`].
    pub async fn start(&self, input: I) -> Result<()> {
        let message = serde_json::to_value(&input)
            .map_err(|source| Error::Serialize { what: format!("the input of {}", self.id), source })?;
        self.session.commit(vec![Sub::Start(self.id.clone(), message)]).await
    }
}

impl<I, O: DeserializeOwned, K> Handle<I, O, K> {
    /// Waits for the output: `Err(Error::Failed)` with the failure report if it failed, `Err(Error::Canceled)` if it
    /// was canceled.
    pub async fn result(&self) -> Result<O> {
        self.result_within(None).await
    }

    /// Like [`result`](Self::result), failing with [`Error::WaitTimeout`] after `timeout`.
    pub async fn result_within(&self, timeout: Option<Duration>) -> Result<O> {
        let fields = self.session.wait_finished(&self.id, timeout).await?;
        // the outcome is all that is needed: the children (of a large swarm, many) are not read
        let state = SignatureState::parse(&self.id, &fields, Vec::new())?;
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
