use mageflow::TaskInput;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Receipt {
    pub id: u32,
}

#[derive(Deserialize, TaskInput)]
pub struct Notify {
    #[mageflow(return_value)]
    #[serde(flatten)]
    pub receipt: Receipt,
    pub email: String,
}

fn main() {}
