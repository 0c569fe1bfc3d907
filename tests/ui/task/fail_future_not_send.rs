use std::rc::Rc;

use mageflow::{Task, TaskError, task};

async fn audit() {}

#[task]
async fn charge(amount: u64) -> Result<u64, TaskError> {
    let shared = Rc::new(amount);
    audit().await;
    Ok(*shared)
}

fn main() {
    let _ = charge.name();
}
