//! [`Session`]: what the client, batches and handles do through the engine — store and start flows (with the
//! creation journal of the task run they are made in, if any), read state, wait, and control the lifecycle. Handles
//! hold a session, not a client, so that the client sits above them; flow values hold neither.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Lifecycle, StoredRecord, protocol::field};
use crate::engine::state::{FlowTree, SignatureState};
use crate::error::{Error, Result};
use crate::model::{SignatureId, Status};
use crate::run::scope::CreationScope;
use crate::store::Notified;

/// How long a waiter goes without a notification before it reads the state again anyway (a notification can be
/// lost while the store reconnects).
const WAIT_SAFETY_INTERVAL: Duration = Duration::from_secs(5);

/// An engine, and the creation journal of the task run this session belongs to (if any). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Session {
    pub engine: Arc<Engine>,
    pub scope: Option<Arc<CreationScope>>,
}

impl Session {
    pub fn new(engine: Arc<Engine>) -> Self {
        Session { engine, scope: None }
    }

    /// The session of a task run: the same engine, with the run's creation journal.
    pub fn scoped(&self, scope: Arc<CreationScope>) -> Session {
        Session { engine: self.engine.clone(), scope: Some(scope) }
    }

    /// The state of one signature.
    pub async fn status(&self, id: &SignatureId) -> Result<SignatureState> {
        let records = self.engine.read(id, false).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        let record = records.into_iter().next().ok_or_else(|| Error::NotFound(id.clone()))?;
        SignatureState::parse(id, &record.fields, record.children)
    }

    /// The whole flow under a signature, read in one call.
    pub async fn tree(&self, id: &SignatureId) -> Result<FlowTree> {
        let records = self.engine.read(id, true).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        let mut stored: HashMap<SignatureId, StoredRecord> =
            records.into_iter().map(|record| (record.id.clone(), record)).collect();
        tree_of(id, &mut stored)?.ok_or_else(|| Error::NotFound(id.clone()))
    }

    /// Waits until a signature has finished and returns its final state.
    pub async fn wait(&self, id: &SignatureId, timeout: Option<Duration>) -> Result<SignatureState> {
        self.wait_finished(id, timeout).await?;
        self.status(id).await
    }

    /// Waits until a signature has finished and returns its stored fields (without its children, which a large
    /// swarm has many of).
    pub async fn wait_finished(&self, id: &SignatureId, timeout: Option<Duration>) -> Result<HashMap<String, String>> {
        let wait = async {
            let channel = self.engine.keys.finished_channel(id);
            loop {
                let notified = self.engine.store.notified(&channel).await?;
                let records = self.engine.read_watching(id).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
                let fields = records.into_iter().next().map(|record| record.fields).unwrap_or_default();
                let status = fields.get(field::STATUS).and_then(|s| Status::parse(s));
                if status.is_some_and(Status::is_finished) {
                    return Ok(fields);
                }
                let _ = tokio::time::timeout(WAIT_SAFETY_INTERVAL, notified).await;
            }
        };
        match timeout {
            None => wait.await,
            Some(limit) => {
                tokio::time::timeout(limit, wait).await.unwrap_or(Err(Error::WaitTimeout(id.clone(), limit)))
            }
        }
    }

    /// A future that completes when signature `id` finishes (or when notifications may have been lost because the
    /// store reconnected: read the state again then). Subscribes, then counts itself as a waiter on the signature,
    /// since the script announces only the ends of signatures someone waits for.
    pub async fn finish_notice(&self, id: &SignatureId) -> Result<Notified> {
        let notified = self.engine.store.notified(&self.engine.keys.finished_channel(id)).await?;
        self.engine.read_watching(id).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        Ok(notified)
    }

    /// Runs a lifecycle operation and hands what it makes due or interrupts to the backend.
    pub async fn lifecycle(&self, op: Lifecycle, id: &SignatureId) -> Result<()> {
        let transition = self.engine.lifecycle(op, id).await?;
        self.engine.apply(transition).await
    }
}

/// The tree under `id` from the records read (each used once, so that a damaged record cannot make a cycle).
fn tree_of(id: &SignatureId, stored: &mut HashMap<SignatureId, StoredRecord>) -> Result<Option<FlowTree>> {
    let Some(record) = stored.remove(id) else {
        return Ok(None);
    };
    let state = SignatureState::parse(id, &record.fields, record.children)?;
    let mut subtrees = |ids: &[SignatureId]| -> Result<Vec<FlowTree>> {
        let mut out = Vec::new();
        for child in ids {
            out.extend(tree_of(child, stored)?);
        }
        Ok(out)
    };
    let children = subtrees(&state.children)?;
    let success_callbacks = subtrees(&state.success_callbacks)?;
    let error_callbacks = subtrees(&state.error_callbacks)?;
    Ok(Some(FlowTree { state, children, success_callbacks, error_callbacks }))
}
