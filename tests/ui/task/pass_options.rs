#![deny(warnings)]

use std::time::Duration;

use mageflow::{Backoff, Task, TaskError, TaskOptions, task};

#[task(name = "charge-card-v2", retries = 5, timeout = "2h", backoff = "1s", backoff_factor = 3, max_backoff = "10m")]
async fn charge(amount: u64) -> Result<u64, TaskError> {
    Ok(amount)
}

#[task(retries = 0u32, backoff_factor = 1.0, max_backoff = "100ms")]
async fn constant_backoff(amount: u64) -> Result<u64, TaskError> {
    Ok(amount)
}

#[task(name = "named-only")]
async fn named(amount: u64) -> Result<u64, TaskError> {
    Ok(amount)
}

fn main() {
    assert_eq!(charge.name(), "charge-card-v2");
    assert_eq!(
        charge.options(),
        TaskOptions {
            retries: 5,
            timeout: Some(Duration::from_secs(7200)),
            backoff: Backoff { initial: Duration::from_secs(1), factor: 3.0, max: Duration::from_secs(600) },
        }
    );
    assert_eq!(constant_backoff.options().backoff.factor, 1.0);
    assert_eq!(constant_backoff.options().backoff.max, Duration::from_millis(100));
    assert_eq!(named.name(), "named-only");
    assert_eq!(named.options(), TaskOptions::default());
}
