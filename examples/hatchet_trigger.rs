//! Starts flows on Hatchet and prints their results: a chain (`normalize >> count-words`), then a swarm of such
//! chains with a success callback that adds up the counts. `hatchet_worker` must be running (same variables).
//!
//! ```text
//! cargo run --features hatchet --example hatchet_trigger
//! ```

#[path = "hatchet_tasks/mod.rs"]
mod hatchet_tasks;

use std::time::Duration;

use hatchet_tasks::{Count, Doc, count_words, normalize, total_words};
use mageflow::hatchet::{HatchetBackend, HatchetBackendOptions};
use mageflow::{Mageflow, Node, Outcome};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();
    let redis_url = hatchet_tasks::redis_url()?;
    // this process only dispatches: the tasks are declared to Hatchet, the worker runs them
    let backend = HatchetBackend::from_env(HatchetBackendOptions::new("mageflow-example-trigger").dispatch_only())?;
    let client = hatchet_tasks::register(Mageflow::builder().redis_url(redis_url)).backend(backend).build().await?;

    let doc = Doc { id: 1, text: "Hello, Hatchet! Hello, mageflow.".into() };
    let chain = client.chain((client.sign(normalize), client.sign(count_words)));
    let count: Count = serde_json::from_value(
        client.run_no_wait(chain, serde_json::to_value(&doc)?).await?.result_within(Some(WAIT)).await?,
    )?;
    println!("chain: document {} has {} words", count.id, count.words);

    let texts = ["One two three.", "Four five", "", "six SEVEN eight nine"];
    let chains: Vec<Node> = texts
        .iter()
        .enumerate()
        .map(|(id, text)| {
            // the document is bound to the first step; the swarm's message is empty
            let first = client.sign(normalize).bind(json!({"id": id, "text": text}));
            client.chain((first, client.sign(count_words))).into()
        })
        .collect();
    let callback = client.sign(total_words);
    let callback_id = callback.id().clone();
    let counts = client.swarm(chains).max_concurrency(2).on_success(callback);
    let swarm = client.run_no_wait(counts, json!({})).await?;
    for (id, outcome) in swarm.result_within(Some(WAIT)).await?.into_iter().enumerate() {
        match outcome {
            Outcome::Ok(count) => println!("swarm: document {id}: {count}"),
            Outcome::Failed(failure) => println!("swarm: document {id} failed: {}", failure.error.message),
        }
    }
    let total = client.wait(&callback_id, Some(WAIT)).await?;
    println!("total-words callback: {}", total.result.unwrap_or_default());
    client.shutdown(Duration::from_secs(1)).await?;
    Ok(())
}
