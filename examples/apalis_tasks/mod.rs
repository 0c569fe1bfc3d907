//! The tasks of the apalis examples, shared by the worker (which runs them) and the trigger (which signs them).

use mageflow::{MageflowBuilder, Outcome, TaskContext, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order to price.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    pub id: u32,
    pub items: u32,
}

/// An order with its price in cents.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Priced {
    pub id: u32,
    pub cents: u64,
}

/// The outcomes of a swarm of prices, in item order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Prices {
    #[mageflow(return_value)]
    pub outcomes: Vec<Outcome<Priced>>,
}

/// Checks an order. Its first attempt fails on odd ids, to show a retry with backoff; empty orders are refused.
#[task(retries = 2, backoff = "200ms", timeout = "30s")]
pub async fn check_order(order: Order, ctx: TaskContext) -> Result<Order, TaskError> {
    println!("check-order: order {} (attempt {}) in process {}", order.id, ctx.attempt, std::process::id());
    if order.items == 0 {
        return Err(TaskError::non_retryable(format!("order {} is empty", order.id)));
    }
    if order.id % 2 == 1 && ctx.attempt == 1 {
        return Err(TaskError::new(format!("order {}: the stock service timed out", order.id)));
    }
    Ok(order)
}

/// Prices an order.
#[task(retries = 2, timeout = "30s")]
pub async fn price_order(order: Order) -> Result<Priced, TaskError> {
    println!("price-order: order {} in process {}", order.id, std::process::id());
    Ok(Priced { id: order.id, cents: u64::from(order.items) * 250 })
}

/// Adds up the prices of a swarm; failed orders are reported, not dropped.
#[task]
pub async fn invoice(prices: Prices) -> Result<u64, TaskError> {
    let mut total = 0;
    for outcome in prices.outcomes {
        match outcome {
            Outcome::Ok(priced) => total += priced.cents,
            Outcome::Failed(failure) => println!("invoice: skipping a failed order: {}", failure.error.message),
        }
    }
    println!("invoice: {total} cents");
    Ok(total)
}

/// Registers every task above.
pub fn register(builder: MageflowBuilder) -> MageflowBuilder {
    builder.task(check_order).task(price_order).task(invoice)
}

/// `REDIS_URL`, which the worker and the trigger share (mageflow's state and the apalis queue both live there).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into())
}
