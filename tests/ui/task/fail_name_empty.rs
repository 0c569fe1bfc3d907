use mageflow::{Task, TaskError, task};

#[task(name = "")]
async fn charge(amount: u64) -> Result<u64, TaskError> {
    Ok(amount)
}

fn main() {
    let _ = charge.name();
}
