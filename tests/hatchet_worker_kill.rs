//! Two worker processes share a 50-item swarm on the fake Hatchet engine and one Redis; one of them is killed with
//! SIGKILL in the middle. The swarm still completes exactly once: every item's result recorded once, in its
//! position; the items the dead worker was running run again on the other worker; the success callback runs once.
//!
//! The test binary is its own worker: started with `MAGEFLOW_KILL_TEST_WORKER=<name>` it runs a Hatchet worker
//! (configured from `HATCHET_CLIENT_*` and `REDIS_URL`) until its stdin closes. Workers record what they run in
//! Redis, since they are other processes, and print `KILLTEST STARTED <n>` / `KILLTEST FINISHED <n>` lines.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mageflow::{Mageflow, Outcome, RedisStore, Status, TaskContext, TaskError, TaskInput, task};
use mageflow_hatchet::fake::{FakeConfig, FakeHatchet};
use mageflow_hatchet::{Connection, HatchetBackend, HatchetBackendOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use support::RedisServer;
use support::processes::{Recorder, Said, next, say, spawn_child, until_stdin_closes};

const ROLE: &str = "MAGEFLOW_KILL_TEST_WORKER";
const PREFIX_VAR: &str = "MAGEFLOW_KILL_TEST_PREFIX";
const ITEMS: i64 = 50;
const TIMEOUT: Duration = Duration::from_secs(60);

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

const TAG: &str = "KILLTEST";

/// A swarm item: works 150 ms, recording each run (item, worker, attempt) in Redis.
#[task]
async fn kill_item(input: Item, ctx: TaskContext) -> Result<Item, TaskError> {
    let r = Recorder::get();
    let entry = format!("{}:{}:{}", input.n, r.name, ctx.attempt);
    r.record("return redis.call('RPUSH', ARGV[1], ARGV[2])", vec![format!("{}:kill:runs", r.prefix), entry]).await?;
    say(TAG, format!("STARTED {}", input.n));
    tokio::time::sleep(Duration::from_millis(150)).await;
    say(TAG, format!("FINISHED {}", input.n));
    Ok(Item { n: input.n * 10, ..input })
}

/// The swarm's success callback: counts its runs and the outcomes it got.
#[task]
async fn kill_done(input: Collected) -> Result<usize, TaskError> {
    let r = Recorder::get();
    let counts = format!("{}:kill:counts", r.prefix);
    let script =
        "redis.call('HINCRBY', ARGV[1], 'callback', 1) return redis.call('HINCRBY', ARGV[1], 'outcomes', ARGV[2])";
    r.record(script, vec![counts, input.outcomes.len().to_string()]).await?;
    Ok(input.outcomes.len())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match std::env::var(ROLE) {
        Ok(name) => runtime.block_on(worker(name)),
        Err(_) => {
            runtime.block_on(a_killed_worker_leaves_the_swarm_complete_exactly_once());
            println!("test a_killed_worker_leaves_the_swarm_complete_exactly_once ... ok");
        }
    }
}

/// A worker process: runs the tasks on Hatchet until its stdin closes.
async fn worker(name: String) {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL is set");
    let prefix = std::env::var(PREFIX_VAR).expect("the key prefix is set");
    let store = RedisStore::connect(&url).await.expect("Redis is up");
    Recorder::install(Recorder { store, prefix: prefix.clone(), name: name.clone() });
    let options = HatchetBackendOptions::new(name).slots(4).heartbeat_interval(Duration::from_millis(100));
    let backend = HatchetBackend::from_env(options).expect("the Hatchet environment is set");
    // the lease of a run expires well before the fake engine moves the runs of a silent worker (1 s), so the moved
    // runs may begin at once
    let _client = Mageflow::builder()
        .redis_url(url)
        .key_prefix(prefix)
        .recovery(None, Duration::ZERO)
        .run_lease(Duration::from_millis(300))
        .task(kill_item)
        .task(kill_done)
        .backend(backend)
        .build()
        .await
        .expect("the worker starts");
    say(TAG, "READY");
    until_stdin_closes().await;
}

async fn a_killed_worker_leaves_the_swarm_complete_exactly_once() {
    let redis = RedisServer::start();
    // workers beat every 100 ms; one silent for a second is dead and its runs go to the other
    let fake = FakeHatchet::start(FakeConfig { inactivity_timeout: Duration::from_secs(1), ..FakeConfig::default() })
        .await
        .unwrap();
    let prefix = format!("kill{}", std::process::id());
    let env = [
        ("REDIS_URL", redis.url.clone()),
        ("HATCHET_CLIENT_TOKEN", fake.token()),
        ("HATCHET_CLIENT_TLS_STRATEGY", "none".to_owned()),
        (PREFIX_VAR, prefix.clone()),
    ];
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
    let connection = Connection::connect(fake.client_config().unwrap()).await.unwrap();
    let backend = HatchetBackend::new(connection, HatchetBackendOptions::new("producer").dispatch_only());
    let client = Mageflow::builder()
        .redis_url(redis.url.clone())
        .key_prefix(prefix.clone())
        .recovery(None, Duration::ZERO)
        .task(kill_item)
        .task(kill_done)
        .backend(backend)
        .build()
        .await
        .unwrap();
    let callback = client.sign(kill_done);
    let callback_id = callback.id().clone();
    let items: Vec<_> = (0..ITEMS).map(|n| client.sign(kill_item).arg("n", n)).collect();
    let handle = client.run_no_wait(client.swarm(items).on_success(callback), json!({"tag": "kill"})).await.unwrap();

    // worker 0 is killed once it has started six items (it runs four at once, so some are in flight)
    let mut started: [BTreeSet<i64>; 2] = Default::default();
    let mut finished: [BTreeSet<i64>; 2] = Default::default();
    let item = |line: &str, word: &str| line.strip_prefix(word).and_then(|n| n.trim().parse::<i64>().ok());
    let mut killed = false;
    let mut victim_closed = false;
    while !victim_closed {
        match next(&mut said, TIMEOUT).await {
            Said::Line(index, line) => {
                if let Some(n) = item(&line, "STARTED ") {
                    started[index].insert(n);
                } else if let Some(n) = item(&line, "FINISHED ") {
                    finished[index].insert(n);
                }
                if !killed && started[0].len() >= 6 {
                    workers[0].child.kill().expect("SIGKILL the worker");
                    killed = true;
                }
            }
            Said::Closed(0) if killed => victim_closed = true,
            Said::Closed(index) => panic!("worker {index} stopped on its own"),
        }
    }
    let done = handle.wait(Some(TIMEOUT)).await.unwrap();
    assert_eq!(done.status, Status::Done);
    let progress = done.swarm.clone().unwrap();
    assert_eq!((progress.items, progress.succeeded, progress.failed, progress.running), (50, 50, 0, 0));
    let outcomes: Vec<Outcome<Item>> = serde_json::from_value(done.result.unwrap()).unwrap();
    assert_eq!(outcomes.len(), ITEMS as usize, "each item's result recorded once");
    for (n, outcome) in outcomes.into_iter().enumerate() {
        assert_eq!(outcome.ok(), Some(Item { tag: "kill".into(), n: n as i64 * 10 }), "item {n} in its position");
    }
    let callback_state = client.wait(&callback_id, Some(TIMEOUT)).await.unwrap();
    assert_eq!((callback_state.status, callback_state.result), (Status::Done, Some(json!(ITEMS))));
    let store = client.store();
    let counts = support::read_hash(store.as_ref(), &format!("{prefix}:kill:counts")).await;
    assert_eq!(counts.get("callback").map(String::as_str), Some("1"), "the success callback runs exactly once");
    assert_eq!(counts.get("outcomes").map(String::as_str), Some("50"));

    // every item ran; the items the killed worker had not finished ran again on the other worker, as attempt 2,
    // and no other item ran twice
    let mut runs: BTreeMap<i64, Vec<(String, u32)>> = BTreeMap::new();
    for entry in support::read_list(store.as_ref(), &format!("{prefix}:kill:runs")).await {
        let parts: Vec<&str> = entry.split(':').collect();
        runs.entry(parts[0].parse().unwrap()).or_default().push((parts[1].to_owned(), parts[2].parse().unwrap()));
    }
    assert_eq!(runs.keys().copied().collect::<Vec<_>>(), (0..ITEMS).collect::<Vec<_>>(), "every item ran");
    let on_victim: BTreeSet<i64> =
        runs.iter().filter(|(_, r)| r.iter().any(|(w, _)| w == "worker-0")).map(|(n, _)| *n).collect();
    let in_flight: BTreeSet<i64> = on_victim.difference(&finished[0]).copied().collect();
    assert!(!in_flight.is_empty(), "the killed worker was running items: {on_victim:?}, finished {:?}", finished[0]);
    let rerun: BTreeSet<i64> = runs.iter().filter(|(_, r)| r.len() > 1).map(|(n, _)| *n).collect();
    assert!(in_flight.is_subset(&rerun), "items in flight on the killed worker ran again: {in_flight:?} {rerun:?}");
    assert!(rerun.is_subset(&on_victim), "only the killed worker's items ran again: {rerun:?}");
    for n in &rerun {
        assert_eq!(runs[n], vec![("worker-0".to_owned(), 1), ("worker-1".to_owned(), 2)], "item {n}");
    }
    for (n, r) in &runs {
        if !rerun.contains(n) {
            assert_eq!(r.len(), 1, "item {n} ran once: {r:?}");
        }
    }
    println!(
        "worker-0 killed after starting {} items, {} of them unfinished; {} items ran twice",
        on_victim.len(),
        in_flight.len(),
        rerun.len()
    );
    drop(workers);
}
