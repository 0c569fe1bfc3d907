//! The apalis backend against a real `redis-server` and real apalis workers: duplicate deliveries run once, an
//! interrupt reaches the worker that runs the task, and shutdown aborts what outlives its deadline, whose apalis job
//! apalis then delivers again.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mageflow::backend::{BackendError, Interrupt, Run, Worker};
use mageflow::{Dispatcher, Mageflow, MageflowBuilder, Outcome, Runner, Status, TaskError, TaskInput, task};
use mageflow_apalis::{ApalisBackend, ApalisBackendOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use support::{RedisServer, WAIT};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Num {
    n: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Collected {
    #[mageflow(return_value)]
    outcomes: Vec<Outcome<Num>>,
}

/// Executions of `twice_item` by item, and of `twice_done`.
static ITEM_RUNS: Mutex<BTreeMap<i64, usize>> = Mutex::new(BTreeMap::new());
static DONE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[task]
async fn twice_item(input: Num) -> Result<Num, TaskError> {
    *ITEM_RUNS.lock().unwrap().entry(input.n).or_default() += 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(Num { n: input.n * 2 })
}

#[task]
async fn twice_done(input: Collected) -> Result<usize, TaskError> {
    DONE_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(input.outcomes.len())
}

/// Dispatches every run twice in one push: the redelivery the engine must absorb.
#[derive(Clone, Debug)]
struct Twice(ApalisBackend);

#[async_trait]
impl Dispatcher for Twice {
    async fn dispatch(&self, runs: Vec<Run>) -> Result<(), BackendError> {
        self.0.dispatch(runs.iter().flat_map(|run| [run.clone(), run.clone()]).collect()).await
    }

    async fn interrupt(&self, runs: &[Interrupt]) -> Result<(), BackendError> {
        self.0.interrupt(runs).await
    }
}

#[async_trait]
impl Runner for Twice {
    async fn start(&self, worker: Worker) -> Result<(), BackendError> {
        self.0.start(worker).await
    }

    async fn shutdown(&self, deadline: Duration) -> Result<(), BackendError> {
        self.0.shutdown(deadline).await
    }
}

fn options(name: &str, queue: &str) -> ApalisBackendOptions {
    ApalisBackendOptions::new(name).queue(queue).heartbeat(Duration::from_secs(1), 2)
}

fn builder(redis: &RedisServer, prefix: &str) -> MageflowBuilder {
    Mageflow::builder().redis_url(redis.url.clone()).key_prefix(prefix).recovery(None, Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_delivered_twice_runs_once_across_two_workers() {
    let redis = RedisServer::start();
    let mut workers = Vec::new();
    for name in ["a", "b"] {
        let backend = ApalisBackend::connect(&redis.url, options(name, "twice")).await.unwrap();
        let client = builder(&redis, "twice").task(twice_item).task(twice_done).backend(Twice(backend.clone()));
        workers.push((client.build().await.unwrap(), backend));
    }
    let client = &workers[0].0;
    let items: Vec<_> = (0..40).map(|n| client.sign(twice_item).arg("n", n)).collect();
    let callback = client.sign(twice_done);
    let callback_id = callback.id().clone();
    let done =
        client.run_no_wait(client.swarm(items).max_concurrency(10).on_success(callback), json!({})).await.unwrap();
    let state = done.wait(Some(WAIT)).await.unwrap();
    assert_eq!(state.status, Status::Done);
    let outcomes: Vec<Outcome<Num>> = serde_json::from_value(state.result.unwrap()).unwrap();
    let values: Vec<_> = outcomes.into_iter().map(Outcome::ok).collect();
    assert_eq!(values, (0..40).map(|n| Some(Num { n: n * 2 })).collect::<Vec<_>>());
    let callback_state = client.wait(&callback_id, Some(WAIT)).await.unwrap();
    assert_eq!((callback_state.status, callback_state.result), (Status::Done, Some(json!(40))));
    assert_eq!(DONE_RUNS.load(Ordering::SeqCst), 1, "the callback ran once, though delivered twice");
    let runs = ITEM_RUNS.lock().unwrap().clone();
    assert_eq!(runs, (0..40).map(|n| (n, 1)).collect::<BTreeMap<_, _>>(), "each item ran once");
}

/// Set when `endless` starts; counts its handlers dropped (aborted).
static ENDLESS_STARTED: Notify = Notify::const_new();
static ENDLESS_ABORTED: Notify = Notify::const_new();

struct OnDrop(&'static Notify);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

#[task]
async fn endless(input: Num) -> Result<Num, TaskError> {
    let _guard = OnDrop(&ENDLESS_ABORTED);
    ENDLESS_STARTED.notify_one();
    std::future::pending::<()>().await;
    Ok(input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_from_another_client_aborts_the_run_where_it_runs() {
    let redis = RedisServer::start();
    // a 60 s lease is renewed every 20 s: only the published interrupt can abort the handler within the wait
    let worker_backend = ApalisBackend::connect(&redis.url, options("worker", "interrupts")).await.unwrap();
    let _worker = builder(&redis, "interrupts")
        .run_lease(Duration::from_secs(60))
        .task(endless)
        .backend(worker_backend.clone())
        .build()
        .await
        .unwrap();
    let producer_backend =
        ApalisBackend::connect(&redis.url, options("producer", "interrupts").dispatch_only()).await.unwrap();
    let producer = builder(&redis, "interrupts").task(endless).backend(producer_backend).build().await.unwrap();
    let handle = producer.run_no_wait(producer.sign(endless), Num { n: 1 }).await.unwrap();
    tokio::time::timeout(WAIT, ENDLESS_STARTED.notified()).await.expect("the task starts on the worker");
    assert_eq!(worker_backend.running(), 1);
    producer.interrupt(handle.id()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), ENDLESS_ABORTED.notified())
        .await
        .expect("the worker aborts the handler when the interrupt is published");
    assert_eq!(handle.status().await.unwrap().status, Status::Interrupted);
}

static STUCK_RUNS: AtomicUsize = AtomicUsize::new(0);
static STUCK_STARTED: Notify = Notify::const_new();

/// Hangs on its first execution; finishes on the next.
#[task]
async fn stuck_once(input: Num) -> Result<Num, TaskError> {
    let runs = STUCK_RUNS.fetch_add(1, Ordering::SeqCst);
    STUCK_STARTED.notify_one();
    if runs == 0 {
        std::future::pending::<()>().await;
    }
    Ok(Num { n: input.n + 1 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_a_run_past_its_deadline_and_apalis_delivers_it_again() {
    let redis = RedisServer::start();
    let build = |name: &'static str| {
        let url = redis.url.clone();
        let redis = &redis;
        async move {
            let backend = ApalisBackend::connect(&url, options(name, "shutdown")).await.unwrap();
            // a lease far longer than the test: the aborted execution must end it, or the next delivery is busy
            let client = builder(redis, "shutdown").run_lease(Duration::from_secs(60)).task(stuck_once);
            (client.backend(backend.clone()).build().await.unwrap(), backend)
        }
    };
    let (first, first_backend) = build("first").await;
    let handle = first.run_no_wait(first.sign(stuck_once), Num { n: 1 }).await.unwrap();
    tokio::time::timeout(WAIT, STUCK_STARTED.notified()).await.expect("the task starts");
    first_backend.shutdown(Duration::from_millis(200)).await.unwrap();
    assert_eq!(first_backend.running(), 0, "the run past the deadline was aborted");
    // no recovery sweep runs anywhere: the run comes back because apalis delivers its failed job again, and runs
    // at once because the aborted execution released its lease
    let (second, _) = build("second").await;
    let state = second.wait(handle.id(), Some(WAIT)).await.unwrap();
    assert_eq!((state.status, state.result), (Status::Done, Some(json!({"n": 2}))));
    assert_eq!(STUCK_RUNS.load(Ordering::SeqCst), 2, "the aborted execution and the one apalis delivered again");
    drop(first);
}

#[tokio::test]
async fn bad_options_and_unreachable_redis_are_clear_errors() {
    let error = ApalisBackend::connect("redis://127.0.0.1:1", ApalisBackendOptions::default()).await.unwrap_err();
    assert!(error.to_string().contains("is redis-server running there?"), "{error}");
    let error =
        ApalisBackend::connect_lazy("redis://127.0.0.1:1", ApalisBackendOptions::default().queue("a:b")).unwrap_err();
    assert!(error.to_string().contains("no `:`"), "{error}");
    let lazy = ApalisBackend::connect_lazy("redis://127.0.0.1:1", ApalisBackendOptions::default()).unwrap();
    assert!(lazy.dispatch(Vec::new()).await.is_ok(), "nothing to push needs no connection");
    let run = Run { signature_id: "sig1".parse().unwrap(), token: 1, task: "t".into(), input: json!({}), trace: None };
    let error = lazy.dispatch(vec![run]).await.unwrap_err();
    assert!(matches!(error, BackendError::Dispatch { .. }), "{error}");
    assert!(error.to_string().contains("cannot reach the apalis queue's Redis at redis://127.0.0.1:1"), "{error}");
}

#[task]
async fn increment(input: Num) -> Result<Num, TaskError> {
    Ok(Num { n: input.n + 1 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_is_woken_by_each_dispatch_not_by_its_heartbeat() {
    let redis = RedisServer::start();
    // heartbeats every 30 s: a step that waited for one would blow the 5 s limit below
    let slow_heartbeat = |name: &str| options(name, "wakeups").heartbeat(Duration::from_secs(30), 2);
    let worker_backend = ApalisBackend::connect(&redis.url, slow_heartbeat("worker")).await.unwrap();
    let _worker = builder(&redis, "wakeups").task(increment).backend(worker_backend).build().await.unwrap();
    let producer_backend =
        ApalisBackend::connect(&redis.url, slow_heartbeat("producer").dispatch_only()).await.unwrap();
    let producer = builder(&redis, "wakeups").task(increment).backend(producer_backend).build().await.unwrap();
    // one task at a time from the other client: the worker is idle when each arrives (a chain would not show it:
    // the worker pushes each next step itself and fetches again as the step ends)
    let rounds = async {
        for n in 0..10 {
            let handle = producer.run_no_wait(producer.sign(increment), Num { n }).await.unwrap();
            let state = handle.wait(Some(Duration::from_secs(5))).await.unwrap();
            assert_eq!((state.status, state.result), (Status::Done, Some(json!({"n": n + 1}))));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), rounds).await.expect("ten dispatches, ten wake-ups, well within 5 s");
}
