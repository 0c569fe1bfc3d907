//! Two worker processes share a 200-item swarm and a 3-step chain on one apalis-redis queue; one of them is killed
//! with SIGKILL in the middle. Every flow still completes exactly once: each item's result recorded once, in its
//! position; each success callback runs once; the items and steps the dead worker was running run again on the
//! other worker, as their second attempt, and nothing else runs twice.
//!
//! What brings the dead worker's runs back is mageflow's run leases: the survivor's recovery sweep finds their
//! leases expired (600 ms after the last renewal) and dispatches them again as new apalis jobs with a new dispatch
//! token. apalis' orphan recovery (the dead worker misses two 1 s heartbeats) later puts the dead worker's own jobs
//! back in the queue too; they are stale by then and skipped, which the test reads in the results apalis keeps.
//!
//! The test binary is its own worker: started with `MAGEFLOW_APALIS_KILL_WORKER=<name>` it runs an apalis worker
//! until its stdin closes. Workers record what they run in Redis and print `APALISKILL ...` lines.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt as _;
use mageflow::{Mageflow, Outcome, RedisStore, Status, TaskContext, TaskError, TaskInput, task};
use mageflow_apalis::apalis::prelude::{TaskId, WaitForCompletion};
use mageflow_apalis::{ApalisBackend, ApalisBackendOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use support::RedisServer;
use support::processes::{Recorder, Said, next, say, spawn_child, until_stdin_closes};

const ROLE: &str = "MAGEFLOW_APALIS_KILL_WORKER";
const PREFIX_VAR: &str = "MAGEFLOW_APALIS_KILL_PREFIX";
const TAG: &str = "APALISKILL";
const ITEMS: i64 = 200;
const TIMEOUT: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_millis(600);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Item {
    tag: String,
    n: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Collected {
    #[mageflow(return_value)]
    outcomes: Vec<Outcome<Item>>,
}

/// Records a run (`what:worker:attempt`) in Redis, says so, works 100 ms and says it finished.
async fn work(what: String, attempt: u32) -> Result<(), TaskError> {
    let r = Recorder::get();
    let entry = format!("{what}:{}:{attempt}", r.name);
    r.record("return redis.call('RPUSH', ARGV[1], ARGV[2])", vec![format!("{}:runs", r.prefix), entry]).await?;
    say(TAG, format!("STARTED {what}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    say(TAG, format!("FINISHED {what}"));
    Ok(())
}

/// Counts a callback's runs in Redis.
async fn count(callback: &str) -> Result<(), TaskError> {
    let r = Recorder::get();
    r.record("return redis.call('HINCRBY', ARGV[1], ARGV[2], 1)", vec![format!("{}:counts", r.prefix), callback.into()])
        .await
}

#[task(retries = 2)]
async fn kill_item(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    work(format!("item{}", input.n), ctx.attempt).await?;
    Ok(Item { n: input.n * 10, ..input })
}

#[task(retries = 2)]
async fn kill_step(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    work(format!("step{}", input.n), ctx.attempt).await?;
    Ok(Item { n: input.n + 1, ..input })
}

#[task]
async fn kill_swarm_done(input: Collected) -> Result<usize, TaskError> {
    count("swarm_done").await?;
    Ok(input.outcomes.len())
}

#[task]
async fn kill_chain_done(input: Item) -> Result<Item, TaskError> {
    count("chain_done").await?;
    Ok(input)
}

fn builder(url: &str, prefix: &str) -> mageflow::MageflowBuilder {
    Mageflow::builder()
        .redis_url(url)
        .key_prefix(prefix)
        .run_lease(LEASE)
        .task(kill_item)
        .task(kill_step)
        .task(kill_swarm_done)
        .task(kill_chain_done)
}

fn options(name: &str, prefix: &str) -> ApalisBackendOptions {
    ApalisBackendOptions::new(name).queue(format!("apalis-{prefix}")).heartbeat(Duration::from_secs(1), 2)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match std::env::var(ROLE) {
        Ok(name) => runtime.block_on(worker(name)),
        Err(_) => {
            runtime.block_on(a_killed_apalis_worker_leaves_every_flow_complete_exactly_once());
            println!("test a_killed_apalis_worker_leaves_every_flow_complete_exactly_once ... ok");
        }
    }
}

/// A worker process: four runs at once, and a recovery sweep every 100 ms, until its stdin closes.
async fn worker(name: String) {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL is set");
    let prefix = std::env::var(PREFIX_VAR).expect("the key prefix is set");
    let store = RedisStore::connect(&url).await.expect("Redis is up");
    Recorder::install(Recorder { store, prefix: prefix.clone(), name: name.clone() });
    let backend = ApalisBackend::connect(&url, options(&name, &prefix).concurrency(4)).await.expect("apalis' Redis");
    let _client = builder(&url, &prefix)
        .recovery(Some(Duration::from_millis(100)), Duration::from_secs(5))
        .backend(backend)
        .build()
        .await
        .expect("the worker starts");
    say(TAG, "READY");
    until_stdin_closes().await;
}

async fn a_killed_apalis_worker_leaves_every_flow_complete_exactly_once() {
    let redis = RedisServer::start();
    let prefix = format!("apaliskill{}", std::process::id());
    let env = [("REDIS_URL", redis.url.clone()), (PREFIX_VAR, prefix.clone())];
    let (tx, mut said) = mpsc::unbounded_channel();
    let spawn_worker = |index: usize, said| spawn_child(index, (ROLE, &format!("worker-{index}")), TAG, &env, said);
    let mut workers = vec![spawn_worker(0, tx.clone()), spawn_worker(1, tx)];
    let mut ready = 0;
    while ready < 2 {
        match next(&mut said, TIMEOUT).await {
            Said::Line(_, line) if line == "READY" => ready += 1,
            other => panic!("a worker said {other:?} before it was ready"),
        }
    }

    // this process only dispatches
    let backend = ApalisBackend::connect(&redis.url, options("producer", &prefix).dispatch_only()).await.unwrap();
    let client = builder(&redis.url, &prefix).recovery(None, Duration::ZERO).backend(backend.clone()).build().await;
    let client = client.unwrap();
    let items: Vec<_> = (0..ITEMS).map(|n| client.sign(kill_item).arg("n", n)).collect();
    let swarm = client.swarm(items).max_concurrency(20).on_success(client.sign(kill_swarm_done));
    let swarm = client.run_no_wait(swarm, json!({"tag": "kill"})).await.unwrap();
    let chain = client.chain([client.sign(kill_step), client.sign(kill_step), client.sign(kill_step)]);
    let chain =
        client.run_no_wait(chain.on_success(client.sign(kill_chain_done)), json!({"tag": "chain", "n": 0})).await;
    let chain = chain.unwrap();

    let victim = format!("worker-0-{}-0", workers[0].child.id());
    // worker 0 is killed once it has started twelve runs (it runs four at once, so some are in flight)
    let mut started: [BTreeSet<String>; 2] = Default::default();
    let mut finished: [BTreeSet<String>; 2] = Default::default();
    let mut killed = false;
    let mut victim_closed = false;
    while !victim_closed {
        match next(&mut said, TIMEOUT).await {
            Said::Line(index, line) => {
                if let Some(what) = line.strip_prefix("STARTED ") {
                    started[index].insert(what.to_owned());
                } else if let Some(what) = line.strip_prefix("FINISHED ") {
                    finished[index].insert(what.to_owned());
                }
                if !killed && started[0].len() >= 12 {
                    workers[0].child.kill().expect("SIGKILL the worker");
                    killed = true;
                }
            }
            Said::Closed(0) if killed => victim_closed = true,
            Said::Closed(index) => panic!("worker {index} stopped on its own"),
        }
    }

    // the apalis jobs the dead worker held, read at once (apalis' orphan recovery empties this set 2 to 3 s later)
    let redis_client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = redis_client.get_multiplexed_async_connection().await.unwrap();
    let inflight = format!("apalis-{prefix}:inflight:{victim}");
    let held: Vec<String> = redis::cmd("SMEMBERS").arg(&inflight).query_async(&mut conn).await.unwrap();

    let done = swarm.wait(Some(TIMEOUT)).await.unwrap();
    assert_eq!(done.status, Status::Done);
    let progress = done.swarm.clone().unwrap();
    assert_eq!((progress.items, progress.succeeded, progress.failed, progress.running), (200, 200, 0, 0));
    let outcomes: Vec<Outcome<Item>> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes.len(), ITEMS as usize, "each item's result recorded once");
    for (n, outcome) in outcomes.into_iter().enumerate() {
        assert_eq!(outcome.ok(), Some(Item { tag: "kill".into(), n: n as i64 * 10 }), "item {n} in its position");
    }
    let chained = chain.wait(Some(TIMEOUT)).await.unwrap();
    assert_eq!((chained.status, chained.result), (Status::Done, Some(json!({"tag": "chain", "n": 3}))));
    for id in [swarm.id(), chain.id()] {
        for callback in client.status(id).await.unwrap().success_callbacks {
            let state = client.wait(&callback, Some(TIMEOUT)).await.unwrap();
            assert_eq!(state.status, Status::Done, "{callback}");
        }
    }
    let store = client.store();
    let counts = support::read_hash(store.as_ref(), &format!("{prefix}:counts")).await;
    let expected: BTreeMap<String, String> =
        ["chain_done", "swarm_done"].iter().map(|name| (name.to_string(), "1".to_owned())).collect();
    assert_eq!(counts.into_iter().collect::<BTreeMap<_, _>>(), expected, "each callback ran exactly once");

    // every item and step ran; those the killed worker had begun and not finished ran again on the other worker,
    // as attempt 2, and nothing else ran twice
    let mut runs: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for entry in support::read_list(store.as_ref(), &format!("{prefix}:runs")).await {
        let parts: Vec<&str> = entry.split(':').collect();
        runs.entry(parts[0].to_owned()).or_default().push((parts[1].to_owned(), parts[2].parse().unwrap()));
    }
    let mut expected_names: BTreeSet<String> = (0..ITEMS).map(|n| format!("item{n}")).collect();
    expected_names.extend((0..3).map(|n| format!("step{n}")));
    assert_eq!(runs.keys().cloned().collect::<BTreeSet<_>>(), expected_names, "every item and step ran");
    let on_victim: BTreeSet<String> =
        runs.iter().filter(|(_, r)| r.iter().any(|(w, _)| w == "worker-0")).map(|(n, _)| n.clone()).collect();
    let in_flight: BTreeSet<String> = on_victim.difference(&finished[0]).cloned().collect();
    assert!(!in_flight.is_empty(), "the killed worker was running: {on_victim:?}, finished {:?}", finished[0]);
    let rerun: BTreeSet<String> = runs.iter().filter(|(_, r)| r.len() > 1).map(|(n, _)| n.clone()).collect();
    assert_eq!(rerun, in_flight, "exactly the runs in flight on the killed worker ran again");
    for what in &rerun {
        assert_eq!(runs[what], vec![("worker-0".to_owned(), 1), ("worker-1".to_owned(), 2)], "{what}");
    }
    println!(
        "worker-0 killed after starting {} runs, {} of them unfinished, which ran again on worker-1 as attempt 2",
        on_victim.len(),
        in_flight.len()
    );

    // apalis' orphan recovery puts the jobs the dead worker held back in the queue; the survivor runs them, and they
    // are stale (their runs were dispatched again with a new token) or, for a job fetched and not yet begun, run
    // for the first time
    assert!(held.len() >= in_flight.len(), "the dead worker held its running jobs: {held:?}");
    let ids: Vec<TaskId> = held.iter().map(|id| id.parse().unwrap()).collect();
    let mut storage = backend.storage().await.unwrap();
    let results: Vec<_> = tokio::time::timeout(TIMEOUT, storage.wait_for(ids).take(held.len()).collect::<Vec<_>>())
        .await
        .expect("apalis re-enqueued the dead worker's jobs and they ran");
    let mut reasons = BTreeMap::new();
    for result in results {
        let result: mageflow_apalis::apalis::prelude::TaskResult<serde_json::Value> = result.unwrap();
        let value = result.result.unwrap();
        let reason = value.get("reason").or(value.get("mageflow")).cloned().unwrap_or_default();
        *reasons.entry(reason.as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(reasons.get("stale").copied().unwrap_or(0), in_flight.len(), "{reasons:?}");
    println!("apalis re-enqueued the {} jobs the dead worker held: {reasons:?}", held.len());
    drop(workers);
}
