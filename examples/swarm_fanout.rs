//! A swarm fan-out: 100 thumbnails rendered at most 10 at a time, with a progress line as each item finishes and
//! a summary callback that gets every outcome in item order.
//!
//! ```text
//! cargo run --example swarm_fanout
//! ```
//!
//! With `REDIS_URL` set, the swarm is stored in Redis and another shell can follow it with the CLI:
//! `mageflow watch <the id it prints first>`. `--slow` makes each thumbnail take half a second more, so that there is
//! time to watch (about six seconds in all).

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use mageflow::{Mageflow, Node, Outcome, Status, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Thumbnail {
    image: u32,
    width: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Rendered {
    image: u32,
    bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Summary {
    #[mageflow(return_value)]
    outcomes: Vec<Outcome<Rendered>>,
}

/// Whether the example runs `--slow`.
static SLOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Renders one thumbnail; every 25th image is corrupt.
#[task]
async fn render(job: Thumbnail) -> Result<Rendered, TaskError> {
    let extra = if SLOW.get() == Some(&true) { 500 } else { 0 };
    tokio::time::sleep(Duration::from_millis(extra + 5 + u64::from(job.image % 7) * 3)).await;
    if job.image % 25 == 24 {
        return Err(TaskError::non_retryable(format!("image {} is corrupt", job.image)));
    }
    Ok(Rendered { image: job.image, bytes: u64::from(job.width) * 64 + u64::from(job.image) })
}

#[task]
async fn summarize(summary: Summary) -> Result<u64, TaskError> {
    let failed: Vec<String> = summary
        .outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed(f) => Some(f.error.message.clone()),
            Outcome::Ok(_) => None,
        })
        .collect();
    let bytes: u64 = summary.outcomes.into_iter().filter_map(Outcome::ok).map(|r| r.bytes).sum();
    println!("summary: {bytes} bytes rendered; failed: {}", failed.join(", "));
    Ok(bytes)
}

#[tokio::main]
async fn main() -> Result<(), mageflow::Error> {
    SLOW.get_or_init(|| std::env::args().any(|arg| arg == "--slow"));
    let client = Mageflow::builder().task(render).task(summarize).concurrency(16).build().await?;
    let items: Vec<Node> = (0..100).map(|image| client.sign(render).arg("image", image).into()).collect();
    let item_ids: Vec<_> = items.iter().map(|item| item.id().clone()).collect();
    let summary = client.sign(summarize);
    let summary_id = summary.id().clone();
    let started = Instant::now();
    let thumbnails = client.swarm(items).name("thumbnails").max_concurrency(10).on_success(summary);
    let swarm = client.run_no_wait(thumbnails, serde_json::json!({"width": 320})).await?;
    println!("swarm {} started (follow it with `mageflow watch {}`)", swarm.id(), swarm.id());

    let mut finished: FuturesUnordered<_> = item_ids.iter().map(|id| client.wait(id, None)).collect();
    let mut done = 0;
    while let Some(state) = finished.next().await {
        let state = state?;
        done += 1;
        let progress = client.status(swarm.id()).await?.swarm.unwrap_or_else(|| unreachable!("a swarm"));
        let what = if state.status == Status::Done { "rendered" } else { "FAILED" };
        println!(
            "[{done:>3}/100] image {:>2} {what:<8} (running {:>2}, {} ok, {} failed)",
            state.position.unwrap_or_default(),
            progress.running,
            progress.succeeded,
            progress.failed
        );
    }
    let outcomes = swarm.result().await?;
    client.wait(&summary_id, Some(Duration::from_secs(10))).await?;
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    println!("=> {ok} of {} thumbnails in {:?}, at most 10 at a time", outcomes.len(), started.elapsed());
    client.shutdown(Duration::from_secs(5)).await
}
