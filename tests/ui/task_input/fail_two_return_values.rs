use mageflow::TaskInput;

#[derive(TaskInput)]
pub struct Notify {
    #[mageflow(return_value)]
    pub receipt: u32,
    #[mageflow(return_value)]
    pub email: String,
}

fn main() {}
