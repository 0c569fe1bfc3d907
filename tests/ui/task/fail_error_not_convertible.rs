use mageflow::{Task, task};

/// Not a `std::error::Error`, so it does not convert into `TaskError`.
#[derive(Debug)]
pub struct Declined;

#[task]
async fn charge(amount: u64) -> Result<u64, Declined> {
    if amount == 0 { Err(Declined) } else { Ok(amount) }
}

fn main() {
    let _ = charge.name();
}
