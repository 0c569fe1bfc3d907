//! Writing flows: every creation or change of a flow is a batch of sub-operations applied in one atomic call of
//! the transition script. [`Batch`] gives users the same: many signatures created, started and updated at once,
//! all or nothing.

use serde::Serialize;
use serde_json::Value;

use super::protocol::{Code, Refusal};
use super::session::Session;
use super::{Sub, Transition};
use crate::error::{Error, Result};
use crate::flow::{Flow, Handle};
use crate::flow::{IntoNodes, Node};
use crate::model::{Kind, SignatureId, Status};

/// Many creations and changes applied in one atomic write: [`commit`](Batch::commit) stores all of them or, if
/// any is refused (a closed swarm, an unknown task, an input that does not fit), none. Made by
/// [`Mageflow::batch`](crate::Mageflow::batch).
pub struct Batch {
    session: Session,
    subs: Vec<Sub>,
    checks: Vec<(Node, Option<Value>)>,
    problem: Option<Error>,
}

impl Batch {
    fn note(&mut self, problem: Error) {
        self.problem.get_or_insert(problem);
    }

    /// The node of a flow, and a handle on it; a flow that was built wrongly is noted (and fails the commit).
    fn take<I, O, K>(&mut self, flow: Flow<I, O, K>) -> (Option<Node>, Handle<I, O, K>) {
        match flow.into_checked() {
            Ok(node) => {
                let handle = Handle::new(self.session.clone(), node.id.clone());
                (Some(node), handle)
            }
            Err(problem) => {
                self.note(problem);
                (None, Handle::new(self.session.clone(), SignatureId::generate()))
            }
        }
    }

    /// Stores a flow without starting it.
    pub fn create<I, O, K>(&mut self, flow: Flow<I, O, K>) -> Handle<I, O, K> {
        let (node, handle) = self.take(flow);
        if let Some(node) = node {
            self.checks.push((node.clone(), None));
            self.subs.push(Sub::Create(node));
        }
        handle
    }

    /// Stores a flow and starts it with `input`.
    pub fn run<I: Serialize, O, K>(&mut self, flow: Flow<I, O, K>, input: I) -> Handle<I, O, K> {
        let (node, handle) = self.take(flow);
        let Some(node) = node else { return handle };
        match serde_json::to_value(input) {
            Ok(message) => {
                self.checks.push((node.clone(), Some(message.clone())));
                self.subs.push(Sub::Run(node, message));
            }
            Err(source) => self.note(Error::Serialize { what: format!("the input of `{}`", node.name()), source }),
        }
        handle
    }

    /// Adds items to a swarm (created earlier, or in this batch).
    pub fn add(&mut self, swarm: &SignatureId, items: impl IntoNodes) {
        let items = items.into_nodes();
        self.checks.extend(items.iter().map(|item| (item.clone(), None)));
        self.subs.push(Sub::Add { swarm: swarm.clone(), close: false, items });
    }

    /// Binds more arguments (a JSON object) to a stored signature that has not finished; they win over the ones it
    /// has.
    pub fn bind(&mut self, id: &SignatureId, args: Value) {
        match args {
            Value::Object(layer) => self.subs.push(Sub::Update(id.clone(), layer)),
            other => {
                self.note(Error::InvalidFlow(format!("bound arguments of {id} must be a JSON object, got {other}")))
            }
        }
    }

    /// Closes a swarm.
    pub fn close(&mut self, swarm: &SignatureId) {
        self.subs.push(Sub::Close(swarm.clone()));
    }

    /// Applies everything in one atomic write.
    pub async fn commit(self) -> Result<()> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        for (node, message) in &self.checks {
            match message {
                Some(message) => self.session.check_flow(node, message).await?,
                None => self.session.resolve(node).await?,
            }
        }
        self.session.commit(self.subs).await
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("operations", &self.subs.len()).finish_non_exhaustive()
    }
}

impl Batch {
    pub(crate) fn new(session: Session) -> Self {
        Batch { session, subs: Vec::new(), checks: Vec::new(), problem: None }
    }
}

impl Session {
    /// Writes sub-operations atomically and dispatches what they make due. Inside a task run that journals its
    /// creations, the nodes get ids of the run's scope and the new ids are journaled in the same write; a start
    /// refused because a replayed flow already started is the retry finding its earlier work, not an error.
    pub(crate) async fn commit(&self, mut subs: Vec<Sub>) -> Result<()> {
        let scope = self.scope.clone();
        if let Some(scope) = &scope {
            for sub in &mut subs {
                match sub {
                    Sub::Create(node) | Sub::Run(node, _) => scope.adopt(node),
                    Sub::Add { items, .. } => items.iter_mut().for_each(|item| scope.adopt(item)),
                    Sub::Start(..) | Sub::Update(..) | Sub::Close(_) | Sub::Journal(..) => {}
                }
            }
            let ids = scope.take_unjournaled();
            if !ids.is_empty() {
                subs.insert(0, Sub::Journal(scope.journal().clone(), ids));
            }
        }
        loop {
            let transition = self.engine.batch(&subs).await?;
            if transition.code == Code::Ok {
                return self.engine.apply(transition).await;
            }
            let error = refusal(&subs, &transition);
            // a retry re-running a flow its earlier attempt already started: that start is done; apply the rest
            let refused = transition.extra.first().and_then(|i| i.parse::<usize>().ok()).unwrap_or(0);
            let replayed = match (&scope, &error) {
                (Some(scope), Error::AlreadyStarted(id)) => scope.is_replayed(id),
                _ => false,
            };
            if !replayed || refused == 0 || refused > subs.len() {
                return Err(error);
            }
            subs.remove(refused - 1);
            if subs.iter().all(|sub| matches!(sub, Sub::Journal(..))) {
                return Ok(());
            }
        }
    }

    /// Stores a tree and starts its root with `message`, after checking it; returns the root's id as stored.
    pub(crate) async fn start(&self, mut root: Node, message: Value) -> Result<SignatureId> {
        self.check_flow(&root, &message).await?;
        if let Some(scope) = &self.scope {
            scope.adopt(&mut root);
        }
        let id = root.id.clone();
        self.commit(vec![Sub::Run(root, message)]).await?;
        Ok(id)
    }

    /// Stores a tree without starting it, after checking it; returns the root's id as stored.
    pub(crate) async fn create(&self, mut root: Node) -> Result<SignatureId> {
        self.resolve(&root).await?;
        if let Some(scope) = &self.scope {
            scope.adopt(&mut root);
        }
        let id = root.id.clone();
        self.commit(vec![Sub::Create(root)]).await?;
        Ok(id)
    }

    pub(crate) async fn add_items(&self, swarm: &SignatureId, items: Vec<Node>) -> Result<()> {
        for item in &items {
            self.resolve(item).await?;
        }
        self.commit(vec![Sub::Add { swarm: swarm.clone(), close: false, items }]).await
    }

    pub(crate) async fn close_swarm(&self, swarm: &SignatureId) -> Result<()> {
        self.commit(vec![Sub::Close(swarm.clone())]).await
    }
}

/// The error for a refused batch: `extra` is the 1-based index of the refused sub-operation, the problem's code,
/// the signature it concerns, and details.
fn refusal(subs: &[Sub], transition: &Transition) -> Error {
    let extra = &transition.extra;
    let index: usize = extra.first().and_then(|i| i.parse().ok()).unwrap_or(0);
    let code = extra.get(1).map(String::as_str).unwrap_or_default();
    let Some(refusal) = Refusal::parse(code) else {
        return Error::Store(crate::store::StoreError::protocol(format!("a batch was refused with `{code}`")));
    };
    let Some(id) = extra.get(2).and_then(|id| SignatureId::parse(id)) else {
        return Error::Store(crate::store::StoreError::protocol(format!("a batch was refused with {extra:?}")));
    };
    let detail = |n: usize| extra.get(3 + n).map(String::as_str).unwrap_or_default();
    let adding = match subs.get(index.wrapping_sub(1)) {
        Some(Sub::Add { items, .. }) => items.len() as u64,
        _ => 0,
    };
    match refusal {
        Refusal::Missing => Error::NotFound(id),
        Refusal::WrongKind => match Kind::parse(detail(0)) {
            Some(actual) => Error::WrongKind { id, actual, expected: Kind::Swarm },
            None => Error::CorruptState { id, detail: format!("its stored kind is `{}`", detail(0)) },
        },
        Refusal::Closed => Error::SwarmClosed(id),
        Refusal::Finished => match subs.get(index.wrapping_sub(1)) {
            Some(Sub::Add { .. }) => {
                Error::SwarmFinished { id, status: Status::parse(detail(0)).unwrap_or(Status::Canceled) }
            }
            _ => Error::InvalidFlow(format!("{id} has finished ({}); it can no longer change", detail(0))),
        },
        Refusal::TooMany => Error::TooManyItems {
            id,
            current: detail(0).parse().unwrap_or(0),
            max_items: detail(1).parse().unwrap_or(0),
            adding,
        },
        Refusal::NotPending => Error::AlreadyStarted(id),
        // the engine follows a move itself; one that reaches here is a fault of the store's contents
        Refusal::Moved => Error::CorruptState { id, detail: format!("its pointer names the group `{}`", detail(0)) },
        Refusal::Damaged => Error::CorruptState { id, detail: format!("its stored record is {}", detail(0)) },
        Refusal::Mismatch => Error::InvalidFlow(format!(
            "{id} is stored as {}, but was now made as {}: a task that is retried must create its flows in the same \
             order on every attempt",
            detail(0),
            detail(1)
        )),
    }
}
