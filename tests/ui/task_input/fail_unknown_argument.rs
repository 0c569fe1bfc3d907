use mageflow::TaskInput;

#[derive(TaskInput)]
pub struct Notify {
    #[mageflow(return_field)]
    pub receipt: u32,
    pub email: String,
}

fn main() {}
