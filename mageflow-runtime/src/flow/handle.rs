//! [`Handle`]: a started or stored flow whose state and result can be read and whose lifecycle can be controlled,
//! typed by the flow's input, output and kind.

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
use crate::flow::{AnyKind, IntoNodes, Node, SwarmKind};
use crate::model::{SignatureId, Status};

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
    /// Starts a flow stored with [`Mageflow::create`](crate::Mageflow::create) (or a batch's `create`).
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
