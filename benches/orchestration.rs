//! What an orchestrated task costs: the ancestor's scenarios (S1 chain of 100, S2 closed swarm of 1,000 at concurrency
//! 50, S3 as S2 with 10% failing items, S4 10,000 signatures created only), S2's swarm created only and S2 at 100 to
//! 100,000 items, on a real Redis (its own `redis-server` on a free port) and on the memory store, with no-op tasks and
//! the local backend, then S1 and S2 on the apalis backend (an apalis worker in this process on a queue of the same
//! Redis), and the peers without mageflow on the same Redis: 1,000 bare apalis-redis jobs at concurrency 50 (end to
//! end, and processing only) and a 100-step apalis-workflow chain. Prints medians of 3 runs with Redis commands, Redis
//! µs in scripts and Redis CPU per task, the commands per task by command, the ceiling (FCALL and EVALSHA of `return
//! 1`, and one real transition, with 50 calls in flight), the issue's targets from mageflow and its peer run
//! alternately (and S2's swarm stored first and timed from its start, against apalis' processing only, which is timed
//! without its push), and S2 on a real 3-primary Redis Cluster with each primary's share of the commands and of Redis
//! CPU.
//!
//! ```text
//! cargo bench --bench orchestration                      # everything, medians of 3
//! MAGEFLOW_BENCH_RUNS=1 MAGEFLOW_BENCH_MAX_ITEMS=10000 cargo bench --bench orchestration   # quicker
//! MAGEFLOW_BENCH_ONLY=apalis cargo bench --bench orchestration   # rows whose label has it (or ceiling, cluster, head to head)
//! MAGEFLOW_BENCH_AB=1                                    # the selected mageflow rows on Redis only (scripts/ab.sh)
//! MAGEFLOW_TEST_REDIS_URL=redis://127.0.0.1:7000         # a Redis of yours instead of its own (it is flushed)
//! ```
//!
//! Every run checks its own correctness (each callback ran once, every result is there, every apalis job ran once,
//! the chain's value went through every step) and panics otherwise.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::{
    BackendExt as _, BoxDynError, Data, TaskSink as _, WorkerBuilder, WorkerBuilderExt as _, WorkerContext,
};
use apalis_redis::RedisStorage;
use apalis_workflow::{SteppedFlow, WorkflowSink as _};

use fred::prelude::{ClientLike, Config, LuaInterface};
use fred::types::InfoKind;
use mageflow::{
    LocalBackend, Mageflow, MemoryStore, Node, Outcome, RedisStore, SignatureId, Swarm, TaskError, TaskInput, task,
};
use mageflow_apalis::{ApalisBackend, ApalisBackendOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::cluster::RedisCluster;
use support::{CountingStore, RedisServer};

static CALLBACKS: AtomicUsize = AtomicUsize::new(0);

#[task]
async fn noop(n: u64) -> Result<u64, TaskError> {
    Ok(n)
}

#[task]
async fn noop_fail(n: u64) -> Result<u64, TaskError> {
    Err(TaskError::non_retryable(format!("item with {n} fails on purpose")))
}

#[derive(Serialize, Deserialize, JsonSchema, TaskInput)]
struct Done {
    #[mageflow(return_value)]
    result: Value,
}

#[task]
async fn done(_input: Done) -> Result<(), TaskError> {
    CALLBACKS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scenario {
    /// A chain of `n` steps.
    Chain(usize),
    /// A closed swarm of `n` items, concurrency 50, `failing` in 10 items failing.
    Swarm { items: usize, failing_tenth: bool },
    /// `n` task signatures created, not run.
    Create(usize),
    /// S2's swarm of `n` items stored before the clock starts, then started and run: what S2 costs without creating
    /// the swarm, as apalis' processing-only run is timed without its push.
    StoredSwarm(usize),
    /// S2's swarm of `n` items stored (`create`), not run: what S2 spends creating its swarm.
    CreateSwarm(usize),
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::Chain(n) => format!("S1 chain of {n}"),
            Scenario::Swarm { items, failing_tenth: false } => format!("S2 swarm of {items}, concurrency 50"),
            Scenario::Swarm { items, failing_tenth: true } => format!("S3 swarm of {items}, 10% failing"),
            Scenario::Create(n) => format!("S4 {n} signatures, created only"),
            Scenario::StoredSwarm(n) => format!("S2 swarm of {n}, stored first, processing only"),
            Scenario::CreateSwarm(n) => format!("S2's swarm of {n}, created only"),
        }
    }

    fn tasks(self) -> usize {
        match self {
            Scenario::Chain(n)
            | Scenario::Swarm { items: n, .. }
            | Scenario::Create(n)
            | Scenario::StoredSwarm(n)
            | Scenario::CreateSwarm(n) => n,
        }
    }
}

/// S2's closed swarm of `items` no-op items at concurrency 50 (with every tenth item failing when `failing_tenth`),
/// with a success callback, and the callback's id.
fn s2_swarm(client: &Mageflow, items: usize, failing_tenth: bool) -> (Swarm<Value>, SignatureId) {
    let nodes: Vec<Node> = (0..items)
        .map(|n| if failing_tenth && n % 10 == 9 { client.sign(noop_fail).into() } else { client.sign(noop).into() })
        .collect();
    let callback = client.sign(done);
    let callback_id = callback.id().clone();
    (client.swarm(nodes).max_concurrency(50).on_success(callback), callback_id)
}

/// One run's numbers.
#[derive(Clone, Debug, Default)]
struct Measure {
    wall: Duration,
    cpu: Duration,
    redis_cpu: Duration,
    redis_commands: BTreeMap<String, u64>,
    round_trips: usize,
    dispatches: usize,
    memory_delta: Option<i64>,
    /// Redis's own time in the transition script (commandstats usec of EVALSHA, EVAL and FCALL).
    script_usec: u64,
}

/// Script calls (round trips) and runs that began on their own (`begin` transitions) from a counting store.
fn round_trips_and_begins(counts: std::collections::BTreeMap<String, usize>) -> (usize, usize) {
    let calls = counts.iter().filter(|(k, _)| k.starts_with("eval:")).map(|(_, v)| v).sum();
    (calls, counts.get("op:begin").copied().unwrap_or(0))
}

/// Redis's time in scripts since the last `CONFIG RESETSTAT` (µs, from INFO commandstats).
async fn script_usec(admin: &fred::clients::Client) -> u64 {
    info(admin, InfoKind::CommandStats)
        .await
        .iter()
        .filter(|(key, _)| ["cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall"].contains(&key.as_str()))
        .filter_map(|(_, value)| value.split(',').find_map(|part| part.strip_prefix("usec="))?.parse::<u64>().ok())
        .sum()
}

fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A `INFO` section as `field -> value`.
async fn info(admin: &fred::clients::Client, kind: InfoKind) -> BTreeMap<String, String> {
    let text: String = admin.info(Some(kind)).await.expect("INFO");
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.trim().to_owned()))
        .collect()
}

/// Calls per command since the last `CONFIG RESETSTAT`, without the bench's own admin commands.
async fn command_counts(admin: &fred::clients::Client) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (key, value) in info(admin, InfoKind::CommandStats).await {
        let Some(command) = key.strip_prefix("cmdstat_") else { continue };
        // Redis 7 names subcommands `config|resetstat`
        let base = command.split('|').next().unwrap_or(command);
        if ["info", "config", "flushall", "memory", "script", "function"].contains(&base) {
            continue;
        }
        let calls = value.split(',').find_map(|part| part.strip_prefix("calls=")).and_then(|c| c.parse().ok());
        counts.insert(command.to_owned(), calls.unwrap_or(0));
    }
    counts
}

async fn redis_cpu(admin: &fred::clients::Client) -> Duration {
    let cpu = info(admin, InfoKind::Cpu).await;
    let secs = |key: &str| cpu.get(key).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Duration::from_secs_f64(secs("used_cpu_user") + secs("used_cpu_sys"))
}

async fn used_memory(admin: &fred::clients::Client) -> i64 {
    info(admin, InfoKind::Memory).await.get("used_memory").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The apalis queue of the benchmark's apalis rows.
const APALIS_QUEUE: &str = "bench";

/// Runs one scenario once on a fresh client and checks what it did; on the apalis backend (the queue on `redis`)
/// when `apalis` is set.
async fn run_once(
    scenario: Scenario,
    redis: Option<&RedisServer>,
    admin: Option<&fred::clients::Client>,
    apalis: bool,
) -> Measure {
    // the local backend itself (not wrapped): an outcome then begins the next run in place, without a dispatch
    let backend = LocalBackend::new(64);
    let apalis = match (apalis, redis) {
        (true, Some(redis)) => {
            let options = ApalisBackendOptions::new("bench").queue(APALIS_QUEUE).concurrency(64);
            Some(ApalisBackend::connect(&redis.url, options).await.expect("the apalis queue's Redis"))
        }
        _ => None,
    };
    let builder = Mageflow::builder().task(noop).task(noop_fail).task(done);
    let builder = match &apalis {
        Some(apalis) => builder.backend(apalis.clone()),
        None => builder.backend(backend),
    };
    let (client, counter): (Mageflow, Box<dyn Fn() -> (usize, usize)>) = match redis {
        Some(redis) => {
            let store = CountingStore::new(RedisStore::connect(&redis.url).await.expect("connect"));
            let client = builder.store(store.clone()).build().await.expect("client");
            (client, Box::new(move || round_trips_and_begins(store.take())))
        }
        None => {
            let store = CountingStore::new(MemoryStore::new());
            let client = builder.store(store.clone()).build().await.expect("client");
            (client, Box::new(move || round_trips_and_begins(store.take())))
        }
    };
    // (stored before the clock starts)
    let stored = match scenario {
        Scenario::StoredSwarm(items) => {
            let (swarm, callback_id) = s2_swarm(&client, items, false);
            Some((client.create(swarm).await.expect("the swarm is stored"), callback_id))
        }
        _ => None,
    };
    CALLBACKS.store(0, Ordering::SeqCst);
    counter();
    if let Some(admin) = admin {
        let _: () = admin.custom(fred::cmd!("CONFIG"), vec!["RESETSTAT"]).await.expect("CONFIG RESETSTAT");
    }
    let memory_before = match admin {
        Some(admin) => Some(used_memory(admin).await),
        None => None,
    };
    let redis_cpu_before = match admin {
        Some(admin) => redis_cpu(admin).await,
        None => Duration::ZERO,
    };
    let cpu_before = process_cpu();
    let started = Instant::now();

    match scenario {
        Scenario::Chain(steps) => {
            let nodes: Vec<Node> = (0..steps).map(|_| client.sign(noop).into()).collect();
            let callback = client.sign(done);
            let callback_id = callback.id().clone();
            let out: Value =
                client.run(client.chain(nodes).on_success(callback), json!(7)).await.expect("the chain runs");
            client.wait(&callback_id, Some(Duration::from_secs(600))).await.expect("the callback runs");
            assert_eq!(out, json!(7), "the chain passes its value along");
        }
        Scenario::Swarm { items, failing_tenth } => {
            let (swarm, callback_id) = s2_swarm(&client, items, failing_tenth);
            let outcomes: Vec<Outcome> = client.run(swarm, json!(3)).await.expect("swarm runs");
            client.wait(&callback_id, Some(Duration::from_secs(600))).await.expect("the callback runs");
            assert_eq!(outcomes.len(), items, "every result is there");
            let failed = outcomes.iter().filter(|o| !o.is_ok()).count();
            assert_eq!(failed, if failing_tenth { items / 10 } else { 0 }, "failed items are reported");
            assert!(outcomes.iter().filter(|o| o.is_ok()).all(|o| o.clone().ok() == Some(json!(3))));
        }
        Scenario::Create(count) => {
            for _ in 0..count {
                client.create(client.sign(noop)).await.expect("created");
            }
        }
        Scenario::CreateSwarm(items) => {
            let (swarm, _) = s2_swarm(&client, items, false);
            client.create(swarm).await.expect("the swarm is stored");
        }
        Scenario::StoredSwarm(items) => {
            let (swarm, callback_id) = stored.expect("stored above");
            swarm.start(json!(3)).await.expect("the stored swarm starts");
            let outcomes: Vec<Outcome> = swarm.result().await.expect("the swarm runs");
            client.wait(&callback_id, Some(Duration::from_secs(600))).await.expect("the callback runs");
            assert_eq!(outcomes.len(), items, "every result is there");
            assert!(outcomes.iter().all(|o| o.clone().ok() == Some(json!(3))), "every item succeeded");
        }
    }

    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    let callbacks = CALLBACKS.load(Ordering::SeqCst);
    if !matches!(scenario, Scenario::Create(_) | Scenario::CreateSwarm(_)) {
        assert_eq!(callbacks, 1, "the success callback ran exactly once");
    }
    let (round_trips, begins) = counter();
    // runs that began on their own were dispatched; the others were claimed by the outcome before them
    let mut dispatches = begins;
    let mut measure = Measure { wall, cpu, round_trips, ..Default::default() };
    if let Some(admin) = admin {
        measure.redis_commands = command_counts(admin).await;
        measure.script_usec = script_usec(admin).await;
        measure.redis_cpu = redis_cpu(admin).await.saturating_sub(redis_cpu_before);
        measure.memory_delta = Some(used_memory(admin).await - memory_before.unwrap_or(0));
        if apalis.is_some() {
            // apalis keeps every job it was given: one per dispatched run
            let jobs: u64 = admin
                .custom(fred::cmd!("HLEN"), vec![format!("{APALIS_QUEUE}:data")])
                .await
                .expect("HLEN of the apalis jobs");
            dispatches = jobs as usize;
        }
    }
    measure.dispatches = dispatches;
    client.shutdown(Duration::from_secs(5)).await.expect("shutdown");
    if let Some(admin) = admin {
        let _: () = admin.flushall(false).await.expect("FLUSHALL");
    }
    measure
}

fn median<T: Clone + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2].clone()
}

/// The median of each number over the runs.
fn summarize(scenario: Scenario, runs: &[Measure]) -> Row {
    summarize_as(scenario.label(), scenario.tasks(), runs)
}

/// The median of each number over the runs of `tasks` tasks each.
fn summarize_as(label: String, tasks: usize, runs: &[Measure]) -> Row {
    let tasks = tasks as f64;
    let per_task = |f: &dyn Fn(&Measure) -> f64| median(runs.iter().map(f).collect::<Vec<_>>());
    let mut by_command = BTreeMap::new();
    for command in runs.iter().flat_map(|r| r.redis_commands.keys()).collect::<std::collections::BTreeSet<_>>() {
        let value = per_task(&|r| *r.redis_commands.get(command).unwrap_or(&0) as f64 / tasks);
        by_command.insert(command.clone(), value);
    }
    Row {
        label,
        redis_commands: per_task(&|r| r.redis_commands.values().sum::<u64>() as f64 / tasks),
        by_command,
        round_trips: per_task(&|r| r.round_trips as f64 / tasks),
        dispatches: per_task(&|r| r.dispatches as f64 / tasks),
        wall: per_task(&|r| r.wall.as_secs_f64()),
        tasks_per_second: per_task(&|r| tasks / r.wall.as_secs_f64()),
        cpu: per_task(&|r| r.cpu.as_secs_f64()),
        redis_cpu: per_task(&|r| r.redis_cpu.as_secs_f64()),
        redis_cpu_usec_per_task: per_task(&|r| r.redis_cpu.as_secs_f64() * 1e6 / tasks),
        script_usec_per_task: per_task(&|r| r.script_usec as f64 / tasks),
        memory_per_signature: runs[0].memory_delta.map(|_| per_task(&|r| r.memory_delta.unwrap_or(0) as f64 / tasks)),
    }
}

struct Row {
    label: String,
    redis_commands: f64,
    by_command: BTreeMap<String, f64>,
    round_trips: f64,
    dispatches: f64,
    wall: f64,
    tasks_per_second: f64,
    cpu: f64,
    redis_cpu: f64,
    redis_cpu_usec_per_task: f64,
    script_usec_per_task: f64,
    memory_per_signature: Option<f64>,
}

/// `MEMORY USAGE` (every field counted) summed over the hashes of every group of signatures under a prefix.
async fn groups_memory(admin: &fred::clients::Client, prefix: &str) -> i64 {
    let mut total = 0;
    let keys: Vec<String> = admin.custom(fred::cmd!("KEYS"), vec![format!("{prefix}:*:g:*")]).await.expect("KEYS");
    for key in keys {
        let args = vec!["USAGE".to_owned(), key, "SAMPLES".to_owned(), "0".to_owned()];
        let usage: i64 = admin.custom(fred::cmd!("MEMORY"), args).await.expect("MEMORY USAGE");
        total += usage;
    }
    total
}

/// What one stored flow adds to its group's hash (flows made together share one).
async fn memory_usage_examples(redis: &RedisServer) -> Vec<(String, i64)> {
    let admin = admin(redis).await;
    let client = Mageflow::builder().redis_url(redis.url.clone()).task(noop).build().await.expect("client");
    let prefix = client.key_prefix().to_owned();
    let mut out = Vec::new();
    let before = groups_memory(&admin, &prefix).await;
    client.create(client.sign(noop)).await.expect("task");
    let after_task = groups_memory(&admin, &prefix).await;
    out.push(("one task".to_owned(), after_task - before));
    client.create(client.chain([client.sign(noop), client.sign(noop), client.sign(noop)])).await.expect("chain");
    let after_chain = groups_memory(&admin, &prefix).await;
    out.push(("a chain of 3".to_owned(), after_chain - after_task));
    client.create(client.swarm([client.sign(noop), client.sign(noop), client.sign(noop)])).await.expect("swarm");
    out.push(("a swarm of 3".to_owned(), groups_memory(&admin, &prefix).await - after_chain));
    let _: () = admin.flushall(false).await.expect("FLUSHALL");
    out
}

/// The apalis-redis queue of the bare apalis rows (no mageflow).
const BARE_QUEUE: &str = "bare";

/// How often an idle apalis worker polls its queue in the bare rows. apalis-redis 1.0 pushes every job as
/// scheduled for now and publishes no wake-up for it, so an idle worker finds new jobs only by polling.
const BARE_POLL: Duration = Duration::from_millis(1);

/// Which jobs of a bare apalis run have run, and how often.
struct Seen {
    runs: Vec<AtomicU64>,
    done: AtomicUsize,
    jobs: usize,
}

impl Seen {
    fn new(jobs: usize) -> Arc<Seen> {
        Arc::new(Seen { runs: (0..jobs).map(|_| AtomicU64::new(0)).collect(), done: AtomicUsize::new(0), jobs })
    }
}

/// The bare apalis job: a no-op that marks itself run, and stops the worker when it is the last.
async fn bare_job(n: u64, seen: Data<Arc<Seen>>, worker: WorkerContext) -> Result<(), BoxDynError> {
    seen.runs[n as usize].fetch_add(1, Ordering::SeqCst);
    if seen.done.fetch_add(1, Ordering::SeqCst) + 1 == seen.jobs {
        let _ = worker.stop();
    }
    Ok(())
}

/// A step of the apalis-workflow chain: passes its number on, plus one.
async fn workflow_step(n: u64) -> Result<u64, BoxDynError> {
    Ok(n + 1)
}

/// The chain's last value, seen by its last step (which stops the worker).
static WORKFLOW_LAST: AtomicU64 = AtomicU64::new(0);

async fn workflow_last(n: u64, worker: WorkerContext) -> Result<u64, BoxDynError> {
    WORKFLOW_LAST.store(n, Ordering::SeqCst);
    let _ = worker.stop();
    Ok(n)
}

/// A fresh name for each apalis worker (apalis refuses a name whose worker looks alive).
fn worker_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("bench-{what}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// Counters taken before the measured part of a run.
struct Before {
    cpu: Duration,
    redis_cpu: Duration,
    started: Instant,
}

async fn before(admin: &fred::clients::Client) -> Before {
    let _: () = admin.custom(fred::cmd!("CONFIG"), vec!["RESETSTAT"]).await.expect("CONFIG RESETSTAT");
    Before { cpu: process_cpu(), redis_cpu: redis_cpu(admin).await, started: Instant::now() }
}

async fn after(admin: &fred::clients::Client, before: Before) -> Measure {
    let wall = before.started.elapsed();
    let cpu = process_cpu().saturating_sub(before.cpu);
    Measure {
        wall,
        cpu,
        redis_cpu: redis_cpu(admin).await.saturating_sub(before.redis_cpu),
        redis_commands: command_counts(admin).await,
        script_usec: script_usec(admin).await,
        ..Default::default()
    }
}

/// apalis-redis' connection, as `apalis_redis::connect` makes it but with a 60 s response timeout (its default
/// gives up on pushing 1,000 jobs to a redis-server slowed down by callgrind, as scripts/instructions.sh runs it).
async fn apalis_connection(redis: &RedisServer) -> apalis_redis::ConnectionManager {
    let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    let client = apalis_redis::Client::open(redis.url.as_str()).expect("a Redis URL");
    client.get_connection_manager_with_config(config).await.expect("apalis-redis connects")
}

/// Bare apalis on apalis-redis 1.0, no mageflow: `jobs` no-op jobs pushed in one batch (`push_bulk`), run by one
/// apalis worker at concurrency 50 (fetching 50 at a time). End to end times the push and the run; processing only
/// pushes first and times the worker draining the queue. Either way the clock stops when the worker has stopped
/// (its acknowledgements written). Checks that every job ran exactly once.
async fn apalis_bare_once(
    redis: &RedisServer,
    admin: &fred::clients::Client,
    jobs: usize,
    processing_only: bool,
) -> Measure {
    let conn = apalis_connection(redis).await;
    let config = apalis_redis::Config::default().queue(BARE_QUEUE).batch_size(50);
    let mut storage = RedisStorage::<u64>::new(conn).with_config(config);
    let seen = Seen::new(jobs);
    let all: Vec<u64> = (0..jobs as u64).collect();
    let mut clock = None;
    if processing_only {
        storage.push_bulk(all.clone()).await.expect("push");
    } else {
        clock = Some(before(admin).await);
        storage.push_bulk(all.clone()).await.expect("push");
    }
    let clock = match clock {
        Some(clock) => clock,
        None => before(admin).await,
    };
    let worker = WorkerBuilder::new(worker_name("bare"))
        .backend(storage.poll_with_interval(BARE_POLL))
        .concurrency(50)
        .data(seen.clone())
        .build(bare_job);
    worker.run().await.expect("the apalis worker runs");
    let measure = after(admin, clock).await;
    let ran: Vec<u64> = seen.runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert!(ran.iter().all(|r| *r == 1), "every apalis job ran exactly once");
    let _: () = admin.flushall(false).await.expect("FLUSHALL");
    measure
}

/// A chain of 100 steps on apalis-workflow 1.0 (`SteppedFlow::and_then`, each step's job pushed by the one before)
/// on apalis-redis, one worker polling every [`BARE_POLL`]. Checks that the value went through all 100 steps.
async fn apalis_workflow_once(redis: &RedisServer, admin: &fred::clients::Client) -> Measure {
    macro_rules! steps {
        ($flow:expr; $($n:tt)*) => { $flow $(.and_then(steps!(@step $n)))* };
        (@step $n:tt) => { workflow_step };
    }
    let conn = apalis_connection(redis).await;
    let config = apalis_redis::Config::default().queue("workflow");
    let storage = RedisStorage::<u64>::new(conn).with_config(config);
    let mut backend = storage.poll_with_interval(BARE_POLL);
    // 99 steps that add one, then the last one
    let flow = steps!(SteppedFlow::new("bench-chain");
        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9
        0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8)
    .and_then(workflow_last);
    WORKFLOW_LAST.store(0, Ordering::SeqCst);
    let clock = before(admin).await;
    backend.push_start(0u64).await.expect("push the chain's start");
    WorkerBuilder::new(worker_name("workflow")).backend(backend).build(flow).run().await.expect("the chain runs");
    let measure = after(admin, clock).await;
    assert_eq!(WORKFLOW_LAST.load(Ordering::SeqCst), 99, "the value went through all 100 steps");
    let _: () = admin.flushall(false).await.expect("FLUSHALL");
    measure
}

/// Calls `call` `calls` times with `in_flight` calls in flight; returns calls per second.
async fn saturate<F, Fut>(calls: usize, in_flight: usize, call: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    let started = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut issued = 0;
    while issued < calls || !pending.is_empty() {
        while issued < calls && pending.len() < in_flight {
            pending.push(call(issued));
            issued += 1;
        }
        pending.next().await;
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// One line of the ceiling: a call's rate with 50 in flight on one fred connection (pipelined), Redis's own µs per
/// call (commandstats usec of the call's command) and Redis's CPU per call.
struct CeilingRow {
    what: &'static str,
    per_second: f64,
    redis_usec_per_call: f64,
    redis_cpu_usec_per_call: f64,
    client_cpu_usec_per_call: f64,
}

async fn ceiling_row<F, Fut>(
    admin: &fred::clients::Client,
    what: &'static str,
    command: &str,
    calls: usize,
    call: F,
) -> CeilingRow
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let clock = before(admin).await;
    let per_second = saturate(calls, 50, call).await;
    let measure = after(admin, clock).await;
    let stats = info(admin, InfoKind::CommandStats).await;
    let field = |name: &str| -> f64 {
        stats
            .get(&format!("cmdstat_{command}"))
            .and_then(|value| value.split(',').find_map(|part| part.strip_prefix(name))?.parse().ok())
            .unwrap_or(0.0)
    };
    CeilingRow {
        what,
        per_second,
        // per call of the command (one per call here; checked by the caller's count)
        redis_usec_per_call: field("usec=") / field("calls=").max(1.0),
        redis_cpu_usec_per_call: measure.redis_cpu.as_secs_f64() * 1e6 / calls as f64,
        client_cpu_usec_per_call: measure.cpu.as_secs_f64() * 1e6 / calls as f64,
    }
}

/// The honest ceiling: `return 1` as FCALL and as EVALSHA, and one real transition (creating a task signature:
/// one FCALL of mageflow's library, through the client), each with 50 calls in flight.
async fn ceilings(redis: &RedisServer) -> Vec<CeilingRow> {
    let admin = admin(redis).await;
    let calls = 40_000;
    let library = "#!lua name=benchceiling\nredis.register_function('bench_return_1', function() return 1 end)";
    let _: String =
        admin.custom(fred::cmd!("FUNCTION"), vec!["LOAD", "REPLACE", library]).await.expect("FUNCTION LOAD");
    let fcall = ceiling_row(&admin, "FCALL of `return 1`", "fcall", calls, |_| {
        let admin = admin.clone();
        async move {
            let one: i64 = admin.custom(fred::cmd!("FCALL"), vec!["bench_return_1", "0"]).await.expect("FCALL");
            assert_eq!(one, 1);
        }
    })
    .await;
    let sha: String = admin.script_load("return 1").await.expect("SCRIPT LOAD");
    let evalsha = ceiling_row(&admin, "EVALSHA of `return 1`", "evalsha", calls, |_| {
        let admin = admin.clone();
        let sha = sha.clone();
        async move {
            let one: i64 = admin.evalsha(sha, Vec::<String>::new(), Vec::<String>::new()).await.expect("EVALSHA");
            assert_eq!(one, 1);
        }
    })
    .await;
    let client = Mageflow::builder().redis_url(redis.url.clone()).task(noop).build().await.expect("client");
    let creates = 20_000;
    let create = ceiling_row(&admin, "one real transition: create a task signature (FCALL)", "fcall", creates, |_| {
        let client = client.clone();
        async move {
            client.create(client.sign(noop)).await.expect("created");
        }
    })
    .await;
    client.shutdown(Duration::from_secs(5)).await.expect("shutdown");
    let _: () = admin.flushall(false).await.expect("FLUSHALL");
    vec![fcall, evalsha, create]
}

/// One admin connection per primary of a cluster, with its port.
async fn cluster_admins(cluster: &RedisCluster) -> Vec<(u16, fred::clients::Client)> {
    let mut admins = Vec::new();
    for node in &cluster.nodes {
        let url = format!("redis://127.0.0.1:{}", node.port);
        let client = fred::types::Builder::from_config(Config::from_url(&url).expect("url")).build().expect("client");
        client.init().await.expect("connect to a cluster node");
        admins.push((node.port, client));
    }
    admins
}

/// S2 on a real 3-primary Redis Cluster: one swarm of 1,000 (one flow is one slot, so one primary does its work),
/// then 8 swarms of 125 built 100 ms apart (8 groups, spread over the shards), with each primary's share of the
/// commands and of Redis CPU.
async fn cluster_rows() {
    let cluster = RedisCluster::start();
    let admins = cluster_admins(&cluster).await;
    let client = Mageflow::builder()
        .redis_url(cluster.url())
        .backend(LocalBackend::new(64))
        .task(noop)
        .task(done)
        .build()
        .await
        .expect("a client on the cluster");
    println!("\n### S2 on a 3-primary Redis Cluster\n");
    println!("| scenario | tasks / s | share of commands per primary | share of Redis CPU per primary |");
    println!("|---|---|---|---|");
    for (label, swarms, items) in [("one swarm of 1000", 1usize, 1000usize), ("8 swarms of 125", 8, 125)] {
        for (_, admin) in &admins {
            let _: () = admin.custom(fred::cmd!("CONFIG"), vec!["RESETSTAT"]).await.expect("CONFIG RESETSTAT");
        }
        let mut cpu_before = Vec::new();
        for (_, admin) in &admins {
            cpu_before.push(redis_cpu(admin).await);
        }
        let mut flows = Vec::new();
        for _ in 0..swarms {
            let nodes: Vec<Node> = (0..items).map(|_| client.sign(noop).into()).collect();
            flows.push(client.swarm(nodes).max_concurrency(50));
            if swarms > 1 {
                // the next swarm's ids take a new group (and, likely, another shard)
                tokio::time::sleep(Duration::from_millis(110)).await;
            }
        }
        let started = Instant::now();
        let handles = futures::future::join_all(flows.into_iter().map(|flow| client.run_no_wait(flow, json!(3)))).await;
        for handle in handles {
            let outcomes = handle.expect("stored").result().await.expect("the swarm runs");
            assert_eq!(outcomes.len(), items, "every result is there");
        }
        let wall = started.elapsed();
        let mut commands = Vec::new();
        let mut cpu = Vec::new();
        for ((_, admin), before) in admins.iter().zip(&cpu_before) {
            commands.push(command_counts(admin).await.values().sum::<u64>() as f64);
            cpu.push(redis_cpu(admin).await.saturating_sub(*before).as_secs_f64());
        }
        let share = |values: &[f64]| {
            let total: f64 = values.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            admins
                .iter()
                .zip(values)
                .map(|((port, _), value)| format!("{port}: {:.0}%", 100.0 * value / total))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let tasks = (swarms * items) as f64;
        println!("| {label} | {:.0} | {} | {} |", tasks / wall.as_secs_f64(), share(&commands), share(&cpu));
    }
    client.shutdown(Duration::from_secs(5)).await.expect("shutdown");
}

async fn admin(redis: &RedisServer) -> fred::clients::Client {
    let client = fred::types::Builder::from_config(Config::from_url(&redis.url).expect("url")).build().expect("client");
    client.init().await.expect("connect");
    client
}

fn print_table(title: &str, rows: &[Row], with_redis: bool) {
    println!("\n### {title}\n");
    if with_redis {
        println!(
            "| scenario | Redis commands / task | round trips / task | dispatches / task | wall | tasks / s | CPU s (mageflow) | CPU s (Redis) | Redis µs in scripts / task | Redis CPU µs / task | Redis memory / signature |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
    } else {
        println!("| scenario | store calls / task | dispatches / task | wall | tasks / s | CPU s |");
        println!("|---|---|---|---|---|---|");
    }
    for row in rows {
        if with_redis {
            println!(
                "| {} | {:.1} | {:.2} | {:.2} | {:.3} s | {:.0} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                row.label,
                row.redis_commands,
                row.round_trips,
                row.dispatches,
                row.wall,
                row.tasks_per_second,
                row.cpu,
                row.redis_cpu,
                row.script_usec_per_task,
                row.redis_cpu_usec_per_task,
                row.memory_per_signature.map_or("".to_owned(), |m| format!("{m:.0} B")),
            );
        } else {
            println!(
                "| {} | {:.2} | {:.2} | {:.3} s | {:.0} | {:.2} |",
                row.label, row.round_trips, row.dispatches, row.wall, row.tasks_per_second, row.cpu
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("MAGEFLOW_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let max_items: usize =
        std::env::var("MAGEFLOW_BENCH_MAX_ITEMS").ok().and_then(|r| r.parse().ok()).unwrap_or(100_000);
    let redis = RedisServer::start();
    let admin = admin(&redis).await;

    let main_scenarios = [
        Scenario::Chain(100),
        Scenario::Swarm { items: 1000, failing_tenth: false },
        Scenario::Swarm { items: 1000, failing_tenth: true },
        Scenario::Create(10_000),
        Scenario::CreateSwarm(1000),
    ];
    let scale: Vec<Scenario> = [100, 1000, 10_000, 100_000]
        .into_iter()
        .filter(|n| *n <= max_items)
        .map(|items| Scenario::Swarm { items, failing_tenth: false })
        .collect();

    // MAGEFLOW_BENCH_ONLY=S4 runs the scenarios whose label contains it (the main table needs all five)
    let only = std::env::var("MAGEFLOW_BENCH_ONLY").ok();
    let wanted = |label: &str| only.as_ref().is_none_or(|only| label.contains(only.as_str()));
    if only.as_deref() == Some("cluster") {
        // MAGEFLOW_BENCH_ONLY=cluster: S2 on a 3-primary cluster only
        cluster_rows().await;
        return;
    }
    // MAGEFLOW_BENCH_AB=1: the selected scenarios on Redis only (no memory store, no peers), for scripts/ab.sh and
    // scripts/instructions.sh, which the bench of the main before issue 14 also understands
    let ab = std::env::var("MAGEFLOW_BENCH_AB").is_ok_and(|v| v == "1");
    let selected: Vec<Scenario> = main_scenarios.iter().chain(&scale).filter(|s| wanted(&s.label())).copied().collect();
    println!("mageflow orchestration benchmark: medians of {runs} run(s), no-op tasks, local backend");
    let mut redis_rows = Vec::new();
    let mut memory_rows = Vec::new();
    for scenario in &selected {
        let mut on_redis = Vec::new();
        let mut on_memory = Vec::new();
        for _ in 0..runs {
            on_redis.push(run_once(*scenario, Some(&redis), Some(&admin), false).await);
            if !ab {
                on_memory.push(run_once(*scenario, None, None, false).await);
            }
        }
        let row = summarize(*scenario, &on_redis);
        eprintln!("{}: {:.0} tasks/s on Redis", row.label, row.tasks_per_second);
        redis_rows.push(row);
        if !ab {
            memory_rows.push(summarize(*scenario, &on_memory));
        }
    }
    if !redis_rows.is_empty() {
        print_table("Redis", &redis_rows, true);
    }
    if ab {
        return;
    }
    if !memory_rows.is_empty() {
        print_table("Memory store", &memory_rows, false);
    }

    // S1 and S2 on the apalis backend, beside the local backend's rows above
    let mut apalis_rows = Vec::new();
    for scenario in [Scenario::Chain(100), Scenario::Swarm { items: 1000, failing_tenth: false }] {
        let label = format!("{} on apalis", scenario.label());
        if !wanted(&label) {
            continue;
        }
        let mut measures = Vec::new();
        for _ in 0..runs {
            measures.push(run_once(scenario, Some(&redis), Some(&admin), true).await);
        }
        let mut row = summarize(scenario, &measures);
        row.label = label;
        eprintln!("{}: {:.0} tasks/s", row.label, row.tasks_per_second);
        apalis_rows.push(row);
    }
    if !apalis_rows.is_empty() {
        print_table("Redis, apalis backend (one apalis worker in this process, concurrency 64)", &apalis_rows, true);
    }

    // the peers without mageflow, on the same Redis: bare apalis-redis jobs and an apalis-workflow chain
    let mut peer_rows = Vec::new();
    for (label, tasks) in [(BARE_END_TO_END, 1000), (BARE_PROCESSING, 1000), (WORKFLOW_CHAIN, 100)] {
        if !wanted(label) {
            continue;
        }
        let mut measures = Vec::new();
        for _ in 0..runs {
            measures.push(match label {
                BARE_END_TO_END => apalis_bare_once(&redis, &admin, tasks, false).await,
                BARE_PROCESSING => apalis_bare_once(&redis, &admin, tasks, true).await,
                _ => apalis_workflow_once(&redis, &admin).await,
            });
        }
        let row = summarize_as(label.to_owned(), tasks, &measures);
        eprintln!("{}: {:.0} tasks/s", row.label, row.tasks_per_second);
        peer_rows.push(row);
    }
    if !peer_rows.is_empty() {
        print_table(
            "Redis, apalis without mageflow (apalis 1.0, apalis-redis 1.0, apalis-workflow 1.0; round trips and \
             dispatches not counted)",
            &peer_rows,
            true,
        );
    }

    println!("\n### Redis commands per task, by command\n");
    for row in redis_rows.iter().chain(&apalis_rows).chain(&peer_rows) {
        let listed: Vec<String> =
            row.by_command.iter().filter(|(_, v)| **v >= 0.005).map(|(k, v)| format!("{k} {v:.2}")).collect();
        println!("- {}: {}", row.label, listed.join(", "));
    }

    if only.is_none() {
        println!("\n### Memory of stored flows (MEMORY USAGE, all keys of the flow)\n");
        for (what, bytes) in memory_usage_examples(&redis).await {
            println!("- {what}: {bytes} B");
        }
    }

    if wanted("ceiling") {
        println!("\n### Ceiling (50 calls in flight on one pipelined connection)\n");
        println!("| call | calls / s | Redis µs / call (commandstats) | Redis CPU µs / call | client CPU µs / call |");
        println!("|---|---|---|---|---|");
        for row in ceilings(&redis).await {
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                row.what,
                row.per_second,
                row.redis_usec_per_call,
                row.redis_cpu_usec_per_call,
                row.client_cpu_usec_per_call
            );
        }
    }

    // the issue's targets: mageflow and its peer run alternately, so that the machine's drift hits both alike
    println!("\n### Targets (this run)\n");
    if wanted("head to head") {
        let rounds = (runs * 5).max(5);
        let s2 = Scenario::Swarm { items: 1000, failing_tenth: false };
        let (mageflow, bare) = head_to_head(
            rounds,
            || run_once(s2, Some(&redis), Some(&admin), false),
            || apalis_bare_once(&redis, &admin, 1000, true),
        )
        .await;
        println!(
            "- S2 {:.0} tasks/s against bare apalis processing only {:.0} jobs/s: {:.2}x (target 1x; medians of {rounds} \
             alternating runs)",
            1000.0 / mageflow,
            1000.0 / bare,
            bare / mageflow
        );
        // not the target's measure: S2 without creating its swarm, timed as apalis' processing only is
        let (mageflow, bare) = head_to_head(
            rounds,
            || run_once(Scenario::StoredSwarm(1000), Some(&redis), Some(&admin), false),
            || apalis_bare_once(&redis, &admin, 1000, true),
        )
        .await;
        println!(
            "- S2 stored first, timed from its start, {:.0} tasks/s against bare apalis processing only {:.0} jobs/s: \
             {:.2}x (medians of {rounds} alternating runs)",
            1000.0 / mageflow,
            1000.0 / bare,
            bare / mageflow
        );
        let (mageflow, workflow) = head_to_head(
            rounds,
            || run_once(Scenario::Chain(100), Some(&redis), Some(&admin), false),
            || apalis_workflow_once(&redis, &admin),
        )
        .await;
        println!(
            "- S1 {:.0} steps/s against apalis-workflow {:.0} steps/s: {:.2}x (target 3x; medians of {rounds} alternating \
             runs)",
            100.0 / mageflow,
            100.0 / workflow,
            workflow / mageflow
        );
    }
    // the scale rows come after the main scenarios that ran (S2 of 1000 is both)
    let main_count = main_scenarios.iter().filter(|s| wanted(&s.label())).count();
    let scale_rows: Vec<&Row> = redis_rows.iter().skip(main_count).collect();
    if scale_rows.len() > 1 {
        let commands: Vec<f64> = scale_rows.iter().map(|r| r.redis_commands).collect();
        let (min, max) = commands.iter().fold((f64::MAX, 0.0f64), |(lo, hi), c| (lo.min(*c), hi.max(*c)));
        println!(
            "- Redis commands per task across swarm sizes {}: {} (max/min = {:.2})",
            scale_rows.iter().map(|r| format!("{:.0}", r.label_tasks())).collect::<Vec<_>>().join(" / "),
            commands.iter().map(|c| format!("{c:.1}")).collect::<Vec<_>>().join(" / "),
            max / min
        );
        let costs: Vec<f64> = scale_rows.iter().map(|r| r.wall / r.label_tasks()).collect();
        let (min, max) = costs.iter().fold((f64::MAX, 0.0f64), |(lo, hi), c| (lo.min(*c), hi.max(*c)));
        println!(
            "- Per-task wall time across swarm sizes: {} (max/min = {:.2})",
            costs.iter().map(|c| format!("{:.1} µs", c * 1e6)).collect::<Vec<_>>().join(" / "),
            max / min
        );
    }
    println!("- Redis time per task against the main before issue 14: scripts/ab.sh (two builds side by side)");

    if only.is_none() {
        cluster_rows().await;
    }
}

/// Runs `a` and `b` alternately (a b b a a b ...) `rounds` times each; the median wall seconds of each.
async fn head_to_head<A, AF, B, BF>(rounds: usize, a: A, b: B) -> (f64, f64)
where
    A: Fn() -> AF,
    AF: std::future::Future<Output = Measure>,
    B: Fn() -> BF,
    BF: std::future::Future<Output = Measure>,
{
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            on_a.push(a().await.wall.as_secs_f64());
            on_b.push(b().await.wall.as_secs_f64());
        } else {
            on_b.push(b().await.wall.as_secs_f64());
            on_a.push(a().await.wall.as_secs_f64());
        }
    }
    (median(on_a), median(on_b))
}

/// Labels of the rows of apalis without mageflow.
const BARE_END_TO_END: &str = "apalis-redis bare: 1000 jobs, concurrency 50, end to end (push + run)";
const BARE_PROCESSING: &str = "apalis-redis bare: 1000 jobs, concurrency 50, processing only";
const WORKFLOW_CHAIN: &str = "apalis-workflow: chain of 100 steps";

impl Row {
    fn label_tasks(&self) -> f64 {
        self.label.split_whitespace().nth(3).and_then(|n| n.trim_end_matches(',').parse().ok()).unwrap_or(1.0)
    }
}
