//! Every shape of handler `#[task]` accepts, in a crate that denies warnings and missing docs.
#![deny(warnings, missing_docs)]

use mageflow::{Task, TaskContext, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    /// Its id.
    pub id: u32,
}

/// A receipt.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    /// The order it is for.
    pub order_id: u32,
}

/// The input of a task that follows `charge`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Notify {
    /// The receipt `charge` produced.
    #[mageflow(return_value)]
    pub receipt: Receipt,
    /// Who to tell.
    pub email: String,
}

/// Charges an order.
#[task]
pub async fn charge(order: Order) -> Result<Receipt, TaskError> {
    Ok(Receipt { order_id: order.id })
}

/// Takes the run's context.
#[task]
pub async fn with_context(order: Order, ctx: TaskContext) -> Result<u32, TaskError> {
    Ok(order.id + ctx.attempt)
}

/// Borrows the run's context.
#[task]
pub async fn with_borrowed_context(_order: Order, ctx: &mageflow::TaskContext) -> Result<String, TaskError> {
    Ok(ctx.task.clone())
}

/// Uses `?` on a std error, and `.await`.
#[task]
#[tracing::instrument(skip_all)]
#[allow(clippy::needless_question_mark)]
pub async fn parse(text: String) -> Result<u64, std::num::ParseIntError> {
    std::future::ready(()).await;
    Ok(text.parse::<u64>()?)
}

/// Takes a struct input with a return field.
#[task]
pub(crate) async fn notify(Notify { receipt, email }: Notify) -> Result<String, TaskError> {
    Ok(format!("{email}: {}", receipt.order_id))
}

/// Takes no input.
#[task]
async fn tick(_: ()) -> Result<(), TaskError> {
    Ok(())
}

/// Tasks in a module.
pub mod billing {
    use mageflow::{TaskError, task};

    fn rate() -> u64 {
        3
    }

    /// Refers to its own module's items and to its parent's with `super::`.
    #[task]
    pub async fn refund(order: super::Order) -> Result<u64, TaskError> {
        Ok(u64::from(order.id) * rate())
    }
}

fn is_task<T: Task>(task: T) -> &'static str {
    task.name()
}

fn main() {
    assert_eq!(is_task(charge), "charge");
    assert_eq!(is_task(with_context), "with-context");
    assert_eq!(is_task(with_borrowed_context), "with-borrowed-context");
    assert_eq!(is_task(parse), "parse");
    assert_eq!(is_task(notify), "notify");
    assert_eq!(notify.return_field(), Some("receipt"));
    assert_eq!(is_task(tick), "tick");
    assert_eq!(is_task(billing::refund), "refund");
    let _unit_test_style = charge::call(Order { id: 1 });
    let _ = billing::refund::call(Order { id: 1 });
}
