use mageflow::TaskInput;

#[derive(TaskInput)]
pub struct Notify(#[mageflow(return_value)] pub u32, pub String);

fn main() {}
