use mageflow::{Task, TaskError, task};
use serde::{Deserialize, Serialize};

/// Derives serde, but not `JsonSchema`.
#[derive(Serialize, Deserialize)]
pub struct Order {
    pub id: u32,
}

#[task]
async fn charge(order: Order) -> Result<u32, TaskError> {
    Ok(order.id)
}

fn main() {
    let _ = charge.name();
}
