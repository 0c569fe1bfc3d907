use mageflow::TaskInput;

#[derive(TaskInput)]
#[mageflow(return_value)]
pub struct Notify {
    #[mageflow(return_value)]
    pub receipt: u32,
}

fn main() {}
