use mageflow::{TaskError, task};

pub struct Billing {
    pub fee: u64,
}

impl Billing {
    #[task]
    pub async fn charge(&self, amount: u64) -> Result<u64, TaskError> {
        Ok(amount + self.fee)
    }
}

fn main() {
    let billing = Billing { fee: 1 };
    let _ = billing.charge(3);
}
