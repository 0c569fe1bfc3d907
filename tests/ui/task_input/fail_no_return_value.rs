use mageflow::TaskInput;

#[derive(TaskInput)]
pub struct Notify {
    pub receipt: u32,
    pub email: String,
}

fn main() {}
