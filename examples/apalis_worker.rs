//! A mageflow worker on apalis: an apalis worker on the `mageflow-example` queue of an apalis-redis queue runs the
//! example tasks until Ctrl-C. Start as many as you like, in several shells, then `apalis_trigger` to give them work.
//!
//! ```text
//! redis-server --port 6379 &      # or any Redis; set REDIS_URL to use another
//! cargo run --features apalis --example apalis_worker
//! ```

#[path = "apalis_tasks/mod.rs"]
mod apalis_tasks;

use std::time::Duration;

use mageflow::Mageflow;
use mageflow::apalis::{ApalisBackend, ApalisBackendOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let url = apalis_tasks::redis_url();
    let options = ApalisBackendOptions::new("example-worker").queue("mageflow-example").concurrency(8);
    let backend = ApalisBackend::connect(&url, options).await?;
    let client = apalis_tasks::register(Mageflow::builder().redis_url(url)).backend(backend).build().await?;
    println!("worker {} running; Ctrl-C stops it", std::process::id());
    tokio::signal::ctrl_c().await?;
    println!("stopping: running tasks get 10 s to finish");
    client.shutdown(Duration::from_secs(10)).await?;
    Ok(())
}
