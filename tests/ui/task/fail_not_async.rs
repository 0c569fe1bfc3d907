use mageflow::{Task, TaskError, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Order {
    pub id: u32,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    pub order_id: u32,
}

#[task]
fn charge(order: Order) -> Result<Receipt, TaskError> {
    std::future::ready(()).await;
    Ok(Receipt { order_id: order.id })
}

fn main() {
    assert_eq!(charge.name(), "charge");
}
