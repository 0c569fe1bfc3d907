use mageflow::{Task, task};
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
async fn charge(order: Order) {
    let _ = order;
}

fn main() {
    assert_eq!(charge.name(), "charge");
}
