use mageflow::TaskInput;

#[derive(TaskInput)]
pub enum Notify {
    Email(String),
    Sms(String),
}

fn main() {}
