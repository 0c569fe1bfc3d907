//! Quickstart: a task with a success callback and an error callback; one order is charged, one fails after its
//! retries. Runs with no services; set `REDIS_URL` to keep the state in Redis instead.
//!
//! ```text
//! cargo run --example quickstart
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mageflow::{Failure, Mageflow, TaskContext, TaskError, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Order {
    id: u32,
    card: String,
    amount_cents: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Receipt {
    order_id: u32,
    amount_cents: u64,
}

static RECEIPTS_SENT: AtomicUsize = AtomicUsize::new(0);
static ALERTS_RAISED: AtomicUsize = AtomicUsize::new(0);

/// Charges an order's card. Declined cards fail; mageflow retries twice before giving up.
#[task(retries = 2, backoff = "50ms")]
async fn charge(order: Order, ctx: TaskContext) -> Result<Receipt, TaskError> {
    println!("  charge: order {} attempt {}", order.id, ctx.attempt);
    if order.card.starts_with("0000") {
        return Err(TaskError::new(format!("card {} was declined", order.card)));
    }
    Ok(Receipt { order_id: order.id, amount_cents: order.amount_cents })
}

/// Success callback: gets the charge's receipt as its whole input.
#[task]
async fn send_receipt(receipt: Receipt) -> Result<(), TaskError> {
    RECEIPTS_SENT.fetch_add(1, Ordering::SeqCst);
    println!("  send-receipt: order {} paid {:.2} EUR", receipt.order_id, receipt.amount_cents as f64 / 100.0);
    Ok(())
}

/// Error callback: gets the failed order and what went wrong, after the last retry.
#[task]
async fn alert_support(failure: Failure<Order>) -> Result<(), TaskError> {
    ALERTS_RAISED.fetch_add(1, Ordering::SeqCst);
    println!(
        "  alert-support: order {} failed after {} attempts: {}",
        failure.input.id, failure.error.attempt, failure.error.message
    );
    Ok(())
}

async fn process(client: &Mageflow, order: Order) -> Result<(), mageflow::Error> {
    let receipt = client.sign(send_receipt);
    let alert = client.sign(alert_support);
    let callbacks = [receipt.id().clone(), alert.id().clone()];
    let checkout = client.sign(charge).on_success(receipt).on_error(alert);
    let outcome = client.run(checkout, order).await;
    match &outcome {
        Ok(receipt) => println!("=> charged order {}", receipt.order_id),
        Err(error) => println!("=> {error}"),
    }
    // callbacks run after the task itself: wait for whichever one runs to finish
    for id in &callbacks {
        client.wait(id, Some(Duration::from_secs(10))).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), mageflow::Error> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "error".into())).init();
    let client = Mageflow::builder().task(charge).task(send_receipt).task(alert_support).build().await?;
    let store = if std::env::var("REDIS_URL").is_ok_and(|url| !url.is_empty()) { "Redis" } else { "memory" };
    println!("mageflow quickstart (state in {store})");

    println!("order 1, a good card:");
    process(&client, Order { id: 1, card: "4242 4242".into(), amount_cents: 1999 }).await?;
    println!("order 2, a declined card:");
    process(&client, Order { id: 2, card: "0000 0000".into(), amount_cents: 500 }).await?;

    println!(
        "send-receipt ran {} time(s), alert-support ran {} time(s)",
        RECEIPTS_SENT.load(Ordering::SeqCst),
        ALERTS_RAISED.load(Ordering::SeqCst)
    );
    client.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}
