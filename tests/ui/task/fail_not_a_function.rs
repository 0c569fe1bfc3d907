use mageflow::task;

#[task]
pub struct Charge {
    pub amount: u64,
}

fn main() {
    let _ = Charge { amount: 1 };
}
