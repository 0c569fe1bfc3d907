//! Starts flows on apalis and prints their results: a chain (`check-order >> price-order`), then a swarm of such
//! chains with a success callback that adds up the prices. At least one `apalis_worker` must be running.
//!
//! ```text
//! cargo run --features apalis --example apalis_trigger
//! ```

#[path = "apalis_tasks/mod.rs"]
mod apalis_tasks;

use std::time::Duration;

use apalis_tasks::{Order, Priced, check_order, invoice, price_order};
use mageflow::apalis::{ApalisBackend, ApalisBackendOptions};
use mageflow::{Mageflow, Node, Outcome};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();
    let url = apalis_tasks::redis_url();
    // this process only pushes jobs: the workers run them
    let options = ApalisBackendOptions::new("example-trigger").queue("mageflow-example").dispatch_only();
    let backend = ApalisBackend::connect(&url, options).await?;
    let client = apalis_tasks::register(Mageflow::builder().redis_url(url)).backend(backend).build().await?;

    let order = Order { id: 1, items: 3 };
    let chain = client.chain((client.sign(check_order), client.sign(price_order)));
    let priced: Priced = serde_json::from_value(
        client.run_no_wait(chain, serde_json::to_value(&order)?).await?.result_within(Some(WAIT)).await?,
    )?;
    println!("chain: order {} costs {} cents", priced.id, priced.cents);

    let chains: Vec<Node> = [4, 0, 2, 7, 1, 5]
        .into_iter()
        .enumerate()
        .map(|(id, items)| {
            // the order is bound to the first step; the swarm's message is empty
            let first = client.sign(check_order).bind(json!({"id": id, "items": items}));
            client.chain((first, client.sign(price_order))).into()
        })
        .collect();
    let callback = client.sign(invoice);
    let callback_id = callback.id().clone();
    let prices = client.swarm(chains).max_concurrency(3).on_success(callback);
    let swarm = client.run_no_wait(prices, json!({})).await?;
    for (id, outcome) in swarm.result_within(Some(WAIT)).await?.into_iter().enumerate() {
        match outcome {
            Outcome::Ok(priced) => println!("swarm: order {id}: {priced}"),
            Outcome::Failed(failure) => println!("swarm: order {id} failed: {}", failure.error.message),
        }
    }
    let total = client.wait(&callback_id, Some(WAIT)).await?;
    println!("invoice callback: {} cents", total.result.unwrap_or_default());
    client.shutdown(Duration::from_secs(1)).await?;
    Ok(())
}
