//! mageflow's [`Backend`](mageflow_runtime::Backend) on [apalis](https://docs.rs/apalis) 1.0 with `apalis-redis`:
//! every mageflow run becomes one apalis job in a Redis queue, and apalis workers in any number of processes execute
//! them with mageflow's [`Worker`](mageflow_runtime::backend::Worker).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mageflow_apalis::{ApalisBackend, ApalisBackendOptions};
//! let backend = ApalisBackend::connect("redis://127.0.0.1:6379", ApalisBackendOptions::new("billing")).await?;
//! let client = mageflow_runtime::Mageflow::builder().backend(backend).build().await?;
//! # drop(client); Ok(()) }
//! ```
//!
//! See [`ApalisBackend`] for what each side owns (concurrency, retries, interrupts, shutdown, recovery).
#![warn(missing_docs)]

mod backend;
mod error;
mod options;

pub use backend::ApalisBackend;
pub use error::ApalisError;
pub use options::ApalisBackendOptions;

/// The apalis crates this backend is built on, for users who tune them directly.
pub use apalis;
pub use apalis_redis;
