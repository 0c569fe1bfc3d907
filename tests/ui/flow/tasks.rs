//! The tasks and types the `flow!` cases share.
#![allow(dead_code)]

use mageflow::{Failure, InputFields, Outcome, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order.
#[derive(Debug, Serialize, Deserialize, JsonSchema, InputFields)]
pub struct Order {
    pub id: u32,
    pub cents: u64,
}

/// What `charge` produces.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    pub order: u32,
    pub cents: u64,
}

/// The input of `send_email`: the receipt from the previous step, a template to bind, optional fields.
#[derive(Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Email {
    #[mageflow(return_value)]
    pub receipt: Receipt,
    pub template: String,
    #[serde(default)]
    pub copies: u32,
    pub cc: Option<String>,
}

/// The input of `page`: a failure report from the flow, and a channel to bind.
#[derive(Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Alarm {
    #[mageflow(return_value)]
    pub failure: Failure,
    pub channel: String,
}

#[task]
pub async fn charge(order: Order) -> Result<Receipt, TaskError> {
    Ok(Receipt { order: order.id, cents: order.cents })
}

#[task]
pub async fn send_email(email: Email) -> Result<String, TaskError> {
    Ok(format!("{} for {}", email.template, email.receipt.order))
}

#[task]
pub async fn audit(receipt: Receipt) -> Result<u64, TaskError> {
    Ok(receipt.cents)
}

#[task]
pub async fn record(total: u64) -> Result<(), TaskError> {
    let _ = total;
    Ok(())
}

#[task]
pub async fn summarize(parts: (String, u64)) -> Result<String, TaskError> {
    Ok(format!("{} ({})", parts.0, parts.1))
}

#[task]
pub async fn tally(parts: (Outcome<String>, Outcome<u64>)) -> Result<u32, TaskError> {
    Ok(u32::from(parts.0.is_ok()) + u32::from(parts.1.is_ok()))
}

#[task]
pub async fn alert(failure: Failure<Order>) -> Result<(), TaskError> {
    let _ = failure;
    Ok(())
}

#[task]
pub async fn page(alarm: Alarm) -> Result<(), TaskError> {
    let _ = alarm;
    Ok(())
}

#[task]
pub async fn archive(text: String) -> Result<(), TaskError> {
    let _ = text;
    Ok(())
}

#[task]
pub async fn nothing(input: ()) -> Result<(), TaskError> {
    Ok(input)
}

/// Not a task: an ordinary function.
pub fn helper(receipt: Receipt) -> u64 {
    receipt.cents
}
