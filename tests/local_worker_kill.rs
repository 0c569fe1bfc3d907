//! Runs outlive their process: two worker processes share one Redis, each on the local (in-process) backend. The
//! first starts a chain, a 20-item swarm (10 at once) and a lone task, and is killed with SIGKILL while it runs the
//! chain's first step, half of the swarm's items and the lone task. The second process has no part in any of it
//! until the runs' leases expire: its recovery sweep then dispatches them again, and every flow finishes exactly
//! once, its callbacks counted once in Redis.
//!
//! The test binary is its own worker: started with `MAGEFLOW_LOCAL_KILL_ROLE=victim|survivor` it runs a client until
//! its stdin closes. The victim's handlers never finish (they are in flight when it dies); the survivor's finish at
//! once. Workers record each run in Redis and print `LOCALKILL ...` lines.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use mageflow::{
    ErrorKind, Failure, Mageflow, Outcome, RedisStore, SignatureId, Status, TaskContext, TaskError, TaskInput, task,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use support::RedisServer;
use support::processes::{Recorder, Said, next, say, spawn_child, until_stdin_closes};

const ROLE: &str = "MAGEFLOW_LOCAL_KILL_ROLE";
const PREFIX_VAR: &str = "MAGEFLOW_LOCAL_KILL_PREFIX";
const TAG: &str = "LOCALKILL";
const ITEMS: i64 = 20;
const TIMEOUT: Duration = Duration::from_secs(60);
/// The victim's runs hold leases this long; the survivor sweeps every 100 ms.
const LEASE: Duration = Duration::from_millis(600);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Num {
    n: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Collected {
    #[mageflow(return_value)]
    outcomes: Vec<Outcome<Num>>,
}

/// Records a run (`what:worker:attempt`) and, in the victim, never finishes.
async fn work(what: String, attempt: u32) -> Result<(), TaskError> {
    let r = Recorder::get();
    let entry = format!("{what}:{}:{attempt}", r.name);
    r.record("return redis.call('RPUSH', ARGV[1], ARGV[2])", vec![format!("{}:runs", r.prefix), entry]).await?;
    say(TAG, format!("STARTED {what}"));
    if r.name == "victim" {
        std::future::pending::<()>().await;
    }
    Ok(())
}

/// Counts a callback's runs in Redis.
async fn count(callback: &str) -> Result<(), TaskError> {
    let r = Recorder::get();
    r.record("return redis.call('HINCRBY', ARGV[1], ARGV[2], 1)", vec![format!("{}:counts", r.prefix), callback.into()])
        .await
}

#[task(retries = 2)]
async fn step(input: Num, ctx: TaskContext) -> Result<Num, TaskError> {
    work(format!("step{}", input.n), ctx.attempt).await?;
    Ok(Num { n: input.n + 1 })
}

#[task(retries = 1)]
async fn item(input: Num, ctx: TaskContext) -> Result<Num, TaskError> {
    work(format!("item{}", input.n), ctx.attempt).await?;
    Ok(Num { n: input.n * 10 })
}

/// No retries: a lost run is its last attempt.
#[task]
async fn lone(input: Num, ctx: TaskContext) -> Result<Num, TaskError> {
    work("lone".into(), ctx.attempt).await?;
    Ok(input)
}

#[task]
async fn chain_done(input: Num) -> Result<Num, TaskError> {
    count("chain_done").await?;
    Ok(input)
}

#[task]
async fn swarm_done(input: Collected) -> Result<usize, TaskError> {
    count("swarm_done").await?;
    Ok(input.outcomes.len())
}

#[task]
async fn lone_lost(failure: Failure<Num>) -> Result<String, TaskError> {
    count("lone_lost").await?;
    Ok(failure.error.kind.to_string())
}

fn builder(url: &str, prefix: &str) -> mageflow::MageflowBuilder {
    Mageflow::builder()
        .redis_url(url)
        .key_prefix(prefix)
        .run_lease(LEASE)
        .task(step)
        .task(item)
        .task(lone)
        .task(chain_done)
        .task(swarm_done)
        .task(lone_lost)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match std::env::var(ROLE) {
        Ok(role) => runtime.block_on(worker(role)),
        Err(_) => {
            runtime.block_on(runs_of_a_killed_process_are_recovered_by_another_exactly_once());
            println!("test runs_of_a_killed_process_are_recovered_by_another_exactly_once ... ok");
        }
    }
}

/// A worker process. The victim starts the flows and prints their ids; the survivor only sweeps.
async fn worker(role: String) {
    let url = std::env::var("REDIS_URL").expect("REDIS_URL is set");
    let prefix = std::env::var(PREFIX_VAR).expect("the key prefix is set");
    let store = RedisStore::connect(&url).await.expect("Redis is up");
    Recorder::install(Recorder { store, prefix: prefix.clone(), name: role.clone() });
    let sweep = (role == "survivor").then_some(Duration::from_millis(100));
    let client =
        builder(&url, &prefix).recovery(sweep, Duration::from_secs(5)).build().await.expect("the worker starts");
    say(TAG, "READY");
    if role == "victim" {
        let chain = client.chain([client.sign(step), client.sign(step), client.sign(step)]);
        let chain = chain.on_success(client.sign(chain_done));
        let items: Vec<_> = (0..ITEMS).map(|n| client.sign(item).arg("n", n)).collect();
        let swarm = client.swarm(items).max_concurrency(10).on_success(client.sign(swarm_done));
        let single = client.sign(lone).on_error(client.sign(lone_lost));
        let ids = [
            client.run_no_wait(chain, json!({"n": 0})).await.expect("the chain starts").id().clone(),
            client.run_no_wait(swarm, json!({})).await.expect("the swarm starts").id().clone(),
            client.run_no_wait(single, Num { n: 7 }).await.expect("the task starts").id().clone(),
        ];
        say(TAG, format!("FLOWS {} {} {}", ids[0], ids[1], ids[2]));
    }
    until_stdin_closes().await;
}

async fn runs_of_a_killed_process_are_recovered_by_another_exactly_once() {
    let redis = RedisServer::start();
    let prefix = format!("localkill{}", std::process::id());
    let env = [("REDIS_URL", redis.url.clone()), (PREFIX_VAR, prefix.clone())];
    let (tx, mut said) = mpsc::unbounded_channel();
    let survivor = spawn_child(1, (ROLE, "survivor"), TAG, &env, tx.clone());
    match next(&mut said, TIMEOUT).await {
        Said::Line(1, line) if line == "READY" => {}
        other => panic!("the survivor said {other:?} before it was ready"),
    }
    let mut victim = spawn_child(0, (ROLE, "victim"), TAG, &env, tx);

    // the victim runs the chain's first step, ten items and the lone task, then it is killed
    let mut flows = None;
    let mut started = Vec::new();
    while flows.is_none() || started.len() < 12 {
        match next(&mut said, TIMEOUT).await {
            Said::Line(0, line) if line.starts_with("FLOWS ") => {
                let ids: Vec<SignatureId> = line[6..].split(' ').map(|id| id.parse().unwrap()).collect();
                flows = Some(ids);
            }
            Said::Line(0, line) if line.starts_with("STARTED ") => started.push(line[8..].to_owned()),
            Said::Line(0, line) if line == "READY" => {}
            other => panic!("unexpected before the kill: {other:?}"),
        }
    }
    victim.child.kill().expect("SIGKILL the victim");
    victim.child.wait().expect("the victim is gone");
    started.sort();
    let mut expected: Vec<String> = (0..10).map(|n| format!("item{n}")).collect();
    expected.extend(["lone".to_owned(), "step0".to_owned()]);
    expected.sort();
    assert_eq!(started, expected, "what the victim was running when it died");

    // a third client only reads
    let client = builder(&redis.url, &prefix).recovery(None, Duration::ZERO).build().await.unwrap();
    let flows = flows.unwrap();
    let chain = client.wait(&flows[0], Some(TIMEOUT)).await.unwrap();
    assert_eq!((chain.status, chain.result), (Status::Done, Some(json!({"n": 3}))));
    let swarm = client.wait(&flows[1], Some(TIMEOUT)).await.unwrap();
    assert_eq!(swarm.status, Status::Done);
    let outcomes: Vec<Outcome<Num>> = serde_json::from_value(swarm.result.unwrap()).unwrap();
    let values: Vec<Option<Num>> = outcomes.into_iter().map(Outcome::ok).collect();
    assert_eq!(values, (0..ITEMS).map(|n| Some(Num { n: n * 10 })).collect::<Vec<_>>(), "items in their positions");
    let single = client.wait(&flows[2], Some(TIMEOUT)).await.unwrap();
    assert_eq!(single.status, Status::Failed);
    let report = single.error.unwrap();
    assert_eq!((report.error.kind, report.error.attempt), (ErrorKind::Lost, 1), "{}", report.error.message);

    // every callback ran exactly once; wait for the last of them through its parent's state
    let store = client.store();
    let counts_key = format!("{prefix}:counts");
    for id in [&flows[0], &flows[1], &flows[2]] {
        let state = client.status(id).await.unwrap();
        for callback in state.success_callbacks.iter().chain(&state.error_callbacks) {
            let done = client.wait(callback, Some(TIMEOUT)).await.unwrap();
            assert!(matches!(done.status, Status::Done | Status::Canceled), "{callback}: {:?}", done.status);
        }
    }
    let counts = support::read_hash(store.as_ref(), &counts_key).await;
    let expected: BTreeMap<String, String> =
        ["chain_done", "swarm_done", "lone_lost"].iter().map(|name| (name.to_string(), "1".to_owned())).collect();
    assert_eq!(counts.into_iter().collect::<BTreeMap<_, _>>(), expected, "each callback ran exactly once");

    // what ran where: the victim's runs once more on the survivor, as their next attempt; the rest once there
    let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in support::read_list(store.as_ref(), &format!("{prefix}:runs")).await {
        let (what, rest) = entry.split_once(':').unwrap();
        runs.entry(what.to_owned()).or_default().push(rest.to_owned());
    }
    for n in 0..ITEMS {
        let expected = if n < 10 { vec!["victim:1", "survivor:2"] } else { vec!["survivor:1"] };
        assert_eq!(runs[&format!("item{n}")], expected, "item {n}");
    }
    assert_eq!(runs["step0"], ["victim:1", "survivor:2"]);
    assert_eq!(runs["step1"], ["survivor:1"]);
    assert_eq!(runs["step2"], ["survivor:1"]);
    assert_eq!(runs["lone"], ["victim:1"], "a lost run without retries does not run again");
    assert_eq!(runs.len(), ITEMS as usize + 4);
    drop(survivor);
}
