//! The Hatchet backend against the fake engine: what it declares, what it refuses, metadata that is never
//! inherited, interrupts that abort the handler, runs Hatchet gives up on, and doubled deliveries.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use mageflow::backend::{BackendError, Interrupt, Run, Worker};
use mageflow::{Dispatcher, ErrorKind, Failure, Mageflow, Node, Outcome, Runner, Status, TaskContext, TaskError, task};
use mageflow_hatchet::fake::{FakeConfig, FakeHatchet, RunState};
use mageflow_hatchet::{Connection, HatchetBackend, HatchetBackendOptions, TaskOutcome, TriggerRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use support::{RedisServer, TestStore, WAIT, finished};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Msg {
    tag: String,
    n: i64,
}

fn msg(tag: &str, n: i64) -> Msg {
    Msg { tag: tag.to_owned(), n }
}

/// What the tasks below saw, per tag: (task, signature id, metadata).
type Seen = Vec<(&'static str, String, serde_json::Map<String, Value>)>;
static SEEN: LazyLock<Mutex<HashMap<String, Seen>>> = LazyLock::new(Default::default);

fn see(tag: &str, task: &'static str, ctx: &TaskContext) {
    let entry = (task, ctx.signature_id.to_string(), ctx.metadata.clone());
    SEEN.lock().unwrap().entry(tag.to_owned()).or_default().push(entry);
}

fn seen(tag: &str, task: &str) -> Seen {
    SEEN.lock().unwrap().get(tag).into_iter().flatten().filter(|(t, ..)| *t == task).cloned().collect()
}

/// Counts runs that entered, runs aborted midway, and lets runs through one permit at a time.
struct Gate {
    entered: Mutex<u32>,
    aborted: Mutex<u32>,
    changed: Notify,
    release: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { entered: Mutex::new(0), aborted: Mutex::new(0), changed: Notify::new(), release: Semaphore::new(0) }
    }
}

static GATES: LazyLock<Mutex<HashMap<String, Arc<Gate>>>> = LazyLock::new(Default::default);

fn gate(tag: &str) -> Arc<Gate> {
    GATES.lock().unwrap().entry(tag.to_owned()).or_default().clone()
}

/// Waits until `read` of the tag's gate reaches `count`.
async fn gate_reaches(tag: &str, count: u32, read: fn(&Gate) -> u32) {
    let gate = gate(tag);
    tokio::time::timeout(WAIT, async {
        loop {
            let changed = gate.changed.notified();
            if read(&gate) >= count {
                return;
            }
            changed.await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the gate of `{tag}` did not reach {count}"));
}

/// Counts an abort when dropped before being disarmed.
struct AbortGuard(Option<Arc<Gate>>);

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            *gate.aborted.lock().unwrap() += 1;
            gate.changed.notify_waiters();
        }
    }
}

/// Waits at the tag's gate; counts an abort if dropped while waiting.
#[task]
async fn gated(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    see(&input.tag, "gated", &ctx);
    let gate = gate(&input.tag);
    let mut guard = AbortGuard(Some(gate.clone()));
    *gate.entered.lock().unwrap() += 1;
    gate.changed.notify_waiters();
    gate.release.acquire().await.map_err(|_| TaskError::new("gate closed"))?.forget();
    guard.0 = None;
    Ok(input)
}

/// Adds one.
#[task(retries = 3)]
async fn plus_one(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    see(&input.tag, "plus-one", &ctx);
    Ok(Msg { n: input.n + 1, ..input })
}

/// Takes 20 ms at most.
#[task(timeout = "20ms", retries = 1)]
async fn quick(input: Msg) -> Result<Msg, TaskError> {
    Ok(input)
}

/// An error callback.
#[task]
async fn report(failure: Failure<Msg>, ctx: TaskContext) -> Result<(), TaskError> {
    see(&failure.input.tag, "report", &ctx);
    Ok(())
}

static PARENT_CLIENT: OnceLock<Mageflow> = OnceLock::new();

/// Runs `plus-one` as a flow of its own from inside its handler and returns its result.
#[task]
async fn spawner(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    see(&input.tag, "spawner", &ctx);
    let client = PARENT_CLIENT.get().ok_or_else(|| TaskError::non_retryable("no client"))?;
    client.run(client.sign(plus_one), input).await.map_err(|error| TaskError::non_retryable(error.to_string()))
}

fn tasks(builder: mageflow::MageflowBuilder) -> mageflow::MageflowBuilder {
    builder.task(gated).task(plus_one).task(quick).task(report).task(spawner).task(count_outcomes)
}

fn signature_in(metadata: &serde_json::Map<String, Value>) -> Option<&str> {
    metadata.get("mageflow_signature_id").and_then(Value::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_carry_the_task_options_and_schema() {
    let store = TestStore::hatchet().await;
    let _client = store.client(tasks).await;
    let fake = store.hatchet.as_ref().unwrap();
    let plus = fake.workflow("plus-one").expect("plus-one is declared");
    assert_eq!((plus.action.as_str(), plus.retries), ("plus-one:plus-one", 3));
    assert_eq!(plus.timeout, Some(Duration::from_secs(24 * 3600)), "no timeout: the backend's long default");
    let schema: Value = serde_json::from_str(plus.input_json_schema.as_deref().unwrap()).unwrap();
    assert_eq!(schema["properties"]["n"]["type"], json!("integer"), "{schema}");
    let timed = fake.workflow("quick").expect("quick is declared");
    assert_eq!(timed.retries, 1);
    assert_eq!(timed.timeout, Some(Duration::from_secs(6)), "20 ms plus the 5 s margin, in whole seconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_not_started_by_mageflow_fails_at_once_without_retries() {
    let store = TestStore::hatchet().await;
    let _client = store.client(tasks).await;
    let fake = store.hatchet.as_ref().unwrap();
    let connection = Connection::connect(fake.client_config().unwrap()).await.unwrap();
    let request = TriggerRequest::new("plus-one", json!({"tag": "plain", "n": 1}));
    let run_id = connection.trigger_workflow(&request).await.unwrap();
    let result = tokio::time::timeout(WAIT, connection.wait_for_run(&run_id)).await.unwrap().unwrap();
    let TaskOutcome::Failed(error) = result.outcome().unwrap() else { panic!("the run must fail") };
    assert!(error.contains("not dispatched by mageflow"), "{error}");
    let snapshot = fake.run(&run_id).unwrap();
    assert_eq!((snapshot.state, snapshot.deliveries), (RunState::Failed, 1), "no retry despite retries = 3");
    assert!(seen("plain", "plus-one").is_empty(), "the handler never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_from_a_handler_carry_their_own_signature_not_the_parents() {
    let store = TestStore::hatchet().await;
    let t = format!("{}-nested", store.prefix);
    let client = store.client(tasks).await;
    PARENT_CLIENT.set(client.clone()).unwrap_or_else(|_| panic!("one test sets the client"));
    let handle = client.run_no_wait(client.sign(spawner), msg(&t, 1)).await.unwrap();
    assert_eq!(handle.result_within(Some(WAIT)).await.unwrap(), msg(&t, 2));
    let parent = seen(&t, "spawner");
    let child = seen(&t, "plus-one");
    assert_eq!((parent.len(), child.len()), (1, 1));
    let (_, parent_id, parent_metadata) = &parent[0];
    let (_, child_id, child_metadata) = &child[0];
    assert_eq!(parent_id, &handle.id().to_string());
    assert_eq!(signature_in(parent_metadata), Some(parent_id.as_str()));
    assert_ne!(child_id, parent_id);
    assert_eq!(signature_in(child_metadata), Some(child_id.as_str()), "the child's metadata is its own");
    assert_eq!(child_metadata.len(), 2, "signature id and dispatch token only: {child_metadata:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_cancels_the_hatchet_run_and_aborts_its_handler() {
    let store = TestStore::hatchet().await;
    let t = format!("{}-abort", store.prefix);
    let client = store.client(tasks).await;
    let callback = client.sign(plus_one);
    let callback_id = callback.id().clone();
    let handle = client.run_no_wait(client.sign(gated).on_success(callback), msg(&t, 5)).await.unwrap();
    gate_reaches(&t, 1, |g| *g.entered.lock().unwrap()).await;
    client.interrupt(handle.id()).await.unwrap();
    gate_reaches(&t, 1, |g| *g.aborted.lock().unwrap()).await;
    assert_eq!(handle.status().await.unwrap().status, Status::Interrupted);
    // resumed at once: the cancelled run's late report must not fail the new run
    handle.resume().await.unwrap();
    gate_reaches(&t, 2, |g| *g.entered.lock().unwrap()).await;
    gate(&t).release.add_permits(1);
    assert_eq!(handle.result_within(Some(WAIT)).await.unwrap(), msg(&t, 5));
    assert_eq!(finished(&client, &callback_id).await.result, Some(json!({"tag": t, "n": 6})));
    assert_eq!(*gate(&t).aborted.lock().unwrap(), 1, "only the interrupted run was aborted");
    let runs = seen(&t, "gated");
    assert_eq!(runs.len(), 2);
    let tokens: Vec<&Value> = runs.iter().map(|(_, _, m)| &m["mageflow_dispatch_token"]).collect();
    assert_ne!(tokens[0], tokens[1], "the resumed run is a new dispatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_hatchet_gives_up_on_is_recorded_as_failed_by_the_dispatcher() {
    let redis = RedisServer::start();
    // a worker that stops heartbeating loses its runs after 500 ms, and they are not reassigned
    let config =
        FakeConfig { inactivity_timeout: Duration::from_millis(500), max_internal_retries: 0, ..Default::default() };
    let fake = FakeHatchet::start(config).await.unwrap();
    let prefix = "gave-up";
    let backend = |name: &str, options: fn(HatchetBackendOptions) -> HatchetBackendOptions| {
        let connection = Connection::connect_lazy(fake.client_config().unwrap()).unwrap();
        let options = options(HatchetBackendOptions::new(name).heartbeat_interval(Duration::from_millis(50)));
        HatchetBackend::new(connection, options)
    };
    let builder = || Mageflow::builder().redis_url(redis.url.clone()).key_prefix(prefix).recovery(None, Duration::ZERO);
    // the worker of `gated` (which will die), the worker of the error callback, and a client that only dispatches
    let doomed = builder().task(gated).backend(backend("doomed", |o| o)).build().await.unwrap();
    let _survivor = builder().task(report).backend(backend("survivor", |o| o)).build().await.unwrap();
    let client = builder().task(gated).task(report).backend(backend("producer", |o| o.dispatch_only())).build().await;
    let client = client.unwrap();

    let t = "gave-up-run";
    let error_callback = client.sign(report);
    let error_callback_id = error_callback.id().clone();
    let handle = client.run_no_wait(client.sign(gated).on_error(error_callback), msg(t, 1)).await.unwrap();
    gate_reaches(t, 1, |g| *g.entered.lock().unwrap()).await;
    // the worker dies: its handler is aborted and it stops heartbeating
    doomed.shutdown(Duration::ZERO).await.unwrap();
    let Err(mageflow::Error::Failed(failure)) = handle.result_within(Some(WAIT)).await else {
        panic!("the run must fail")
    };
    assert_eq!((failure.error.kind, failure.error.attempt), (ErrorKind::Error, 1));
    assert!(failure.error.message.contains("without its outcome reaching mageflow"), "{}", failure.error.message);
    assert!(failure.error.message.contains("stopped responding"), "{}", failure.error.message);
    assert_eq!(finished(&client, &error_callback_id).await.status, Status::Done);
    let reports = seen(t, "report");
    assert_eq!(reports.len(), 1, "the error callback runs once");
    assert_eq!(seen(t, "gated").len(), 1);
    assert_eq!(*gate(t).aborted.lock().unwrap(), 1);
}

/// Triggers every run twice on Hatchet: two runs with one dispatch token, which may run at once on two workers.
#[derive(Clone)]
struct Doubling(HatchetBackend);

#[async_trait::async_trait]
impl Dispatcher for Doubling {
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError> {
        let mut twice = runs.clone();
        twice.extend(runs);
        self.0.dispatch(twice).await
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError> {
        self.0.interrupt(runs).await
    }
}

#[async_trait::async_trait]
impl Runner for Doubling {
    async fn start(&self, worker: Worker) -> Result<(), BackendError> {
        self.0.start(worker).await
    }

    async fn shutdown(&self, deadline: Duration) -> Result<(), BackendError> {
        self.0.shutdown(deadline).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_with_every_hatchet_run_doubled_completes_once() {
    let store = TestStore::hatchet().await;
    let t = format!("{}-doubled", store.prefix);
    let doubled = || Doubling(store.hatchet_backend().unwrap());
    let client = tasks(store.builder()).backend(doubled()).build().await.unwrap();
    let _second = tasks(store.builder()).backend(doubled()).build().await.unwrap();
    let success = client.sign(count_outcomes);
    let success_id = success.id().clone();
    let items: Vec<Node> = (0..200).map(|n| client.sign(plus_one).arg("n", n).into()).collect();
    let handle = client
        .run_no_wait(client.swarm(items).max_concurrency(20).on_success(success), json!({"tag": t}))
        .await
        .unwrap();
    let done = handle.wait(Some(WAIT)).await.unwrap();
    assert_eq!(done.status, Status::Done);
    let outcomes: Vec<Outcome<Msg>> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes.len(), 200);
    for (n, outcome) in outcomes.into_iter().enumerate() {
        assert_eq!(outcome.ok(), Some(msg(&t, n as i64 + 1)), "item {n} once, in its position");
    }
    let progress = done.swarm.unwrap();
    assert_eq!((progress.succeeded, progress.failed, progress.running), (200, 0, 0));
    assert_eq!(finished(&client, &success_id).await.result, Some(json!(200)));
    assert_eq!(counted(&t), 1, "the success callback runs once");
    assert_eq!(
        seen(&t, "plus-one").len(),
        200,
        "each item's handler runs once: its second run is busy or finds it finished"
    );
}

static COUNTED: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

fn counted(tag: &str) -> u32 {
    COUNTED.lock().unwrap().get(tag).copied().unwrap_or(0)
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, mageflow::TaskInput)]
struct Outcomes {
    #[mageflow(return_value)]
    outcomes: Vec<Outcome<Msg>>,
}

/// Counts the swarm's outcomes; records one call per tag.
#[task]
async fn count_outcomes(input: Outcomes) -> Result<usize, TaskError> {
    let tag = input.outcomes.first().and_then(|o| o.clone().ok()).map(|m| m.tag).unwrap_or_default();
    *COUNTED.lock().unwrap().entry(tag).or_default() += 1;
    Ok(input.outcomes.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_prefixes_every_workflow_and_flows_still_run() {
    let store = TestStore::hatchet().await;
    let t = format!("{}-namespaced", store.prefix);
    let fake = store.hatchet.as_ref().unwrap();
    let backend = |name: &str| {
        let config = fake.client_config().unwrap().with_namespace("Staging");
        let options = HatchetBackendOptions::new(name).heartbeat_interval(Duration::from_millis(100));
        HatchetBackend::new(Connection::connect_lazy(config).unwrap(), options)
    };
    let client = tasks(store.builder()).backend(backend("a")).build().await.unwrap();
    let _second = tasks(store.builder()).backend(backend("b")).build().await.unwrap();
    assert!(fake.workflow("staging_plus-one").is_some(), "declared under the namespace");
    assert!(fake.workflow("plus-one").is_none());
    let chain = client.chain([client.sign(plus_one), client.sign(plus_one)]);
    let out =
        client.run_no_wait(chain, json!({"tag": t, "n": 1})).await.unwrap().result_within(Some(WAIT)).await.unwrap();
    assert_eq!(out, json!({"tag": t, "n": 3}));
    assert_eq!(seen(&t, "plus-one").len(), 2);
}
