//! Tasks that record what they were called with, per test tag, so that tests can assert exact calls.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use mageflow::{Failure, Next, Outcome, TaskContext, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

/// The message most test tasks take and return: a test's tag and a number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Msg {
    pub tag: String,
    pub n: i64,
}

pub fn msg(tag: &str, n: i64) -> Msg {
    Msg { tag: tag.to_owned(), n }
}

/// One recorded call.
#[derive(Clone, Debug)]
pub struct Call {
    pub task: &'static str,
    pub input: Value,
    pub attempt: u32,
}

#[derive(Default)]
struct TagLog {
    calls: Vec<Call>,
    /// Runs in progress per item (`n`): duplicate deliveries of one item count once.
    running: HashMap<i64, u32>,
    max_running: i64,
}

static LOG: LazyLock<Mutex<HashMap<String, TagLog>>> = LazyLock::new(Default::default);

fn record(tag: &str, task: &'static str, input: &impl Serialize, attempt: u32) {
    let input = serde_json::to_value(input).unwrap();
    LOG.lock().unwrap().entry(tag.to_owned()).or_default().calls.push(Call { task, input, attempt });
}

/// Every call recorded for a tag, in order.
pub fn calls(tag: &str) -> Vec<Call> {
    LOG.lock().unwrap().get(tag).map(|log| log.calls.clone()).unwrap_or_default()
}

/// The calls of one task for a tag.
pub fn calls_of(tag: &str, task: &str) -> Vec<Call> {
    calls(tag).into_iter().filter(|call| call.task == task).collect()
}

/// The most distinct items of `overlap` that were running at once for a tag.
pub fn max_running(tag: &str) -> i64 {
    LOG.lock().unwrap().get(tag).map(|log| log.max_running).unwrap_or(0)
}

/// A gate tests open to let `held` runs finish, and await to know a run entered.
pub struct Gate {
    pub release: Semaphore,
    pub entered: Notify,
    pub inside: Mutex<u32>,
}

static GATES: LazyLock<Mutex<HashMap<String, Arc<Gate>>>> = LazyLock::new(Default::default);

pub fn gate(tag: &str) -> Arc<Gate> {
    GATES
        .lock()
        .unwrap()
        .entry(tag.to_owned())
        .or_insert_with(|| Arc::new(Gate { release: Semaphore::new(0), entered: Notify::new(), inside: Mutex::new(0) }))
        .clone()
}

/// Waits until `count` runs have entered the gate of `tag`.
pub async fn entered(tag: &str, count: u32) {
    let gate = gate(tag);
    tokio::time::timeout(crate::support::WAIT, async {
        loop {
            let notified = gate.entered.notified();
            if *gate.inside.lock().unwrap() >= count {
                return;
            }
            notified.await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} runs of `{tag}` did not enter the gate"));
}

// ---- tasks --------------------------------------------------------------------------------------------------

/// Adds one.
#[task]
pub async fn add_one(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "add-one", &input, ctx.attempt);
    Ok(Msg { n: input.n + 1, ..input })
}

/// Doubles.
#[task]
pub async fn double(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "double", &input, ctx.attempt);
    Ok(Msg { n: input.n * 2, ..input })
}

/// Fails when `n` is negative (retryable), otherwise echoes.
#[task(retries = 2, backoff = "1ms")]
pub async fn fail_negative(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "fail-negative", &input, ctx.attempt);
    if input.n < 0 { Err(TaskError::new(format!("{} is negative", input.n))) } else { Ok(input) }
}

/// Fails on its first attempt only.
#[task(retries = 3, backoff = "1ms")]
pub async fn flaky(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "flaky", &input, ctx.attempt);
    if ctx.attempt == 1 { Err(TaskError::new("first attempt fails")) } else { Ok(input) }
}

/// Fails for good at once, whatever its retries.
#[task(retries = 5)]
pub async fn refuse(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "refuse", &input, ctx.attempt);
    Err(TaskError::non_retryable("refused"))
}

/// Takes longer than its timeout.
#[task(timeout = "20ms")]
pub async fn too_slow(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "too-slow", &input, ctx.attempt);
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(input)
}

/// Panics.
#[task]
pub async fn explode(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "explode", &input, ctx.attempt);
    panic!("boom {}", input.n)
}

/// Waits at the tag's gate, then echoes.
#[task]
pub async fn held(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "held", &input, ctx.attempt);
    let gate = gate(&input.tag);
    *gate.inside.lock().unwrap() += 1;
    gate.entered.notify_waiters();
    gate.release.acquire().await.map_err(|_| TaskError::new("gate closed"))?.forget();
    Ok(input)
}

/// A worker thread that stops answering: the first attempt blocks its thread (so that its lease is not renewed)
/// until the tag's stall is lifted; every attempt returns its input plus ten times the attempt.
#[task(retries = 1)]
pub async fn stall(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "stall", &input, ctx.attempt);
    if ctx.attempt == 1 {
        let gate = gate(&input.tag);
        let blocker = stall_of(&input.tag);
        // the runtime hands this thread's other work to another thread before it blocks
        tokio::task::block_in_place(|| {
            *gate.inside.lock().unwrap() += 1;
            gate.entered.notify_waiters();
            let (lifted, signal) = &*blocker;
            let mut guard = lifted.lock().unwrap();
            while !*guard {
                guard = signal.wait(guard).unwrap();
            }
        });
    }
    Ok(Msg { n: input.n + 10 * i64::from(ctx.attempt), ..input })
}

type Stall = Arc<(Mutex<bool>, std::sync::Condvar)>;

static STALLS: LazyLock<Mutex<HashMap<String, Stall>>> = LazyLock::new(Default::default);

fn stall_of(tag: &str) -> Stall {
    STALLS.lock().unwrap().entry(tag.to_owned()).or_default().clone()
}

/// Lets the stalled first attempt of the tag's `stall` run go on.
pub fn lift_stall(tag: &str) {
    let blocker = stall_of(tag);
    *blocker.0.lock().unwrap() = true;
    blocker.1.notify_all();
}

/// Records how many of its runs overlap, working a few milliseconds.
#[task]
pub async fn overlap(input: Msg, ctx: TaskContext) -> Result<Msg, TaskError> {
    record(&input.tag, "overlap", &input, ctx.attempt);
    {
        let mut log = LOG.lock().unwrap();
        let entry = log.entry(input.tag.clone()).or_default();
        *entry.running.entry(input.n).or_default() += 1;
        entry.max_running = entry.max_running.max(entry.running.len() as i64);
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    {
        let mut log = LOG.lock().unwrap();
        let entry = log.entry(input.tag.clone()).or_default();
        let count = entry.running.entry(input.n).or_default();
        *count -= 1;
        if *count == 0 {
            entry.running.remove(&input.n);
        }
    }
    if input.n < 0 { Err(TaskError::non_retryable("negative")) } else { Ok(input) }
}

/// A success callback taking the result in a return-value field, plus a bound note.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Noted {
    #[mageflow(return_value)]
    pub previous: Msg,
    pub note: String,
}

#[task]
pub async fn note(input: Noted, ctx: TaskContext) -> Result<String, TaskError> {
    record(&input.previous.tag, "note", &input, ctx.attempt);
    Ok(format!("{}: {}", input.note, input.previous.n))
}

/// An error callback.
#[task]
pub async fn on_failure(input: Failure<Msg>, ctx: TaskContext) -> Result<(), TaskError> {
    record(&input.input.tag, "on-failure", &input, ctx.attempt);
    Ok(())
}

/// A callback of a swarm: the outcomes by position, and the tag bound as an argument.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Collected {
    #[mageflow(return_value)]
    pub outcomes: Vec<Outcome<Value>>,
    pub tag: String,
}

#[task]
pub async fn collect(input: Collected, ctx: TaskContext) -> Result<usize, TaskError> {
    record(&input.tag, "collect", &input, ctx.attempt);
    Ok(input.outcomes.len())
}

/// An error callback of a flow, with the tag bound as an argument.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Alarm {
    #[mageflow(return_value)]
    pub failure: Failure,
    pub tag: String,
}

#[task]
pub async fn alarm(input: Alarm, ctx: TaskContext) -> Result<(), TaskError> {
    record(&input.tag, "alarm", &input, ctx.attempt);
    Ok(())
}

/// Decides its successor while running: above 100 it returns its input; below 0 it continues with a task that does
/// not exist; `n == 50` continues with `[held, add-one]`; otherwise it continues with the chain `add-one >> double`.
#[task]
pub async fn route(input: Msg, ctx: TaskContext) -> Result<Next<Msg>, TaskError> {
    record(&input.tag, "route", &input, ctx.attempt);
    let client = ctx.client().ok_or_else(|| TaskError::new("no client"))?;
    Ok(match input.n {
        n if n > 100 => Next::Output(input),
        n if n < 0 => Next::flow(client.sign_name("no-such-task"), &input),
        50 => Next::flow(client.chain([client.sign(held), client.sign(add_one)]), &input),
        _ => Next::flow(client.chain([client.sign(add_one), client.sign(double)]), &input),
    })
}

/// Creates a task run, a stored task, a chain and a swarm through its run's client (and, from its second attempt,
/// one more signature), records their ids, and fails its first attempt when `n == 1`.
#[task(retries = 2, backoff = "1ms")]
pub async fn spawner(input: Msg, ctx: TaskContext) -> Result<Vec<String>, TaskError> {
    let client = ctx.client().ok_or_else(|| TaskError::new("no client"))?;
    let tag = input.tag.clone();
    let started = client.run_no_wait(client.sign(add_one), msg(&tag, 1)).await?;
    let stored = client.create(client.sign(double)).await?;
    let chain = client.create(client.chain([client.sign(add_one), client.sign(double)])).await?;
    let swarm = client.create(client.swarm([client.sign(add_one), client.sign(add_one)])).await?;
    let mut ids: Vec<String> =
        [started.id(), stored.id(), chain.id(), swarm.id()].into_iter().map(ToString::to_string).collect();
    if ctx.attempt >= 2 {
        ids.push(client.create(client.sign(double)).await?.id().to_string());
    }
    record(&tag, "spawner", &ids, ctx.attempt);
    if ctx.attempt == 1 && input.n == 1 {
        return Err(TaskError::new("the first attempt fails after creating its flows"));
    }
    Ok(ids)
}

/// Creates a swarm of two `add-one`s on its first attempt, which then fails, and of `add-one` and `double` on its
/// retry: the retry's second item gets the id the first attempt's second item was stored with, made as another task.
/// Returns the retry's error.
#[task(retries = 1, backoff = "1ms")]
pub async fn shifty(input: Msg, ctx: TaskContext) -> Result<String, TaskError> {
    let client = ctx.client().ok_or_else(|| TaskError::new("no client"))?;
    let second = if ctx.attempt == 1 { client.sign(add_one) } else { client.sign(double) };
    let created = client.create(client.swarm([client.sign(add_one), second])).await;
    record(&input.tag, "shifty", &created.as_ref().map(|swarm| swarm.id().to_string()).ok(), ctx.attempt);
    match (ctx.attempt, created) {
        (1, Ok(_)) => Err(TaskError::new("the first attempt fails after creating its swarm")),
        (_, Ok(_)) => Err(TaskError::non_retryable("the retry's changed swarm was stored")),
        (_, Err(error)) => Ok(error.to_string()),
    }
}

/// Every task above, registered on a builder.
pub fn register(builder: mageflow::MageflowBuilder) -> mageflow::MageflowBuilder {
    builder
        .task(add_one)
        .task(double)
        .task(fail_negative)
        .task(flaky)
        .task(refuse)
        .task(too_slow)
        .task(explode)
        .task(held)
        .task(stall)
        .task(overlap)
        .task(note)
        .task(on_failure)
        .task(collect)
        .task(alarm)
        .task(route)
        .task(spawner)
        .task(shifty)
}
