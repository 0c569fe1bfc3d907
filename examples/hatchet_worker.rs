//! A mageflow worker on Hatchet: declares the example tasks as Hatchet workflows, registers a worker for them and
//! runs what Hatchet assigns until Ctrl-C. Start `hatchet_trigger` in another shell to give it work.
//!
//! Against a real Hatchet, export an API token (`HATCHET_CLIENT_TOKEN`, and `HATCHET_CLIENT_NAMESPACE` if you
//! share the tenant); against the fake engine, start it and export what it prints:
//!
//! ```text
//! cargo run -p mageflow-hatchet --features fake --bin fake-hatchet
//! export HATCHET_CLIENT_TOKEN=... HATCHET_CLIENT_TLS_STRATEGY=none
//! export REDIS_URL=redis://127.0.0.1:6379
//! cargo run --features hatchet --example hatchet_worker
//! ```

#[path = "hatchet_tasks/mod.rs"]
mod hatchet_tasks;

use std::time::Duration;

use mageflow::Mageflow;
use mageflow::hatchet::{HatchetBackend, HatchetBackendOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())).init();
    let redis_url = hatchet_tasks::redis_url()?;
    let backend = HatchetBackend::from_env(HatchetBackendOptions::new("mageflow-example-worker").slots(8))?;
    let client = hatchet_tasks::register(Mageflow::builder().redis_url(redis_url)).backend(backend).build().await?;
    println!("worker running; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    println!("stopping: running tasks get 10 s to finish");
    client.shutdown(Duration::from_secs(10)).await?;
    Ok(())
}
