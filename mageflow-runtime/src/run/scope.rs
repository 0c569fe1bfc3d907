//! Idempotent creation on retries: inside a task run that may be retried, the signatures, chains and swarms the
//! handler creates get their ids from the run's creation journal, so that a retry that makes the same calls in the
//! same order gets the same signatures back (and creates nothing twice); calls past the journal create new ones.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::flow::Node;
use crate::model::SignatureId;

/// The ids of one task run: the ones its earlier attempts journaled (replayed in order), the ones taken by this
/// attempt, and those not yet written to the journal.
pub(crate) struct CreationScope {
    /// The task run whose record keeps the journal.
    task: SignatureId,
    state: Mutex<ScopeState>,
}

#[derive(Default)]
struct ScopeState {
    replay: VecDeque<SignatureId>,
    taken: HashSet<SignatureId>,
    unjournaled: Vec<SignatureId>,
}

impl CreationScope {
    /// A scope journaling on the record of `task`, replaying `replay` (the journal of earlier attempts).
    pub fn new(task: SignatureId, replay: Vec<SignatureId>) -> Self {
        let state = ScopeState { replay: replay.into(), ..Default::default() };
        CreationScope { task, state: Mutex::new(state) }
    }

    /// The task whose record keeps the journal.
    pub fn journal(&self) -> &SignatureId {
        &self.task
    }

    /// The next id: the next journaled one on a retry, else a new one.
    pub fn next_id(&self) -> SignatureId {
        let Ok(mut state) = self.state.lock() else { return SignatureId::generate() };
        let id = match state.replay.pop_front() {
            Some(id) => id,
            None => {
                let id = SignatureId::generate();
                state.unjournaled.push(id.clone());
                id
            }
        };
        state.taken.insert(id.clone());
        id
    }

    /// Gives every node of a tree that was not made through this scope (a `flow!` flow, say) an id of the scope,
    /// in the tree's order, so that those too are the same on a retry.
    pub fn adopt(&self, root: &mut Node) {
        root.walk_mut(&mut |node| {
            let known = self.state.lock().map(|state| state.taken.contains(&node.id)).unwrap_or(true);
            if !known {
                node.id = self.next_id();
            }
        });
    }

    /// The new ids to append to the journal, in the same atomic write as the flows they name.
    pub fn take_unjournaled(&self) -> Vec<SignatureId> {
        self.state.lock().map(|mut state| std::mem::take(&mut state.unjournaled)).unwrap_or_default()
    }

    /// Whether this id was replayed from an earlier attempt.
    pub fn is_replayed(&self, id: &SignatureId) -> bool {
        self.state.lock().map(|state| state.taken.contains(id) && !state.unjournaled.contains(id)).unwrap_or(false)
    }
}
