//! [`Mageflow`]: the client. Build it with [`Mageflow::builder`] (in `builder`), register tasks, then make flows and
//! run them, read their state, and suspend, resume, interrupt or cancel whole flows. Every operation of the client is
//! here; it works through a [`Session`] on the engine, which the handles it returns hold too. The flows it makes are
//! plain values ([`Flow`]): only the client runs or stores them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend::Runner;
use crate::engine::batch::Batch;
use crate::engine::index::{FlowFilter, FlowPage, StuckRun};
use crate::engine::session::Session;
use crate::engine::state::{FlowTree, SignatureState};
use crate::engine::{Engine, Lifecycle};
use crate::error::{Error, Result};
use crate::flow::dsl::json;
use crate::flow::{Body, Chain, Flow, Handle, IntoNodes, Node, Swarm, SwarmConfig, SwarmKind, TaskKind};
use crate::model::{Outcome, SignatureId};
use crate::run::definitions::{self, TaskDefinition};
use crate::run::scope::CreationScope;
use crate::run::task::{Task, TaskContext};
use crate::store::{Notified, Store};

struct Inner {
    session: Session,
    sweeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The running side of the backend, which `shutdown` stops (none on the client a task run gets).
    runner: Option<Arc<dyn Runner>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut sweeper) = self.sweeper.lock()
            && let Some(sweeper) = sweeper.take()
        {
            sweeper.abort();
        }
    }
}

/// The mageflow client: makes flows (signs tasks, chains, swarms), runs and stores them, reads their state and controls their lifecycle. Cheap to clone.
#[derive(Clone)]
pub struct Mageflow {
    inner: Arc<Inner>,
}

impl Mageflow {
    /// A client on a session, with the recovery sweep it owns (aborted when the last clone is dropped) and the
    /// running side of its backend.
    pub(crate) fn new(
        session: Session,
        sweeper: Option<tokio::task::JoinHandle<()>>,
        runner: Option<Arc<dyn Runner>>,
    ) -> Mageflow {
        Mageflow { inner: Arc::new(Inner { session, sweeper: Mutex::new(sweeper), runner }) }
    }

    /// A client on an engine that lives already (a worker's, for one run).
    pub(crate) fn from_engine(engine: Arc<Engine>) -> Mageflow {
        Mageflow::new(Session::new(engine), None, None)
    }

    pub(crate) fn session(&self) -> &Session {
        &self.inner.session
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.inner.session.engine
    }

    /// The client a task run gets: the same engine, with the run's creation journal.
    pub(crate) fn scoped(&self, scope: Arc<CreationScope>) -> Mageflow {
        Mageflow::new(self.session().scoped(scope), None, None)
    }

    pub(crate) fn scope(&self) -> Option<&Arc<CreationScope>> {
        self.inner.session.scope.as_ref()
    }

    /// A new node: inside a task run that journals its creations, with the run's next id.
    fn node(&self, body: Body) -> Node {
        match self.scope() {
            Some(scope) => Node::with_id(scope.next_id(), body),
            None => Node::new(body),
        }
    }

    /// The store this client keeps state in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.engine().store
    }

    /// The prefix of every key this client writes.
    pub fn key_prefix(&self) -> &str {
        self.engine().keys.prefix()
    }

    /// A flow of one task, typed by the task's input and output. Run it with [`run`](Self::run) (or
    /// [`run_no_wait`](Self::run_no_wait), [`create`](Self::create)), or use it as a step, an item or a callback of
    /// another flow.
    pub fn sign<T: Task>(&self, task: T) -> Flow<T::Input, T::Output, TaskKind> {
        Flow::from_node(self.node(Body::Task { name: task.name().to_owned() }))
    }

    /// A flow of one task by its registered name. The name and the inputs are checked (against the task's JSON
    /// schema) when the flow is created or run, before anything is stored.
    pub fn sign_name(&self, task: &str) -> Flow<Value, Value, TaskKind> {
        Flow::from_node(self.node(Body::Task { name: task.to_owned() }))
    }

    /// A chain of steps (tasks, chains or swarms, at least two): each step gets the previous step's result. Steps
    /// of different types go in a tuple: `client.chain((client.sign(charge), client.sign(send_receipt)))`.
    pub fn chain(&self, steps: impl IntoNodes) -> Chain<Value, Value> {
        let steps = steps.into_nodes();
        Flow::from_node(self.node(Body::Chain { name: None, steps }))
    }

    /// A swarm of items (tasks, chains or swarms) that run in parallel with the swarm's message; closed unless
    /// made [`open`](Flow::open). Items of different types go in a tuple.
    pub fn swarm(&self, items: impl IntoNodes) -> Swarm<Value> {
        let items = items.into_nodes();
        Flow::from_node(self.node(Body::Swarm { name: None, items, config: SwarmConfig::default(), closed: true }))
    }

    /// A handle on a stored flow, by id (for flows started elsewhere). Its kind is not known: for a swarm, use
    /// [`swarm_handle`](Self::swarm_handle) to add items or close it.
    pub fn handle(&self, id: SignatureId) -> Handle<Value, Value> {
        Handle::new(self.session().clone(), id)
    }

    /// A handle on a stored swarm, by id, to add items to it or close it; those fail with [`Error::WrongKind`] when
    /// the signature is not a swarm.
    pub fn swarm_handle(&self, id: SignatureId) -> Handle<Value, Vec<Outcome>, SwarmKind> {
        Handle::new(self.session().clone(), id)
    }

    /// The state of one signature.
    pub async fn status(&self, id: &SignatureId) -> Result<SignatureState> {
        self.session().status(id).await
    }

    /// The whole flow under a signature: children and callbacks, recursively, read in one call. Nodes that expired
    /// are left out.
    pub async fn tree(&self, id: &SignatureId) -> Result<FlowTree> {
        self.session().tree(id).await
    }

    /// Waits until a signature has finished (done, failed or canceled) and returns its final state; with a
    /// `timeout`, fails with [`Error::WaitTimeout`] when it takes longer.
    pub async fn wait(&self, id: &SignatureId, timeout: Option<Duration>) -> Result<SignatureState> {
        self.session().wait(id, timeout).await
    }

    /// A future that completes when signature `id` finishes, for tools that follow flows (it may also complete
    /// when the store reconnected and a notice could have been lost: read the state again then). A signature's end
    /// is announced only to waiters counted on it; this counts one.
    pub async fn finish_notice(&self, id: &SignatureId) -> Result<Notified> {
        self.session().finish_notice(id).await
    }

    async fn lifecycle(&self, op: Lifecycle, id: &SignatureId) -> Result<()> {
        self.session().lifecycle(op, id).await
    }

    /// Suspends a signature and everything in it: nothing new starts (a run that starts anyway is canceled and
    /// keeps its input); running tasks finish. Harmless to call twice.
    pub async fn suspend(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Suspend, id).await
    }

    /// Like [`suspend`](Self::suspend), and also aborts running tasks through the backend; they run again on
    /// resume.
    pub async fn interrupt(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Interrupt, id).await
    }

    /// Resumes what was suspended or interrupted: runs that were stopped are dispatched again, exactly once.
    pub async fn resume(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Resume, id).await
    }

    /// Ends a signature and everything in it for good: running tasks are aborted, no callback of it runs, and its
    /// parent (if any) sees it as failed.
    pub async fn cancel(&self, id: &SignatureId) -> Result<()> {
        self.lifecycle(Lifecycle::Cancel, id).await
    }

    /// Dispatches again the runs dispatched more than `older_than` ago that never began, and the runs whose lease
    /// expired (their worker died or was cut off); returns how many.
    pub async fn recover(&self, older_than: Duration) -> Result<usize> {
        self.engine().recover(older_than, 10_000).await
    }

    /// A batch: creations, starts, item additions and argument updates applied in one atomic write.
    pub fn batch(&self) -> Batch {
        Batch::new(self.session().clone())
    }

    /// Runs a flow (of any kind: a task, a chain, a swarm, a `flow!`) with `input` and waits for its output. The
    /// input of every task that starts at once is checked against its JSON schema first, and on any error nothing is
    /// stored.
    pub async fn run<I: Serialize, O: DeserializeOwned, K>(&self, flow: Flow<I, O, K>, input: I) -> Result<O> {
        self.run_no_wait(flow, input).await?.result().await
    }

    /// Stores a flow and starts it with `input`; returns at once with a handle on it, of the flow's kind (a swarm's
    /// handle can [`add`](Handle::add) items). Like [`run`](Self::run), it checks the input first and stores nothing
    /// on any error.
    pub async fn run_no_wait<I: Serialize, O, K>(&self, flow: Flow<I, O, K>, input: I) -> Result<Handle<I, O, K>> {
        let node = flow.into_checked()?;
        let message = serde_json::to_value(&input)
            .map_err(|source| Error::Serialize { what: format!("the input of `{}`", node.name()), source })?;
        let id = self.session().start(node, message).await?;
        Ok(Handle::new(self.session().clone(), id))
    }

    /// Stores a flow (and its callbacks) without running it; start it later with [`Handle::start`].
    pub async fn create<I, O, K>(&self, flow: Flow<I, O, K>) -> Result<Handle<I, O, K>> {
        let node = flow.into_checked()?;
        let id = self.session().create(node).await?;
        Ok(Handle::new(self.session().clone(), id))
    }

    /// A flow from its JSON description, checked against the tasks this client knows before anything is stored:
    /// the shape, the task names, that bound arguments are fields of the tasks' inputs, and that bound values
    /// (other than objects, which are merged into the input) fit those fields' schemas. The input is checked when
    /// the flow runs.
    ///
    /// A node is
    /// - a task name: `"extract"`;
    /// - a task: `{"task": "clean", "bind": {"field": value, ...}}`;
    /// - a chain: `{"chain": [node, node, ...], "name": "etl"}` (at least two steps);
    /// - a swarm: `{"swarm": [node, ...], "name": "fan-out", "max_concurrency": 10, "stop_after_failures": 2,
    ///   "max_items": 20, "outputs_only": false, "open": false}`;
    ///
    /// and any node may have `"bind"`, `"on_success"` and `"on_error"` (a node or a list of nodes). A swarm built
    /// this way keeps the runtime's defaults (no failure threshold, results listing every item's outcome) unless
    /// told otherwise; `"outputs_only": true` (with `"stop_after_failures": 1`) makes it list outputs only, like a
    /// swarm of `flow!`.
    ///
    /// ```
    /// # async fn example(client: mageflow_runtime::Mageflow) -> mageflow_runtime::Result<()> {
    /// use serde_json::json;
    /// let flow = client
    ///     .flow_from_json(&json!({"chain": [
    ///         "extract",
    ///         {"task": "clean", "bind": {"strict": true}},
    ///         {"swarm": ["load-a", "load-b"], "max_concurrency": 2},
    ///     ]}))
    ///     .await?;
    /// let results = client.run(flow, json!({"source": "s3://bucket"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn flow_from_json(&self, description: &Value) -> Result<Flow<Value, Value>> {
        let flow = Flow::from_json(description)?;
        self.session().resolve(flow.node()).await?;
        json::check_bound_values(self.session(), flow.node()).await?;
        Ok(flow)
    }

    /// A page of root flows (the flows stored by `run`, `create` or a batch; not their steps or callbacks) that
    /// match `filter`, newest first. Flows leave the index when their state expires.
    pub async fn flows(&self, filter: &FlowFilter) -> Result<FlowPage> {
        self.session().flows(filter).await
    }

    /// Runs dispatched more than `older_than` ago that never began, and runs whose lease expired (their worker died
    /// or was cut off), oldest first: what the recovery sweep will dispatch again.
    pub async fn stuck(&self, older_than: Duration) -> Result<Vec<StuckRun>> {
        self.session().stuck(older_than).await
    }

    /// The task definitions published under this client's key prefix by every client that registered tasks (each
    /// publishes its own when it is built), sorted by name. Empty when no such client ever ran with this prefix.
    pub async fn task_definitions(&self) -> Result<Vec<TaskDefinition>> {
        definitions::list(self.store().as_ref(), self.key_prefix()).await
    }

    /// Stops the worker: no new runs start; running ones get up to `deadline` to finish, then are aborted. Only
    /// the client that was built (or a clone of it) can; the client a task run gets cannot stop its own worker.
    pub async fn shutdown(&self, deadline: Duration) -> Result<()> {
        let Some(runner) = &self.inner.runner else {
            return Err(Error::Config(
                "this client was handed to a task run: shut the worker down with the client that was built".to_owned(),
            ));
        };
        if let Ok(mut sweeper) = self.inner.sweeper.lock()
            && let Some(sweeper) = sweeper.take()
        {
            sweeper.abort();
        }
        Ok(runner.shutdown(deadline).await?)
    }
}

impl TaskContext {
    /// The client running this task, to build the flows it starts or continues with; `None` when the handler is
    /// called directly.
    pub fn client(&self) -> Option<&Mageflow> {
        self.client.as_ref()?.downcast_ref()
    }

    pub(crate) fn with_client(mut self, client: Mageflow) -> Self {
        self.client = Some(Arc::new(client));
        self
    }
}

impl std::fmt::Debug for Mageflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mageflow").field("prefix", &self.key_prefix()).finish_non_exhaustive()
    }
}
